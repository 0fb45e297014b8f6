//! Loaded cases kept in memory across the runs of a study, so each volume is read (or
//! generated) once instead of once per run. Bounded by bytes; a case that does not fit is
//! loaded each time, as without a cache. One cache serves the whole process
//! (`CaseCache::shared`): the GUI's estimates and simulations, running at once, share its bound
//! instead of holding one each. Entries are keyed by the dataset's scope (where it was opened)
//! and case, and remember their files' size and modification time: a file changed since is
//! read again.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use super::LoadedCase;

/// A file's size and modification time: while both stay the same, so does what was read.
pub type FileStamp = (u64, Option<SystemTime>);

/// What a cached case was read from: each file with its stamp.
pub type FileStamps = Vec<(PathBuf, FileStamp)>;

/// The stamp of the file at `path` now (0 and none where it cannot be read).
pub fn file_stamp(path: &Path) -> FileStamp {
    let meta = std::fs::metadata(path).ok();
    (
        meta.as_ref().map_or(0, |m| m.len()),
        meta.and_then(|m| m.modified().ok()),
    )
}

/// The stamps of `files` as they are now.
pub fn stamps_of<'a>(files: impl IntoIterator<Item = &'a PathBuf>) -> FileStamps {
    files
        .into_iter()
        .map(|p| (p.clone(), file_stamp(p)))
        .collect()
}

/// A shared, bounded cache of loaded cases (disabled by default).
#[derive(Clone, Default)]
pub struct CaseCache {
    inner: Option<Arc<Mutex<Cached>>>,
    /// Which dataset's cases this handle reads and writes.
    scope: Arc<str>,
}

struct Entry {
    case: LoadedCase,
    stamps: FileStamps,
    bytes: usize,
}

#[derive(Default)]
struct Cached {
    cases: HashMap<(Arc<str>, usize), Entry>,
    bytes: usize,
    max_bytes: usize,
    hits: usize,
    misses: usize,
}

/// Bytes a loaded case holds in memory.
fn case_bytes(case: &LoadedCase) -> usize {
    case.image.data.byte_len() + case.labels.as_ref().map_or(0, |l| l.data.byte_len())
}

/// Bytes of voxel data the process-wide cache keeps.
pub const SHARED_CACHE_BYTES: usize = 2 << 30;

impl CaseCache {
    /// A cache of its own keeping up to `max_bytes` of voxel data.
    pub fn with_capacity(max_bytes: usize) -> Self {
        CaseCache {
            inner: Some(Arc::new(Mutex::new(Cached {
                max_bytes,
                ..Cached::default()
            }))),
            scope: Arc::from(""),
        }
    }

    /// The process's one cache (`SHARED_CACHE_BYTES`), for the dataset known by `scope`.
    pub fn shared(scope: &str) -> Self {
        static SHARED: OnceLock<CaseCache> = OnceLock::new();
        let cache = SHARED.get_or_init(|| CaseCache::with_capacity(SHARED_CACHE_BYTES));
        CaseCache {
            inner: cache.inner.clone(),
            scope: Arc::from(scope),
        }
    }

    /// True when it keeps cases.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// A copy of case `index` if kept and its files are still `stamps`.
    pub fn get(&self, index: usize, stamps: &FileStamps) -> Option<LoadedCase> {
        let mut c = self.inner.as_ref()?.lock().ok()?;
        let key = (Arc::clone(&self.scope), index);
        let fresh = c.cases.get(&key).map(|e| &e.stamps == stamps);
        match fresh {
            Some(true) => {
                c.hits += 1;
                c.cases.get(&key).map(|e| e.case.clone())
            }
            stale => {
                if stale == Some(false)
                    && let Some(old) = c.cases.remove(&key)
                {
                    c.bytes -= old.bytes;
                }
                c.misses += 1;
                None
            }
        }
    }

