//! Searches before writes on a shared machine: the threads tantivy indexes, commits and merges
//! on run at a lower scheduling priority (a higher nice value) than the threads that answer
//! searches. When both want a core, Linux's scheduler gives a nice-10 thread about a tenth of a
//! nice-0 thread's share, so a search is not queued behind a commit's delete pass or a merge;
//! with the core to itself a writer thread runs at full speed, so indexing loses only what
//! searches take. Raising one's own nice value needs no privilege.
//!
//! tantivy names its threads (`thrd-tantivy-index<N>`, `segment_updater`, `merge_thread_<N>`)
//! and starts new indexing threads at every commit, so [`lower_writer_threads`] runs after each
//! commit and whenever a writer is opened.
//!
//! A thread's nice value orders it only against the threads of its own scheduling group. With
//! autogroups (`kernel.sched_autogroup_enabled`, the default of many distributions) Linux first
//! shares the CPU out between sessions — a database's, a broker's, this process's — and only
//! then between the threads of each; a database working through a cleanup on the same cores
//! then takes its group's share whatever a search thread's nice value says. The query service
//! therefore raises its own group ([`raise_autogroup`], [`SEARCH_NICE`]); where cgroups
//! decide instead (systemd's `CPUWeight=`), the service's unit is where that share is set.

use std::path::Path;

/// The nice value the indexer gives tantivy's writer threads by default (0: left alone).
pub const WRITER_NICE: i32 = 10;

/// The nice value the query service asks for its scheduling group by default: 0, left alone.
/// Its search threads run real-time instead ([`realtime_thread`]), which puts searches ahead
/// of a database or broker on the same machine without putting the indexer ahead of the
/// database it reads from, as a raised group does (`BENCHMARKS.md`, "Search while indexing").
/// `--search-nice -10` still raises the group (10 × the CPU share of a group at 0 when both
/// want it) where real-time scheduling is not allowed; a negative value needs `CAP_SYS_NICE`.
pub const SEARCH_NICE: i32 = 0;

/// The real-time priority (`SCHED_RR`, 1–99) search threads ask for: the lowest, so any real
/// -time work of the system's own still goes first.
pub const SEARCH_RT_PRIORITY: i32 = 1;

/// Puts the calling thread under `SCHED_RR` at `priority`: it then runs ahead of every ordinary
/// thread of the machine — a database, a broker, this process's own indexer — whenever it is
/// runnable, and the others get the cores whenever it waits. The kernel's real-time throttling
/// (`kernel.sched_rt_runtime_us`, 95 % by default) leaves the rest a share even if it never
/// waited. Needs `CAP_SYS_NICE` or an `RLIMIT_RTPRIO` of at least `priority`.
#[cfg(target_os = "linux")]
pub fn realtime_thread(priority: i32) -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a valid sched_param that outlives the call; pid 0 is this thread.
    match unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

#[cfg(not(target_os = "linux"))]
pub fn realtime_thread(_priority: i32) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Thread names (as the kernel keeps them: the first 15 bytes) of tantivy's writer threads.
const WRITER_THREADS: [&str; 3] = ["thrd-tantivy-in", "segment_updater", "merge_thread_"];

/// Gives every tantivy writer thread of this process at least `nice`; returns how many threads
/// were changed. Nothing happens for `nice <= 0` or where `/proc` is missing; a thread that
/// ends meanwhile is skipped.
pub fn lower_writer_threads(nice: i32) -> usize {
    if nice <= 0 {
        return 0;
    }
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut changed = 0;
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<u32>().ok())
        else {
            continue;
        };
        if is_writer_thread(&task.path()) && set_nice_at_least(tid, nice) {
            changed += 1;
        }
    }
    changed
}

fn is_writer_thread(task: &Path) -> bool {
    let Ok(name) = std::fs::read_to_string(task.join("comm")) else {
        return false;
    };
    let name = name.trim_end();
    WRITER_THREADS.iter().any(|prefix| name.starts_with(prefix))
}

