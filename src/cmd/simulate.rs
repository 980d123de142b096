//! `disco simulate`: behave like the site — change rows, then publish the matching events — and,
//! with `--searchers`, like its visitors: search the query service and click.

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
    /// Probability of writing a row and dropping its event (a site crashing between the two),
    /// for reconciliation to heal.
    #[arg(long, default_value_t = 0.0)]
    pub lose_events: f64,
    /// Seed of the simulator's choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated searchers beside the site's changes: new visitors per second who search the
    /// query service at --listen and click (0: none; with --rate 0, searchers only).
    #[arg(long, default_value_t = 0.0)]
    pub searchers: f64,
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
        lose: args.lose_events,
    };
    let limit = match args.events {
        Some(n) => Limit::Events(n),
        None => Limit::Duration(Duration::from_secs(args.duration)),
    };
    let searchers = (args.searchers > 0.0).then(|| {
        let duration = match limit {
            Limit::Duration(d) => d,
            Limit::Events(n) => {
                Duration::from_secs_f64(n as f64 / args.rate.max(f64::MIN_POSITIVE))
            }
        };
        let (db, listen, rate, seed) = (
            db.clone(),
            globals.listen.clone(),
            args.searchers,
            args.seed,
        );
        tokio::spawn(async move {
            let report = super::wiring::searchers(db, &listen, rate, duration, seed).await?;
            print!("{report}");
            anyhow::Ok(())
        })
    });
    if args.rate <= 0.0 {
        if let Some(task) = searchers {
            task.await??;
        }
        db.close().await;
        return Ok(());
    }
    let mut sim = Simulator::new(db.clone(), publisher, options).await?;
    let stop = stop_signal()?;
    let report = site::simulate::run_until(&mut sim, args.rate, limit, stop, |step| {
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
    if let Some(task) = searchers {
        match report.stopped {
            // Stopped by a signal: the visitors leave with the site.
            true => task.abort(),
            false => task.await??,
        }
    }
    db.close().await;
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C. The handlers are installed here, before the run starts, so
/// a signal never takes the default action (dying between a row and its event).
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = interrupt.recv() => {}
            }
            tracing::info!("stopping: finishing the change in hand");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
