//! The annotation plan: which volumes, which slices, with its budget accounting and rationale.
//! A plan is a serde struct saved as JSON; the same inputs and seed give the same plan.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::allocation::{self, Budget, CostModel, Rounding, TradeOff};
use super::case_features::{case_features, keep_features, prefetch_features};
use super::cluster;
use super::select::{SliceStrategy, select_slices};
use crate::dataset::slice_features::BodyRule;
use crate::dataset::{CaseGeometry, Dataset, TargetLabels};
use crate::error::{Error, Result};
use crate::io::{Plane, write_bytes_atomic};
use crate::jobs::Progress;
use crate::rng::Rng;

/// Format tag written into every plan file.
pub const PLAN_FORMAT: &str = "sliceplan-plan/1";
/// Density used when only a volume count is given.
pub const DEFAULT_DENSITY: f64 = 0.1;

/// How volumes are chosen when the budget does not cover all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeStrategy {
    /// A seeded random subset.
    #[default]
    Random,
    /// Representative volumes: greedy k-center on volume-level features (mean slice embedding
    /// over the body, and the volume's length).
    #[value(alias = "kcenter")]
    Representative,
}

impl VolumeStrategy {
    /// Parses `random` or `representative`.
    pub fn parse(s: &str) -> Result<Self> {
        <Self as clap::ValueEnum>::from_str(s, false).map_err(|_| {
            Error::invalid(format!(
                "unknown volume strategy '{s}' (choose random or representative)"
            ))
        })
    }
}

/// What the user asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    pub budget: Option<Budget>,
    pub volumes: Option<usize>,
    pub density: Option<f64>,
    pub rounding: Rounding,
    pub min_slices_per_volume: usize,
    pub slice_strategy: SliceStrategy,
    pub volume_strategy: VolumeStrategy,
    pub seed: u64,
    pub plane: Plane,
    pub body_rule: BodyRule,
    pub cost_model: CostModel,
    /// Target labels (for the simulation-only foreground strategies).
    pub target: TargetLabels,
    /// Volumes kept aside (seeded) as held-out test cases, never planned.
    pub holdout: usize,
    /// Seed of the held-out draw; None: `seed`. Fixed, every seed holds the same volumes out, so
    /// plans and seeds are scored on one test set (left out of the JSON when None, so requests
    /// written before it existed keep their form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_seed: Option<u64>,
}

impl Default for PlanRequest {
    fn default() -> Self {
        PlanRequest {
            budget: None,
            volumes: None,
            density: None,
            rounding: Rounding::FixedK,
            min_slices_per_volume: 1,
            slice_strategy: SliceStrategy::Fixed,
            volume_strategy: VolumeStrategy::Random,
            seed: 0,
            plane: Plane::Axial,
            body_rule: BodyRule::default(),
            cost_model: CostModel::default(),
            target: TargetLabels::default(),
            holdout: 0,
            holdout_seed: None,
        }
    }
}

impl PlanRequest {
    /// The seed the held-out volumes are drawn with.
    pub fn held_out_seed(&self) -> u64 {
        self.holdout_seed.unwrap_or(self.seed)
    }

    /// The held-out draw's indices among `total` volumes (sorted as drawn).
    pub fn held_out(&self, total: usize) -> Vec<usize> {
        Rng::with_stream(self.held_out_seed(), 2).sample_indices(total, self.holdout)
    }
}

/// One volume of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedVolume {
    pub case_id: String,
    pub image_path: String,
    /// The voxel axis slices are taken along (the one for `plan.plane`).
    pub axis: usize,
    /// Slices along that axis.
    pub slice_count: usize,
    /// The chosen slice indices (sorted).
    pub slices: Vec<usize>,
}

/// Budget accounting of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accounting {
    pub requested: Option<Budget>,
    pub planned_slices: usize,
    pub volumes: usize,
    pub available_volumes: usize,
    pub slices_per_volume: f64,
    pub density: f64,
    pub estimated_seconds: f64,
}

/// An annotation plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub dataset_id: String,
    /// Every case id of the dataset the plan was made on.
    pub dataset_cases: Vec<String>,
    pub request: PlanRequest,
    pub accounting: Accounting,
    pub volumes: Vec<PlannedVolume>,
    /// Held-out test cases (never planned), for evaluating models trained on the plan.
    pub test_cases: Vec<String>,
    /// The volumes-vs-density trade-off at this budget (empty without a budget).
    pub alternatives: Vec<TradeOff>,
    /// Why the plan looks as it does.
    pub rationale: Vec<String>,
    /// The file it was loaded from (not saved), named when it does not fit a dataset.
    #[serde(skip)]
    pub source: Option<std::path::PathBuf>,
}

