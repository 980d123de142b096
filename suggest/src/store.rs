//! Builds on disk: `<dir>/build-<unix ms>/{keys.fst, entities.bin}` and `<dir>/CURRENT`
//! naming the one in use, replaced by rename so a reader never sees half a build.
//!
//! `keys.fst` is a plain `fst::Map` (key → rank); `entities.bin` holds the entity table and
//! the lanes' postings, little-endian, behind a magic and a format number. Segment trees are
//! rebuilt on open (linear time).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use schemas::EntityKind;

use crate::SuggestError;
use crate::index::{Entities, SuggestIndex, lane_of};
use crate::topk::Lane;

const MAGIC: &[u8; 8] = b"DISCOSUG";
const FORMAT: u32 = 1;
const CURRENT: &str = "CURRENT";
const KEYS: &str = "keys.fst";
const ENTITIES: &str = "entities.bin";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SuggestError + '_ {
    move |source| SuggestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `index` as a new build under `dir`, makes it current, and removes builds older than
/// the previous one. Returns the build's directory.
pub fn save(dir: &Path, index: &SuggestIndex) -> Result<PathBuf, SuggestError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut name = format!("build-{millis}");
    while dir.join(&name).exists() {
        name.push('x'); // two builds in one millisecond (tests)
    }
    let build = dir.join(&name);
    fs::create_dir(&build).map_err(io(&build))?;
    let keys = build.join(KEYS);
    fs::write(&keys, index.keys.as_fst().as_bytes()).map_err(io(&keys))?;
    let entities = build.join(ENTITIES);
    fs::write(&entities, encode(index)).map_err(io(&entities))?;

    let previous = current_name(dir)?;
    let tmp = dir.join(format!("{CURRENT}.tmp"));
    fs::write(&tmp, format!("{name}\n")).map_err(io(&tmp))?;
    fs::rename(&tmp, dir.join(CURRENT)).map_err(io(dir))?;

    // Keep the new build and the one before it (a reader may still be opening it).
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with("build-") && file != name && Some(&file) != previous.as_ref() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(build)
}

/// Opens the current build under `dir`, or `None` when none was saved yet.
pub fn open(dir: &Path) -> Result<Option<SuggestIndex>, SuggestError> {
    let Some(name) = current_name(dir)? else {
        return Ok(None);
    };
    let build = dir.join(name);
    let keys_path = build.join(KEYS);
    let bytes = fs::read(&keys_path).map_err(io(&keys_path))?;
    let keys = fst::Map::new(bytes).map_err(|e| SuggestError::Corrupt {
        path: keys_path.clone(),
        reason: e.to_string(),
    })?;
    let entities_path = build.join(ENTITIES);
    let bytes = fs::read(&entities_path).map_err(io(&entities_path))?;
    let corrupt = |reason: &str| SuggestError::Corrupt {
        path: entities_path.clone(),
        reason: reason.into(),
    };
    let (entities, lanes) = decode(&bytes).map_err(corrupt)?;
    if lanes
        .iter()
        .any(|l| l.key_rank.last().is_some_and(|&r| r as usize >= keys.len()))
    {
        return Err(corrupt("postings name keys the FST does not have"));
    }
    Ok(Some(SuggestIndex {
        keys,
        entities,
        lanes,
    }))
}

fn current_name(dir: &Path) -> Result<Option<String>, SuggestError> {
    let path = dir.join(CURRENT);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

fn encode(index: &SuggestIndex) -> Vec<u8> {
    let e = &index.entities;
    let mut out = Vec::with_capacity(64 + e.len() * 17 + e.text.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&(e.len() as u64).to_le_bytes());
    out.extend(e.kind.iter().map(|&k| lane_of(k) as u8));
    e.id.iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    e.weight
        .iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    e.text_end
        .iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    out.extend_from_slice(&(e.text.len() as u64).to_le_bytes());
    out.extend_from_slice(e.text.as_bytes());
    for lane in &index.lanes {
        out.extend_from_slice(&(lane.len() as u64).to_le_bytes());
        lane.key_rank
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        lane.entity
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    out
}

/// A cursor over the bytes of `entities.bin`.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.bytes.len() < n {
            return Err("file ends early");
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        Ok(self.take(N)?.try_into().unwrap_or([0; N]))
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn len(&mut self) -> Result<usize, &'static str> {
        let n = self.u64()? as usize;
        if n > self.bytes.len() {
            return Err("a length runs past the end of the file");
        }
        Ok(n)
    }

    fn many<T, const N: usize>(
        &mut self,
        n: usize,
        f: fn([u8; N]) -> T,
    ) -> Result<Vec<T>, &'static str> {
        let bytes = self.take(n.checked_mul(N).ok_or("length overflows")?)?;
        Ok(bytes
            .chunks_exact(N)
            .map(|c| f(c.try_into().unwrap_or([0; N])))
            .collect())
    }
}

fn decode(bytes: &[u8]) -> Result<(Entities, [Lane; 4]), &'static str> {
    let mut r = Reader { bytes };
    if r.take(8)? != MAGIC {
        return Err("no DISCOSUG magic");
    }
    if u32::from_le_bytes(r.array()?) != FORMAT {
        return Err("unknown format number");
    }
    let n = r.len()?;
    let kind = r
        .take(n)?
        .iter()
        .map(|&k| {
            EntityKind::ALL
                .get(k as usize)
                .copied()
                .ok_or("unknown kind")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let id = r.many(n, i64::from_le_bytes)?;
    let weight = r.many(n, f32::from_le_bytes)?;
    let text_end = r.many(n, u32::from_le_bytes)?;
    let text_len = r.len()?;
    let text = std::str::from_utf8(r.take(text_len)?)
        .map_err(|_| "names are not UTF-8")?
        .to_string();
    if text_end.windows(2).any(|w| w[0] > w[1])
        || text_end.last().is_some_and(|&e| e as usize != text.len())
        || text_end.iter().any(|&e| !text.is_char_boundary(e as usize))
    {
        return Err("name offsets do not fit the names");
    }
    let entities = Entities {
        kind,
        id,
        weight,
        text_end,
        text,
    };
    let mut lanes: [Lane; 4] = Default::default();
    for (i, lane) in lanes.iter_mut().enumerate() {
        let m = r.len()?;
        let key_rank = r.many(m, u32::from_le_bytes)?;
        let entity = r.many(m, u32::from_le_bytes)?;
        if key_rank.windows(2).any(|w| w[0] > w[1]) {
            return Err("postings out of key order");
        }
        let mut weights = Vec::with_capacity(m);
        for &o in &entity {
            let o = o as usize;
            if o >= n || lane_of(entities.kind[o]) != i {
                return Err("a posting names an entity of another kind or none");
            }
            weights.push(entities.weight[o]);
        }
        *lane = Lane::new(key_rank, entity, weights);
    }
    if !r.bytes.is_empty() {
        return Err("trailing bytes");
    }
    Ok((entities, lanes))
}
