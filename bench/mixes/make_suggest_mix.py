#!/usr/bin/env python3
"""Writes a keystroke-by-keystroke /suggest path file for `disco bench http --paths`.

For each sampled catalog name, a typing session: every prefix (up to 16 characters) of the
name, or of a word inside it, as a person types it. One session in five has one typo from the
fourth character on (a swap, a dropped, doubled or wrong letter, never the first character),
kept in every later keystroke as it would be; one in ten filters by kind, as the page's tabs do.

Names come on stdin, one a line, optionally "kind<TAB>name" (kind: track, user, playlist, group):
  sqlite3 -separator $'\\t' data/disco.db "SELECT 'track', title FROM tracks" \\
      | bench/make_suggest_mix.py 2000 > suggest.paths
  psql "$DATABASE_URL" -AtF $'\\t' -c "SELECT 'track', title FROM tracks ORDER BY md5(id::text) LIMIT 20000" \\
      | bench/make_suggest_mix.py 2000 > suggest.paths
(ordering by md5(id) rather than random() makes the sample, and so the mix, the same every run.)
Usage: make_suggest_mix.py [sessions] [limit] < names > paths"""
import random
import sys
import urllib.parse

KINDS = {"track", "user", "playlist", "group"}


def typo(rng, word):
    """`word` with one edit at or after its fourth character (index 3), never the first."""
    chars = list(word)
    at = rng.randrange(min(3, len(chars) - 1), len(chars))
    op = rng.randrange(4)
    if op == 0 and at + 1 < len(chars):
        chars[at], chars[at + 1] = chars[at + 1], chars[at]
    elif op == 1:
        del chars[at]
    elif op == 2:
        chars.insert(at, chars[at])
    else:
        chars[at] = rng.choice("aeiourstln")
    return "".join(chars)


def main():
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    rng = random.Random(7)
    names = []
    for line in sys.stdin:
        line = line.rstrip("\n")
        kind, _, name = line.partition("\t")
        if not name:
            kind, name = None, line
        elif kind not in KINDS:
            kind, name = None, line
        if name.strip():
            names.append((kind, " ".join(name.split())))
    if not names:
        sys.exit("make_suggest_mix.py: no names on stdin")
    out = []
    for s in range(sessions):
        kind, name = rng.choice(names)
        words = name.split(" ")
        if rng.random() < 0.5 and len(words) > 1:
            name = " ".join(words[rng.randrange(1, len(words)):])
        target = name[:16]
        if rng.random() < 0.2 and len(target) >= 5:
            target = typo(rng, target)
        params = {"limit": str(limit)}
        if kind and s % 10 == 0:
            params["kind"] = kind
        for i in range(1, len(target) + 1):
            q = target[:i]
            if q.strip():
                out.append("/suggest?" + urllib.parse.urlencode({"q": q, **params}))
    sys.stdout.write("".join(p + "\n" for p in out))
    print(f"{len(out)} keystrokes from {sessions} sessions over {len(names)} names", file=sys.stderr)


if __name__ == "__main__":
    main()
