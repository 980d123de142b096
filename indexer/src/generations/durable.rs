//! A commit's files made durable together, not one after another.
//!
//! tantivy's `MmapDirectory` syncs every file the moment it is finished, and rewrites and syncs
//! its list of managed files (`.managed.json`) every time a file is created. A live commit on a
//! catalog of a few segments creates a dozen files — the new segment's six, and a delete file
//! for each older segment the batch updated — so it waited for some twenty `fdatasync`s in a
//! row: 57 of a commit's ~100 ms at 1,000 events/s on the 1M-track catalog, and most of its
//! tail when the database shares the disk (`BENCHMARKS.md`, "Search while indexing (#25)").
//!
//! tantivy needs a file to be durable only once a commit names it. [`Directory::open_write`]'s
//! contract says a finished file is durable after [`Directory::sync_directory`], which tantivy
//! calls just before it writes `meta.json`. [`SyncAtCommit`] keeps that contract and no more:
//! finished files are synced at the next `sync_directory`, all at once on a few threads, and
//! the newest list of managed files is written and synced there too, once. `meta.json` is
//! written as before.
//!
//! What a crash can leave: a file created after the last commit point may be missing from the
//! list on disk, and tantivy's garbage collection deletes only listed files.
//! [`SyncAtCommit::sweep`] deletes such files when a writer opens the generation.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tantivy::Index;
use tantivy::directory::error::{
    DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError,
};
use tantivy::directory::{
    AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, TerminatingWrite,
    WatchCallback, WatchHandle, WritePtr,
};
use tantivy::index::SegmentId;

/// tantivy's list of the files it manages.
const MANAGED: &str = ".managed.json";
/// Where the list is written before it replaces the old one.
const MANAGED_STAGED: &str = ".managed.json.staged";
/// Threads that sync a commit's files at once: enough to keep the disk's queue full.
const SYNC_THREADS: usize = 8;

/// A tantivy directory on a local disk whose files become durable at the commit that names them.
#[derive(Clone)]
pub(crate) struct SyncAtCommit {
    inner: MmapDirectory,
    root: PathBuf,
    pending: Arc<Mutex<Pending>>,
    /// Held for a whole sync: a `sync_directory` returns only when what was finished before it
    /// is durable, also while another thread's sync runs.
    syncing: Arc<Mutex<()>>,
}

/// What the next sync makes durable.
#[derive(Default)]
struct Pending {
    /// Finished files by their path in the directory.
    files: Vec<(PathBuf, File)>,
    managed: Option<Vec<u8>>,
}

impl SyncAtCommit {
    pub(crate) fn open(root: &Path) -> Result<SyncAtCommit, OpenDirectoryError> {
        Ok(SyncAtCommit {
            inner: MmapDirectory::open(root)?,
            root: root.to_path_buf(),
            pending: Arc::default(),
            syncing: Arc::default(),
        })
    }

    /// Deletes the segment files of `index` that neither its commit nor its list of managed
    /// files names: what a crash left between a file's creation and the next commit point.
    /// Call it holding the index's writer (no other writer may be creating files); returns the
    /// files deleted.
    pub(crate) fn sweep(index: &Index, root: &Path) -> io::Result<Vec<PathBuf>> {
        let committed = index.load_metas().map_err(io::Error::other)?;
        let mut known: BTreeSet<PathBuf> = committed.list_segment_files().into_iter().collect();
        // Through the directory: the list this process has not synced yet counts too.
        if let Ok(managed) = index.directory().atomic_read(Path::new(MANAGED))
            && let Ok(paths) = serde_json::from_slice::<Vec<PathBuf>>(&managed)
        {
            known.extend(paths);
        }
        let mut deleted = Vec::new();
        for entry in fs::read_dir(root)? {
            let name = PathBuf::from(entry?.file_name());
            if is_segment_file(&name) && !known.contains(&name) {
                fs::remove_file(root.join(&name))?;
                deleted.push(name);
            }
        }
        Ok(deleted)
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Syncs every file finished since the last sync, and the newest list of managed files.
    fn sync_pending(&self) -> io::Result<()> {
        let _syncing = self.syncing.lock().unwrap_or_else(|e| e.into_inner());
        let (files, managed) = {
            let mut pending = self.pending();
            (std::mem::take(&mut pending.files), pending.managed.take())
        };
        let synced = self.sync(&files, managed.as_deref());
        if synced.is_err() {
            // Synced again by the next commit's attempt; a newer list written meanwhile wins.
            let mut pending = self.pending();
            pending.files.extend(files);
            if pending.managed.is_none() {
                pending.managed = managed;
            }
        }
        synced
    }

    fn sync(&self, files: &[(PathBuf, File)], managed: Option<&[u8]>) -> io::Result<()> {
        let staged = match managed {
            Some(list) => {
                let path = self.root.join(MANAGED_STAGED);
                let mut file = File::create(&path)?;
                file.write_all(list)?;
                Some((file, path))
            }
            None => None,
        };
        let all: Vec<&File> = (files.iter().map(|(_, f)| f))
            .chain(staged.iter().map(|(f, _)| f))
            .collect();
        sync_all(&all)?;
        if let Some((_, path)) = staged {
            fs::rename(path, self.root.join(MANAGED))?;
        }
        Ok(())
    }
}

/// `fdatasync` on every file, on up to [`SYNC_THREADS`] threads at once, so the disk serves
/// them together (and the file system joins their journal commits) instead of one by one.
fn sync_all(files: &[&File]) -> io::Result<()> {
    match files {
        [] => Ok(()),
        [file] => file.sync_data(),
        _ => {
            let threads = files.len().min(SYNC_THREADS);
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|t| {
                        scope.spawn(move || {
                            (files.iter().skip(t).step_by(threads)).try_for_each(|f| f.sync_data())
                        })
                    })
                    .collect();
                workers.into_iter().try_for_each(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|_| Err(io::Error::other("a sync thread panicked")))
                })
            })
        }
    }
}

