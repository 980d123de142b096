//! The analyzers that make names findable the way people type them.
//!
//! Three analyzers, registered in a tantivy [`TokenizerManager`] under their names:
//!
//! - **`name`** (titles, names, tags): lower-case, diacritics folded (`Beyoncé` → `beyonce`,
//!   `Sigur Rós` → `sigur ros`), and every word that carries symbols is indexed both as typed and
//!   in plain letters: `AC/DC` → `ac/dc`, `acdc`, `ac`, `dc`; `P!nk` → `p!nk`, `pink`;
//!   `deadmau5` → `deadmau5`, `deadmaus`; `$uicideboy$` → `suicideboys`; `Ke$ha` → `kesha`;
//!   `t.A.T.u.` → `t.a.t.u`, `tatu`. CJK runs (`坂本龍一`) become unigrams plus overlapping bigrams,
//!   so a part of a name (`坂本`, `龍一`) matches.
//! - **`text`** (descriptions): the same, without reading `$`, `!`, `@` or digits as letters —
//!   in prose `wow!great` is two words, not `wowigreat`.
//! - **`keyword`** (genre and other exact values): the whole value folded into one token.
//!
//! Variants of one word share a position, and the parts of a word take the positions that
//! follow (the convention of Lucene's word-delimiter filter), so `"ac dc"` as a phrase still
//! matches `AC/DC`, and CJK bigrams sit at their first character's position.
//!
//! Query-side code analyzes user input with the same analyzer as the field it searches, and
//! suggest normalizes with [`fold`]:
//!
//! ```
//! use schemas::analyzer::{analyze, fold};
//!
//! assert_eq!(fold("Beyoncé"), "beyonce");
//! assert!(analyze("name", "P!nk").contains(&"pink".to_string()));
//! assert_eq!(analyze("keyword", "  Hip-Hop "), vec!["hip-hop".to_string()]);
//! ```

use std::fmt;
use std::str::FromStr;

use tantivy::tokenizer::{Token, TokenStream, Tokenizer, TokenizerManager};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Tokens longer than this many bytes are dropped (`name`, `text`) or cut (`keyword`): they are
/// hashes, URLs or spam, never something a person types into a search box.
pub const MAX_TOKEN_BYTES: usize = 100;

/// One of Disco's analyzers. Its [`as_str`](Analyzer::as_str) is the name it is registered under
/// and the name index definitions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Analyzer {
    /// Titles, names, tags: symbols kept as typed and read as letters.
    Name,
    /// Descriptions and other prose.
    Text,
    /// A whole value as one folded token.
    Keyword,
}

impl Analyzer {
    /// Every analyzer, in a stable order.
    pub const ALL: [Analyzer; 3] = [Analyzer::Name, Analyzer::Text, Analyzer::Keyword];

    /// The registered name: `name`, `text` or `keyword`.
    pub fn as_str(self) -> &'static str {
        match self {
            Analyzer::Name => "name",
            Analyzer::Text => "text",
            Analyzer::Keyword => "keyword",
        }
    }

    /// The token texts of `text`, in position order.
    pub fn analyze(self, text: &str) -> Vec<String> {
        self.tokens(text).into_iter().map(|t| t.text).collect()
    }

    /// The tokens of `text` with positions and byte offsets into `text`, as the index sees them.
    pub fn tokens(self, text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        let len = tokenize(self, text, &mut out);
        out.truncate(len);
        out
    }

    /// A tantivy tokenizer running this analyzer.
    pub fn tokenizer(self) -> DiscoTokenizer {
        DiscoTokenizer {
            analyzer: self,
            tokens: Vec::new(),
            len: 0,
        }
    }
}

impl fmt::Display for Analyzer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text did not name one of Disco's analyzers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown analyzer `{0}` (expected name, text or keyword)")]
pub struct UnknownAnalyzer(pub String);

impl FromStr for Analyzer {
    type Err = UnknownAnalyzer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "name" => Ok(Analyzer::Name),
            "text" => Ok(Analyzer::Text),
            "keyword" => Ok(Analyzer::Keyword),
            other => Err(UnknownAnalyzer(other.to_string())),
        }
    }
}

/// A whole name as one comparable key: the [`Analyzer::Name`] tokens as typed (the first
/// variant at each position), joined by single spaces. Two texts that a person would call the
/// same name — case, diacritics, punctuation and spacing aside — give the same key, so "is the
/// query this entity's whole name?" is one term lookup (`schemas::definition::system::NAME_KEY`).
pub fn name_key(text: &str) -> String {
    let mut key = String::new();
    let mut last = None;
    for token in Analyzer::Name.tokens(text) {
        if last == Some(token.position) {
            continue;
        }
        last = Some(token.position);
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(&token.text);
    }
    key
}

