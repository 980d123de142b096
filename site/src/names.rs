//! The words a music site is made of: artist and person names in many languages (with their
//! diacritics and the odd punctuation of real stage names), track and playlist titles, genres,
//! tags, descriptions and comments. Everything is drawn from a caller's RNG, so a seeded
//! generator stays deterministic.

use rand::Rng;
use rand::seq::IndexedRandom;

/// Real stage names whose spelling a search engine must cope with, given to the first users of
/// a synthetic catalog: (username, display name, city, country).
pub const SPECIAL_ARTISTS: &[(&str, &str, &str, &str)] = &[
    ("acdc", "AC/DC", "Sydney", "Australia"),
    ("pink", "P!nk", "Doylestown", "United States"),
    ("deadmau5", "deadmau5", "Toronto", "Canada"),
    ("ryuichi-sakamoto", "坂本龍一", "東京", "Japan"),
    ("beyonce", "Beyoncé", "Houston", "United States"),
    ("sigur-ros", "Sigur Rós", "Reykjavík", "Iceland"),
    ("bjork", "Björk", "Reykjavík", "Iceland"),
    ("suicideboys", "$uicideboy$", "New Orleans", "United States"),
    ("kesha", "Ke$ha", "Nashville", "United States"),
    ("tatu", "t.A.T.u.", "Москва", "Russia"),
    ("motley-crue", "Mötley Crüe", "Los Angeles", "United States"),
    ("motorhead", "Motörhead", "London", "United Kingdom"),
    ("rosalia", "ROSALÍA", "Barcelona", "Spain"),
    ("stromae", "Stromae", "Bruxelles", "Belgium"),
    ("olafur-arnalds", "Ólafur Arnalds", "Mosfellsbær", "Iceland"),
    ("joe-hisaishi", "久石譲", "長野", "Japan"),
    ("bts", "방탄소년단", "Seoul", "South Korea"),
    ("amadou-mariam", "Amadou & Mariam", "Bamako", "Mali"),
    ("caetano-veloso", "Caetano Veloso", "Salvador", "Brazil"),
    ("dvorak", "Antonín Dvořák", "Praha", "Czechia"),
];

const FIRST_NAMES: &[&str] = &[
    "José",
    "Zoë",
    "Björn",
    "Łukasz",
    "Søren",
    "François",
    "Chloé",
    "Mía",
    "Jürgen",
    "Renée",
    "Anaïs",
    "Héctor",
    "Noémie",
    "Ömer",
    "Dagný",
    "Siobhán",
    "Maël",
    "Íñigo",
    "Kateřina",
    "Ana",
    "Lucas",
    "Emma",
    "Olivia",
    "Liam",
    "Noah",
    "Mateo",
    "Sofía",
    "Yuki",
    "Haruto",
    "Min-jun",
    "Aarav",
    "Priya",
    "Fatima",
    "Omar",
    "Chidi",
    "Amara",
    "Ivan",
    "Olga",
    "Nikos",
    "Eleni",
    "Giulia",
    "Marco",
    "Lena",
    "Jonas",
    "Sara",
    "Ahmed",
    "Leila",
    "Tomás",
    "Inês",
    "Wei",
];

const LAST_NAMES: &[&str] = &[
    "García",
    "Müller",
    "Nowak",
    "Sørensen",
    "Dubois",
    "Fernández",
    "Novák",
    "Öztürk",
    "Jónsdóttir",
    "Nguyễn",
    "Smith",
    "Johnson",
    "Brown",
    "Tanaka",
    "Suzuki",
    "Kim",
    "Park",
    "Singh",
    "Patel",
    "Okafor",
    "Mensah",
    "Ivanov",
    "Papadopoulos",
    "Rossi",
    "Bianchi",
    "Schmidt",
    "Lindqvist",
    "Hernández",
    "Gonçalves",
    "Ó Briain",
    "Kowalczyk",
    "Dvořáková",
    "Håkansson",
    "Çelik",
    "Zhang",
];

const STAGE_PREFIXES: &[&str] = &["DJ", "MC", "Lil", "Big", "Young", "Saint", "Dr.", "Kid"];

