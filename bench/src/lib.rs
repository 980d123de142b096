//! Disco's benchmarks and load generators: the figures of `BENCHMARKS.md`, each printed with its
//! inputs. The binary `disco-bench` runs them (`cargo run --release -p bench -- <what>`).
//!
//! This crate is never a dependency of the product: the random generators, the hand-written
//! HTTP/1.1 client and the Python reference scripts live here so the library crates carry
//! none of them.
//!
//! | module | measures |
//! | --- | --- |
//! | [`indexing`] | the indexer: sustained events/s and time to searchable |
//! | [`reindexing`] | a full reindex while live events arrive |
//! | [`searching`] | raw in-process search time of a query mix drawn from the index |
//! | [`ranking`], [`synthetic_graph`] | the DiscoRank kernel on a generated activity graph, beside igraph/networkx |
//! | [`suggesting`], [`replay`] | suggest build and lookups at scale; a recorded keystroke mix replayed |
//! | [`http_load`] | open-loop HTTP load with coordinated-omission-corrected latency |
//! | [`events_flood`] | search latency and losses while `POST /events` is flooded |
//! | [`sensitivity`] | searches interleaving and A/B each need to name the better ranking |
//! | [`takedown`] | a mass takedown: how soon the spam is gone, what live events and search pay |
//! | [`chaos`] | a fault run: RabbitMQ, PostgreSQL and the indexer restarted under load; nothing wrong after |

pub mod chaos;
pub mod events_flood;
pub mod http_load;
pub mod indexing;
pub mod ranking;
pub mod reindexing;
pub mod replay;
pub mod searching;
pub mod sensitivity;
pub mod suggesting;
pub mod synthetic_graph;
pub mod takedown;
