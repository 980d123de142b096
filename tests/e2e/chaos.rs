//! Issue #25 on real PostgreSQL + RabbitMQ: the simulated site fails only on purpose, and a
//! short fault run leaves nothing wrong.
//!
//! - `disco simulate` stopped by SIGTERM finishes the row-and-event pair in hand and exits 0:
//!   with reconciliation out of the way, the index still equals the database.
//! - The short variant of `disco-bench chaos`: RabbitMQ, PostgreSQL and the indexer restarted
//!   once each under `disco simulate --lose-events`; afterwards 0 entities wrong, 0
//!   resurrected, and both services up. It restarts the shared services, so it is ignored in
//!   the parallel suite and `scripts/test` runs it alone afterwards.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::ops_postgres::{Site, disco, succeed, until_drained, verify};
use crate::support::Env;

/// The benchmark's own code, compiled into this test binary: the short variant runs exactly
/// what `disco-bench chaos` runs (the `disco` package does not depend on the bench crate).
#[allow(dead_code)]
#[path = "../../bench/src/chaos.rs"]
mod bench_chaos;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_stopped_by_sigterm_finishes_the_pair_in_hand_and_exits_0() {
    let env = Env::new().await;
    let site = Site::of(&env);
    succeed(
        "disco seed",
        disco(&site).args(["seed", "--dataset", "synthetic", "--tracks", "500"]),
    );
    succeed("disco reindex", disco(&site).args(["reindex", "--swap"]));
    // No reconciliation during the test: a lost event would stay visible to verify.
    let mut indexer = disco(&site)
        .args(["index", "--reconcile-every", "1h", "--sweep-every", "1h"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("disco index runs");
    let simulate = disco(&site)
        .args(["simulate", "--rate", "200", "--duration", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("disco simulate runs");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent = Instant::now();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &simulate.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = tokio::task::spawn_blocking(move || simulate.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "simulate exits 0 on SIGTERM ({}):\n{report}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "it stopped promptly"
    );
    assert!(report.contains("stopped early by a signal"), "{report}");
    assert!(report.contains(" 0 lost on purpose"), "{report}");
    until_drained(&env.amqp.queue);
    let out = verify(&site, None);
    assert!(out.contains("no difference") || out.contains("documents equal"));
    let _ = indexer.kill();
    let _ = indexer.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared PostgreSQL and RabbitMQ: scripts/test runs it alone after the suite"]
async fn a_short_fault_run_leaves_nothing_wrong_and_every_service_up() {
    let work = tempfile::tempdir().unwrap();
    let options = bench_chaos::ChaosOptions {
        duration: Duration::from_secs(45),
        tracks: 2000,
        rate: 100.0,
        lose: 0.02,
        fault_every: Duration::from_secs(15),
        outage: Duration::from_secs(3),
        reconcile_every: Duration::from_secs(2),
        reconcile_grace: Duration::from_secs(2),
        sweep_every: Duration::from_secs(10),
        disco: PathBuf::from(env!("CARGO_BIN_EXE_disco")),
        postgres: testkit::postgres_admin_url(),
        amqp: testkit::amqp_url(),
        work: work.path().to_path_buf(),
    };
    // A service that cannot be reached fails the run here: it is never skipped.
    let report = bench_chaos::run(options)
        .await
        .unwrap_or_else(|e| panic!("the fault run failed: {e:#}"));
    eprintln!("{report}");
    let kinds: Vec<&str> = report.faults.iter().map(|f| f.fault.as_str()).collect();
    assert_eq!(kinds, ["rabbitmq", "postgresql", "indexer"], "{report}");
    assert!(report.lost > 0, "some events lost on purpose: {report}");
    assert_eq!(report.wrong, 0, "{report}");
    assert_eq!(report.resurrected, 0, "{report}");
    assert!(report.disco_verify_clean, "{report}");
    assert!(report.services_up, "{report}");
    assert!(report.probes > 0 && report.longest.is_some(), "{report}");
}