const STAGE_WORDS: &[&str] = &[
    "Nova", "Echo", "Velvet", "Neon", "Ghost", "Lunar", "Rêve", "Cœur", "Nuit", "Sombra", "Fuego",
    "Luz", "Mañana", "Sturm", "Wald", "Ísland", "Kaffee", "Taiga", "Sakura", "夜", "Pixel",
    "Static", "Orbit", "Tundra", "Crimson", "Marée", "Brisa", "Eclipse", "Mirage", "Cobalt",
];

const BAND_NOUNS: &[&str] = &[
    "Collective",
    "Orchestra",
    "Sound System",
    "Quartet",
    "Brothers",
    "Sisters",
    "Club",
    "Crew",
    "Ensemble",
    "Trío",
    "Kapelle",
    "Experience",
];

const ADJECTIVES: &[&str] = &[
    "Midnight",
    "Golden",
    "Broken",
    "Electric",
    "Silent",
    "Endless",
    "Blue",
    "Wild",
    "Lonely",
    "Dancing",
    "Frozen",
    "Burning",
    "Sweet",
    "Lost",
    "Hidden",
    "Neon",
    "Summer",
    "Winter",
    "Dernière",
    "Pequeña",
    "Schöne",
    "Última",
    "Douce",
    "Vieja",
    "Kalte",
];

const NOUNS: &[&str] = &[
    "Heart",
    "City",
    "Dream",
    "River",
    "Fire",
    "Rain",
    "Sky",
    "Road",
    "Night",
    "Morning",
    "Ocean",
    "Light",
    "Shadow",
    "Garden",
    "Mirror",
    "Signal",
    "Horizon",
    "Memory",
    "Machine",
    "Storm",
    "Canción",
    "Corazón",
    "Étoile",
    "Lumière",
    "Straße",
    "Sehnsucht",
    "Saudade",
    "Hjarta",
    "夜明け",
    "さくら",
    "사랑",
    "Любовь",
];

const FILLER_TITLES: &[&str] = &[
    "Intro",
    "Untitled",
    "Outro",
    "Interlude",
    "Demo",
    "Untitled 1",
];

/// Genre names as the site's upload form offers them.
pub const GENRES: &[&str] = &[
    "Electronic",
    "House",
    "Techno",
    "Drum & Bass",
    "Dubstep",
    "Hip-hop & Rap",
    "R&B & Soul",
    "Pop",
    "Rock",
    "Metal",
    "Indie",
    "Folk & Singer-Songwriter",
    "Jazz & Blues",
    "Classical",
    "Ambient",
    "Reggae",
    "Latin",
    "Reggaeton",
    "K-Pop",
    "J-Pop",
    "Country",
    "World",
    "Piano",
    "Soundtrack",
    "Lo-fi",
];

const TAGS: &[&str] = &[
    "chill",
    "summer",
    "remix",
    "live",
    "acoustic",
    "instrumental",
    "vocal",
    "bootleg",
    "lo-fi",
    "\"deep house\"",
    "\"late night\"",
    "\"road trip\"",
    "edm",
    "guitar",
    "synthwave",
    "beats",
    "original",
    "cover",
    "study",
    "workout",
    "café",
    "fête",
    "noche",
    "dj-set",
    "free download",
];

const CITIES: &[(&str, &str)] = &[
    ("Berlin", "Germany"),
    ("München", "Germany"),
    ("São Paulo", "Brazil"),
    ("México", "Mexico"),
    ("Bogotá", "Colombia"),
    ("Montréal", "Canada"),
    ("Zürich", "Switzerland"),
    ("Kraków", "Poland"),
    ("Göteborg", "Sweden"),
    ("København", "Denmark"),
    ("Reykjavík", "Iceland"),
    ("Paris", "France"),
    ("Lyon", "France"),
    ("London", "United Kingdom"),
    ("Dublin", "Ireland"),
    ("New York", "United States"),
    ("Los Angeles", "United States"),
    ("Chicago", "United States"),
    ("Lagos", "Nigeria"),
    ("Accra", "Ghana"),
    ("Tokyo", "Japan"),
    ("Seoul", "South Korea"),
    ("Mumbai", "India"),
    ("Istanbul", "Türkiye"),
    ("Athens", "Greece"),
    ("Roma", "Italy"),
    ("Madrid", "Spain"),
    ("Lisboa", "Portugal"),
    ("Amsterdam", "Netherlands"),
    ("Praha", "Czechia"),
    ("Melbourne", "Australia"),
];