/// A segment's file as tantivy names it: its id in hex, a dot, an extension.
fn is_segment_file(name: &Path) -> bool {
    name.to_str()
        .and_then(|name| name.split_once('.'))
        .is_some_and(|(id, _)| SegmentId::from_uuid_string(id).is_ok())
}

impl fmt::Debug for SyncAtCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SyncAtCommit({})", self.root.display())
    }
}

impl Directory for SyncAtCommit {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    /// A file deleted before the next sync (a segment's temporary store) needs no sync, and
    /// its space is freed once no handle holds it.
    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.pending().files.retain(|(pending, _)| pending != path);
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.root.join(path))
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => OpenWriteError::FileAlreadyExists(path.into()),
                _ => OpenWriteError::wrap_io_error(e, path.into()),
            })?;
        let unsynced = Unsynced {
            path: path.to_path_buf(),
            file: Some(file),
            pending: self.pending.clone(),
        };
        Ok(BufWriter::new(Box::new(unsynced)))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        if path == Path::new(MANAGED)
            && let Some(list) = &self.pending().managed
        {
            return Ok(list.clone());
        }
        self.inner.atomic_read(path)
    }

    /// The list of managed files waits for the next sync (tantivy rewrites it for every file it
    /// creates); anything else, `meta.json` above all, is written and synced at once.
    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        if path == Path::new(MANAGED) {
            self.pending().managed = Some(data.to_vec());
            return Ok(());
        }
        self.inner.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.sync_pending()?;
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}

/// A file being written; once finished it waits, open, for the next sync.
struct Unsynced {
    path: PathBuf,
    file: Option<File>,
    pending: Arc<Mutex<Pending>>,
}

impl Unsynced {
    fn file(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("written after it was finished"))
    }
}

