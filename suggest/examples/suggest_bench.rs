//! The suggest benchmark at a chosen scale (distinct keys, then timed passes after one
//! warm-up pass): `cargo run --release -p suggest --example suggest_bench -- 2000000 3`.

fn main() {
    let mut args = std::env::args().skip(1);
    let mut options = suggest::bench::BenchOptions::default();
    if let Some(keys) = args.next().and_then(|a| a.parse().ok()) {
        options.keys = keys;
    }
    if let Some(passes) = args.next().and_then(|a| a.parse().ok()) {
        options.passes = passes;
    }
    println!("{}", suggest::bench::run_with(&options));
}
