//! The threads searches run on: a fixed pool, one thread per core, apart from the async
//! threads and from tokio's blocking pool (which the in-process indexer's writes and commits
//! share). A search is CPU work, so more threads than cores would only make every search wait
//! longer; requests beyond the pool queue in arrival order and the request timeout still bounds
//! each one. What the pool's threads get of the machine against a database, a broker or the
//! in-process indexer beside them is set by [`Scheduling`]: real-time (the default of `disco
//! serve`), they run ahead of every ordinary thread whenever they have a search; otherwise
//! they get the process's scheduling group's share ([`raise_scheduling_group`]).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// A job could not run: the pool is gone, or the job panicked.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("the search threads are gone")]
    Closed,
    #[error("the search panicked")]
    Panicked,
}

/// How the search threads are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduling {
    /// As every other thread of the process.
    Ordinary,
    /// Round-robin real-time (`SCHED_RR` at [`indexer::priority::SEARCH_RT_PRIORITY`]): a
    /// search runs ahead of the database, the broker and the indexer on the same cores, and
    /// they have the cores whenever no search does. Without `CAP_SYS_NICE` the threads stay
    /// ordinary and a warning says so.
    Realtime,
}

impl Scheduling {
    /// [`Scheduling::Realtime`] when `on` (a `--search-realtime` flag), else ordinary.
    pub fn realtime_if(on: bool) -> Scheduling {
        match on {
            true => Scheduling::Realtime,
            false => Scheduling::Ordinary,
        }
    }
}

/// Search threads; cheap to share behind an `Arc`. The threads end when the pool is dropped
/// and their queue is empty.
pub struct SearchPool {
    jobs: Sender<Job>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Threads running under real-time scheduling.
    realtime: usize,
}

impl std::fmt::Debug for SearchPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchPool")
            .field("threads", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl SearchPool {
    /// `threads` ordinary search threads (at least one). A thread the system cannot start is
    /// logged and left out; with none at all every search fails with [`PoolError::Closed`].
    pub fn new(threads: usize) -> SearchPool {
        SearchPool::scheduled(threads, Scheduling::Ordinary)
    }

    /// `threads` search threads (at least one) scheduled as `scheduling` says.
    pub fn scheduled(threads: usize, scheduling: Scheduling) -> SearchPool {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let (report, reports) = mpsc::channel();
        let mut started = Vec::new();
        for n in 0..threads.max(1) {
            let (queue, report) = (queue.clone(), report.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("search-{n}"))
                .spawn(move || {
                    let _ = report.send(schedule(scheduling));
                    work(&queue)
                });
            match spawned {
                Ok(thread) => started.push(thread),
                Err(e) => tracing::error!(error = %e, "cannot start a search thread"),
            }
        }
        drop(report);
        // One report per started thread, sent before it takes its first job (the threads keep
        // their senders, so the receiver is read exactly that often).
        let outcomes: Vec<std::io::Result<bool>> = reports.iter().take(started.len()).collect();
        let realtime = outcomes.iter().filter(|o| matches!(o, Ok(true))).count();
        if realtime > 0 {
            tracing::info!(
                threads = realtime,
                "search threads run real-time (SCHED_RR)"
            );
        }
        if let Some(Err(e)) = outcomes.iter().find(|o| o.is_err()) {
            tracing::warn!(
                error = %e,
                "search threads stay ordinary: real-time scheduling needs CAP_SYS_NICE; \
                 --search-realtime false asks for nothing"
            );
        }
        SearchPool {
            jobs,
            threads: started,
            realtime,
        }
    }

    /// One ordinary thread per core.
    pub fn per_core() -> SearchPool {
        SearchPool::per_core_scheduled(Scheduling::Ordinary)
    }

    /// One thread per core, scheduled as `scheduling` says.
    pub fn per_core_scheduled(scheduling: Scheduling) -> SearchPool {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        SearchPool::scheduled(cores, scheduling)
    }

    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// How many of the threads run under real-time scheduling.
    pub fn realtime_threads(&self) -> usize {
        self.realtime
    }

    /// Hands `work` to a search thread without waiting for it. A panic in `work` ends that
    /// job only: the thread goes on with the next one.
    pub fn spawn(&self, work: impl FnOnce() + Send + 'static) -> Result<(), PoolError> {
        let job: Job = Box::new(move || {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(work));
        });
        self.jobs.send(job).map_err(|_| PoolError::Closed)
    }

    /// Closes the pool and waits until every job handed over has run.
    pub fn drain(self) {
        let SearchPool { jobs, threads, .. } = self;
        drop(jobs);
        for thread in threads {
            let _ = thread.join();
        }
    }

    /// Runs `work` on a search thread and waits for its answer.
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        // A panicking search drops `answer` unsent: the caller sees `Panicked`.
        self.spawn(move || {
            let _ = answer.send(work());
        })?;
        answered.await.map_err(|_| PoolError::Panicked)
    }
}

