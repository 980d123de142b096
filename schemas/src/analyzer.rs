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
        tokenize(self, text, &mut out);
        out
    }

    /// A tantivy tokenizer running this analyzer.
    pub fn tokenizer(self) -> DiscoTokenizer {
        DiscoTokenizer {
            analyzer: self,
            tokens: Vec::new(),
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
        // Kana voicing marks were kept apart from their base; put them back together.
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
            if is_kana_voicing_mark(d) {
                // が is not か: keep the mark, recompose at the end.
                out.push(d);
                *compose = true;
            }
            return;
        }
        for l in d.to_lowercase() {
            if !is_combining_mark(l) {
                push_folded(l, out);
            }
        }
    });
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

fn is_kana_voicing_mark(c: char) -> bool {
    c == '\u{3099}' || c == '\u{309a}'
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

fn tokenize(analyzer: Analyzer, text: &str, out: &mut Vec<Token>) {
    if analyzer == Analyzer::Keyword {
        keyword_token(text, out);
        return;
    }
    let mut emitter = Emitter {
        out,
        position: 0,
        leet: analyzer == Analyzer::Name,
    };
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
}

fn keyword_token(text: &str, out: &mut Vec<Token>) {
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
    out.push(Token {
        offset_from: 0,
        offset_to: text.len(),
        position: 0,
        text: value,
        position_length: 1,
    });
}

/// Writes the tokens of one chunk after another, tracking positions.
struct Emitter<'o> {
    out: &'o mut Vec<Token>,
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

    fn push(&mut self, text: &str, position: usize, from: usize, to: usize) {
        if text.is_empty() || text.len() > MAX_TOKEN_BYTES {
            return;
        }
        // The same text twice at one position adds nothing but term frequency.
        let duplicate = self
            .out
            .iter()
            .rev()
            .take_while(|t| t.position == position)
            .any(|t| t.text == text);
        if !duplicate {
            self.out.push(Token {
                offset_from: from,
                offset_to: to,
                position,
                text: text.to_string(),
                position_length: 1,
            });
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
        let typed = fold(&text[from..to]);
        if !typed.chars().any(char::is_alphanumeric) {
            return;
        }
        let has_letter = typed.chars().any(char::is_alphabetic);
        let symbols_are_letters = self.leet && has_letter;
        let is_separator =
            |c: char| !c.is_alphanumeric() && !(symbols_are_letters && leet_letter(c).is_some());
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
    tokens: Vec<Token>,
}

impl Tokenizer for DiscoTokenizer {
    type TokenStream<'a> = DiscoTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> DiscoTokenStream<'a> {
        self.tokens.clear();
        tokenize(self.analyzer, text, &mut self.tokens);
        DiscoTokenStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

/// The stream of a [`DiscoTokenizer`].
pub struct DiscoTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
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
