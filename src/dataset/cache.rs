//! Loaded cases kept in memory across the runs of a study, so each volume is read (or
//! generated) once per study instead of once per run. Bounded by bytes; a case that does not
//! fit is loaded each time, as without a cache.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::LoadedCase;

/// A shared, bounded cache of loaded cases (disabled by default).
#[derive(Clone, Default)]
pub struct CaseCache {
    inner: Option<Arc<Mutex<Cached>>>,
}

#[derive(Default)]
struct Cached {
    cases: HashMap<usize, LoadedCase>,
    bytes: usize,
    max_bytes: usize,
    hits: usize,
    misses: usize,
}

/// Bytes a loaded case holds in memory.
fn case_bytes(case: &LoadedCase) -> usize {
    case.image.data.byte_len() + case.labels.as_ref().map_or(0, |l| l.data.byte_len())
}

impl CaseCache {
    /// A cache keeping up to `max_bytes` of voxel data.
    pub fn with_capacity(max_bytes: usize) -> Self {
        CaseCache {
            inner: Some(Arc::new(Mutex::new(Cached {
                max_bytes,
                ..Cached::default()
            }))),
        }
    }

    /// True when it keeps cases.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// A copy of case `index` if kept.
    pub fn get(&self, index: usize) -> Option<LoadedCase> {
        let mut c = self.inner.as_ref()?.lock().ok()?;
        match c.cases.get(&index).cloned() {
            Some(case) => {
                c.hits += 1;
                Some(case)
            }
            None => {
                c.misses += 1;
                None
            }
        }
    }

    /// Keeps a copy of `case` as case `index` when it fits.
    pub fn put(&self, index: usize, case: &LoadedCase) {
        let Some(inner) = &self.inner else { return };
        let Ok(mut c) = inner.lock() else { return };
        let bytes = case_bytes(case);
        if c.cases.contains_key(&index) || c.bytes + bytes > c.max_bytes {
            return;
        }
        c.bytes += bytes;
        c.cases.insert(index, case.clone());
    }

    /// (hits, misses) so far.
    pub fn counts(&self) -> (usize, usize) {
        self.inner
            .as_ref()
            .and_then(|i| i.lock().ok().map(|c| (c.hits, c.misses)))
            .unwrap_or((0, 0))
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
