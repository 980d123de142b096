//! New searchers made ready before they are served, and old ones let go where no search waits.
//!
//! Every reload opens every segment reader anew (tantivy's `IndexReader::reload`), and a
//! segment reader opens a field's term dictionary and postings on first use. Without a warmer
//! the first searches after each commit pay those opens for every field of every segment (and
//! two searches at once both pay them). [`FieldWarmer`] opens every indexed field of every
//! segment on the reloading thread, before the searcher is published, so a search starts on a
//! reader that is ready.
//!
//! Whoever drops the last reference to a searcher closes the files of the segments that merges
//! replaced since, and closing a deleted file frees its blocks: on a file system mounted with
//! `discard` (this machine's `/work`) that waits for the disk to discard them, tens of
//! milliseconds for a merge's files. A search that finishes on a searcher a reload has just
//! replaced holds that last reference, so during a cleanup (many commits, many merges)
//! searches took 20–60 ms instead of 1–2. [`Retirement`] keeps the two latest searchers and
//! drops the one before on the reloading thread: a searcher is let go only a reload after it
//! was replaced, when the searches that took it have long finished.

use std::collections::VecDeque;
use std::sync::Mutex;

use tantivy::schema::Schema;
use tantivy::{Searcher, SearcherGeneration, Warmer};

/// Opens every indexed field's inverted index in each new searcher's segments.
pub(crate) struct FieldWarmer {
    fields: Vec<tantivy::schema::Field>,
}

impl FieldWarmer {
    pub(crate) fn new(schema: &Schema) -> FieldWarmer {
        let fields = schema
            .fields()
            .filter(|(_, entry)| entry.is_indexed())
            .map(|(field, _)| field)
            .collect();
        FieldWarmer { fields }
    }
}

impl Warmer for FieldWarmer {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        for segment in searcher.segment_readers() {
            for field in &self.fields {
                // Kept in the segment reader's cache for its life: what a search would open.
                segment.inverted_index(*field)?;
            }
        }
        Ok(())
    }

    /// Nothing is kept per generation: the opened readers live in the segment readers.
    fn garbage_collect(&self, _: &[&SearcherGeneration]) {}
}

/// Holds the searchers of the latest reloads, so the last reference to an older one is
/// dropped by the thread that reloads, never by a search.
#[derive(Default)]
pub(crate) struct Retirement {
    held: Mutex<VecDeque<Searcher>>,
}

/// The searchers held: the one being published and the one it replaces (which searches in
/// flight may still be reading).
const HELD: usize = 2;

impl Warmer for Retirement {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        let retired = {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            held.push_back(searcher.clone());
            (held.len() > HELD).then(|| held.pop_front()).flatten()
        };
        // Dropped here, outside the lock: closing replaced segments' files can wait on the disk.
        drop(retired);
        Ok(())
    }

    fn garbage_collect(&self, _: &[&SearcherGeneration]) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::{STORED, STRING, TEXT};
    use tantivy::{Index, IndexWriter, doc};

    #[test]
    fn every_indexed_field_is_warmed_and_no_other() {
        let mut schema = Schema::builder();
        let title = schema.add_text_field("title", TEXT);
        let kind = schema.add_text_field("kind", STRING);
        schema.add_text_field("display", STORED);
        let schema = schema.build();
        assert_eq!(FieldWarmer::new(&schema).fields, [title, kind]);

        let index = Index::create_in_ram(schema);
        let mut writer: IndexWriter = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        writer
            .add_document(doc!(title => "winter night", kind => "track"))
            .expect("add");
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        FieldWarmer::new(&index.schema())
            .warm(&searcher)
            .expect("warm");
    }

    #[test]
    fn a_searcher_is_let_go_one_reload_after_it_was_replaced() {
        let mut schema = Schema::builder();
        schema.add_text_field("title", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        let reader = index.reader().expect("reader");
        let retirement = Retirement::default();
        let mut searchers = Vec::new();
        for _ in 0..3 {
            writer.commit().expect("commit");
            reader.reload().expect("reload");
            searchers.push(reader.searcher());
        }
        for searcher in &searchers {
            retirement.warm(searcher).expect("warm");
        }
        let generation = |s: &Searcher| s.generation().generation_id();
        let held: Vec<u64> = (retirement.held.lock().expect("lock").iter())
            .map(generation)
            .collect();
        assert_eq!(held, [generation(&searchers[1]), generation(&searchers[2])]);
    }
}
