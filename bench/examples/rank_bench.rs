//! Runs the rank benchmark and prints its Markdown report.
//!
//! ```text
//! cargo run --release -p bench --example rank_bench -- [--python /tmp/rankref/bin/python]
//!     [--nodes 1000000] [--edges 10000000] [--tolerance 1e-6] [--churn 0.01]
//!     [--graph activity|uniform] [--no-networkx]
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut options = bench::ranking::BenchOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        let ok = match arg.as_str() {
            "--python" => {
                options.python = Some(value().into());
                true
            }
            "--nodes" => value().parse().map(|v| options.nodes = v).is_ok(),
            "--edges" => value().parse().map(|v| options.edges = v).is_ok(),
            "--tolerance" => value().parse().map(|v| options.tolerance = v).is_ok(),
            "--churn" => value().parse().map(|v| options.churn = v).is_ok(),
            "--graph" => match value().as_str() {
                "activity" => {
                    options.graph = bench::ranking::GraphShape::Activity;
                    true
                }
                "uniform" => {
                    options.graph = bench::ranking::GraphShape::Uniform;
                    true
                }
                _ => false,
            },
            "--no-networkx" => {
                options.networkx = false;
                true
            }
            _ => false,
        };
        if !ok {
            eprintln!(
                "bench: bad argument `{arg}` (see the doc comment of rank/examples/bench.rs)"
            );
            return ExitCode::from(2);
        }
    }
    match bench::ranking::run(&options) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}