/// Registers `name`, `text` and `keyword` in `manager` (usually `index.tokenizers()`).
/// Call it on every [`tantivy::Index`] before writing or querying.
pub fn register(manager: &TokenizerManager) {
    for analyzer in Analyzer::ALL {
        manager.register(analyzer.as_str(), analyzer.tokenizer());
    }
}

/// The token texts of `text` under the analyzer registered as `analyzer`. This is what the
/// query side must use on user input so it meets the index's terms. An unknown name analyzes
/// as `text` (and logs a warning): field analyzers come from validated definitions, so that only
/// happens through a programming mistake, and a search should still answer.
pub fn analyze(analyzer: &str, text: &str) -> Vec<String> {
    let analyzer = analyzer.parse().unwrap_or_else(|e: UnknownAnalyzer| {
        tracing::warn!("{e}; analyzing as `text`");
        Analyzer::Text
    });
    analyzer.analyze(text)
}

/// Lower-case and fold diacritics and compatibility forms: `Beyoncé` → `beyonce`,
/// `Straße` → `strasse`, `Øre` → `ore`, `Łódź` → `lodz`, `ＡＢＣ` → `abc`, `’` → `'`.
/// Characters keep their place (no trimming or tokenizing); CJK text is kept as is.
/// This is THE normalization of Disco: the analyzers and suggest both use it.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut compose = false;
    for c in text.chars() {
        fold_char(c, &mut out, &mut compose);
    }
    if compose {
        // Marks that were kept came apart from their base; put them back together.
        out.nfc().collect()
    } else {
        out
    }
}

fn fold_char(c: char, out: &mut String, compose: &mut bool) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    if is_hangul_syllable(c) {
        // Decomposing would turn syllables into jamo and break CJK bigrams.
        out.push(c);
        return;
    }
    decompose_compatible(c, |d| {
        if is_combining_mark(d) {
            if !is_diacritic(d) {
                // A mark that changes the letter (が, Devanagari vowel signs): keep it and
                // recompose at the end.
                out.push(d);
                *compose = true;
            }
            return;
        }
        for l in d.to_lowercase() {
            if !is_diacritic(l) {
                push_folded(l, out);
            }
        }
    });
}

/// Accents people leave out when they type: Latin, Greek and Cyrillic diacritics, Hebrew points
/// and Arabic vowel marks. Marks that are part of a letter in other scripts are kept.
fn is_diacritic(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036f}'   // combining diacritical marks
        | '\u{0483}'..='\u{0489}' // Cyrillic
        | '\u{0591}'..='\u{05c7}' // Hebrew points
        | '\u{064b}'..='\u{065f}' // Arabic harakat
        | '\u{0670}'
        | '\u{1ab0}'..='\u{1aff}'
        | '\u{1dc0}'..='\u{1dff}'
        | '\u{20d0}'..='\u{20ff}'
        | '\u{fe20}'..='\u{fe2f}'
    )
}

/// Letters that carry no combining mark in Unicode but that people type without the stroke.
fn push_folded(c: char, out: &mut String) {
    match c {
        'ß' => out.push_str("ss"),
        'æ' => out.push_str("ae"),
        'œ' => out.push_str("oe"),
        'þ' => out.push_str("th"),
        'ø' => out.push('o'),
        'ł' => out.push('l'),
        'đ' | 'ð' => out.push('d'),
        'ħ' => out.push('h'),
        'ı' => out.push('i'),
        'ŧ' => out.push('t'),
        'ĸ' => out.push('k'),
        '\u{2018}' | '\u{2019}' | '\u{02bc}' | '\u{2032}' => out.push('\''),
        '\u{201c}' | '\u{201d}' => out.push('"'),
        '\u{2010}'..='\u{2015}' => out.push('-'),
        other => out.push(other),
    }
}

fn is_hangul_syllable(c: char) -> bool {
    ('\u{ac00}'..='\u{d7a3}').contains(&c)
}