const DESCRIPTIONS: &[&str] = &[
    "Recorded live in my bedroom, mixed and mastered by me.",
    "First track of the new EP, out on all platforms.",
    "Free download! Follow for more.",
    "A late-night session with friends. Headphones recommended.",
    "Grabado en vivo en Bogotá, mezcla de cumbia y electrónica.",
    "Enregistré à Montréal pendant l'hiver. Merci à tous !",
    "Aufgenommen in Berlin, inspiriert von der Nacht.",
    "Gravado em São Paulo com muito carinho.",
    "東京で録音しました。",
    "Old demo I found on a hard drive from 2009.",
    "Collab with my cousin, we made this in one afternoon.",
    "For the people who stay up until sunrise.",
];

const COMMENTS: &[&str] = &[
    "🔥🔥🔥",
    "love this!",
    "the drop at 1:23 😍",
    "¡Qué buena!",
    "Trop bien ce son",
    "on repeat all day",
    "who else is here in 2026?",
    "Mega Track, danke!",
    "this slaps",
    "beautiful melody",
    "need this on vinyl",
    "follow back?",
    "神曲",
    "chills every time",
];

const PLAYLIST_TITLES: &[&str] = &[
    "Chill vibes",
    "Gym mix",
    "Road trip",
    "My favorites",
    "Untitled Playlist",
    "Late night",
    "Summer 2026",
    "Sunday morning",
    "Focus",
    "Party starters",
    "Fiesta latina",
    "Soirée",
    "Feierabend",
    "Songs for rain",
    "Throwbacks",
];

/// A person's display name, e.g. "Zoë Dvořáková".
pub fn person_name(rng: &mut impl Rng) -> String {
    format!("{} {}", pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES))
}

/// An artist's display name: a person, a stage name or a band.
pub fn artist_name(rng: &mut impl Rng) -> String {
    match rng.random_range(0..10) {
        0..=3 => person_name(rng),
        4..=5 => format!("{} {}", pick(rng, STAGE_PREFIXES), pick(rng, STAGE_WORDS)),
        6 => format!("{} {}", pick(rng, STAGE_WORDS), pick(rng, BAND_NOUNS)),
        7 => format!("The {} {}s", pick(rng, ADJECTIVES), pick(rng, NOUNS)),
        8 => pick(rng, STAGE_WORDS).to_lowercase() + &rng.random_range(1..100).to_string(),
        _ => format!("{} & {}", pick(rng, FIRST_NAMES), pick(rng, FIRST_NAMES)),
    }
}

/// A track's base title; about one in ten is a filler title many tracks share ("Intro").
pub fn track_title(rng: &mut impl Rng) -> String {
    match rng.random_range(0..100) {
        0..=9 => pick(rng, FILLER_TITLES).to_string(),
        10..=54 => format!("{} {}", pick(rng, ADJECTIVES), pick(rng, NOUNS)),
        55..=74 => pick(rng, NOUNS).to_string(),
        75..=89 => format!("{} of the {}", pick(rng, NOUNS), pick(rng, NOUNS)),
        _ => format!("{} {}", pick(rng, NOUNS), rng.random_range(1..30)),
    }
}

/// A playlist title, sometimes naming an artist.
pub fn playlist_title(rng: &mut impl Rng, artist: &str) -> String {
    match rng.random_range(0..10) {
        0..=1 => format!("Best of {artist}"),
        2 => format!(
            "{} {}",
            pick(rng, GENRES),
            pick(rng, &["essentials", "mix", "classics"])
        ),
        _ => pick(rng, PLAYLIST_TITLES).to_string(),
    }
}

/// A group's name, e.g. "Techno Kraków".
pub fn group_name(rng: &mut impl Rng) -> String {
    let (city, _) = pick(rng, CITIES);
    match rng.random_range(0..3) {
        0 => format!("{} {city}", pick(rng, GENRES)),
        1 => format!(
            "{} {}",
            pick(rng, GENRES),
            pick(rng, &["Producers", "Lovers", "Society", "DJs"])
        ),
        _ => format!("{} {}", pick(rng, STAGE_WORDS), pick(rng, BAND_NOUNS)),
    }
}

