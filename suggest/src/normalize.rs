//! From a name as people write it to the keys the FST holds, and from what a person typed to
//! the text looked up: both go through [`schemas::analyzer::fold`] (lower case, diacritics
//! folded — the normalisation search uses), then runs of white space become one space.
//!
//! A name yields its whole folded form and every word start inside it ("around the world",
//! "the world", "world"), so typing any word of a name finds it.

/// Longest name read, in bytes after folding: words past it are not found.
pub const MAX_NAME_BYTES: usize = 256;

/// Longest key, in bytes: a key runs from its word start to at most this far (cut at a
/// character boundary), and so does the query, so a long name matches what was typed of it.
pub const MAX_KEY_BYTES: usize = 32;

/// Most word starts taken from one name, so a hostile 50 KB title costs a few keys, not 10,000.
pub const MAX_WORD_STARTS: usize = 16;

/// The folded, space-normalised form of `text`, cut to [`MAX_NAME_BYTES`].
pub fn key_text(text: &str) -> String {
    let mut out = String::new();
    push_key_text(text, &mut out);
    out
}

/// Appends the [`key_text`] of `text` to `out` (the build writes every name into one arena).
pub fn push_key_text(text: &str, out: &mut String) {
    // Bound the work before folding: a name is never looked at past a few hundred bytes.
    let text = cut(text, MAX_NAME_BYTES * 4);
    let folded = schemas::analyzer::fold(text);
    let base = out.len();
    // Control characters separate words too, so no name's key can begin with [`BY_OWNER`].
    for word in folded.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if out.len() > base {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() - base >= MAX_NAME_BYTES {
            break;
        }
    }
    let kept = cut(&out[base..], MAX_NAME_BYTES).trim_end().len();
    out.truncate(base + kept);
}

/// The first byte of the keys that name an entity through its owner ([`owner_keys`]): a
/// control character, which no folded name holds, so those keys sort apart from every name's
/// own keys and are looked up only on purpose.
pub const BY_OWNER: char = '\u{1}';

/// The keys that find a track or set by its owner's name then its title ("iron maiden fear
/// of the dark", "maiden fear of the dark"): one from each word start of the owner's folded
/// name, [`BY_OWNER`] first. The title's own word starts are its own keys already.
pub fn owner_keys(owner: &str, title: &str) -> Vec<String> {
    let owner_len = key_text(owner).len();
    let named = key_text(&format!("{owner} {title}"));
    if owner_len == 0 || named.len() <= owner_len {
        return Vec::new();
    }
    word_starts(&named)
        .into_iter()
        .filter(|&start| start < owner_len)
        .map(|start| format!("{BY_OWNER}{}", key_at(&named, start)))
        .collect()
}

/// The key that looks up `query` (a [`query_text`]) among the [`owner_keys`].
pub fn by_owner(query: &str) -> String {
    format!("{BY_OWNER}{query}")
}

/// What a typed text is looked up as: its [`key_text`] cut to [`MAX_KEY_BYTES`].
pub fn query_text(text: &str) -> String {
    let mut key = key_text(text);
    let len = cut(&key, MAX_KEY_BYTES).trim_end().len();
    key.truncate(len);
    key
}

/// A [`key_text`] with the symbols inside words taken out ("ac/dc" → "acdc", "p!nk" → "pnk"),
/// or `None` when it has none: names like these are also keyed by their joined form, so
/// typing "acd" finds AC/DC as search does. Apostrophes stay (word starts handle them).
pub fn joined(key: &str) -> Option<String> {
    let chars: Vec<char> = key.chars().collect();
    let inside = |i: usize| {
        let c = chars[i];
        !c.is_alphanumeric()
            && !c.is_whitespace()
            && c != '\''
            && i > 0
            && chars[i - 1].is_alphanumeric()
            && chars[i + 1..]
                .iter()
                .find(|c| c.is_alphanumeric() || c.is_whitespace())
                .is_some_and(|c| c.is_alphanumeric())
    };
    let cut: Vec<usize> = (0..chars.len()).filter(|&i| inside(i)).collect();
    if cut.is_empty() {
        return None;
    }
    Some(
        (chars.iter().enumerate())
            .filter(|(i, _)| cut.binary_search(i).is_err())
            .map(|(_, c)| *c)
            .collect(),
    )
}

/// The keys of a [`key_text`]: from each word start, at most [`MAX_KEY_BYTES`] long.
pub fn keys(name: &str) -> impl Iterator<Item = &str> {
    word_starts(name)
        .into_iter()
        .map(|start| key_at(name, start))
}