/// Han, kana and Hangul: scripts written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4dbf}'     // CJK extension A
        | '\u{4e00}'..='\u{9fff}'   // CJK unified ideographs
        | '\u{f900}'..='\u{faff}'   // compatibility ideographs
        | '\u{20000}'..='\u{2ebef}' // extensions B–F
        | '\u{3040}'..='\u{309f}'   // hiragana
        | '\u{30a0}'..='\u{30ff}'   // katakana
        | '\u{31f0}'..='\u{31ff}'   // katakana phonetic extensions
        | '\u{ff66}'..='\u{ff9f}'   // half-width katakana
        | '\u{1100}'..='\u{11ff}'   // Hangul jamo
        | '\u{3130}'..='\u{318f}'   // Hangul compatibility jamo
        | '\u{ac00}'..='\u{d7af}'   // Hangul syllables
        | '\u{3005}'                // 々 (iteration mark)
    )
}

/// Characters that separate chunks: whitespace and CJK punctuation (、。「」…).
fn is_break(c: char) -> bool {
    c.is_whitespace() || (('\u{3000}'..='\u{303f}').contains(&c) && c != '\u{3005}')
}

/// Symbols that stand for letters inside a name (`P!nk`, `Ke$ha`, `m@x`).
fn leet_letter(c: char) -> Option<char> {
    match c {
        '$' => Some('s'),
        '!' => Some('i'),
        '@' => Some('a'),
        _ => None,
    }
}

/// Digits that stand for letters when one sits alone next to letters (`deadmau5`, `l0ve`).
fn leet_digit(c: char) -> Option<char> {
    match c {
        '0' => Some('o'),
        '1' => Some('i'),
        '3' => Some('e'),
        '4' => Some('a'),
        '5' => Some('s'),
        '7' => Some('t'),
        _ => None,
    }
}

/// Writes the tokens of `text` into the first slots of `out` and returns how many: slots past
/// that are left over from an earlier text, kept so their strings' allocations are reused (an
/// index analyzes millions of field values with one tokenizer per field).
fn tokenize(analyzer: Analyzer, text: &str, out: &mut Vec<Token>) -> usize {
    let mut emitter = Emitter {
        out,
        len: 0,
        position: 0,
        leet: analyzer == Analyzer::Name,
    };
    if analyzer == Analyzer::Keyword {
        keyword_token(text, &mut emitter);
        return emitter.len;
    }
    let mut chunk: Option<(usize, bool)> = None;
    for (i, c) in text.char_indices() {
        let class = (!is_break(c)).then(|| is_cjk(c));
        if let Some((start, cjk)) = chunk {
            if class == Some(cjk) {
                continue;
            }
            emitter.chunk(text, start, i, cjk);
        }
        chunk = class.map(|cjk| (i, cjk));
    }
    if let Some((start, cjk)) = chunk {
        emitter.chunk(text, start, text.len(), cjk);
    }
    emitter.len
}

fn keyword_token(text: &str, emitter: &mut Emitter<'_>) {
    let folded = fold(text);
    let mut value = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    if value.is_empty() {
        return;
    }
    if value.len() > MAX_TOKEN_BYTES {
        let mut cut = MAX_TOKEN_BYTES;
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        value.truncate(cut);
    }
    emitter.slot(0, 0, text.len()).push_str(&value);
}

/// Writes the tokens of one chunk after another, tracking positions. The text's tokens are
/// `out[..len]`; slots past `len` are reused (see [`tokenize`]).
struct Emitter<'o> {
    out: &'o mut Vec<Token>,
    len: usize,
    position: usize,
    leet: bool,
}

