//! Slice features kept per dataset across plans: the first plan reads (or generates) each
//! planned volume for its body fractions and embeddings; replanning with another budget,
//! allocation or seed reuses them, so the GUI can replan live as the budget changes.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::slice_features::{BodyRule, SliceFeatures};

/// (case index, voxel axis, body threshold bits or u64::MAX for the default).
type Key = (usize, usize, u64);

/// Shared by a dataset's clones; a few kilobytes per case.
#[derive(Clone, Default)]
pub struct FeatureCache {
    inner: Arc<Mutex<HashMap<Key, Arc<SliceFeatures>>>>,
}

fn key(case: usize, axis: usize, rule: &BodyRule) -> Key {
    (case, axis, rule.threshold.map_or(u64::MAX, f64::to_bits))
}

impl FeatureCache {
    /// The features of `case` along `axis` under `rule`'s threshold, if computed before.
    pub fn get(&self, case: usize, axis: usize, rule: &BodyRule) -> Option<Arc<SliceFeatures>> {
        self.inner.lock().ok()?.get(&key(case, axis, rule)).cloned()
    }

    /// Keeps `features` for later plans.
    pub fn insert(&self, case: usize, axis: usize, rule: &BodyRule, features: Arc<SliceFeatures>) {
        if let Ok(mut m) = self.inner.lock() {
            m.insert(key(case, axis, rule), features);
        }
    }

    /// Cases × axes kept.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |m| m.len())
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for FeatureCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeatureCache")
            .field("kept", &self.len())
            .finish()
    }
}