    /// Keeps a copy of `case` as case `index`, read from files `stamps`, when it fits (making
    /// room by dropping other datasets' cases first).
    pub fn put(&self, index: usize, case: &LoadedCase, stamps: FileStamps) {
        let Some(inner) = &self.inner else { return };
        let Ok(mut c) = inner.lock() else { return };
        let bytes = case_bytes(case);
        let key = (Arc::clone(&self.scope), index);
        if c.cases.contains_key(&key) || bytes > c.max_bytes {
            return;
        }
        if c.bytes + bytes > c.max_bytes {
            let others: Vec<(Arc<str>, usize)> = c
                .cases
                .keys()
                .filter(|(scope, _)| *scope != self.scope)
                .cloned()
                .collect();
            for other in others {
                if c.bytes + bytes <= c.max_bytes {
                    break;
                }
                if let Some(old) = c.cases.remove(&other) {
                    c.bytes -= old.bytes;
                }
            }
        }
        if c.bytes + bytes > c.max_bytes {
            return;
        }
        c.bytes += bytes;
        c.cases.insert(
            key,
            Entry {
                case: case.clone(),
                stamps,
                bytes,
            },
        );
    }

    /// (hits, misses) so far (of every scope of this cache).
    pub fn counts(&self) -> (usize, usize) {
        self.inner
            .as_ref()
            .and_then(|i| i.lock().ok().map(|c| (c.hits, c.misses)))
            .unwrap_or((0, 0))
    }

    /// True when `other` is a handle on the same cache (whatever its scope).
    pub fn same_cache(&self, other: &CaseCache) -> bool {
        match (&self.inner, &other.inner) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl fmt::Debug for CaseCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (hits, misses) = self.counts();
        f.debug_struct("CaseCache")
            .field("enabled", &self.is_enabled())
            .field("hits", &hits)
            .field("misses", &misses)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::dataset::demo;

    #[test]
    fn one_cache_serves_the_process_and_keeps_datasets_and_edits_apart() {
        use super::{CaseCache, stamps_of};
        let a = demo::dataset().with_shared_case_cache();
        let b = demo::dataset().with_shared_case_cache();
        assert!(a.cache.same_cache(&b.cache), "two jobs, one cache");
        assert!(a.cache.same_cache(&CaseCache::shared("another dataset")));
        let case = a.load(5).unwrap();
        // Another dataset's case 5 is not this one.
        let other = CaseCache::shared("another dataset");
        assert!(other.get(5, &Vec::new()).is_none());
        // A file that changed since the case was kept is read again.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("labels.nii");
        std::fs::write(&file, b"before").unwrap();
        let edited = CaseCache::shared("edited dataset");
        edited.put(0, &case, stamps_of([&file]));
        assert!(edited.get(0, &stamps_of([&file])).is_some());
        std::fs::write(&file, b"after, longer").unwrap();
        assert!(edited.get(0, &stamps_of([&file])).is_none());
    }

    #[test]
    fn a_cached_case_is_loaded_once_and_equals_a_fresh_load() {
        let ds = demo::dataset().with_case_cache(1 << 30);
        let shared = ds.clone();
        let first = ds.load(3).unwrap();
        let again = shared.load(3).unwrap();
        assert_eq!(ds.cache.counts(), (1, 1), "the clone shares the cache");
        assert_eq!(first.image.data, again.image.data);
        assert_eq!(
            first.labels.as_ref().map(|l| &l.data),
            again.labels.as_ref().map(|l| &l.data)
        );
        // Over the bound nothing is kept, and loads still work.
        let small = demo::dataset().with_case_cache(1000);
        small.load(3).unwrap();
        small.load(3).unwrap();
        assert_eq!(small.cache.counts(), (0, 2));
        // Without a cache: nothing counted.
        let plain = demo::dataset();
        plain.load(3).unwrap();
        assert_eq!(plain.cache.counts(), (0, 0));
    }
}