impl Plan {
    /// Total planned slices.
    pub fn total_slices(&self) -> usize {
        self.volumes.iter().map(|v| v.slices.len()).sum()
    }

    /// The planned volume for `case_id`.
    pub fn volume(&self, case_id: &str) -> Option<&PlannedVolume> {
        self.volumes.iter().find(|v| v.case_id == case_id)
    }

    /// Saves as pretty JSON, atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::invalid(format!("cannot encode plan: {e}")))?;
        write_bytes_atomic(path, text.as_bytes())
    }

    /// Loads a plan file.
    pub fn load(path: impl AsRef<Path>) -> Result<Plan> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("cannot read plan", path, e))?;
        let plan: Plan = serde_json::from_str(&text)
            .map_err(|e| Error::file(format!("not a valid sliceplan plan ({e})"), path))?;
        if plan.format != PLAN_FORMAT {
            return Err(Error::file(
                format!(
                    "unsupported plan format '{}' (expected {PLAN_FORMAT})",
                    plan.format
                ),
                path,
            ));
        }
        Ok(Plan {
            source: Some(path.to_path_buf()),
            ..plan
        })
    }

    /// A refusal about this plan: naming its file when it was loaded from one.
    fn refuse(&self, msg: String) -> Error {
        match &self.source {
            Some(path) => Error::file(msg, path),
            None => Error::invalid(msg),
        }
    }

    /// Checks that this plan fits `dataset`: every planned case exists with the same slice
    /// count, and every planned slice lies inside its volume along a valid axis.
    pub fn check_dataset(&self, dataset: &Dataset) -> Result<()> {
        let missing: Vec<&str> = self
            .volumes
            .iter()
            .filter(|v| dataset.case_index(&v.case_id).is_none())
            .map(|v| v.case_id.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(self.refuse(format!(
                "the plan was made for dataset '{}', and {} of its cases are not in dataset '{}' ({}{})",
                self.dataset_id,
                missing.len(),
                dataset.id,
                missing
                    .iter()
                    .take(5)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
                if missing.len() > 5 { ", …" } else { "" }
            )));
        }
        for v in &self.volumes {
            if v.axis > 2 {
                return Err(self.refuse(format!(
                    "case '{}' is planned along axis {}; a volume has axes 0, 1 and 2",
                    v.case_id, v.axis
                )));
            }
            if let Some(&s) = v.slices.iter().find(|&&s| s >= v.slice_count) {
                return Err(self.refuse(format!(
                    "case '{}' plans slice {s}, beyond its {} slices",
                    v.case_id, v.slice_count
                )));
            }
            if v.slices.windows(2).any(|w| w[0] >= w[1]) {
                return Err(self.refuse(format!(
                    "case '{}' lists its planned slices out of order or twice",
                    v.case_id
                )));
            }
            let g = dataset.geometry(dataset.require_case(&v.case_id)?)?;
            if g.shape[v.axis] != v.slice_count {
                return Err(self.refuse(format!(
                    "case '{}' has {} slices along axis {} but the plan (dataset '{}') expects {}: the plan is from another dataset",
                    v.case_id, g.shape[v.axis], v.axis, self.dataset_id, v.slice_count
                )));
            }
        }
        Ok(())
    }
}

/// Slices holding the target along `axis` in a label volume.
pub fn foreground_slices(
    labels: &crate::io::Volume,
    axis: usize,
    target: &TargetLabels,
) -> Vec<usize> {
    labels.slices_where(axis, |v| target.is_foreground(v))
}

fn volume_order(
    dataset: &Dataset,
    eligible: &[usize],
    req: &PlanRequest,
    (axes, depths, geometries): (&[usize], &[usize], &[CaseGeometry]),
    progress: &Progress,
) -> Result<Vec<usize>> {
    let n = eligible.len();
    match req.volume_strategy {
        VolumeStrategy::Random => {
            let mut order: Vec<usize> = eligible.to_vec();
            Rng::with_stream(req.seed, 1).shuffle(&mut order);
            Ok(order)
        }
        VolumeStrategy::Representative => {
            let max_depth = depths.iter().copied().max().unwrap_or(1) as f32;
            let mut points = Vec::new();
            prefetch_features(
                dataset,
                eligible,
                axes,
                geometries,
                &req.body_rule,
                progress,
                (0.0, 0.5),
            )?;
            for &i in eligible {
                let f = case_features(dataset, i, axes[i], &req.body_rule)?;
                let cand = f.candidates(&req.body_rule);
                let mut mean = vec![0f32; f.dims];
                for &c in &cand {
                    for (m, &v) in mean.iter_mut().zip(f.vector(c)) {
                        *m += v / cand.len() as f32;
                    }
                }
                mean.push(4.0 * depths[i] as f32 / max_depth);
                points.extend_from_slice(&mean);
            }
            Ok(cluster::kcenter_order(&points, points.len() / n, n)
                .into_iter()
                .map(|p| eligible[p])
                .collect())
        }
    }
}

