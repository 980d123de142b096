//! The suggest benchmark at a chosen scale:
//! `cargo run --release -p suggest --example suggest_bench -- 2000000`.

fn main() {
    let keys = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    println!("{}", suggest::bench::run(keys));
}
