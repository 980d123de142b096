//! A generation's life around a reindex: which process owns one being built (its owner file),
//! what becomes of builds whose process died, which generations are deleted, and which one a
//! swap with no generation named makes live. The reindex writes and removes the owner file; the
//! rest is for whoever opens the [`Generations`] (the indexer, the CLI, the admin API).

use std::path::{Path, PathBuf};

use super::{Generation, Generations, Phase, State};
use crate::IndexerError;

/// Names the process building a generation, inside its directory: a build whose process is gone
/// is failed by [`recover`], not mistaken for one still running.
const OWNER_FILE: &str = "reindex.owner";

pub(crate) fn owner_path(generations: &Generations, generation: Generation) -> PathBuf {
    generations
        .root()
        .join(generation.to_string())
        .join(OWNER_FILE)
}

pub(crate) fn write_owner(
    generations: &Generations,
    generation: Generation,
) -> Result<(), IndexerError> {
    let path = owner_path(generations, generation);
    std::fs::write(&path, std::process::id().to_string()).map_err(|e| IndexerError::io(&path, e))
}

pub(crate) fn remove_owner(generations: &Generations, generation: Generation) {
    let _ = std::fs::remove_file(owner_path(generations, generation));
}

/// Marks `building` generations whose reindex is gone (its process died) as failed, so they
/// are neither written nor ever made live. [`Indexer::open`](crate::Indexer::open) calls it;
/// call it at startup in any other process that writes generations. Returns the generations it
/// marked.
pub fn recover(generations: &Generations) -> Result<Vec<Generation>, IndexerError> {
    let mut marked = Vec::new();
    for info in generations.list() {
        if info.state != State::Building {
            continue;
        }
        let generation = Generation(info.generation);
        let owner = std::fs::read_to_string(owner_path(generations, generation)).ok();
        let alive = owner
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .is_some_and(process_alive);
        if !alive {
            generations.set_phase(generation, Phase::Failed)?;
            tracing::warn!(%generation, "an interrupted reindex left this generation; marked failed");
            marked.push(generation);
        }
    }
    Ok(marked)
}

fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        // Our own reindexes mark their generation when they end (or are dropped).
        return true;
    }
    let proc = Path::new("/proc");
    !proc.exists() || proc.join(pid.to_string()).exists()
}

/// Deletes retired and failed generations beyond the newest `keep` (live, previous, building
/// and built ones are never deleted; one an indexer still writes waits for the next call).
/// Returns the generations deleted.
pub fn prune(generations: &Generations, keep: usize) -> Result<Vec<Generation>, IndexerError> {
    let mut newest_first: Vec<Generation> = generations
        .list()
        .iter()
        .map(|i| Generation(i.generation))
        .collect();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    let mut deleted = Vec::new();
    for generation in newest_first.into_iter().skip(keep) {
        if generations.remove(generation)? {
            tracing::info!(%generation, "old generation deleted");
            deleted.push(generation);
        }
    }
    Ok(deleted)
}

/// What a swap with no generation named makes live: the newest built generation, or after a
/// rollback the previous one when it is newer than live (swapping forward again).
pub fn swap_candidate(generations: &Generations) -> Option<Generation> {
    let list = generations.list();
    let newest = |state: State| {
        list.iter()
            .rev()
            .find(|g| g.state == state)
            .map(|g| Generation(g.generation))
    };
    let live = generations.aliases().live;
    newest(State::Built).or_else(|| newest(State::Previous).filter(|p| Some(*p) > live))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prune_keeps_the_newest_and_never_live_or_previous() {
        let data = tempfile::tempdir().unwrap();
        let generations = Generations::open(data.path()).unwrap();
        let first = generations.live().generation;
        let mut built = Vec::new();
        for _ in 0..4 {
            let g = generations
                .create_generation(Phase::Built)
                .unwrap()
                .generation;
            generations.swap(g).unwrap();
            built.push(g);
        }
        // gen-1 .. gen-3 are retired now; gen-4 previous, gen-5 live.
        let deleted = prune(&generations, 2).unwrap();
        assert_eq!(deleted.len(), 3, "{deleted:?}");
        assert!(generations.get(first).is_none());
        assert!(!generations.root().join(first.to_string()).exists());
        assert!(generations.get(built[3]).is_some() && generations.get(built[2]).is_some());
        assert_eq!(generations.list().len(), 2);
    }
}
