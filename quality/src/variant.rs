//! How a variant of Disco's ranking is named, the one grammar `disco eval run` columns and
//! experiment arms share: comma-separated parts, each `live`, `gen=<n>` (an index generation),
//! `rank=<v>|none|active` (a DiscoRank version, text relevance alone, or the active version)
//! or `setting=<name>` (one of [`SearchSettings::NAMES`]). Parts left out keep the live
//! generation, the active rank version and the default settings.

use std::fmt;

use engine::prior::RankChoice;
use engine::search::SearchSettings;

/// A parsed variant.
#[derive(Debug, Clone)]
pub struct VariantSpec {
    /// The index generation to search; `None` for the live one.
    pub generation: Option<u32>,
    pub rank: RankChoice,
    /// The name of the ranking settings ([`SearchSettings::named`]).
    pub setting: String,
    pub settings: SearchSettings,
}

/// Equal when they name the same thing (the settings follow from their name).
impl PartialEq for VariantSpec {
    fn eq(&self, other: &Self) -> bool {
        (self.generation, self.rank, &self.setting)
            == (other.generation, other.rank, &other.setting)
    }
}

/// A variant that does not parse, with the part that did not and what would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variant `{spec}`: {reason}")]
pub struct BadVariant {
    pub spec: String,
    pub reason: String,
}

impl Default for VariantSpec {
    fn default() -> Self {
        VariantSpec {
            generation: None,
            rank: RankChoice::Active,
            setting: "default".to_string(),
            settings: SearchSettings::default(),
        }
    }
}

impl VariantSpec {
    pub fn parse(spec: &str) -> Result<VariantSpec, BadVariant> {
        let bad = |reason: String| BadVariant {
            spec: spec.to_string(),
            reason,
        };
        let mut out = VariantSpec::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                None if part == "live" => {}
                Some(("gen", n)) => {
                    let n = n.trim_start_matches("gen-");
                    out.generation = Some(
                        n.parse()
                            .map_err(|_| bad(format!("gen={n} is not a number")))?,
                    );
                }
                Some(("rank", "active")) => out.rank = RankChoice::Active,
                Some(("rank", rank)) => {
                    out.rank = rank.parse().map_err(|e| bad(format!("{e}")))?;
                }
                Some(("setting", name)) => {
                    out.settings = SearchSettings::named(name).ok_or_else(|| {
                        bad(format!(
                            "no ranking setting `{name}` (known: {})",
                            SearchSettings::NAMES.join(", ")
                        ))
                    })?;
                    out.setting = name.to_string();
                }
                _ => {
                    return Err(bad(format!(
                        "`{part}` is not one of live, gen=<n>, rank=<v>|none|active, setting=<name>"
                    )));
                }
            }
        }
        Ok(out)
    }
}

/// The canonical spelling: `rank=…`, then `setting=…` and `gen=…` when not the defaults.
impl fmt::Display for VariantSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rank={}", self.rank)?;
        if self.setting != "default" {
            write!(f, ",setting={}", self.setting)?;
        }
        if let Some(g) = self.generation {
            write!(f, ",gen={g}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_parse_print_and_bad_ones_say_why() {
        let v = VariantSpec::parse("gen=3,rank=none,setting=no-fuzzy").unwrap();
        assert_eq!(v.generation, Some(3));
        assert_eq!(v.rank, RankChoice::None);
        assert_eq!(v.settings.fuzzy_below, 0);
        assert_eq!(v.to_string(), "rank=none,setting=no-fuzzy,gen=3");
        assert_eq!(VariantSpec::parse("live").unwrap().rank, RankChoice::Active);
        assert_eq!(
            VariantSpec::parse("rank=active").unwrap(),
            VariantSpec::default()
        );
        assert_eq!(
            VariantSpec::parse("rank=v2").unwrap().to_string(),
            "rank=v2"
        );
        let err = VariantSpec::parse("speed=fast").unwrap_err().to_string();
        assert!(err.contains("speed=fast"), "{err}");
        assert!(VariantSpec::parse("setting=nope").is_err());
        assert!(VariantSpec::parse("gen=x").is_err());
    }
}
