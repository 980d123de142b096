//! `disco definitions`: the index definitions as files — export the shipped ones for editing,
//! check a directory (each error with its file, field and reason, and every field a column
//! hydration reads), and diff two directories.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use schemas::EntityKind;
use schemas::definition::Definitions;

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
    },
    /// Validate the definitions in DIR; exit non-zero with the file, field and reason.
    Check { dir: PathBuf },
    /// What changed from A to B, each a directory or `builtin` (the shipped ones).
    Diff { a: PathBuf, b: PathBuf },
}

pub fn run(args: DefinitionsArgs) -> anyhow::Result<()> {
    match args.command {
        DefinitionsCommand::Export { dir, force } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (file, text) in Definitions::builtin_sources() {
                let path = dir.join(file);
                anyhow::ensure!(
                    force || !path.exists(),
                    "{} exists; --force replaces it",
                    path.display()
                );
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!("wrote the shipped definitions to {}", dir.display());
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
            let lines = schemas::definition_diff::diff_sources(&sources(&a)?, &sources(&b)?);
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

/// The four files of a directory, or the shipped ones for `builtin`.
fn sources(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    if dir == Path::new("builtin") {
        return Ok(Definitions::builtin_sources()
            .iter()
            .map(|(file, text)| (file.to_string(), text.to_string()))
            .collect());
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
