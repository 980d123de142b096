//! What changed between two sets of definition files, as a person reviewing a schema change
//! reads it: per kind, the fields added, dropped or changed (with the options that differ), and
//! a changed search list or display template.

use std::collections::BTreeMap;

use serde_json::Value;

/// The differences from `before` to `after` (each `(file name, JSON text)`), one line each, in
/// file order; empty when they define the same. A file that is not JSON is a line of its own
/// (`disco definitions check` says why).
pub fn diff_sources(before: &[(String, String)], after: &[(String, String)]) -> Vec<String> {
    let parse = |sources: &[(String, String)]| -> BTreeMap<String, Option<Value>> {
        sources
            .iter()
            .map(|(file, text)| (file.clone(), serde_json::from_str(text).ok()))
            .collect()
    };
    let (before, after) = (parse(before), parse(after));
    let mut lines = Vec::new();
    let files: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for file in files {
        match (before.get(file), after.get(file)) {
            (Some(Some(a)), Some(Some(b))) => diff_kind(file, a, b, &mut lines),
            (Some(_), None) => lines.push(format!("{file}: removed")),
            (None, Some(_)) => lines.push(format!("{file}: added")),
            _ => lines.push(format!("{file}: not JSON on one side")),
        }
    }
    lines
}

fn fields_by_name(kind: &Value) -> BTreeMap<String, &Value> {
    kind.get("fields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| Some((f.get("name")?.as_str()?.to_string(), f)))
                .collect()
        })
        .unwrap_or_default()
}

fn diff_kind(file: &str, before: &Value, after: &Value, lines: &mut Vec<String>) {
    let (old, new) = (fields_by_name(before), fields_by_name(after));
    for (name, field) in &new {
        match old.get(name) {
            None => lines.push(format!("{file}: field `{name}` added: {field}")),
            Some(was) if was != field => {
                let mut changes = Vec::new();
                let keys: std::collections::BTreeSet<&String> = (was.as_object().into_iter())
                    .chain(field.as_object())
                    .flat_map(|o| o.keys())
                    .collect();
                for key in keys {
                    let (a, b) = (was.get(key), field.get(key));
                    if a != b {
                        let show =
                            |v: Option<&Value>| v.map_or("(none)".to_string(), Value::to_string);
                        changes.push(format!("{key} {} → {}", show(a), show(b)));
                    }
                }
                lines.push(format!("{file}: field `{name}`: {}", changes.join(", ")));
            }
            Some(_) => {}
        }
    }
    for name in old.keys().filter(|n| !new.contains_key(*n)) {
        lines.push(format!("{file}: field `{name}` dropped"));
    }
    for key in ["kind", "search", "display"] {
        if before.get(key) != after.get(key) {
            let show = |v: Option<&Value>| v.map_or("(none)".to_string(), Value::to_string);
            lines.push(format!(
                "{file}: {key} {} → {}",
                show(before.get(key)),
                show(after.get(key))
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(track: &str) -> Vec<(String, String)> {
        vec![("track.json".to_string(), track.to_string())]
    }

    #[test]
    fn fields_added_dropped_and_changed_are_named() {
        let before = sources(
            r#"{"kind": "track", "fields": [{"name": "title", "boost": 3.0}, {"name": "city"}],
                "search": ["title"], "display": {"title": "{title}"}}"#,
        );
        let after = sources(
            r#"{"kind": "track", "fields": [{"name": "title", "boost": 2.0}, {"name": "genre", "type": "text"}],
                "search": ["title", "genre"], "display": {"title": "{title}"}}"#,
        );
        assert_eq!(
            diff_sources(&before, &after),
            [
                "track.json: field `genre` added: {\"name\":\"genre\",\"type\":\"text\"}",
                "track.json: field `title`: boost 3.0 → 2.0",
                "track.json: field `city` dropped",
                "track.json: search [\"title\"] → [\"title\",\"genre\"]",
            ]
        );
        assert!(diff_sources(&before, &before).is_empty());
        assert_eq!(diff_sources(&before, &[]), ["track.json: removed"]);
    }
}
