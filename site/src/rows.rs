//! Rows on their way into the site's tables: which tables exist, their columns in load order,
//! and a flat buffer of values that encodes itself as PostgreSQL `COPY` text or binds into
//! multi-row `INSERT`s.
//!
//! Generators fill a [`Rows`] buffer per chunk; the loader never needs to know which catalog
//! the rows came from.

use std::fmt::{self, Write as _};

use chrono::{DateTime, Datelike, Timelike, Utc};
use schemas::db::Dialect;

/// A site table, in the order seeding loads and summaries list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Users,
    Tracks,
    Playlists,
    Groups,
    PlaylistTracks,
    GroupMembers,
    GroupTracks,
    Follows,
    Likes,
    Reposts,
    Comments,
    Plays,
}

impl Table {
    pub const ALL: [Table; 12] = [
        Table::Users,
        Table::Tracks,
        Table::Playlists,
        Table::Groups,
        Table::PlaylistTracks,
        Table::GroupMembers,
        Table::GroupTracks,
        Table::Follows,
        Table::Likes,
        Table::Reposts,
        Table::Comments,
        Table::Plays,
    ];

    /// The table's SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Tracks => "tracks",
            Table::Playlists => "playlists",
            Table::Groups => "groups",
            Table::PlaylistTracks => "playlist_tracks",
            Table::GroupMembers => "group_members",
            Table::GroupTracks => "group_tracks",
            Table::Follows => "follows",
            Table::Likes => "likes",
            Table::Reposts => "reposts",
            Table::Comments => "comments",
            Table::Plays => "plays",
        }
    }

    /// The columns a row of this table carries, in the order [`Rows`] holds them.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Users => &[
                "id",
                "username",
                "full_name",
                "description",
                "city",
                "country",
                "created_at",
                "updated_at",
                "deleted_at",
                "taken_down",
            ],
            Table::Tracks => &[
                "id",
                "user_id",
                "title",
                "description",
                "genre",
                "tags",
                "duration_ms",
                "sharing",
                "created_at",
                "updated_at",
                "deleted_at",
                "taken_down",
            ],
            Table::Playlists => &[
                "id",
                "user_id",
                "title",
                "description",
                "sharing",
                "created_at",
                "updated_at",
                "deleted_at",
                "taken_down",
            ],
            Table::Groups => &[
                "id",
                "creator_id",
                "name",
                "description",
                "created_at",
                "updated_at",
                "deleted_at",
                "taken_down",
            ],
            Table::PlaylistTracks => &["playlist_id", "track_id", "position"],
            Table::GroupMembers => &["group_id", "user_id", "created_at"],
            Table::GroupTracks => &["group_id", "track_id", "created_at"],
            Table::Follows => &["follower_id", "followee_id", "created_at"],
            Table::Likes | Table::Reposts => &["user_id", "target_kind", "target_id", "created_at"],
            Table::Comments => &["id", "user_id", "track_id", "body", "created_at"],
            Table::Plays => &["user_id", "track_id", "count", "last_played_at"],
        }
    }

    /// `COPY <table> (<columns>) FROM STDIN` in the default text format.
    pub fn copy_statement(self) -> String {
        format!(
            "COPY {} ({}) FROM STDIN",
            self.name(),
            self.columns().join(", ")
        )
    }

    /// `INSERT INTO <table> (<columns>) VALUES ($1, …), …` for `rows` rows, with `$n`
    /// parameters: run it through [`Db::dialect_sql`](schemas::db::Db::dialect_sql).
    pub fn insert_sql(self, rows: usize) -> String {
        let columns = self.columns();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ",
            self.name(),
            columns.join(", ")
        );
        let mut n = 0;
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..columns.len() {
                if column > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                let _ = write!(sql, "${n}");
            }
            sql.push(')');
        }
        sql
    }

    /// [`Table::insert_sql`] in SQLite's dialect: the seed loader's multi-row inserts
    /// (PostgreSQL is loaded by `COPY`).
    pub fn insert_statement(self, rows: usize) -> String {
        Dialect::Sqlite.sql(&self.insert_sql(rows)).into_owned()
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One column value. Times are whole microseconds since the epoch, so both dialects store
/// exactly the same instant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Int(i64),
    Text(String),
    Str(&'static str),
    Time(i64),
    Null,
    Bool(bool),
}

impl Value {
    /// A time value, truncated to whole microseconds.
    pub fn time(at: DateTime<Utc>) -> Value {
        Value::Time(at.timestamp_micros())
    }
}

/// A chunk of rows for one table, stored flat: `values.len() == rows * columns`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub table: Table,
    values: Vec<Value>,
}

