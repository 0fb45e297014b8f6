//! What identifies a run, and its stable key: the same inputs give the same key on every
//! machine and build of the same sliceplan version, so a stored run is never run again.

use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, TargetLabels};
use crate::error::Result;
use crate::interp::Method;
use crate::plan::PlanRequest;
use crate::train::TrainConfig;

/// Everything that decides a run's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// `dataset_fingerprint` of the dataset it ran on.
    pub dataset: String,
    /// `request.target` (set by [`RunSpec::new`]).
    pub target: TargetLabels,
    /// Budget, allocation (volumes or density), strategies, seed, hold-out, plane, body rule.
    pub request: PlanRequest,
    /// Train on masks interpolated between the annotated slices (`train.interpolation`; set by
    /// [`RunSpec::new`]).
    pub interpolation: Option<Method>,
    /// That interpolation's revision (`Method::revision`; absent where there is none, so the
    /// keys of runs without one are those of earlier builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interp_revision: Option<u32>,
    /// Model and training settings (the preset, resolved), seed included.
    pub train: TrainConfig,
    /// The preset's name ("quick", "full", …) the settings came from.
    pub preset: String,
    /// The training revision it ran under (`train::TRAINING_REVISION`): it changes only when
    /// what training or its evaluation computes changes, so an upgrade of sliceplan reuses the
    /// runs of its predecessor. Named `version` since stores written by sliceplan 0.5, where it
    /// held the package version ("0.5.0", the first revision), so their runs keep their keys.
    pub version: String,
}