impl Emitter<'_> {
    fn chunk(&mut self, text: &str, start: usize, end: usize, cjk: bool) {
        if cjk {
            self.cjk_run(text, start, end);
        } else {
            self.word(text, start, end);
        }
    }

    /// The next token, at `position` over `from..to`, with empty text to write into (a slot
    /// left by an earlier text is cleared and reused).
    fn slot(&mut self, position: usize, from: usize, to: usize) -> &mut String {
        if self.len == self.out.len() {
            self.out.push(Token::default());
        }
        let token = &mut self.out[self.len];
        self.len += 1;
        token.offset_from = from;
        token.offset_to = to;
        token.position = position;
        token.position_length = 1;
        token.text.clear();
        &mut token.text
    }

    fn push(&mut self, text: &str, position: usize, from: usize, to: usize) {
        if text.is_empty() || text.len() > MAX_TOKEN_BYTES {
            return;
        }
        // The same text twice at one position adds nothing but term frequency.
        let duplicate = self.out[..self.len]
            .iter()
            .rev()
            .take_while(|t| t.position == position)
            .any(|t| t.text == text);
        if !duplicate {
            self.slot(position, from, to).push_str(text);
        }
    }

    /// A run of CJK characters: each character, and each pair of neighbours at the first one's
    /// position, so any part of a name of two or more characters is a phrase of bigrams.
    fn cjk_run(&mut self, text: &str, start: usize, end: usize) {
        let chars: Vec<(usize, usize, String)> = text[start..end]
            .char_indices()
            .map(|(i, c)| {
                (
                    start + i,
                    start + i + c.len_utf8(),
                    fold(c.encode_utf8(&mut [0; 4])),
                )
            })
            .filter(|(_, _, folded)| !folded.is_empty())
            .collect();
        let base = self.position;
        for (i, (from, to, unigram)) in chars.iter().enumerate() {
            self.push(unigram, base + i, *from, *to);
            if let Some((_, next_to, next)) = chars.get(i + 1) {
                self.push(&format!("{unigram}{next}"), base + i, *from, *next_to);
            }
        }
        self.position += chars.len();
    }

    /// A whitespace-delimited word: as typed, joined, in plain letters, then its parts.
    fn word(&mut self, text: &str, start: usize, end: usize) {
        let raw = &text[start..end];
        // Punctuation around a word is not part of it ("Wham!", "(Remix)", "t.A.T.u."), but a
        // `$` is ("$uicideboy$").
        let keep_edge = |c: char| c.is_alphanumeric() || (self.leet && c == '$');
        let Some(first) = raw.find(keep_edge) else {
            return;
        };
        let last = raw
            .rfind(keep_edge)
            .map(|i| i + raw[i..].chars().next().map_or(1, char::len_utf8))
            .unwrap_or(raw.len());
        let (from, to) = (start + first, start + last);
        let core = &text[from..to];
        // Most words are plain ASCII letters (and, in prose, digits): the one token the steps
        // below would make is the word in lower case, written without folding or splitting.
        // (Digits next to letters in a name are read as letters below: `deadmau5`.)
        let plain = |b: u8| b.is_ascii_alphabetic() || (!self.leet && b.is_ascii_digit());
        if core.bytes().all(plain) {
            if core.len() <= MAX_TOKEN_BYTES {
                // A new word's position holds no token yet: nothing to deduplicate.
                let position = self.position;
                let slot = self.slot(position, from, to);
                slot.push_str(core);
                slot.make_ascii_lowercase();
            }
            self.position += 1;
            return;
        }
        let typed = fold(core);
        if !typed.chars().any(char::is_alphanumeric) {
            return;
        }
        let has_letter = typed.chars().any(char::is_alphabetic);
        let symbols_are_letters = self.leet && has_letter;
        let is_separator =
            |c: char| !(c.is_alphanumeric() || symbols_are_letters && leet_letter(c).is_some());
        let parts: Vec<&str> = typed
            .split(is_separator)
            .filter(|p| !p.is_empty())
            .collect();
        let joined = parts.concat();
        let base = self.position;
        self.push(&typed, base, from, to);
        self.push(&joined, base, from, to);
        if symbols_are_letters {
            self.push(&plain_letters(&joined), base, from, to);
        }
        if parts.len() > 1 {
            for (i, part) in parts.iter().enumerate() {
                self.push(part, base + i, from, to);
                if symbols_are_letters {
                    self.push(&plain_letters(part), base + i, from, to);
                }
            }
        }
        self.position += parts.len().max(1);
    }
}

/// `p!nk` → `pink`, `ke$ha` → `kesha`, `deadmau5` → `deadmaus`; a digit is read as a letter
/// only when it stands alone between or after letters (`blink182` stays as it is).
fn plain_letters(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let is_digit = |i: usize| chars.get(i).is_some_and(|c| c.is_ascii_digit());
    let is_letter = |i: usize| chars.get(i).is_some_and(|c| c.is_alphabetic());
    chars
        .iter()
        .enumerate()
        .filter_map(|(i, &c)| {
            if let Some(letter) = leet_letter(c) {
                return Some(letter);
            }
            if c.is_ascii_digit() {
                let alone = (i == 0 || !is_digit(i - 1)) && !is_digit(i + 1);
                let by_letter = (i > 0 && is_letter(i - 1)) || is_letter(i + 1);
                if alone && by_letter {
                    return leet_digit(c).or(Some(c));
                }
                return Some(c);
            }
            c.is_alphanumeric().then_some(c)
        })
        .collect()
}

/// A tantivy [`Tokenizer`] running one [`Analyzer`]. Tokens are computed up front for the whole
/// text (names and bounded prefixes are short), then streamed.
#[derive(Debug, Clone)]
pub struct DiscoTokenizer {
    analyzer: Analyzer,
    /// The last text's tokens are `tokens[..len]`; the rest are kept for their allocations.
    tokens: Vec<Token>,
    len: usize,
}

