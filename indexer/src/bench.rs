//! Indexer benchmark (see `run`).