impl Write for Unsynced {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TerminatingWrite for Unsynced {
    fn terminate_ref(&mut self, _: AntiCallToken) -> io::Result<()> {
        if let Some(file) = self.file.take() {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.files.push((std::mem::take(&mut self.path), file));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::{STORED, STRING, Schema};
    use tantivy::{IndexSettings, IndexWriter, Term, doc};

    fn schema() -> (Schema, tantivy::schema::Field) {
        let mut builder = Schema::builder();
        let id = builder.add_text_field("id", STRING | STORED);
        (builder.build(), id)
    }

    fn index_in(root: &Path, schema: Schema) -> Index {
        let directory = SyncAtCommit::open(root).expect("directory");
        Index::create(directory, schema, IndexSettings::default()).expect("index")
    }

    /// A new index on the directory in a temporary folder, its writer, and its one field.
    fn writing() -> (
        tempfile::TempDir,
        Index,
        IndexWriter,
        tantivy::schema::Field,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (schema, id) = schema();
        let index = index_in(dir.path(), schema);
        let writer = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        (dir, index, writer, id)
    }

    fn managed_on_disk(root: &Path) -> BTreeSet<PathBuf> {
        let list = fs::read(root.join(MANAGED)).expect("list written");
        serde_json::from_slice(&list).expect("list readable")
    }

    /// Commits (with deletes, so older segments get delete files) through the directory, then
    /// opens the index again from disk alone: every commit's files are there and listed.
    #[test]
    fn commits_are_whole_after_reopening() {
        let (dir, _index, mut writer, id) = writing();
        for round in 0..4 {
            for n in 0..50 {
                writer.delete_term(Term::from_field_text(id, &format!("{n}")));
                writer
                    .add_document(doc!(id => format!("{n}"), id => format!("round-{round}")))
                    .expect("add");
            }
            writer.commit().expect("commit");
        }
        drop(writer);
        let listed = managed_on_disk(dir.path());
        let reopened = Index::open(SyncAtCommit::open(dir.path()).expect("dir")).expect("open");
        let committed = reopened.load_metas().expect("metas").list_segment_files();
        for file in committed
            .iter()
            .filter(|file| dir.path().join(file).exists())
        {
            assert!(listed.contains(file), "{} not listed", file.display());
        }
        let searcher = reopened.reader().expect("reader").searcher();
        assert_eq!(searcher.num_docs(), 50);
    }

    /// A file a crash left unlisted is swept; listed and committed ones stay.
    #[test]
    fn a_file_no_commit_or_list_names_is_swept() {
        let (dir, index, mut writer, id) = writing();
        writer.add_document(doc!(id => "a")).expect("add");
        writer.commit().expect("commit");
        let orphan = PathBuf::from(format!(
            "{}.idx",
            SegmentId::generate_random().uuid_string()
        ));
        fs::write(dir.path().join(&orphan), b"left by a crash").expect("orphan");
        fs::write(dir.path().join("notes.txt"), b"not tantivy's").expect("other file");

        let swept = SyncAtCommit::sweep(&index, dir.path()).expect("sweep");
        assert_eq!(swept, vec![orphan.clone()]);
        assert!(!dir.path().join(&orphan).exists());
        assert!(dir.path().join("notes.txt").exists());
        assert_eq!(index.reader().expect("reader").searcher().num_docs(), 1);
    }

    /// A file this process created since the last commit is listed, if not yet on disk: kept.
    #[test]
    fn a_file_listed_but_not_yet_synced_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (schema, _) = schema();
        let index = index_in(dir.path(), schema);
        let fresh = PathBuf::from(format!(
            "{}.idx",
            SegmentId::generate_random().uuid_string()
        ));
        let mut file = index.directory().open_write(&fresh).expect("open");
        file.write_all(b"being merged").expect("write");
        file.terminate().expect("terminate");

        assert!(
            SyncAtCommit::sweep(&index, dir.path())
                .expect("sweep")
                .is_empty()
        );
        assert!(dir.path().join(&fresh).exists());
    }

    /// A finished file is not synced until `sync_directory`; the list waits for it too.
    #[test]
    fn finished_files_and_the_list_wait_for_the_sync() {
        let dir = tempfile::tempdir().expect("tempdir");
        let directory = SyncAtCommit::open(dir.path()).expect("directory");
        let mut file = directory.open_write(Path::new("a.bin")).expect("open");
        file.write_all(b"abc").expect("write");
        file.terminate().expect("terminate");
        directory
            .atomic_write(Path::new(MANAGED), b"[\"a.bin\"]")
            .expect("list");
        assert_eq!(directory.pending().files.len(), 1);
        assert!(!dir.path().join(MANAGED).exists(), "the list waits");
        assert_eq!(
            directory.atomic_read(Path::new(MANAGED)).expect("read"),
            b"[\"a.bin\"]"
        );
        directory.sync_directory().expect("sync");
        assert!(directory.pending().files.is_empty());
        assert_eq!(
            fs::read(dir.path().join(MANAGED)).expect("list"),
            b"[\"a.bin\"]"
        );
        assert_eq!(fs::read(dir.path().join("a.bin")).expect("file"), b"abc");
        assert!(!dir.path().join(MANAGED_STAGED).exists());
    }

    /// A file deleted before the sync (a segment's temporary store) leaves the pending set.
    #[test]
    fn a_file_deleted_before_the_sync_is_not_synced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let directory = SyncAtCommit::open(dir.path()).expect("directory");
        for name in ["kept.bin", "temp.bin"] {
            let mut file = directory.open_write(Path::new(name)).expect("open");
            file.write_all(b"abc").expect("write");
            file.terminate().expect("terminate");
        }
        directory.delete(Path::new("temp.bin")).expect("delete");
        let pending: Vec<PathBuf> = (directory.pending().files.iter())
            .map(|(path, _)| path.clone())
            .collect();
        assert_eq!(pending, vec![PathBuf::from("kept.bin")]);
        assert!(!dir.path().join("temp.bin").exists());
    }
}