impl Tokenizer for DiscoTokenizer {
    type TokenStream<'a> = DiscoTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> DiscoTokenStream<'a> {
        self.len = tokenize(self.analyzer, text, &mut self.tokens);
        DiscoTokenStream {
            tokens: &mut self.tokens[..self.len],
            next: 0,
        }
    }
}

/// The stream of a [`DiscoTokenizer`].
pub struct DiscoTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl TokenStream for DiscoTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    /// Only valid after [`advance`](TokenStream::advance) returned true (as in every tantivy
    /// stream).
    fn token(&self) -> &Token {
        &self.tokens[self.next.saturating_sub(1)]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next.saturating_sub(1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(analyzer: Analyzer, text: &str) -> Vec<String> {
        analyzer.analyze(text)
    }

    fn positioned(analyzer: Analyzer, text: &str) -> Vec<(String, usize)> {
        analyzer
            .tokens(text)
            .into_iter()
            .map(|t| (t.text, t.position))
            .collect()
    }

    /// `indexed` as a name field holds every one of `expected`, and each of `queries`, analyzed
    /// as the query side does, meets the indexed tokens.
    fn assert_findable(indexed: &str, expected: &[&str], queries: &[&str]) {
        let index_side = texts(Analyzer::Name, indexed);
        for token in expected {
            assert!(
                index_side.iter().any(|t| t == token),
                "`{indexed}` should index `{token}`; got {index_side:?}"
            );
        }
        for query in queries {
            let query_side = analyze("name", query);
            assert!(
                query_side.iter().any(|q| index_side.contains(q)),
                "query `{query}` ({query_side:?}) shares no token with `{indexed}` ({index_side:?})"
            );
        }
    }

    #[test]
    fn a_name_key_ignores_case_marks_punctuation_and_spacing() {
        assert_eq!(name_key("Alanis Morissette"), "alanis morissette");
        assert_eq!(name_key("  alanis   MORISSETTE "), "alanis morissette");
        assert_eq!(
            name_key("Antônio Carlos Jobim"),
            name_key("antonio carlos jobim")
        );
        assert_eq!(
            name_key("Terry Bozzio, Tony Levin & Steve Stevens"),
            name_key("terry bozzio tony levin steve stevens")
        );
        assert_eq!(name_key("AC/DC"), name_key("ac/dc"));
        assert_ne!(name_key("Iron Maiden"), name_key("Iron Maiden Live"));
        assert_eq!(name_key("!!!"), "");
    }

    #[test]
    fn fold_lowercases_and_drops_diacritics() {
        assert_eq!(fold("Beyoncé"), "beyonce");
        assert_eq!(fold("Sigur Rós"), "sigur ros");
        assert_eq!(fold("Mötley Crüe"), "motley crue");
        assert_eq!(fold("Björk Guðmundsdóttir"), "bjork gudmundsdottir");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("STRASSE"), fold("Straße"));
        assert_eq!(fold("Øystein Ærø"), "oystein aero");
        assert_eq!(fold("Łódź"), "lodz");
        assert_eq!(fold("Œuvre"), "oeuvre");
        assert_eq!(fold("Þór"), "thor");
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold("Ａｂｃ１"), "abc1");
        assert_eq!(fold("ﬁre"), "fire");
        assert_eq!(fold("Don’t Stop"), "don't stop");
        assert_eq!(fold("Ёлка"), "елка");
    }

    #[test]
    fn fold_keeps_cjk_as_written() {
        assert_eq!(fold("坂本龍一"), "坂本龍一");
        assert_eq!(fold("がぎぐ"), "がぎぐ", "voiced kana stay voiced");
        assert_eq!(fold("パ"), "パ");
        assert_eq!(
            fold("방탄소년단"),
            "방탄소년단",
            "Hangul syllables are not split into jamo"
        );
        assert_eq!(fold("ｶﾞ"), "ガ", "half-width katakana become full-width");
    }

    #[test]
    fn fold_keeps_marks_that_make_the_letter() {
        assert_eq!(fold("हिन्दी"), "हिन्दी");
        assert_eq!(fold("ภาษาไทย"), "ภาษาไทย");
        assert_eq!(fold("مُحَمَّد"), "محمد", "Arabic vowel marks are optional");
        assert_eq!(fold("שָׁלוֹם"), "שלום", "Hebrew points are optional");
        assert_eq!(fold("Ἀθῆναι"), "αθηναι");
    }

    #[test]
    fn diacritics_match_both_ways() {
        assert_findable("Beyoncé", &["beyonce"], &["beyonce", "BEYONCÉ", "Beyonce"]);
        assert_findable("Sigur Rós", &["sigur", "ros"], &["sigur ros", "rós", "Ros"]);
        assert_findable("beyonce", &["beyonce"], &["Beyoncé"]);
    }

    #[test]
    fn acdc_is_findable_typed_joined_and_by_parts() {
        assert_findable(
            "AC/DC",
            &["ac/dc", "acdc", "ac", "dc"],
            &["AC/DC", "ac/dc", "acdc", "ACDC", "ac dc", "dc"],
        );
    }

    #[test]
    fn pink_is_findable_as_typed_and_plain() {
        assert_findable("P!nk", &["p!nk", "pink"], &["P!nk", "pink", "Pink"]);
    }

    #[test]
    fn deadmau5_is_findable_as_typed_and_plain() {
        assert_findable(
            "deadmau5",
            &["deadmau5", "deadmaus"],
            &["deadmau5", "Deadmau5", "deadmaus"],
        );
    }

    #[test]
    fn suicideboys_is_findable_as_typed_and_plain() {
        assert_findable(
            "$uicideboy$",
            &["$uicideboy$", "suicideboys"],
            &["$uicideboy$", "$UICIDEBOY$", "suicideboys", "Suicideboys"],
        );
    }

    #[test]
    fn kesha_is_findable_as_typed_and_plain() {
        assert_findable("Ke$ha", &["ke$ha", "kesha"], &["Ke$ha", "kesha", "KESHA"]);
    }

    #[test]
    fn tatu_is_findable_as_typed_and_plain() {
        assert_findable(
            "t.A.T.u.",
            &["t.a.t.u", "tatu"],
            &["t.A.T.u.", "t.a.t.u", "tatu", "TATU"],
        );
    }

    #[test]
    fn cjk_names_are_findable_by_a_part() {
        assert_findable(
            "坂本龍一",
            &["坂", "坂本", "本龍", "龍一", "一"],
            &["坂本龍一", "坂本", "龍一", "本龍"],
        );
        assert_findable("坂本 龍一", &["坂本", "龍一"], &["坂本龍一"]);
        assert_findable("방탄소년단", &["방탄"], &["방탄", "소년단"]);
        assert_findable("Ryuichi 坂本", &["ryuichi", "坂本"], &["坂本"]);
    }

    #[test]
    fn variants_share_a_position_and_parts_follow() {
        assert_eq!(
            positioned(Analyzer::Name, "AC/DC rocks"),
            vec![
                ("ac/dc".into(), 0),
                ("acdc".into(), 0),
                ("ac".into(), 0),
                ("dc".into(), 1),
                ("rocks".into(), 2),
            ]
        );
        assert_eq!(
            positioned(Analyzer::Name, "P!nk live"),
            vec![("p!nk".into(), 0), ("pink".into(), 0), ("live".into(), 1)]
        );
        assert_eq!(
            positioned(Analyzer::Name, "坂本龍一"),
            vec![
                ("坂".into(), 0),
                ("坂本".into(), 0),
                ("本".into(), 1),
                ("本龍".into(), 1),
                ("龍".into(), 2),
                ("龍一".into(), 2),
                ("一".into(), 3),
            ]
        );
    }

    #[test]
    fn offsets_point_at_the_original_text() {
        let text = "  (Beyoncé) AC/DC 坂本";
        let at = |token: &str| {
            let t = Analyzer::Name
                .tokens(text)
                .into_iter()
                .find(|t| t.text == token)
                .unwrap_or_else(|| panic!("no token `{token}`"));
            &text[t.offset_from..t.offset_to]
        };
        assert_eq!(at("beyonce"), "Beyoncé");
        assert_eq!(at("acdc"), "AC/DC");
        assert_eq!(at("dc"), "AC/DC");
        assert_eq!(at("坂本"), "坂本");
        assert_eq!(at("本"), "本");
    }

    #[test]
    fn punctuation_around_words_is_not_part_of_them() {
        assert_eq!(texts(Analyzer::Name, "(Remix)"), vec!["remix"]);
        assert_eq!(texts(Analyzer::Name, "Wham!"), vec!["wham"]);
        assert_eq!(
            texts(Analyzer::Name, "Hello, world."),
            vec!["hello", "world"]
        );
        assert_eq!(
            texts(Analyzer::Name, "\"hip hop\" chill"),
            vec!["hip", "hop", "chill"]
        );
        assert!(texts(Analyzer::Name, "— ... !!! ---").is_empty());
        assert!(texts(Analyzer::Name, "").is_empty());
    }

    /// A tokenizer reuses the token slots of earlier texts: a long text after a short one, a
    /// short one after a long one, and plain words next to folded ones all stream exactly
    /// what a fresh analysis gives.
    #[test]
    fn a_reused_tokenizer_streams_each_text_like_a_fresh_one() {
        let texts = [
            "AC/DC rocks and rolls all night",
            "x",
            "",
            "P!nk, deadmau5 坂本龍一 Beyoncé (Remix) 2024",
            "Hello, World. Plain words only",
            "  Hip-Hop  ",
        ];
        for analyzer in Analyzer::ALL {
            let mut reused = analyzer.tokenizer();
            for text in texts.iter().chain(texts.iter().rev()) {
                let mut stream = reused.token_stream(text);
                let mut streamed = Vec::new();
                while stream.advance() {
                    let t = stream.token();
                    streamed.push((t.text.clone(), t.position, t.offset_from, t.offset_to));
                }
                let fresh: Vec<_> = analyzer
                    .tokens(text)
                    .into_iter()
                    .map(|t| (t.text, t.position, t.offset_from, t.offset_to))
                    .collect();
                assert_eq!(streamed, fresh, "{analyzer} {text:?}");
            }
        }
        assert_eq!(
            positioned(Analyzer::Text, "Plain WORDS, 2024 x"),
            vec![
                ("plain".into(), 0),
                ("words".into(), 1),
                ("2024".into(), 2),
                ("x".into(), 3)
            ]
        );
    }

    #[test]
    fn digits_in_numbers_stay_digits() {
        assert_eq!(
            texts(Analyzer::Name, "blink-182"),
            vec!["blink-182", "blink182", "blink", "182"]
        );
        assert_eq!(texts(Analyzer::Name, "1999"), vec!["1999"]);
        assert_eq!(texts(Analyzer::Name, "$100"), vec!["$100", "100"]);
    }

    #[test]
    fn text_analyzer_reads_symbols_as_punctuation() {
        let tokens = texts(Analyzer::Text, "wow!great, check out deadmau5");
        assert!(tokens.contains(&"wow".to_string()) && tokens.contains(&"great".to_string()));
        assert!(!tokens.contains(&"wowigreat".to_string()));
        assert!(tokens.contains(&"deadmau5".to_string()));
        assert!(!tokens.contains(&"deadmaus".to_string()));
        assert!(texts(Analyzer::Text, "Beyoncé").contains(&"beyonce".to_string()));
    }

    #[test]
    fn keyword_is_the_whole_value_folded() {
        assert_eq!(texts(Analyzer::Keyword, "  Hip-Hop "), vec!["hip-hop"]);
        assert_eq!(
            texts(Analyzer::Keyword, "Drum   &  Bass"),
            vec!["drum & bass"]
        );
        assert_eq!(
            texts(Analyzer::Keyword, "Música Latina"),
            vec!["musica latina"]
        );
        assert!(texts(Analyzer::Keyword, "   ").is_empty());
        let long = "é".repeat(300);
        let cut = texts(Analyzer::Keyword, &long);
        assert_eq!(cut.len(), 1);
        assert!(cut[0].len() <= MAX_TOKEN_BYTES && cut[0].chars().all(|c| c == 'e'));
    }

    #[test]
    fn huge_and_hostile_text_never_fails() {
        let long_word = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            texts(Analyzer::Name, &format!("a {long_word} b")),
            vec!["a", "b"]
        );
        let spam = "BUY CHEAP f0ll0wers!!! http://spam.example/?q=$$$ 坂本 ".repeat(1000);
        for analyzer in Analyzer::ALL {
            let tokens = analyzer.tokens(&spam);
            assert!(!tokens.is_empty());
            assert!(tokens.windows(2).all(|w| w[0].position <= w[1].position));
            for t in &tokens {
                assert!(spam.is_char_boundary(t.offset_from) && spam.is_char_boundary(t.offset_to));
            }
        }
        for weird in [
            "\u{0}\u{1}",
            "\u{301}\u{301}",
            "ß",
            "/",
            "$",
            "$$$",
            "a/",
            "/a",
            "é/",
            "\u{3099}",
        ] {
            for analyzer in Analyzer::ALL {
                let _ = analyzer.tokens(weird);
            }
        }
    }

    #[test]
    fn analyzer_names_round_trip_and_unknown_falls_back_to_text() {
        for analyzer in Analyzer::ALL {
            assert_eq!(analyzer.as_str().parse::<Analyzer>(), Ok(analyzer));
        }
        let err = "foo".parse::<Analyzer>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown analyzer `foo` (expected name, text or keyword)"
        );
        assert_eq!(analyze("foo", "wow!great"), analyze("text", "wow!great"));
    }

    #[test]
    fn registered_tokenizers_stream_the_same_tokens() {
        let manager = TokenizerManager::new();
        register(&manager);
        for analyzer in Analyzer::ALL {
            let mut tokenizer = manager.get(analyzer.as_str()).expect("registered");
            let mut stream = tokenizer.token_stream("AC/DC 坂本 Beyoncé");
            let mut streamed = Vec::new();
            stream.process(&mut |t| streamed.push(t.clone()));
            assert_eq!(streamed, analyzer.tokens("AC/DC 坂本 Beyoncé"));
        }
    }

    /// Index names through the real schema and rendering, then find each by every form a
    /// person might type, with term queries over the kind's searchable fields (as the query
    /// side does) and with phrases.
    #[test]
    fn indexed_names_are_found_by_each_form() {
        use chrono::Utc;
        use tantivy::collector::TopDocs;
        use tantivy::query::{BooleanQuery, Occur, PhraseQuery, Query, TermQuery};
        use tantivy::schema::{IndexRecordOption, Value};
        use tantivy::{Index, TantivyDocument, Term};

        use crate::definition::Definitions;
        use crate::row::EntityRow;
        use crate::{EntityKey, EntityKind, Version};

        let defs = Definitions::builtin();
        let index = Index::create_in_ram(defs.schema());
        register(index.tokenizers());
        let mut writer = index.writer::<TantivyDocument>(15_000_000).expect("writer");
        let names = [
            "AC/DC",
            "P!nk",
            "deadmau5",
            "$uicideboy$",
            "Ke$ha",
            "t.A.T.u.",
            "Beyoncé",
            "Sigur Rós",
            "坂本龍一",
            "Highway to Hell",
        ];
        let now = Utc::now();
        for (id, name) in names.iter().enumerate() {
            let key = EntityKey::new(EntityKind::User, id as i64);
            let row = EntityRow::new(key, Version::from_datetime(now), now)
                .with("username", format!("user{id}"))
                .with("full_name", *name);
            writer
                .add_document(defs.render(&row).expect("render"))
                .expect("add");
        }
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        let id_of = |query: &dyn Query| -> Vec<i64> {
            searcher
                .search(query, &TopDocs::with_limit(3).order_by_score())
                .expect("search")
                .into_iter()
                .filter_map(|(_, addr)| {
                    let doc: TantivyDocument = searcher.doc(addr).ok()?;
                    doc.get_first(defs.system().id).and_then(|v| v.as_i64())
                })
                .collect()
        };
        let terms_query = |text: &str| {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for field in defs.searchable(EntityKind::User) {
                for token in field.analyzer.analyze(text) {
                    let term = Term::from_field_text(field.field, &token);
                    clauses.push((
                        Occur::Should,
                        Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                    ));
                }
            }
            BooleanQuery::new(clauses)
        };
        let forms: [(usize, &[&str]); 9] = [
            (0, &["AC/DC", "acdc", "ac dc"]),
            (1, &["P!nk", "pink"]),
            (2, &["deadmau5", "deadmaus"]),
            (3, &["$uicideboy$", "suicideboys"]),
            (4, &["Ke$ha", "kesha"]),
            (5, &["t.A.T.u.", "tatu"]),
            (6, &["Beyoncé", "beyonce"]),
            (7, &["Sigur Rós", "sigur ros"]),
            (8, &["坂本龍一", "坂本", "龍一"]),
        ];
        for (id, queries) in forms {
            for query in queries {
                let found = id_of(&terms_query(query));
                assert_eq!(
                    found.first(),
                    Some(&(id as i64)),
                    "`{query}` should find `{}`",
                    names[id]
                );
            }
        }
        let full_name = defs.field("full_name").expect("users have a full name");
        let phrase = |tokens: &[&str]| {
            PhraseQuery::new(
                tokens
                    .iter()
                    .map(|t| Term::from_field_text(full_name, t))
                    .collect(),
            )
        };
        assert_eq!(id_of(&phrase(&["ac", "dc"])), vec![0]);
        assert_eq!(id_of(&phrase(&["sigur", "ros"])), vec![7]);
        assert_eq!(id_of(&phrase(&["本龍", "龍一"])), vec![8]);
        assert_eq!(id_of(&phrase(&["highway", "to", "hell"])), vec![9]);
        assert!(id_of(&phrase(&["hell", "highway"])).is_empty());
    }
}