impl Rows {
    pub fn new(table: Table) -> Rows {
        Rows {
            table,
            values: Vec::new(),
        }
    }

    pub fn with_capacity(table: Table, rows: usize) -> Rows {
        Rows {
            table,
            values: Vec::with_capacity(rows * table.columns().len()),
        }
    }

    /// Appends one row; `row` must hold one value per column.
    pub fn push<const N: usize>(&mut self, row: [Value; N]) {
        debug_assert_eq!(
            N,
            self.table.columns().len(),
            "row width for {}",
            self.table
        );
        self.values.extend(row);
    }

    /// Appends one row from an iterator of exactly one value per column.
    pub fn push_row(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        debug_assert_eq!(
            self.values.len() - before,
            self.table.columns().len(),
            "row width for {}",
            self.table
        );
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.table.columns().len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The rows, one slice of values each.
    pub fn iter(&self) -> impl Iterator<Item = &[Value]> {
        self.values.chunks(self.table.columns().len())
    }

    /// Splits into chunks of at most `rows` rows.
    pub fn split(self, rows: usize) -> Vec<Rows> {
        let width = self.table.columns().len();
        let table = self.table;
        let mut out = Vec::new();
        let mut values = self.values.into_iter().peekable();
        while values.peek().is_some() {
            let chunk: Vec<Value> = values.by_ref().take(rows * width).collect();
            out.push(Rows {
                table,
                values: chunk,
            });
        }
        out
    }

    /// The rows in PostgreSQL's `COPY … FROM STDIN` text format.
    pub fn to_copy_text(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.values.len() * 12);
        for row in self.iter() {
            for (i, value) in row.iter().enumerate() {
                if i > 0 {
                    out.push(b'\t');
                }
                match value {
                    Value::Int(n) => write_int(&mut out, *n),
                    Value::Text(s) => escape_copy(&mut out, s),
                    Value::Str(s) => escape_copy(&mut out, s),
                    Value::Time(micros) => write_pg_time(&mut out, *micros),
                    Value::Null => out.extend_from_slice(b"\\N"),
                    Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
                }
            }
            out.push(b'\n');
        }
        out
    }
}

/// Decimal digits of `n`, without allocating (tens of millions of ids per load).
fn write_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Escapes the characters COPY's text format gives meaning to.
fn escape_copy(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS.ffffff+00`, written without going through `format!` (millions of rows).
fn write_pg_time(out: &mut Vec<u8>, micros: i64) {
    let at = DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let parts = [
        (at.year().clamp(0, 9999) as u32, 4, b'-'),
        (at.month(), 2, b'-'),
        (at.day(), 2, b' '),
        (at.hour(), 2, b':'),
        (at.minute(), 2, b':'),
        (at.second(), 2, b'.'),
        (at.timestamp_subsec_micros(), 6, b'+'),
    ];
    for (n, width, sep) in parts {
        let mut buf = [b'0'; 6];
        let mut n = n;
        for slot in buf[..width].iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.extend_from_slice(&buf[..width]);
        out.push(sep);
    }
    out.extend_from_slice(b"00");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_and_formats_times() {
        let mut rows = Rows::new(Table::Comments);
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.000007Z")
            .unwrap()
            .to_utc();
        rows.push([
            Value::Int(1),
            Value::Int(2),
            Value::Int(3),
            Value::Text("a\tb\\c\nd".to_string()),
            Value::time(at),
        ]);
        rows.push([
            Value::Int(-4),
            Value::Null,
            Value::Bool(true),
            Value::Str("x"),
            Value::Time(0),
        ]);
        let text = String::from_utf8(rows.to_copy_text()).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(r"1	2	3	a\tb\\c\nd	2026-01-02 03:04:05.000007+00")
        );
        assert_eq!(
            lines.next(),
            Some(r"-4	\N	t	x	1970-01-01 00:00:00.000000+00")
        );
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn statements_list_every_column() {
        assert_eq!(
            Table::Plays.copy_statement(),
            "COPY plays (user_id, track_id, count, last_played_at) FROM STDIN"
        );
        assert_eq!(
            Table::Follows.insert_sql(2),
            "INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(
            Table::Follows.insert_statement(2),
            "INSERT INTO follows (follower_id, followee_id, created_at) VALUES (?1, ?2, ?3), (?4, ?5, ?6)"
        );
    }

    #[test]
    fn split_keeps_every_row() {
        let mut rows = Rows::new(Table::PlaylistTracks);
        for i in 0..10 {
            rows.push([Value::Int(1), Value::Int(i), Value::Int(i)]);
        }
        let parts = rows.clone().split(4);
        assert_eq!(
            parts.iter().map(Rows::len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
    }
}