/// Makes a plan for `dataset`: the request checked, the volumes ordered, the budget allocated
/// over them, and each volume's slices selected.
pub fn make_plan(dataset: &Dataset, req: &PlanRequest, progress: &Progress) -> Result<Plan> {
    check_request(dataset, req)?;
    let total = dataset.len();
    let held = req.held_out(total);
    let eligible: Vec<usize> = (0..total).filter(|i| !held.contains(i)).collect();
    let geoms = dataset.geometries()?;
    let axes: Vec<usize> = geoms.iter().map(|g| g.axis_for_plane(req.plane)).collect();
    let depths: Vec<usize> = geoms.iter().zip(&axes).map(|(g, &a)| g.shape[a]).collect();
    if let Some(s) = req.volumes
        && (s == 0 || s > eligible.len())
    {
        return Err(Error::infeasible(format!(
            "{s} volumes requested, but dataset '{}' has {} volumes to plan (after {} held out)",
            dataset.id,
            eligible.len(),
            req.holdout
        )));
    }
    let order = volume_order(dataset, &eligible, req, (&axes, &depths, &geoms), progress)?;
    let ordered_depths: Vec<usize> = order.iter().map(|&i| depths[i]).collect();
    let mut allocated = match req.budget {
        Some(budget) => allocate_budget(budget, &ordered_depths, req)?,
        None => allocate_density(&ordered_depths, req)?,
    };
    allocated
        .rationale
        .extend(strategy_note(req.slice_strategy));
    let chosen = &order[..allocated.volumes];
    let selection = Selection {
        dataset,
        req,
        axes: &axes,
        depths: &depths,
    };
    let volumes = selection.select(chosen, &allocated.counts, &geoms, progress)?;
    progress.set(1.0, "plan ready");
    Ok(assemble(
        dataset,
        req,
        &held,
        eligible.len(),
        volumes,
        allocated,
    ))
}

/// Refuses a request the dataset cannot plan: no volume, every volume held out, a label-reading
/// strategy without labels, a density outside (0, 1].
fn check_request(dataset: &Dataset, req: &PlanRequest) -> Result<()> {
    let total = dataset.len();
    if total == 0 {
        return Err(Error::invalid("the dataset is empty: no volume to plan"));
    }
    if req.holdout >= total {
        return Err(Error::infeasible(format!(
            "cannot hold out {} of {total} volumes: at least one must remain to plan",
            req.holdout
        )));
    }
    if req.slice_strategy.needs_labels() && !dataset.cases.iter().any(|c| c.labels.is_some()) {
        return Err(Error::invalid(format!(
            "strategy '{}' samples within the labels (simulation only), but dataset '{}' has no labels",
            req.slice_strategy.name(),
            dataset.id
        )));
    }
    if let Some(rho) = req.density
        && !(rho > 0.0 && rho <= 1.0)
    {
        return Err(Error::invalid(format!("density {rho} must be in (0, 1]")));
    }
    Ok(())
}

/// How many volumes get slices, how many each, the budget's trade-offs and why.
struct Allocated {
    volumes: usize,
    counts: Vec<usize>,
    alternatives: Vec<TradeOff>,
    rationale: Vec<String>,
}

/// Slices for a volume of `depth` at density `rho`: round(ρ·D), at least `min_k`, at most D.
fn density_count(rho: f64, depth: usize, min_k: usize) -> usize {
    ((rho * depth as f64).round() as usize).clamp(min_k.min(depth), depth)
}

