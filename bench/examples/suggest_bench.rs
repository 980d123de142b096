//! The suggest benchmark at a chosen scale (distinct keys, then timed passes after one
//! warm-up pass): `cargo run --release -p bench --example suggest_bench -- 2000000 3`.

fn main() {
    let mut args = std::env::args().skip(1);
    let mut options = bench::suggesting::BenchOptions::default();
    if let Some(keys) = args.next().and_then(|a| a.parse().ok()) {
        options.keys = keys;
    }
    if let Some(passes) = args.next().and_then(|a| a.parse().ok()) {
        options.passes = passes;
    }
    println!("{}", bench::suggesting::run_with(&options));
}
