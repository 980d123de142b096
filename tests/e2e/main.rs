//! Disco end to end: the indexer against real PostgreSQL and RabbitMQ, the indexer as a process
//! under kills and broker drops, and operations (reindex, swap, rollback, read-only, rank) over
//! the CLI and HTTP, and a schema change served side by side before a swap. One test binary, so the workspace links it once.

mod chaos;
mod counts;
mod definitions;
mod eval_gate;
mod experiments;
mod indexer_e2e;
mod indexer_process;
mod ops_admin;
mod ops_cli;
mod ops_postgres;
mod reconcile;
mod replicas;
mod support;
mod takedown;
