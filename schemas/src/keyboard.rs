//! Where people's fingers slip: the neighbouring keys of a QWERTY keyboard, the one table the
//! known-item generator's keyboard slips (`quality::generate`) and the simulated searchers'
//! typos (`site::searchers`) draw from.

/// The keys next to `key` on a QWERTY keyboard (lower-case letters; anything else has none).
pub fn neighbours(key: char) -> &'static str {
    match key {
        'q' => "wa",
        'w' => "qeas",
        'e' => "wrds",
        'r' => "etdf",
        't' => "ryfg",
        'y' => "tugh",
        'u' => "yihj",
        'i' => "uojk",
        'o' => "ipkl",
        'p' => "ol",
        'a' => "qwsz",
        's' => "awedxz",
        'd' => "serfcx",
        'f' => "drtgvc",
        'g' => "ftyhbv",
        'h' => "gyujnb",
        'j' => "huikmn",
        'k' => "jiolm",
        'l' => "kop",
        'z' => "asx",
        'x' => "zsdc",
        'c' => "xdfv",
        'v' => "cfgb",
        'b' => "vghn",
        'n' => "bhjm",
        'm' => "njk",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_are_mutual() {
        for key in 'a'..='z' {
            assert!(!neighbours(key).is_empty(), "{key}");
            for near in neighbours(key).chars() {
                assert!(neighbours(near).contains(key), "{key} and {near}");
            }
        }
        assert_eq!(neighbours('1'), "");
    }
}
