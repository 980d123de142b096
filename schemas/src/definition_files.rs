//! Definitions as files a generation keeps: the four JSON texts a [`Definitions`] was built from,
//! written beside a generation's index so it is read and written with them for its whole life,
//! and a digest that names them (what `GET /admin/generations` shows, and how a copy edited in
//! place is caught).
//!
//! The digest covers what the files say, not how they are laid out: keys are sorted and
//! whitespace dropped before hashing, so re-indenting a file keeps its digest.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::EntityKind;
use crate::definition::{DefinitionError, Definitions};

impl Definitions {
    /// The files these definitions were built from, `(file name, JSON text)`, one per kind in
    /// kind order (`track.json`, `user.json`, `playlist.json`, `group.json`).
    pub fn sources(&self) -> &[(String, String)] {
        &self.sources
    }

    /// SHA-256 (hex) of the files' content in canonical form: equal digests, equal definitions.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for (file, text) in &self.sources {
            hasher.update(file.as_bytes());
            hasher.update([0]);
            match serde_json::from_str::<Value>(text) {
                Ok(value) => hasher.update(canonical(&value).as_bytes()),
                // Unreachable for validated definitions; hashed as written all the same.
                Err(_) => hasher.update(text.as_bytes()),
            }
            hasher.update([0]);
        }
        hasher.finalize().iter().fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
    }

    /// Writes the four files into `dir` (created if missing).
    pub fn write_dir(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (file, text) in &self.sources {
            std::fs::write(dir.join(file), text)?;
        }
        Ok(())
    }

    /// The shipped definitions with `edit(file name, text)` applied to each file's text: a
    /// variant derived the way a person edits an exported copy.
    pub fn builtin_edited(edit: impl Fn(&str, &str) -> String) -> Result<Self, DefinitionError> {
        let sources: Vec<(String, String)> = Definitions::builtin_sources()
            .iter()
            .map(|(file, text)| (file.to_string(), edit(file, text)))
            .collect();
        let refs: Vec<(&str, &str)> = sources
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        Self::from_sources(&refs)
    }

    /// Definitions given as one JSON object of the four files, keyed by kind (`"track"`) or file
    /// name (`"track.json"`), each value the file's JSON: the body of `POST /admin/reindex`.
    pub fn from_json_files(
        files: &serde_json::Map<String, Value>,
    ) -> Result<Self, DefinitionError> {
        let mut sources = Vec::with_capacity(files.len());
        for (name, value) in files {
            let kind = name.strip_suffix(".json").unwrap_or(name);
            if kind.parse::<EntityKind>().is_err() {
                return Err(DefinitionError::new(
                    name,
                    None,
                    "not a definition file: expected track, user, playlist or group",
                ));
            }
            let text = serde_json::to_string_pretty(value).map_err(|e| {
                DefinitionError::new(name, None, format!("cannot be written back: {e}"))
            })?;
            sources.push((format!("{kind}.json"), text));
        }
        let refs: Vec<(&str, &str)> = sources
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        Self::from_sources(&refs)
    }
}

/// `value` as compact JSON with every object's keys sorted.
fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin_with(edit: impl Fn(&str) -> String) -> Definitions {
        Definitions::builtin_edited(|_, text| edit(text)).expect("valid")
    }

    #[test]
    fn the_digest_follows_content_not_layout() {
        let shipped = Definitions::builtin();
        let reindented = builtin_with(|text| {
            let value: Value = serde_json::from_str(text).unwrap();
            serde_json::to_string(&value).unwrap()
        });
        assert_eq!(shipped.digest(), reindented.digest());
        assert_eq!(shipped.digest().len(), 64);
        let boosted = builtin_with(|text| text.replacen("\"boost\": 3.0", "\"boost\": 4.0", 1));
        assert_ne!(shipped.digest(), boosted.digest());
    }

    #[test]
    fn written_files_load_back_as_the_same_definitions() {
        let dir = tempfile::tempdir().unwrap();
        let shipped = Definitions::builtin();
        shipped.write_dir(dir.path()).unwrap();
        let loaded = Definitions::load_dir(dir.path()).unwrap();
        assert_eq!(loaded.digest(), shipped.digest());
        assert_eq!(loaded.schema(), shipped.schema());
    }

    #[test]
    fn json_files_by_kind_or_file_name() {
        let mut files = serde_json::Map::new();
        for (i, (file, text)) in Definitions::builtin_sources().iter().enumerate() {
            let name = if i % 2 == 0 {
                file.to_string()
            } else {
                file.trim_end_matches(".json").to_string()
            };
            files.insert(name, serde_json::from_str(text).unwrap());
        }
        let definitions = Definitions::from_json_files(&files).unwrap();
        assert_eq!(definitions.digest(), Definitions::builtin().digest());

        files.insert("album".into(), Value::Null);
        let err = Definitions::from_json_files(&files)
            .unwrap_err()
            .to_string();
        assert!(err.contains("album"), "{err}");
    }
}
