//! `disco definitions`: the index definitions as files — export the shipped ones (or a
//! generation's) for editing, check a directory (each error with its file, field and reason, and
//! every field a column hydration reads), and diff two sets: directories, the shipped ones, or
//! the copies index generations keep (`live`, `previous`, `gen-3`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use schemas::EntityKind;
use schemas::definition::Definitions;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct DefinitionsArgs {
    #[command(subcommand)]
    pub command: DefinitionsCommand,
}

#[derive(Debug, Subcommand)]
pub enum DefinitionsCommand {
    /// Write the shipped definitions (track.json, user.json, playlist.json, group.json) to DIR.
    Export {
        dir: PathBuf,
        /// Replace files that are there already.
        #[arg(long)]
        force: bool,
        /// Export these instead: `builtin` (the shipped ones), `live`, `previous` or `gen-N`
        /// (the copy an index generation keeps).
        #[arg(long, default_value = "builtin")]
        from: String,
    },
    /// Validate the definitions in DIR; exit non-zero with the file, field and reason.
    Check { dir: PathBuf },
    /// What changed from A to B, each a directory, `builtin` (the shipped ones), or an index
    /// generation's copy: `live`, `previous` or `gen-N`.
    Diff { a: PathBuf, b: PathBuf },
}

pub fn run(globals: Globals, args: DefinitionsArgs) -> anyhow::Result<()> {
    match args.command {
        DefinitionsCommand::Export { dir, force, from } => {
            let sources = sources(&globals, Path::new(&from))?;
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (file, text) in &sources {
                let path = dir.join(file);
                anyhow::ensure!(
                    force || !path.exists(),
                    "{} exists; --force replaces it",
                    path.display()
                );
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!("wrote the {from} definitions to {}", dir.display());
        }
        DefinitionsCommand::Check { dir } => {
            let definitions = Definitions::load_dir(&dir)
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
            indexer::hydrate::check_definitions(&definitions)
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
            let fields: Vec<String> = EntityKind::ALL
                .iter()
                .map(|&kind| format!("{kind} {}", definitions.kind(kind).fields.len()))
                .collect();
            println!("{}: valid (fields: {})", dir.display(), fields.join(", "));
        }
        DefinitionsCommand::Diff { a, b } => {
            let lines = schemas::definition_diff::diff_sources(
                &sources(&globals, &a)?,
                &sources(&globals, &b)?,
            );
            if lines.is_empty() {
                println!("no differences");
            }
            for line in lines {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// The four files of a directory; the shipped ones for `builtin`; a generation's copy for
/// `live`, `previous` or `gen-N` (when no directory of that name is here).
fn sources(globals: &Globals, dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    if dir == Path::new("builtin") {
        return Ok(Definitions::builtin_sources()
            .iter()
            .map(|(file, text)| (file.to_string(), text.to_string()))
            .collect());
    }
    if let Some(generation) = generation_named(globals, dir)? {
        return Ok(generation.definitions().sources().to_vec());
    }
    EntityKind::ALL
        .iter()
        .map(|kind| {
            let file = format!("{}.json", kind.as_str());
            let path = dir.join(&file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok((file, text))
        })
        .collect()
}

/// The generation `name` means (`live`, `previous`, `gen-N`), unless a directory of that name
/// exists; `None` for anything else.
fn generation_named(
    globals: &Globals,
    name: &Path,
) -> anyhow::Result<Option<std::sync::Arc<indexer::GenerationHandle>>> {
    let Some(text) = name.to_str().filter(|_| !name.exists()) else {
        return Ok(None);
    };
    let numbered = text
        .strip_prefix("gen-")
        .and_then(|n| n.parse::<u32>().ok());
    if !matches!(text, "live" | "previous") && numbered.is_none() {
        return Ok(None);
    }
    let root = globals.data_dir.join("index");
    anyhow::ensure!(
        root.exists(),
        "no index generations under {} (--data-dir)",
        globals.data_dir.display()
    );
    let catalog = indexer::Generations::open(&globals.data_dir)?;
    let aliases = catalog.aliases();
    let generation = match (text, numbered) {
        ("live", _) => aliases.live,
        ("previous", _) => aliases.previous,
        (_, n) => n.map(indexer::Generation),
    }
    .ok_or_else(|| anyhow::anyhow!("there is no {text} generation"))?;
    let handle = catalog
        .get(generation)
        .ok_or_else(|| anyhow::anyhow!("no generation {generation} under {}", root.display()))?;
    Ok(Some(handle))
}