/// The budget over the first volumes of `ordered_depths`: as many volumes as asked, or as the
/// density allows, or (recommended) as the budget covers at the minimum slices per volume.
fn allocate_budget(
    budget: Budget,
    ordered_depths: &[usize],
    req: &PlanRequest,
) -> Result<Allocated> {
    let n = ordered_depths.len();
    let min_k = req.min_slices_per_volume.max(1);
    let floor = |d: usize| min_k.min(d);
    let b_of = |s: usize| allocation::slices_for_budget(budget, s, &req.cost_model);
    let s = if let Some(s) = req.volumes {
        s
    } else if let Some(rho) = req.density {
        (1..=n)
            .filter(|&cand| {
                let need: usize = ordered_depths[..cand]
                    .iter()
                    .map(|&d| density_count(rho, d, min_k))
                    .sum();
                need <= b_of(cand)
            })
            .max()
            .unwrap_or(0)
    } else {
        (1..=n)
            .filter(|&c| ordered_depths[..c].iter().map(|&d| floor(d)).sum::<usize>() <= b_of(c))
            .max()
            .unwrap_or(0)
    };
    let all_slices: usize = ordered_depths.iter().sum();
    let (lo, hi) = if let Some(s) = req.volumes {
        let mut sorted = ordered_depths.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        (
            ordered_depths[..s].iter().map(|&d| floor(d)).sum::<usize>(),
            sorted[..s].iter().sum::<usize>(),
        )
    } else {
        (floor(ordered_depths[0]), all_slices)
    };
    let b = b_of(s.max(1));
    if s == 0 || b < lo || b > hi || (s == n && b > all_slices) {
        let what = match budget {
            Budget::Slices(b) => format!("a budget of {b} slices"),
            Budget::Seconds(t) => format!("a budget of {:.1} h (≈ {b} slices)", t / 3600.0),
        };
        return Err(Error::infeasible(format!(
            "{what} cannot be met{}: the feasible range is {lo}–{hi} slices (at least {min_k} per volume, at most every slice)",
            req.volumes
                .map(|s| format!(" with {s} volumes"))
                .unwrap_or_default()
        )));
    }
    let rounding = if req.density.is_some() {
        Rounding::Density
    } else {
        req.rounding
    };
    let counts = allocation::allocate(&ordered_depths[..s], b, rounding, min_k)?;
    let mut rationale = Vec::new();
    if req.volumes.is_none() && req.density.is_none() {
        rationale.push(format!(
            "Recommended: {s} of {n} volumes with about {:.1} slices each. At a fixed budget, spreading slices over more volumes with fewer slices per volume is almost always better, most clearly for 2D models (Zhang, Kramer, Mazurowski, MIDL 2025), so the plan opens as many volumes as the budget allows at the minimum of {min_k} slice(s) per volume.",
            b as f64 / s as f64
        ));
        if s < n {
            rationale.push(format!("The budget covers {s} of {n} volumes at {min_k} slice(s) each; the rest stay unannotated."));
        }
    }
    Ok(Allocated {
        volumes: s,
        counts,
        alternatives: allocation::trade_offs(ordered_depths, budget, min_k, &req.cost_model),
        rationale,
    })
}

/// Without a budget: the asked volumes (or all) at the asked density (or the default).
fn allocate_density(ordered_depths: &[usize], req: &PlanRequest) -> Result<Allocated> {
    let n = ordered_depths.len();
    let min_k = req.min_slices_per_volume.max(1);
    let (s, rho) = match (req.volumes, req.density) {
        (s, Some(rho)) => (s.unwrap_or(n), rho),
        (Some(s), None) => (s, DEFAULT_DENSITY),
        (None, None) => {
            return Err(Error::invalid(
                "give a budget (in slices or hours), a density or a volume count",
            ));
        }
    };
    Ok(Allocated {
        volumes: s,
        counts: ordered_depths[..s]
            .iter()
            .map(|&d| density_count(rho, d, min_k))
            .collect(),
        alternatives: Vec::new(),
        rationale: vec![format!(
            "{s} volumes at density ρ = {rho} (n_i = max({min_k}, round(ρ·D_i)))."
        )],
    })
}

/// What the paper says of the slice strategy, or that it is for simulation only.
fn strategy_note(strategy: SliceStrategy) -> Option<String> {
    match strategy {
        SliceStrategy::Ual | SliceStrategy::Coreset => Some(
            "Representative-slice selection (unsupervised active learning) was no better than random or fixed-interval selection at the same slices per volume in the same study; check it on your pilot data with `sliceplan simulate`.".into(),
        ),
        SliceStrategy::ForegroundRandom | SliceStrategy::ForegroundFixed => Some(
            "This strategy looks at the labels: it is for simulation only and cannot be used to plan real annotation.".into(),
        ),
        _ => None,
    }
}

/// Selecting the slices of the planned volumes.
struct Selection<'a> {
    dataset: &'a Dataset,
    req: &'a PlanRequest,
    /// Per case: the axis slices are taken along, and the slices along it.
    axes: &'a [usize],
    depths: &'a [usize],
}

