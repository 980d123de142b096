//! One module per subcommand; each parses its own flags and calls into the library crates.

pub mod common;
pub mod definitions;
pub mod demo;
pub mod eval;
pub mod experiment;
pub mod index;
pub mod ops;
pub mod rank;
pub mod seed;
pub mod serve;
pub mod simulate;
pub mod suggest;
pub mod verify;
pub mod wiring;
