#!/usr/bin/env python3
"""Writes a realistic search mix drawn from the catalog's own names: whole titles, one word,
artist + title, and titles with a typo (two letters swapped).
<out> ending in .lua: a wrk Lua script; anything else: one request path a line, for
`disco bench http --paths`. <catalog>: a SQLite file, or - for "title<TAB>artist" lines on stdin:
  psql "$DATABASE_URL" -AtF $'\t' -c "SELECT t.title, coalesce(nullif(u.full_name, ''), u.username)
      FROM tracks t JOIN users u ON u.id = t.user_id ORDER BY random() LIMIT 50000" \
      | bench/make_query_mix.py - search.paths 5000
Usage: make_query_mix.py <catalog> <out> [n]"""
import random, sqlite3, sys, urllib.parse

db, out = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
rng = random.Random(7)
if db == "-":
    rows = [tuple(line.rstrip("\n").split("\t", 1)) for line in sys.stdin if "\t" in line]
else:
    con = sqlite3.connect(db)
    rows = con.execute("SELECT t.title, coalesce(nullif(u.full_name, ''), u.username) FROM tracks t JOIN users u ON u.id = t.user_id").fetchall()
queries = []
for _ in range(n):
    title, artist = rng.choice(rows)
    words = [w for w in title.split() if w.isalpha()] or [title]
    r = rng.random()
    if r < 0.3:
        q = title
    elif r < 0.5:
        q = rng.choice(words)
    elif r < 0.7:
        q = f"{artist} {rng.choice(words)}"
    else:
        w = max(words, key=len)
        if len(w) > 3:
            i = rng.randrange(1, len(w) - 1)
            w = w[:i] + w[i + 1] + w[i] + w[i + 2:]
        q = w
    queries.append("/search?limit=20&q=" + urllib.parse.quote(q[:200]))
if not out.endswith(".lua"):
    with open(out, "w") as f:
        f.write("".join(p + "\n" for p in queries))
    print(f"{len(queries)} queries -> {out}")
    sys.exit(0)
with open(out, "w") as f:
    f.write("local paths = {\n")
    for p in queries:
        f.write('  "%s",\n' % p.replace('"', '%22'))
    f.write("}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n")
print(f"{len(queries)} queries -> {out}")