impl Selection<'_> {
    /// The slices of each case of `chosen` (`counts` of them), volume by volume; the volumes'
    /// features read first on every core where the strategy or body rule needs them.
    fn select(
        &self,
        chosen: &[usize],
        counts: &[usize],
        geoms: &[CaseGeometry],
        progress: &Progress,
    ) -> Result<Vec<PlannedVolume>> {
        let req = self.req;
        let needs_volume = req.slice_strategy.needs_embedding() || req.body_rule.min_fraction > 0.0;
        let prefetched = needs_volume && !req.slice_strategy.needs_labels();
        if prefetched {
            // The planned volumes' features, read on every core (a strategy that reads the
            // labels loads each case whole below instead).
            prefetch_features(
                self.dataset,
                chosen,
                self.axes,
                geoms,
                &req.body_rule,
                progress,
                (0.5, 0.95),
            )?;
        }
        let (start, span) = if prefetched { (0.95, 0.05) } else { (0.5, 0.5) };
        let mut volumes = Vec::with_capacity(chosen.len());
        for (pos, (&case_index, &count)) in chosen.iter().zip(counts).enumerate() {
            progress.check()?;
            progress.set(
                start + span * pos as f32 / chosen.len() as f32,
                format!("selecting slices of {}", self.dataset.cases[case_index].id),
            );
            volumes.push(self.volume(case_index, count, needs_volume)?);
        }
        volumes.sort_by(|a, b| a.case_id.cmp(&b.case_id));
        Ok(volumes)
    }

    /// `count` slices of case `case_index` by the request's strategy.
    fn volume(&self, case_index: usize, count: usize, needs_volume: bool) -> Result<PlannedVolume> {
        let (dataset, req) = (self.dataset, self.req);
        let (axis, depth) = (self.axes[case_index], self.depths[case_index]);
        let mut rng = Rng::with_stream(req.seed, 1000 + case_index as u64);
        // Every planned volume's features were read before, unless the strategy reads the
        // labels: then the case is loaded whole here and its features computed from it.
        let cached = dataset.features.get(case_index, axis, &req.body_rule);
        let loaded = if req.slice_strategy.needs_labels() {
            Some(dataset.load(case_index)?)
        } else {
            None
        };
        let feats = match (cached, &loaded) {
            (Some(f), _) => Some(f),
            (None, _) if !needs_volume => None,
            (None, Some(case)) => Some(keep_features(
                dataset,
                case_index,
                axis,
                &req.body_rule,
                &case.image,
            )),
            (None, None) => Some(case_features(dataset, case_index, axis, &req.body_rule)?),
        };
        let mut candidates = match &feats {
            Some(f) if req.body_rule.min_fraction > 0.0 => f.candidates(&req.body_rule),
            _ => (0..depth).collect(),
        };
        if candidates.len() < count {
            candidates = (0..depth).collect();
        }
        let foreground = loaded
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .map(|l| foreground_slices(l, axis, &req.target));
        let slices = select_slices(
            req.slice_strategy,
            count,
            &candidates,
            feats.as_deref(),
            foreground.as_deref(),
            &mut rng,
        )?;
        Ok(PlannedVolume {
            case_id: dataset.cases[case_index].id.clone(),
            image_path: dataset.cases[case_index].image.display_path(),
            axis,
            slice_count: depth,
            slices,
        })
    }
}

/// The plan of `volumes` with its accounting (of `available` volumes) and test cases.
fn assemble(
    dataset: &Dataset,
    req: &PlanRequest,
    held: &[usize],
    available: usize,
    volumes: Vec<PlannedVolume>,
    allocated: Allocated,
) -> Plan {
    let planned: usize = volumes.iter().map(|v| v.slices.len()).sum();
    let depth_sum: usize = volumes.iter().map(|v| v.slice_count).sum();
    Plan {
        format: PLAN_FORMAT.into(),
        dataset_id: dataset.id.clone(),
        dataset_cases: dataset.cases.iter().map(|c| c.id.clone()).collect(),
        test_cases: held.iter().map(|&i| dataset.cases[i].id.clone()).collect(),
        request: req.clone(),
        accounting: Accounting {
            requested: req.budget,
            planned_slices: planned,
            volumes: volumes.len(),
            available_volumes: available,
            slices_per_volume: planned as f64 / volumes.len().max(1) as f64,
            density: planned as f64 / depth_sum.max(1) as f64,
            estimated_seconds: req.cost_model.seconds(volumes.len(), planned),
        },
        volumes,
        alternatives: allocated.alternatives,
        rationale: allocated.rationale,
        source: None,
    }
}