/// Raises thread `tid`'s nice value to `nice` unless it is that high already.
#[cfg(target_os = "linux")]
fn set_nice_at_least(tid: u32, nice: i32) -> bool {
    // SAFETY: getpriority and setpriority take plain integers and touch no memory of ours. On
    // Linux, PRIO_PROCESS with a thread id addresses that one thread.
    unsafe {
        *libc::__errno_location() = 0;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        if *libc::__errno_location() != 0 || current >= nice {
            return false;
        }
        libc::setpriority(libc::PRIO_PROCESS, tid, nice) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn set_nice_at_least(_tid: u32, _nice: i32) -> bool {
    false
}

/// The autogroup file: the nice value of this process's session's scheduling group.
const AUTOGROUP: &str = "/proc/self/autogroup";

/// Gives the scheduling group this process shares the CPU in (its session's autogroup, shared
/// with every process of the session) a nice value of at most `nice`: a group already at `nice`
/// or higher priority is left as it is. Returns `Ok(false)` where the kernel keeps no autogroups
/// (not built in, or `kernel.sched_autogroup_enabled` is 0): the CPU is then shared by thread,
/// or by cgroup. A negative value needs `CAP_SYS_NICE`.
pub fn raise_autogroup(nice: i32) -> std::io::Result<bool> {
    let enabled = std::fs::read_to_string("/proc/sys/kernel/sched_autogroup_enabled")
        .is_ok_and(|on| on.trim() == "1");
    let Some(current) = autogroup_nice().filter(|_| enabled) else {
        return Ok(false);
    };
    if current > nice {
        std::fs::write(AUTOGROUP, nice.to_string())?;
    }
    Ok(true)
}

/// The nice value of this process's autogroup (`None` where there is none).
pub fn autogroup_nice() -> Option<i32> {
    // The file reads `/autogroup-<n> nice <value>`.
    let line = std::fs::read_to_string(AUTOGROUP).ok()?;
    line.split_whitespace().last()?.parse().ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of(name: &str) -> Option<i32> {
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            if comm.trim_end() == name {
                let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
                // Field 19 of /proc/<pid>/task/<tid>/stat, counted after the `(comm)` field.
                let after = stat.rsplit_once(')')?.1;
                return after.split_whitespace().nth(16)?.parse().ok();
            }
        }
        None
    }

    #[test]
    fn writer_threads_are_lowered_and_others_left_alone() {
        let (ready, started) = std::sync::mpsc::channel::<()>();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let stop_rx = std::sync::Arc::new(std::sync::Mutex::new(stop_rx));
        let spawn = |name: &str| {
            let (ready, stop_rx) = (ready.clone(), stop_rx.clone());
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    let _ = ready.send(());
                    // Waits until the test drops its sender.
                    let _ = stop_rx.lock().map(|rx| rx.recv());
                })
        };
        let threads = [spawn("merge_thread_97"), spawn("search-97")];
        for _ in 0..2 {
            started.recv().expect("thread started");
        }
        // Other tests' writers may be lowered by the same call: at least ours is.
        assert!(lower_writer_threads(WRITER_NICE) >= 1);
        assert_eq!(nice_of("merge_thread_97"), Some(WRITER_NICE));
        assert_eq!(nice_of("search-97"), Some(0));
        lower_writer_threads(WRITER_NICE);
        assert_eq!(
            nice_of("merge_thread_97"),
            Some(WRITER_NICE),
            "never raised back"
        );
        drop(stop_tx);
        for thread in threads.into_iter().flatten() {
            let _ = thread.join();
        }
    }

    #[test]
    fn the_autogroup_is_never_lowered() {
        // Asking for a nice value above the group's own changes nothing, so this test leaves
        // the session it runs in as it was.
        let Some(current) = autogroup_nice() else {
            return; // no autogroups on this kernel: nothing to check
        };
        assert!(raise_autogroup(current + 5).is_ok());
        assert_eq!(autogroup_nice(), Some(current));
    }
}
