//! `disco experiment`: make, list, stop and report experiments on live traffic (the service
//! reads the running ones from the database within seconds), and `disco events prune`: bound
//! the click log they are scored from.

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Subcommand};
use quality::clicks::Mode;
use quality::experiments::{self, Arm, Experiment};

use super::common::Globals;

#[derive(Debug, Args)]
pub struct ExperimentArgs {
    #[command(subcommand)]
    pub command: ExperimentCommand,
}

#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Start an experiment: `disco experiment create ranking --mode interleave --arm
    /// rank:rank=active --arm text:rank=none`.
    Create {
        name: String,
        /// `ab` (each session sticks to one arm) or `interleave` (two arms merged per search).
        #[arg(long, value_parser = mode)]
        mode: Mode,
        /// An arm as `name:variant`, the variant as for `disco eval run` (`rank=none`,
        /// `rank=3`, `setting=no-fuzzy`). Two or more.
        #[arg(long = "arm", required = true)]
        arms: Vec<String>,
        /// The share of sessions that take part, in (0, 1].
        #[arg(long, default_value_t = 1.0)]
        traffic: f64,
    },
    /// List every experiment.
    List,
    /// Stop a running experiment (its log stays for the report).
    Stop { name: String },
    /// The per-arm figures and the verdict so far.
    Report {
        name: String,
        /// Print the report as JSON (as `GET /admin/experiments/{name}/report` answers).
        #[arg(long)]
        json: bool,
    },
}

fn mode(text: &str) -> Result<Mode, String> {
    match text {
        "ab" => Ok(Mode::AB),
        "interleave" => Ok(Mode::Interleave),
        other => Err(format!("`{other}` is neither ab nor interleave")),
    }
}

pub async fn run(globals: Globals, args: ExperimentArgs) -> anyhow::Result<()> {
    let db = globals.database().await?;
    match args.command {
        ExperimentCommand::Create {
            name,
            mode,
            arms,
            traffic,
        } => {
            let arms = arms
                .iter()
                .map(|a| Arm::parse(a))
                .collect::<Result<Vec<_>, _>>()?;
            let experiment = Experiment::new(&name, mode, arms, traffic, Utc::now())?;
            let catalog = indexer::Generations::open(&globals.data_dir)?;
            for generation in experiment.generations() {
                anyhow::ensure!(
                    catalog.get(indexer::Generation(generation)).is_some(),
                    "experiment {name}: there is no index generation {generation} in {} \
                     (see `disco swap --help` and GET /admin/generations)",
                    globals.data_dir.display()
                );
            }
            experiments::create(&db, &experiment).await?;
            println!("{}", describe(&experiment));
        }
        ExperimentCommand::List => {
            for experiment in experiments::list(&db).await? {
                println!("{}", describe(&experiment));
            }
        }
        ExperimentCommand::Stop { name } => {
            let experiment = experiments::stop(&db, &name, Utc::now()).await?;
            println!("{}", describe(&experiment));
        }
        ExperimentCommand::Report { name, json } => {
            let report = service::experiments::experiment_report(&db, &name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
        }
    }
    Ok(())
}

/// One line: name, mode, arms, traffic, since when, and whether it still runs.
fn describe(e: &Experiment) -> String {
    let arms: Vec<String> = e
        .arms
        .iter()
        .map(|a| format!("{}:{}", a.name, a.variant))
        .collect();
    let state = match e.stopped_at {
        Some(at) => format!("stopped {at}"),
        None => "running".to_string(),
    };
    format!(
        "{}\t{}\t{}\ttraffic {}\tcreated {}\t{state}",
        e.name,
        e.mode,
        arms.join(" "),
        e.traffic,
        e.created_at
    )
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(subcommand)]
    pub command: EventsCommand,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Delete logged answers, impressions and clicks older than an age: `--older-than 30d`.
    Prune {
        /// An age: a number and a unit, `d` (days), `h` (hours) or `m` (minutes).
        #[arg(long, value_parser = age)]
        older_than: chrono::Duration,
    },
}

fn age(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not an age like 30d, 12h or 90m"))?;
    match unit {
        "d" => Ok(chrono::Duration::days(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "m" => Ok(chrono::Duration::minutes(n)),
        _ => Err(format!("`{text}`: the unit is d, h or m")),
    }
}

pub async fn events(globals: Globals, args: EventsArgs) -> anyhow::Result<()> {
    let db = globals.database().await?;
    match args.command {
        EventsCommand::Prune { older_than } => {
            let before = Utc::now() - older_than;
            let pruned = quality::click_log::prune(&db, before)
                .await
                .context("pruning the click log")?;
            println!("{pruned} (logged before {before})");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_modes_parse_and_bad_ones_say_why() {
        assert_eq!(age("30d").unwrap(), chrono::Duration::days(30));
        assert_eq!(age("12h").unwrap(), chrono::Duration::hours(12));
        assert_eq!(age("90m").unwrap(), chrono::Duration::minutes(90));
        assert!(age("30").unwrap_err().contains("unit"));
        assert!(age("d").is_err());
        assert_eq!(mode("ab").unwrap(), Mode::AB);
        assert!(mode("split").is_err());
    }
}