/// The key of a [`key_text`] that begins at word start `start`.
pub fn key_at(name: &str, start: usize) -> &str {
    cut(&name[start..], MAX_KEY_BYTES).trim_end()
}

/// Byte offsets of the word starts in a [`key_text`]: 0 (the whole name) and every letter or
/// digit that follows a non-word character. An apostrophe inside a word splits it only before
/// three or more letters, so "d'execution" and "rock'n'roll" start words at "execution" and
/// "roll" but "can't" does not at "t". In CJK text, where words are not separated, every
/// character starts one. At most [`MAX_WORD_STARTS`].
pub fn word_starts(key: &str) -> Vec<usize> {
    let mut starts = Vec::with_capacity(8);
    each_word_start(key, |start| starts.push(start));
    starts
}

/// Calls `f` with each of [`word_starts`], without allocating.
pub(crate) fn each_word_start(key: &str, mut f: impl FnMut(usize)) {
    let (mut before, mut before2): (Option<char>, Option<char>) = (None, None);
    let mut found = 0;
    for (i, c) in key.char_indices() {
        let start = match before {
            None => true,
            Some(_) if !c.is_alphanumeric() => false,
            Some(_) if is_cjk(c) => true,
            Some('\'') => {
                let elided = before2.is_some_and(char::is_alphanumeric);
                !elided
                    || key[i..]
                        .chars()
                        .take(3)
                        .filter(|c| c.is_alphanumeric())
                        .count()
                        == 3
            }
            Some(b) => !b.is_alphanumeric(),
        };
        if start {
            f(i);
            found += 1;
            if found == MAX_WORD_STARTS {
                return;
            }
        }
        before2 = before;
        before = Some(c);
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Han, kana and hangul: scripts written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_drops_symbols_inside_words_only() {
        assert_eq!(joined("ac/dc").as_deref(), Some("acdc"));
        assert_eq!(joined("p!nk").as_deref(), Some("pnk"));
        assert_eq!(
            joined("best of ac/dc live").as_deref(),
            Some("best of acdc live")
        );
        assert_eq!(joined("rock'n'roll"), None);
        assert_eq!(joined("hello!"), None);
        assert_eq!(joined("a - b"), None);
        assert_eq!(joined("-5 degrees"), None);
        assert_eq!(joined("around the world"), None);
    }

    #[test]
    fn names_fold_like_search_and_collapse_spaces() {
        assert_eq!(key_text("  Beyoncé   Knowles "), "beyonce knowles");
        assert_eq!(key_text("SIGUR RÓS"), "sigur ros");
    }

    #[test]
    fn every_word_starts_a_key() {
        let key = key_text("Around the World (Radio Edit)");
        let found: Vec<&str> = keys(&key).collect();
        assert_eq!(
            found,
            [
                "around the world (radio edit)",
                "the world (radio edit)",
                "world (radio edit)",
                "radio edit)",
                "edit)"
            ]
        );
        // An apostrophe splits a word only before a longer part; a slash does; quotes do.
        let key = key_text("Can't Stop AC/DC");
        let found: Vec<&str> = keys(&key).collect();
        assert_eq!(found, ["can't stop ac/dc", "stop ac/dc", "ac/dc", "dc"]);
        let key = key_text("Études D'Execution 'Pastoral'");
        let found: Vec<&str> = keys(&key).collect();
        assert_eq!(
            found,
            [
                "etudes d'execution 'pastoral'",
                "d'execution 'pastoral'",
                "execution 'pastoral'",
                "pastoral'"
            ]
        );
    }

    #[test]
    fn hostile_names_stay_bounded() {
        let long = "word ".repeat(10_000);
        let key = key_text(&long);
        assert!(key.len() <= MAX_NAME_BYTES);
        assert_eq!(keys(&key).count(), MAX_WORD_STARTS);
        assert!(keys(&key).all(|k| k.len() <= MAX_KEY_BYTES));
        let accents = "é".repeat(1000);
        assert!(key_text(&accents).len() <= MAX_NAME_BYTES);
        assert_eq!(query_text(&accents).len(), MAX_KEY_BYTES);
        // A word far into a long name is still a key.
        let name = key_text(&format!("{} execution", "allegro ma non troppo ".repeat(3)));
        assert!(keys(&name).any(|k| k == "execution"));
    }

    #[test]
    fn cjk_names_can_be_found_from_any_character() {
        let key = key_text("坂本龍一");
        assert_eq!(word_starts(&key).len(), 4);
    }
}
