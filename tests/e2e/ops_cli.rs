//! `disco reindex`, `disco swap`, `disco rollback`, `disco read-only` and `disco rank` on a data directory.

use indexer::testing;
use indexer::{Generation, Generations};

fn disco(database_url: &str, data: &std::path::Path, args: &[&str]) -> String {
    let args: Vec<&str> = ["--database-url", database_url]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    crate::support::disco_cli(data, &args)
}

/// A fresh SQLite site with `n` users, each with one track (track `i` by user `owner(i)`).
async fn site(n: i64, owner: impl Fn(i64) -> i64) -> testkit::FreshSqlite {
    let sqlite = testkit::FreshSqlite::create().await;
    let at = testing::now();
    for id in 1..=n {
        testing::insert_user(&sqlite.db, id, &format!("u{id}"), &format!("Name {id}"), at)
            .await
            .unwrap();
        testing::insert_track(&sqlite.db, id, owner(id), &format!("Track {id}"), at)
            .await
            .unwrap();
    }
    sqlite
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_swap_read_only_and_rollback_from_the_command_line() {
    let sqlite = site(25, |id| id).await;
    let data = tempfile::tempdir().unwrap();
    let url = sqlite.url.as_str();

    let out = disco(
        url,
        data.path(),
        &["reindex", "--swap", "--merge", "--batch-size", "7"],
    );
    assert!(out.contains("gen-2 built: 50 rows"), "{out}");
    let catalog = Generations::open(data.path()).unwrap();
    assert_eq!(catalog.aliases().live, Some(Generation(2)));
    let report = indexer::verify::verify(&sqlite.db, &catalog.live())
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");

    disco(url, data.path(), &["read-only", "gen-2", "on"]);
    assert!(catalog.paused(), "another process's read-only is seen");
    disco(url, data.path(), &["read-only", "2", "off"]);
    assert!(!catalog.paused());

    disco(url, data.path(), &["rollback"]);
    assert_eq!(catalog.live().generation, Generation(1));
    disco(url, data.path(), &["swap"]);
    assert_eq!(catalog.live().generation, Generation(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rank_runs_cold_then_warm_with_pushes_from_the_command_line() {
    let sqlite = site(12, |id| 1 + id % 3).await;
    let data = tempfile::tempdir().unwrap();
    let url = sqlite.url.as_str();

    let out = disco(url, data.path(), &["rank"]);
    assert!(out.contains("cold start"), "{out}");
    let out = disco(url, data.path(), &["rank", "--push"]);
    assert!(out.contains("warm from"), "{out}");
    assert!(out.contains("sweep-equivalents before the sweeps"), "{out}");
    let out = disco(url, data.path(), &["rank", "list"]);
    assert!(out.contains("v2"), "{out}");
}

#[test]
fn definitions_are_exported_checked_and_diffed_as_files() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("definitions");
    let dir_text = dir.to_str().unwrap();
    crate::support::disco_cli(data.path(), &["definitions", "export", dir_text]);
    let checked = crate::support::disco_cli(data.path(), &["definitions", "check", dir_text]);
    assert!(checked.contains("valid (fields: track 12"), "{checked}");
    let same =
        crate::support::disco_cli(data.path(), &["definitions", "diff", "builtin", dir_text]);
    assert_eq!(same.trim(), "no differences");

    // A morning's change: search a track's genre as words instead of its tags.
    let track = dir.join("track.json");
    let text = std::fs::read_to_string(&track).unwrap();
    std::fs::write(
        &track,
        text.replace("\"tags\", \"description\"", "\"genre\", \"description\""),
    )
    .unwrap();
    let diff =
        crate::support::disco_cli(data.path(), &["definitions", "diff", "builtin", dir_text]);
    assert!(diff.contains("track.json: search"), "{diff}");

    // A field no column fills is refused with the file, the field and the columns there are.
    std::fs::write(
        &track,
        text.replace("\"name\": \"tags\"", "\"name\": \"bpm\"")
            .replace("\"tags\", \"description\"", "\"bpm\", \"description\""),
    )
    .unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_disco"))
        .args(["definitions", "check", dir_text])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("track.json: field `bpm`"), "{stderr}");
    assert!(
        stderr.contains("hydration reads title, description, genre"),
        "{stderr}"
    );
}
