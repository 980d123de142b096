//! The rank graph handed to Spark and its scores taken back, as Parquet: the path for a graph
//! past one machine, where the PySpark job `rank/spark/discorank.py` runs the same weighted
//! PageRank on a cluster.
//!
//! [`Export::write`] (`disco rank export-graph --format parquet DIR`) writes the graph the
//! kernel runs on, parallel activities already summed, with node numbers as `i64`:
//!
//! - `edges.parquet`: `src`, `dst`, `weight` (`i64`, `i64`, `f64`; the graph's `f32` weights,
//!   widened, so Spark sums exactly what [`crate::pagerank`] sums);
//! - `nodes.parquet`: `index`, `kind`, `id` (the [`NodeTable`]: kind order, then id order);
//! - `personalization.parquet`: `index`, `value` (the teleport and dangling distribution);
//! - `start.parquet` (only for a warm start): `index`, `value`, the active version's scores
//!   carried over by entity ([`crate::warm_start_vector`]), for the job's `--init`;
//! - `graph.json` ([`GraphExport`]): counts, weights and where the start came from.
//!
//! The job writes `OUT/scores/` (Parquet parts: `index`, `score`) and `OUT/run.json`
//! ([`SparkRun`]); [`import`] (`disco rank import OUT`) checks them against the graph's node
//! table and writes a rank version like any other.
//!
//! ```no_run
//! # fn run(graph: &rank::Graph, store: &rank::RankStore) -> Result<(), rank::RankError> {
//! use std::path::Path;
//! let export = rank::spark::Export::new(graph, rank::Weights::builtin());
//! export.write(Path::new("graph"))?;
//! // python rank/spark/discorank.py --graph graph --out out
//! let manifest = rank::spark::import(store, Path::new("out"), None, true)?;
//! println!("{} from Spark", manifest.version);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use parquet::basic::Compression;
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, ByteArrayType, DataType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use schemas::db::Db;
use schemas::{EntityKey, EntityKind};
use serde::{Deserialize, Serialize};

use crate::RankError;
use crate::graph::Graph;
use crate::job::warm_start_vector;
use crate::load::load_graph;
use crate::nodes::NodeTable;
use crate::progress::ProgressMode;
use crate::scores::RankScores;
use crate::versions::{Durations, Manifest, RankStore, RankVersion, WarmStart};
use crate::weights::Weights;

pub const EDGES: &str = "edges.parquet";
pub const NODES: &str = "nodes.parquet";
pub const PERSONALIZATION: &str = "personalization.parquet";
pub const START: &str = "start.parquet";
pub const GRAPH_JSON: &str = "graph.json";
pub const RUN_JSON: &str = "run.json";
pub const SCORES: &str = "scores";

/// Rows per row group: Spark splits a file into tasks by row group, and the writer holds
/// one row group's columns (24 MB of edges) at a time.
const ROWS_PER_GROUP: usize = 1 << 20;

/// `graph.json`: what an imported run's manifest needs to know about its graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphExport {
    pub created: DateTime<Utc>,
    pub nodes: u64,
    pub nodes_by_kind: BTreeMap<String, u64>,
    pub edges: u64,
    /// Activity rows that became edges (0 for a graph that did not come from the site).
    pub activities: u64,
    pub dangling: u64,
    pub weights: Weights,
    /// Seconds spent loading the graph from the database.
    pub load_seconds: f64,
    /// The version `start.parquet` was carried over from, if one was written.
    pub start: Option<ExportedStart>,
}

/// Where `start.parquet` came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedStart {
    pub from: RankVersion,
    /// Nodes that had a score in `from`; the rest start at 1/N.
    pub carried: u64,
}