/// Puts this process's scheduling group at `nice` where the kernel shares the CPU out by session
/// first (`indexer::priority`): the search threads then go ahead of a database or broker working
/// on the same cores, such as through a spam cleanup. Without the privilege a warning says so
/// and nothing changes.
pub fn raise_scheduling_group(nice: i32) {
    if nice == 0 {
        return;
    }
    match indexer::priority::raise_autogroup(nice) {
        Ok(true) => tracing::info!(nice, "scheduling group raised for searches"),
        Ok(false) => {}
        Err(e) => tracing::warn!(
            nice,
            error = %e,
            "the scheduling group keeps its priority: a negative nice value needs CAP_SYS_NICE; \
             --search-nice 0 leaves priorities alone"
        ),
    }
}

/// Schedules the calling thread; `Ok(true)` when it now runs real-time.
fn schedule(scheduling: Scheduling) -> std::io::Result<bool> {
    match scheduling {
        Scheduling::Ordinary => Ok(false),
        Scheduling::Realtime => {
            indexer::priority::realtime_thread(indexer::priority::SEARCH_RT_PRIORITY).map(|()| true)
        }
    }
}

/// A search thread: runs jobs until the pool is dropped.
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_named_search_threads_and_a_panic_spares_the_thread() {
        let pool = SearchPool::new(1);
        let name = pool
            .run(|| std::thread::current().name().map(str::to_string))
            .await
            .expect("ran");
        assert_eq!(name.as_deref(), Some("search-0"));
        let panicked = pool.run(|| -> u32 { panic!("a bad search") }).await;
        assert!(matches!(panicked, Err(PoolError::Panicked)), "{panicked:?}");
        assert_eq!(pool.run(|| 41 + 1).await.expect("still serving"), 42);
    }

    #[test]
    fn a_drained_pool_has_run_every_job_handed_over() {
        let pool = SearchPool::new(2);
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..50 {
            let done = done.clone();
            pool.spawn(move || {
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            })
            .expect("handed over");
        }
        pool.spawn(|| panic!("a bad search")).expect("handed over");
        pool.drain();
        assert_eq!(done.load(std::sync::atomic::Ordering::Relaxed), 50);
    }

    /// Real-time where the process may (CAP_SYS_NICE: the test machines run as root), ordinary
    /// otherwise, and the pool says which; the threads' own policy is what the kernel reports.
    #[cfg(target_os = "linux")]
    #[test]
    fn realtime_threads_run_under_sched_rr_where_allowed() {
        let pool = SearchPool::scheduled(2, Scheduling::Realtime);
        let (tx, rx) = mpsc::channel();
        for _ in 0..2 {
            let tx = tx.clone();
            // SAFETY: sched_getscheduler reads the calling thread's policy and touches no memory.
            pool.spawn(move || {
                let _ = tx.send(unsafe { libc::sched_getscheduler(0) });
            })
            .expect("handed over");
        }
        let policies: Vec<i32> = rx.iter().take(2).collect();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            assert_eq!(pool.realtime_threads(), 2, "root may schedule real-time");
        }
        let expected = match pool.realtime_threads() {
            0 => libc::SCHED_OTHER,
            _ => libc::SCHED_RR,
        };
        assert_eq!(policies, vec![expected; 2]);
        let ordinary = SearchPool::new(1);
        assert_eq!(ordinary.realtime_threads(), 0);
        let policy = ordinary.spawn(move || {
            // SAFETY: as above.
            let _ = tx.send(unsafe { libc::sched_getscheduler(0) });
        });
        assert!(policy.is_ok());
        assert_eq!(rx.recv().ok(), Some(libc::SCHED_OTHER));
    }
}