/// FNV-1a over `bytes` from `offset` (64 bits).
fn fnv1a(bytes: &[u8], offset: u64) -> u64 {
    bytes.iter().fold(offset, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// A 128-bit hex digest of `text` (two FNV-1a passes with different offsets): stable across
/// platforms and builds, enough to tell runs apart (not a cryptographic hash).
pub fn digest(text: &str) -> String {
    let mut d = Digester::default();
    d.update(text.as_bytes());
    d.finish()
}

/// `digest` over bytes fed in pieces.
pub struct Digester {
    a: u64,
    b: u64,
}

impl Default for Digester {
    fn default() -> Self {
        Digester {
            a: 0xCBF2_9CE4_8422_2325,
            b: 0x6C62_272E_07BB_0142,
        }
    }
}

impl Digester {
    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.a = fnv1a(bytes, self.a);
        self.b = fnv1a(bytes, self.b);
    }

    /// The digest of everything fed.
    pub fn finish(&self) -> String {
        format!("{:016x}{:016x}", self.a, self.b)
    }
}

impl RunSpec {
    /// The one way to make a run: `train` on the plan `request` asks for, on the dataset with
    /// `fingerprint`, under this build's training revision. The target is the request's and the
    /// interpolation the training's (with its revision): the two stored copies of each, kept so
    /// that stored runs keep their keys, cannot disagree.
    pub fn new(fingerprint: &str, request: PlanRequest, train: TrainConfig, preset: &str) -> Self {
        RunSpec {
            dataset: fingerprint.to_string(),
            target: request.target.clone(),
            request,
            interpolation: train.interpolation,
            interp_revision: train.interpolation.and_then(Method::revision),
            train,
            preset: preset.to_string(),
            version: crate::train::TRAINING_REVISION.to_string(),
        }
    }

    /// The run's key: a digest of its canonical JSON (fields in declaration order, maps sorted).
    /// A held-out seed equal to the plan's seed is the default draw and is left out, so a fixed
    /// test set drawn with seed 0 reuses the seed-0 runs stored without one.
    pub fn key(&self) -> String {
        if self.request.holdout_seed == Some(self.request.seed) {
            let mut canonical = self.clone();
            canonical.request.holdout_seed = None;
            return canonical.key();
        }
        match serde_json::to_string(self) {
            Ok(json) => digest(&json),
            // Not seen (every field serialises); the run's full description keeps it apart.
            Err(_) => digest(&format!("{self:?}")),
        }
    }

    /// A short label such as "60 slices, s=12, fixed, 2d+sdf, seed 1".
    pub fn label(&self) -> String {
        let budget = match self.request.budget {
            Some(crate::plan::Budget::Slices(b)) => format!("{b} slices"),
            Some(crate::plan::Budget::Seconds(t)) => format!("{:.1} h", t / 3600.0),
            None => "no budget".into(),
        };
        let allocation = match (self.request.volumes, self.request.density) {
            (Some(s), _) => format!("s={s}"),
            (None, Some(rho)) => format!("ρ={rho}"),
            (None, None) => "spread".into(),
        };
        let interp = self
            .interpolation
            .map(|m| format!("+{}", m.name()))
            .unwrap_or_default();
        format!(
            "{budget}, {allocation}, {}, {}{interp}, seed {}",
            self.request.slice_strategy.name(),
            self.train.model.name(),
            self.request.seed
        )
    }
}

/// A digest of the dataset's cases: ids, grids and label presence (headers only). A store or
/// run from another dataset has another fingerprint.
pub fn dataset_fingerprint(dataset: &Dataset) -> Result<String> {
    let mut text = String::new();
    for (i, case) in dataset.cases.iter().enumerate() {
        let g = dataset.geometry(i)?;
        text.push_str(&format!(
            "{}|{:?}|{:?}|{:?}|{}\n",
            case.id,
            g.shape,
            g.spacing_mm,
            g.world_from_voxel,
            case.labels.is_some()
        ));
    }
    Ok(digest(&text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::demo;
    use crate::plan::Budget;

    fn spec() -> RunSpec {
        RunSpec {
            dataset: "d".into(),
            target: TargetLabels::all_foreground(),
            request: PlanRequest {
                budget: Some(Budget::Slices(60)),
                volumes: Some(12),
                ..PlanRequest::default()
            },
            interpolation: None,
            interp_revision: None,
            train: TrainConfig::default(),
            preset: "quick".into(),
            version: "0.1.0".into(),
        }
    }

    #[test]
    fn keys_are_stable_and_tell_runs_apart() {
        // FNV-1a reference values (64-bit offset basis): "" → the basis, "a" → af63dc4c8601ec8c.
        assert_eq!(fnv1a(b"", 0xCBF2_9CE4_8422_2325), 0xCBF2_9CE4_8422_2325);
        assert_eq!(fnv1a(b"a", 0xCBF2_9CE4_8422_2325), 0xAF63_DC4C_8601_EC8C);
        let a = spec();
        assert_eq!(a.key(), spec().key());
        assert_eq!(a.key().len(), 32);
        let mut b = spec();
        b.request.seed = 1;
        assert_ne!(a.key(), b.key());
        let mut c = spec();
        c.interpolation = Some(Method::Sdf);
        assert_ne!(a.key(), c.key());
        // A run on masks of another revision of the interpolation is another run; a run
        // without one keeps the key it had before revisions were recorded.
        let mut c2 = c.clone();
        c2.interp_revision = Method::Sdf.revision();
        assert_ne!(c.key(), c2.key());
        // Masks from the labels alone are other masks (stored as "sdf-labels").
        let mut c3 = c.clone();
        c3.interpolation = Some(Method::SdfLabels);
        assert_ne!(c.key(), c3.key());
        assert!(
            serde_json::to_string(&c3)
                .unwrap()
                .contains("\"sdf-labels\"")
        );
        assert_eq!(Method::parse("sdf-labels").unwrap(), Method::SdfLabels);
        assert!(
            !serde_json::to_string(&a)
                .unwrap()
                .contains("interp_revision")
        );
        // A held-out seed is part of the key, except the plan's own seed (the default draw).
        let mut d = spec();
        d.request.holdout_seed = Some(0);
        assert_eq!(a.key(), d.key());
        assert_eq!(b.key(), {
            let mut e = b.clone();
            e.request.holdout_seed = Some(1);
            e.key()
        });
        d.request.holdout_seed = Some(1);
        assert_ne!(a.key(), d.key());
        b.request.holdout_seed = Some(0);
        assert_ne!(a.key(), b.key());
        assert!(!serde_json::to_string(&a).unwrap().contains("holdout_seed"));
        assert_eq!(a.label(), "60 slices, s=12, fixed, 2d, seed 0");
    }

    #[test]
    fn the_fingerprint_follows_the_cases() {
        let ds = demo::dataset();
        let f = dataset_fingerprint(&ds).unwrap();
        assert_eq!(f, dataset_fingerprint(&demo::dataset()).unwrap());
        let mut fewer = ds.clone();
        fewer.cases.pop();
        assert_ne!(f, dataset_fingerprint(&fewer).unwrap());
    }
}