/// `run.json`, written by the Spark job beside its scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparkRun {
    /// The graph directory the job read (`--graph`).
    pub graph: PathBuf,
    /// The start vector it read (`--init`), if any.
    #[serde(default)]
    pub init: Option<PathBuf>,
    /// Power iterations over all edges.
    pub iterations: u32,
    /// L1 change of the last iteration (the kernel's stopping rule).
    pub residual: f64,
    pub converged: bool,
    pub alpha: f64,
    pub tolerance: f64,
    /// Wall time of the iterations and the write, in seconds.
    pub seconds: f64,
}

/// The graph and what goes with it, ready to be written for Spark.
#[derive(Debug, Clone)]
pub struct Export<'a> {
    pub graph: &'a Graph,
    pub weights: Weights,
    pub activities: u64,
    pub load_seconds: f64,
    /// One non-negative value per node (the job normalizes); `None` is uniform, what the rank
    /// job uses.
    pub personalization: Option<&'a [f64]>,
    /// A start vector carried over from a previous version, one value per node.
    pub start: Option<(ExportedStart, Vec<f64>)>,
}

impl<'a> Export<'a> {
    /// An export of `graph` with uniform personalization and no start vector.
    pub fn new(graph: &'a Graph, weights: Weights) -> Export<'a> {
        Export {
            graph,
            weights,
            activities: 0,
            load_seconds: 0.0,
            personalization: None,
            start: None,
        }
    }

    /// Writes the Parquet files and `graph.json` into `dir` (created if missing; files of an
    /// earlier export are replaced, and a stale `start.parquet` removed).
    pub fn write(&self, dir: &Path) -> Result<GraphExport, RankError> {
        let started = Instant::now();
        let graph = self.graph;
        let n = graph.node_count();
        std::fs::create_dir_all(dir).map_err(|e| RankError::io(dir, e))?;
        write_edges(graph, &dir.join(EDGES))?;
        write_nodes(graph.nodes(), &dir.join(NODES))?;
        let uniform;
        let personalization = match self.personalization {
            Some(p) => p,
            None => {
                uniform = vec![1.0 / n.max(1) as f64; n];
                &uniform
            }
        };
        write_vector(&dir.join(PERSONALIZATION), personalization, n)?;
        let start_path = dir.join(START);
        match &self.start {
            Some((_, values)) => write_vector(&start_path, values, n)?,
            None => match std::fs::remove_file(&start_path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(RankError::io(&start_path, e));
                }
                _ => {}
            },
        }
        let export = GraphExport {
            created: Utc::now(),
            nodes: n as u64,
            nodes_by_kind: graph.nodes().counts_by_kind(),
            edges: graph.edge_count() as u64,
            activities: self.activities,
            dangling: graph.dangling_count() as u64,
            weights: self.weights,
            load_seconds: self.load_seconds,
            start: self.start.as_ref().map(|(s, _)| s.clone()),
        };
        write_json(&dir.join(GRAPH_JSON), &export)?;
        tracing::info!(
            dir = %dir.display(),
            nodes = n,
            edges = graph.edge_count(),
            seconds = started.elapsed().as_secs_f64(),
            "rank graph exported as Parquet"
        );
        Ok(export)
    }
}

/// Loads the site's rank graph from `db` and writes it to `dir` for Spark, with the store's
/// active version carried over as `start.parquet` when `warm` (the job's `--init`): what
/// `disco rank export-graph --format parquet DIR` does.
pub async fn export_from_db(
    db: &Db,
    store: &RankStore,
    weights: &Weights,
    warm: bool,
    dir: &Path,
    progress: ProgressMode,
) -> Result<GraphExport, RankError> {
    let loaded = load_graph(db, weights, progress).await?;
    let previous = match warm {
        true => store.load_active()?,
        false => None,
    };
    let start = previous.map(|(from, scores)| {
        let (values, carried) = warm_start_vector(&loaded.graph, &scores);
        (ExportedStart { from, carried }, values)
    });
    let export = Export {
        graph: &loaded.graph,
        weights: *weights,
        activities: loaded.activities,
        load_seconds: loaded.seconds,
        personalization: None,
        start,
    };
    export.write(dir)
}