/// A genre from [`GENRES`], skewed towards the first (most common) ones.
pub fn genre(rng: &mut impl Rng) -> &'static str {
    let a = rng.random_range(0..GENRES.len());
    let b = rng.random_range(0..GENRES.len());
    GENRES[a.min(b)]
}

/// Space-separated tags (multi-word tags in double quotes), starting with the genre's own.
pub fn tags(rng: &mut impl Rng, genre: &str) -> String {
    let mut tags = vec![quote_tag(&genre.to_lowercase())];
    for _ in 0..rng.random_range(0..4) {
        let tag = pick(rng, TAGS).to_string();
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags.join(" ")
}

/// A tag as the tags column writes it: in double quotes when it has a space.
pub fn quote_tag(tag: &str) -> String {
    if tag.contains(' ') {
        format!("\"{}\"", tag.replace('"', ""))
    } else {
        tag.to_string()
    }
}

/// A short description, empty about a third of the time.
pub fn description(rng: &mut impl Rng) -> String {
    if rng.random_bool(0.33) {
        String::new()
    } else {
        pick(rng, DESCRIPTIONS).to_string()
    }
}

/// A comment's body.
pub fn comment(rng: &mut impl Rng) -> &'static str {
    let comment: &&'static str = pick(rng, COMMENTS);
    comment
}

/// A (city, country) pair; empty about a fifth of the time, as on real profiles.
pub fn city(rng: &mut impl Rng) -> (&'static str, &'static str) {
    if rng.random_bool(0.2) {
        ("", "")
    } else {
        *pick(rng, CITIES)
    }
}

/// A hostile description of about `bytes` bytes: the spam a search engine must not choke on.
pub fn spam(bytes: usize) -> String {
    let unit = "BUY CHEAP PLAYS & FOLLOWERS NOW!!! best promo http://promo.example/deal?id=1234 ";
    let mut text = String::with_capacity(bytes + unit.len());
    while text.len() < bytes {
        text.push_str(unit);
    }
    text
}

/// A username made of the ASCII letters and digits of `name` (diacritics dropped to their
/// base letter), joined by dashes; `fallback` when nothing is left (e.g. a CJK name).
pub fn slug(name: &str, fallback: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        let base = fold_latin(c);
        if base.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            out.push(base);
            dash = false;
        } else {
            dash = true;
        }
    }
    if out.is_empty() {
        fallback.to_string()
    } else {
        out
    }
}

/// The base letter of a lower-case Latin letter with a diacritic (enough for usernames).
fn fold_latin(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'ç' | 'č' | 'ć' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ě' | 'ē' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' | 'ń' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ů' => 'u',
        'ý' | 'ÿ' => 'y',
        'ř' => 'r',
        'š' | 'ś' => 's',
        'ž' | 'ź' | 'ż' => 'z',
        'ł' => 'l',
        'đ' | 'ð' => 'd',
        'þ' => 't',
        'æ' => 'a',
        'œ' => 'o',
        'ß' => 's',
        'ễ' | 'ệ' => 'e',
        other => other,
    }
}

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    // The lists above are constant and non-empty.
    items.choose(rng).unwrap_or(&items[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn slugs_fold_diacritics_and_fall_back() {
        assert_eq!(slug("Zoë Dvořáková", "u"), "zoe-dvorakova");
        assert_eq!(slug("AC/DC", "u"), "ac-dc");
        assert_eq!(slug("坂本龍一", "artist"), "artist");
    }

    #[test]
    fn tags_quote_multi_word_values() {
        assert_eq!(quote_tag("drum & bass"), "\"drum & bass\"");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let tags = tags(&mut rng, "Hip-hop & Rap");
        assert!(tags.starts_with("\"hip-hop & rap\""), "{tags}");
    }

    #[test]
    fn spam_is_as_long_as_asked() {
        let text = spam(50 * 1024);
        assert!(text.len() >= 50 * 1024 && text.len() < 51 * 1024);
    }
}
