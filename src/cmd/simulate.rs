//! `disco simulate`: behave like the site — change rows, then publish the matching events.

use std::time::Duration;

use clap::Args;
use site::publish::{AmqpPublisher, MemoryPublisher, Publisher};
use site::simulate::{Limit, SimOptions, Simulator};

use super::common::Globals;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Changes per second.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Seconds to run (ignored when --events is given).
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Stop after this many changes instead of after --duration.
    #[arg(long)]
    pub events: Option<u64>,
    /// Publish each event this many milliseconds before its row is written (replica lag).
    #[arg(long, default_value_t = 0)]
    pub lag_ms: u64,
    /// Probability of publishing an event twice.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate: f64,
    /// Shuffle events within windows of this many (0: in order).
    #[arg(long, default_value_t = 0)]
    pub reorder: usize,
    /// Seed of the simulator's choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub async fn run(globals: Globals, args: SimulateArgs) -> anyhow::Result<()> {
    let db = globals.database().await?;
    let publisher: Box<dyn Publisher> = match &globals.amqp_url {
        Some(url) => Box::new(AmqpPublisher::connect(url, &globals.exchange).await?),
        None => {
            tracing::warn!(
                "no --amqp-url: events are printed, not published (the in-process bus lives inside `disco demo`)"
            );
            Box::new(MemoryPublisher::new())
        }
    };
    let print_events = globals.amqp_url.is_none();
    let options = SimOptions {
        seed: args.seed,
        lag: Duration::from_millis(args.lag_ms),
        duplicate: args.duplicate,
        reorder: args.reorder,
    };
    let limit = match args.events {
        Some(n) => Limit::Events(n),
        None => Limit::Duration(Duration::from_secs(args.duration)),
    };
    let mut sim = Simulator::new(db.clone(), publisher, options).await?;
    let report = site::simulate::run(&mut sim, args.rate, limit, |step| {
        if print_events {
            println!(
                "{} {}",
                step.envelope.routing_key(),
                String::from_utf8_lossy(&step.envelope.to_body())
            );
        }
        tracing::debug!(key = %step.envelope.key, change = %step.change, "simulated");
    })
    .await?;
    print!("{report}");
    db.close().await;
    Ok(())
}