/// Reads the Spark job's output in `out` against the graph it ran on (`graph_dir`, by
/// default the one `run.json` names), writes it as the store's next version and, when
/// `activate`, makes it the active one. Refuses scores that do not cover the node table
/// exactly once, or that are negative or not finite.
pub fn import(
    store: &RankStore,
    out: &Path,
    graph_dir: Option<&Path>,
    activate: bool,
) -> Result<Manifest, RankError> {
    let started = Instant::now();
    let run: SparkRun = read_json(&out.join(RUN_JSON))?;
    let graph_dir = graph_dir.unwrap_or(&run.graph);
    let export: GraphExport = read_json(&graph_dir.join(GRAPH_JSON))?;
    let nodes = read_nodes(&graph_dir.join(NODES))?;
    if nodes.len() as u64 != export.nodes {
        return Err(RankError::Input(format!(
            "{} lists {} nodes, {GRAPH_JSON} says {}",
            graph_dir.join(NODES).display(),
            nodes.len(),
            export.nodes
        )));
    }
    let scores = read_vector(&out.join(SCORES), "score", nodes.len())?;
    let scores = RankScores::new(nodes, scores)?;
    let warm_start = match (&run.init, &export.start) {
        (Some(init), Some(start)) if same_file(init, &graph_dir.join(START)) => Some(WarmStart {
            from: start.from,
            carried: start.carried,
            cold_iterations: None,
            push: None,
        }),
        _ => None,
    };
    let version = store.next_version()?;
    let mut manifest = Manifest {
        version,
        created: Utc::now(),
        nodes: export.nodes,
        nodes_by_kind: export.nodes_by_kind,
        edges: export.edges,
        activities: export.activities,
        dangling: export.dangling,
        iterations: run.iterations,
        residual: run.residual,
        converged: run.converged,
        alpha: run.alpha,
        tolerance: run.tolerance,
        warm_start,
        weights: export.weights,
        duration: Durations {
            load_seconds: export.load_seconds,
            compute_seconds: run.seconds,
            write_seconds: 0.0,
            total_seconds: 0.0,
        },
        // The graph lived in Spark, not in this process.
        graph_bytes: 0,
    };
    manifest.duration.write_seconds = started.elapsed().as_secs_f64();
    manifest.duration.total_seconds = export.load_seconds + run.seconds;
    store.write(&manifest, &scores)?;
    if activate {
        store.activate(version)?;
    }
    tracing::info!(
        %version,
        out = %out.display(),
        iterations = run.iterations,
        converged = run.converged,
        "Spark scores imported as a rank version"
    );
    Ok(manifest)
}

/// The PySpark job, in the source tree this crate was built from.
pub const JOB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spark/discorank.py");

/// The script that makes the job's Python environment and prints its python.
pub const SPARK_ENV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/spark-env");

