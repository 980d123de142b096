//! The threads searches run on: a fixed pool, one thread per core, apart from the async
//! threads and from tokio's blocking pool (which the in-process indexer's writes and commits
//! share). A search is CPU work, so more threads than cores would only make every search wait
//! longer; requests beyond the pool queue in arrival order and the request timeout still bounds
//! each one. What the pool's threads get of the machine against a database or broker beside
//! the service is the process's scheduling group's share ([`raise_scheduling_group`]).

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

/// Search threads; cheap to share behind an `Arc`. The threads end when the pool is dropped
/// and their queue is empty.
pub struct SearchPool {
    jobs: Sender<Job>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for SearchPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchPool")
            .field("threads", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl SearchPool {
    /// `threads` search threads (at least one). A thread the system cannot start is logged and
    /// left out; with none at all every search fails with [`PoolError::Closed`].
    pub fn new(threads: usize) -> SearchPool {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut started = Vec::new();
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("search-{n}"))
                .spawn(move || work(&queue));
            match spawned {
                Ok(thread) => started.push(thread),
                Err(e) => tracing::error!(error = %e, "cannot start a search thread"),
            }
        }
        SearchPool {
            jobs,
            threads: started,
        }
    }

    /// One thread per core.
    pub fn per_core() -> SearchPool {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        SearchPool::new(cores)
    }

    pub fn threads(&self) -> usize {
        self.threads.len()
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
}
