//! Times a synthetic seed: `cargo run --release -p bench --example seed_bench -- <database-url> <tracks> [seed]`.
//! The database is migrated and emptied first; the summary follows the timing.

use site::progress::ProgressMeter;
use site::seed::{SeedOptions, seed, summary};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: seed_bench <database-url> <tracks> [seed]")?;
    let tracks: i64 = args.next().unwrap_or_else(|| "100000".into()).parse()?;
    let seed_value: u64 = args.next().unwrap_or_else(|| "42".into()).parse()?;
    let db = schemas::db::Db::connect(&url).await?;
    db.migrate().await?;
    let options = SeedOptions {
        reset: true,
        ..SeedOptions::synthetic(tracks, seed_value)
    };
    let report = seed(&db, &options, &ProgressMeter::new("seed", 0)).await?;
    print!("{report}");
    print!("{}", summary(&db).await?);
    db.close().await;
    Ok(())
}