/// The python of `scripts/spark-env`, which installs pyspark on first use: for tests and
/// benchmarks of the source tree.
pub fn spark_python() -> Result<PathBuf, RankError> {
    let output = std::process::Command::new(SPARK_ENV)
        .output()
        .map_err(|e| RankError::io(Path::new(SPARK_ENV), e))?;
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || printed.is_empty() {
        return Err(RankError::Input(format!(
            "{SPARK_ENV} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(PathBuf::from(printed))
}

/// Spark's local mode on this machine: the settings tests and benchmarks run the job with.
#[derive(Debug, Clone)]
pub struct LocalSpark {
    /// A python that imports pyspark ([`spark_python`]).
    pub python: PathBuf,
    /// `local[N]`: N worker threads.
    pub threads: usize,
    pub shuffle_partitions: usize,
    pub driver_memory: String,
}

impl LocalSpark {
    /// Two threads, four shuffle partitions, 1 GiB of driver memory.
    pub fn new(python: PathBuf) -> LocalSpark {
        LocalSpark {
            python,
            threads: 2,
            shuffle_partitions: 4,
            driver_memory: "1g".to_string(),
        }
    }

    /// Runs [`JOB`] on the graph in `graph` with `args` added, writing to `out`; returns
    /// its `run.json`. Fails with the job's last lines of output when it fails.
    pub fn run(&self, graph: &Path, out: &Path, args: &[&str]) -> Result<SparkRun, RankError> {
        let output = std::process::Command::new(&self.python)
            .arg(JOB)
            .arg("--graph")
            .arg(graph)
            .arg("--out")
            .arg(out)
            .arg("--master")
            .arg(format!("local[{}]", self.threads))
            .args([
                "--conf".to_string(),
                format!("spark.sql.shuffle.partitions={}", self.shuffle_partitions),
                "--conf".to_string(),
                format!("spark.driver.memory={}", self.driver_memory),
                "--conf".to_string(),
                "spark.ui.showConsoleProgress=false".to_string(),
            ])
            .args(args)
            .output()
            .map_err(|e| RankError::io(&self.python, e))?;
        let said = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let tail: Vec<&str> = said.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(RankError::Input(format!(
                "{JOB} failed ({}):\n{}",
                output.status,
                tail.join("\n")
            )));
        }
        for line in said.lines().filter(|l| l.starts_with("discorank:")) {
            tracing::debug!("{line}");
        }
        read_json(&out.join(RUN_JSON))
    }
}

/// Whether two paths name the same file (compared as given when either cannot be resolved).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), RankError> {
    let json = serde_json::to_string_pretty(value)
        .map_err(|e| RankError::Input(format!("{}: {e}", path.display())))?;
    std::fs::write(path, json).map_err(|e| RankError::io(path, e))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, RankError> {
    let text = std::fs::read_to_string(path).map_err(|e| RankError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| RankError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

// ---------------------------------------------------------------------------------------
// Writing

/// One column of a row group.
enum Column<'a> {
    I64(&'a [i64]),
    F64(&'a [f64]),
    Str(&'a [ByteArray]),
}

/// A Parquet file written one row group at a time.
struct ParquetOut {
    path: PathBuf,
    writer: SerializedFileWriter<File>,
}

impl ParquetOut {
    /// A file of the given schema (Parquet message type), snappy-compressed.
    fn create(path: &Path, schema: &str) -> Result<ParquetOut, RankError> {
        let err = |e| parquet_error(path, e);
        let schema = Arc::new(parse_message_type(schema).map_err(err)?);
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("disco rank export-graph".to_string())
            .build();
        let file = File::create(path).map_err(|e| RankError::io(path, e))?;
        let writer = SerializedFileWriter::new(file, schema, Arc::new(properties)).map_err(err)?;
        Ok(ParquetOut {
            path: path.to_path_buf(),
            writer,
        })
    }

    /// Writes one row group: the columns in schema order, all of one length.
    fn row_group(&mut self, columns: &[Column<'_>]) -> Result<(), RankError> {
        let path = self.path.clone();
        let err = |e| parquet_error(&path, e);
        let mut group = self.writer.next_row_group().map_err(err)?;
        for column in columns {
            let Some(mut writer) = group.next_column().map_err(err)? else {
                return Err(RankError::Input(format!(
                    "{}: more columns than the schema",
                    path.display()
                )));
            };
            match column {
                Column::I64(v) => writer.typed::<Int64Type>().write_batch(v, None, None),
                Column::F64(v) => writer.typed::<DoubleType>().write_batch(v, None, None),
                Column::Str(v) => writer.typed::<ByteArrayType>().write_batch(v, None, None),
            }
            .map_err(err)?;
            writer.close().map_err(err)?;
        }
        group.close().map_err(err)?;
        Ok(())
    }

    fn finish(self) -> Result<(), RankError> {
        let path = self.path;
        self.writer
            .close()
            .map_err(|e| parquet_error(&path, e))
            .map(|_| ())
    }
}

fn parquet_error(path: &Path, source: parquet::errors::ParquetError) -> RankError {
    RankError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

/// The weighted edge list, grouped by destination as the graph keeps it.
fn write_edges(graph: &Graph, path: &Path) -> Result<(), RankError> {
    let mut out = ParquetOut::create(
        path,
        "message edges { REQUIRED INT64 src; REQUIRED INT64 dst; REQUIRED DOUBLE weight; }",
    )?;
    let rows = ROWS_PER_GROUP.min(graph.edge_count().max(1));
    let (mut src, mut dst, mut weight) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    let mut edges = graph.edges().peekable();
    while edges.peek().is_some() {
        for (s, d, w) in edges.by_ref().take(rows) {
            src.push(s as i64);
            dst.push(d as i64);
            weight.push(w as f64);
        }
        out.row_group(&[Column::I64(&src), Column::I64(&dst), Column::F64(&weight)])?;
        src.clear();
        dst.clear();
        weight.clear();
    }
    out.finish()
}

/// The node table: node number, kind name and entity id.
fn write_nodes(nodes: &NodeTable, path: &Path) -> Result<(), RankError> {
    let mut out = ParquetOut::create(
        path,
        "message nodes { REQUIRED INT64 index; REQUIRED BYTE_ARRAY kind (UTF8); REQUIRED INT64 id; }",
    )?;
    let mut index = 0i64;
    for kind in EntityKind::ALL {
        for ids in nodes.ids(kind).chunks(ROWS_PER_GROUP) {
            let indices: Vec<i64> = (index..index + ids.len() as i64).collect();
            let kinds = vec![ByteArray::from(kind.as_str()); ids.len()];
            out.row_group(&[Column::I64(&indices), Column::Str(&kinds), Column::I64(ids)])?;
            index += ids.len() as i64;
        }
    }
    out.finish()
}

/// A vector over the nodes: node number and value.
fn write_vector(path: &Path, values: &[f64], n: usize) -> Result<(), RankError> {
    if values.len() != n {
        return Err(RankError::Input(format!(
            "{}: {} values for {n} nodes",
            path.display(),
            values.len()
        )));
    }
    let mut out = ParquetOut::create(
        path,
        "message vector { REQUIRED INT64 index; REQUIRED DOUBLE value; }",
    )?;
    for (chunk, values) in values.chunks(ROWS_PER_GROUP).enumerate() {
        let first = (chunk * ROWS_PER_GROUP) as i64;
        let indices: Vec<i64> = (first..first + values.len() as i64).collect();
        out.row_group(&[Column::I64(&indices), Column::F64(values)])?;
    }
    out.finish()
}

// ---------------------------------------------------------------------------------------
// Reading

/// The Parquet files of `path`: the file itself, or every `*.parquet` in a directory (Spark
/// writes a directory of parts), in name order.
fn parquet_files(path: &Path) -> Result<Vec<PathBuf>, RankError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| RankError::io(path, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| RankError::io(path, e))?;
        let file = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".parquet") && !name.starts_with('.') && !name.starts_with('_') {
            files.push(file);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(RankError::Input(format!(
            "{} holds no .parquet file",
            path.display()
        )));
    }
    Ok(files)
}

/// One row group of a file being read, with its columns found by name.
struct Group<'a> {
    path: &'a Path,
    reader: Box<dyn RowGroupReader + 'a>,
    rows: usize,
}

impl Group<'_> {
    fn err(&self, reason: String) -> RankError {
        RankError::Corrupt {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    fn column(&self, name: &str) -> Result<ColumnReader, RankError> {
        let schema = self.reader.metadata().schema_descr();
        let at = schema
            .columns()
            .iter()
            .position(|c| c.name() == name)
            .ok_or_else(|| self.err(format!("no column `{name}`")))?;
        self.reader
            .get_column_reader(at)
            .map_err(|e| parquet_error(self.path, e))
    }

    /// Every value of a column of physical type `T`, refusing nulls.
    fn values<T: DataType>(
        &self,
        name: &str,
        mut reader: ColumnReaderImpl<T>,
    ) -> Result<Vec<T::T>, RankError> {
        let mut values = Vec::with_capacity(self.rows);
        let mut levels = Vec::with_capacity(self.rows);
        let (records, read, _) = reader
            .read_records(self.rows, Some(&mut levels), None, &mut values)
            .map_err(|e| parquet_error(self.path, e))?;
        if records != self.rows || read != self.rows {
            return Err(self.err(format!(
                "column `{name}`: {read} values in {records} of {} rows (nulls are not allowed)",
                self.rows
            )));
        }
        Ok(values)
    }

    /// An integer column (`INT64`, or `INT32` widened).
    fn i64s(&self, name: &str) -> Result<Vec<i64>, RankError> {
        match self.column(name)? {
            ColumnReader::Int64ColumnReader(r) => self.values(name, r),
            ColumnReader::Int32ColumnReader(r) => {
                Ok(self.values(name, r)?.into_iter().map(i64::from).collect())
            }
            _ => Err(self.err(format!("column `{name}` is not an integer"))),
        }
    }

    /// A floating point column (`DOUBLE`, or `FLOAT` widened).
    fn f64s(&self, name: &str) -> Result<Vec<f64>, RankError> {
        match self.column(name)? {
            ColumnReader::DoubleColumnReader(r) => self.values(name, r),
            ColumnReader::FloatColumnReader(r) => {
                Ok(self.values(name, r)?.into_iter().map(f64::from).collect())
            }
            _ => Err(self.err(format!("column `{name}` is not floating point"))),
        }
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, RankError> {
        let ColumnReader::ByteArrayColumnReader(r) = self.column(name)? else {
            return Err(self.err(format!("column `{name}` is not a string")));
        };
        self.values(name, r)?
            .iter()
            .map(|b| {
                b.as_utf8()
                    .map(str::to_string)
                    .map_err(|e| parquet_error(self.path, e))
            })
            .collect()
    }
}

/// Calls `each` on every row group of every Parquet file of `path`.
fn for_each_group(
    path: &Path,
    mut each: impl FnMut(&Group<'_>) -> Result<(), RankError>,
) -> Result<(), RankError> {
    for file in parquet_files(path)? {
        let handle = File::open(&file).map_err(|e| RankError::io(&file, e))?;
        let reader = SerializedFileReader::new(handle).map_err(|e| parquet_error(&file, e))?;
        for i in 0..reader.num_row_groups() {
            let group = reader
                .get_row_group(i)
                .map_err(|e| parquet_error(&file, e))?;
            let rows = usize::try_from(group.metadata().num_rows()).unwrap_or(0);
            each(&Group {
                path: &file,
                reader: group,
                rows,
            })?;
        }
    }
    Ok(())
}

/// A vector over `n` nodes from (`index`, `column`) rows in any order: every node exactly
/// once, every value finite and non-negative.
pub fn read_vector(path: &Path, column: &str, n: usize) -> Result<Vec<f64>, RankError> {
    let mut vector = vec![f64::NAN; n];
    let mut seen = 0usize;
    for_each_group(path, |group| {
        let index = group.i64s("index")?;
        let values = group.f64s(column)?;
        for (i, value) in index.into_iter().zip(values) {
            let slot = usize::try_from(i)
                .ok()
                .filter(|&i| i < n)
                .ok_or_else(|| group.err(format!("node {i} outside 0..{n}")))?;
            if !vector[slot].is_nan() {
                return Err(group.err(format!("node {i} appears twice")));
            }
            if !(value.is_finite() && value >= 0.0) {
                return Err(group.err(format!("node {i} has {column} {value}")));
            }
            vector[slot] = value;
            seen += 1;
        }
        Ok(())
    })?;
    if seen != n {
        return Err(RankError::Input(format!(
            "{}: {seen} of {n} nodes have a {column}",
            path.display()
        )));
    }
    Ok(vector)
}

/// The node table of `nodes.parquet`, checked to number kinds and ids as [`NodeTable`] does.
pub fn read_nodes(path: &Path) -> Result<NodeTable, RankError> {
    let mut rows: Vec<(i64, EntityKey)> = Vec::new();
    for_each_group(path, |group| {
        let index = group.i64s("index")?;
        let kinds = group.strings("kind")?;
        let ids = group.i64s("id")?;
        for ((i, kind), id) in index.into_iter().zip(kinds).zip(ids) {
            let kind: EntityKind = kind
                .parse()
                .map_err(|_| group.err(format!("node {i}: unknown kind `{kind}`")))?;
            rows.push((i, EntityKey::new(kind, id)));
        }
        Ok(())
    })?;
    rows.sort_unstable_by_key(|(i, _)| *i);
    let mut ids: [Vec<i64>; 4] = Default::default();
    for (at, (i, key)) in rows.iter().enumerate() {
        if *i != at as i64 {
            return Err(RankError::Input(format!(
                "{}: node numbers are not 0..{} (found {i} at {at})",
                path.display(),
                rows.len()
            )));
        }
        ids[crate::nodes::slot(key.kind)].push(key.id);
    }
    let table = NodeTable::new(ids)?;
    // The table renumbers by kind, then id: the file must have numbered the same way.
    if table.len() != rows.len() || table.keys().zip(&rows).any(|(k, (_, key))| k != *key) {
        return Err(RankError::Input(format!(
            "{}: nodes are not numbered by kind, then id",
            path.display()
        )));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphBuilder;

    fn graph() -> Graph {
        let nodes = NodeTable::new([vec![10, 11], vec![1, 2], vec![], vec![30]]).unwrap();
        let mut b = GraphBuilder::new(5);
        for (s, d, w) in [
            (2, 0, 1.5),
            (3, 0, 2.0),
            (3, 1, 0.25),
            (4, 1, 1.0),
            (0, 2, 1.0),
        ] {
            b.push(s, d, w);
        }
        b.build(nodes).unwrap()
    }

    #[test]
    fn the_export_round_trips_nodes_and_vectors() {
        let g = graph();
        let dir = tempfile::tempdir().unwrap();
        let mut export = Export::new(&g, Weights::builtin());
        let start = vec![0.1, 0.2, 0.3, 0.2, 0.2];
        export.start = Some((
            ExportedStart {
                from: RankVersion(3),
                carried: 5,
            },
            start.clone(),
        ));
        let written = export.write(dir.path()).unwrap();
        assert_eq!((written.nodes, written.edges, written.dangling), (5, 5, 1));
        assert_eq!(written.nodes_by_kind["group"], 1);

        let nodes = read_nodes(&dir.path().join(NODES)).unwrap();
        assert_eq!(&nodes, g.nodes());
        let p = read_vector(&dir.path().join(PERSONALIZATION), "value", 5).unwrap();
        assert_eq!(p, vec![0.2; 5]);
        assert_eq!(
            read_vector(&dir.path().join(START), "value", 5).unwrap(),
            start
        );
        let json: GraphExport = read_json(&dir.path().join(GRAPH_JSON)).unwrap();
        assert_eq!(json, written);

        // The edges, read back as the job reads them, are the graph's.
        let mut edges = Vec::new();
        for_each_group(&dir.path().join(EDGES), |group| {
            let (s, d, w) = (
                group.i64s("src")?,
                group.i64s("dst")?,
                group.f64s("weight")?,
            );
            edges.extend(s.into_iter().zip(d).zip(w).map(|((s, d), w)| (s, d, w)));
            Ok(())
        })
        .unwrap();
        let expected: Vec<(i64, i64, f64)> = g
            .edges()
            .map(|(s, d, w)| (s as i64, d as i64, w as f64))
            .collect();
        assert_eq!(edges, expected);

        // A later export without a start removes the stale one.
        Export::new(&g, Weights::builtin())
            .write(dir.path())
            .unwrap();
        assert!(!dir.path().join(START).exists());
    }

    #[test]
    fn vectors_must_cover_every_node_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.parquet");
        write_vector(&path, &[0.5, 0.5], 2).unwrap();
        assert!(read_vector(&path, "value", 2).is_ok());
        let short = read_vector(&path, "value", 3).unwrap_err();
        assert!(short.to_string().contains("2 of 3 nodes"), "{short}");
        let outside = read_vector(&path, "value", 1).unwrap_err();
        assert!(outside.to_string().contains("outside 0..1"), "{outside}");
        let missing = read_vector(&path, "score", 2).unwrap_err();
        assert!(
            missing.to_string().contains("no column `score`"),
            "{missing}"
        );
        write_vector(&path, &[0.5, f64::NAN], 2).unwrap();
        assert!(read_vector(&path, "value", 2).is_err());
    }

    #[test]
    fn an_import_becomes_a_version_that_lists_and_activates() {
        let g = graph();
        let dir = tempfile::tempdir().unwrap();
        let graph_dir = dir.path().join("graph");
        Export::new(&g, Weights::builtin())
            .write(&graph_dir)
            .unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join(SCORES)).unwrap();
        // Spark's layout: a directory of parts, in any order, beside marker files.
        write_vector(&out.join(SCORES).join("part-00001.parquet"), &[0.3, 0.2], 2).unwrap();
        std::fs::write(out.join(SCORES).join("_SUCCESS"), "").unwrap();
        let rest = ParquetOut::create(
            &out.join(SCORES).join("part-00000.parquet"),
            "message s { REQUIRED INT64 index; REQUIRED DOUBLE score; }",
        );
        let mut rest = rest.unwrap();
        rest.row_group(&[Column::I64(&[4, 3, 2]), Column::F64(&[0.1, 0.1, 0.3])])
            .unwrap();
        rest.finish().unwrap();
        // The first part names its value column `value`, not `score`: refused.
        let store = RankStore::open(dir.path().join("ranks")).unwrap();
        let run = SparkRun {
            graph: graph_dir.clone(),
            init: None,
            iterations: 12,
            residual: 1e-10,
            converged: true,
            alpha: 0.85,
            tolerance: 1e-9,
            seconds: 3.5,
        };
        write_json(&out.join(RUN_JSON), &run).unwrap();
        assert!(import(&store, &out, None, true).is_err());
        assert!(store.versions().unwrap().is_empty());

        let part = out.join(SCORES).join("part-00001.parquet");
        let mut fixed = ParquetOut::create(
            &part,
            "message s { REQUIRED INT64 index; REQUIRED DOUBLE score; }",
        )
        .unwrap();
        fixed
            .row_group(&[Column::I64(&[0, 1]), Column::F64(&[0.3, 0.2])])
            .unwrap();
        fixed.finish().unwrap();
        let manifest = import(&store, &out, None, true).unwrap();
        assert_eq!(manifest.version, RankVersion(1));
        assert_eq!(
            (manifest.nodes, manifest.edges, manifest.iterations),
            (5, 5, 12)
        );
        assert_eq!(store.active().unwrap(), Some(RankVersion(1)));
        let scores = store.load(RankVersion(1)).unwrap();
        assert_eq!(scores.get(EntityKey::new(EntityKind::User, 2)), Some(0.1));
        assert_eq!(scores.get(EntityKey::new(EntityKind::Group, 30)), Some(0.1));
        assert_eq!(store.list().unwrap().len(), 1);
    }
}
