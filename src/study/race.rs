//! Racing the allocations of one budget: a sequential design that spends training runs only
//! where they can change the recommendation, and stops as soon as the answer is known.
//!
//! It starts with one seed at both ends and the middle of the frontier. Each round, the point
//! with the highest mean Dice leads; every other point is compared with it seed by seed (a seed
//! scores both on the same test volumes; the seed-to-seed spread of the differences pooled over
//! the points) and is *behind* (the leader is ahead at 95 %),
//! *equivalent* (the difference's 95 % interval lies within ± the margin), *tied* (not told
//! apart, and not expected to be within the race's seeds: after three shared seeds, its
//! difference at the spread seen needs more seeds than there are) or *open*. Open points and the
//! leader get the next shared seed; frontier points between the leader and a measured neighbour
//! behind it are added one at a time (bisection), so the peak of the curve gets found; points
//! behind, tied or equivalent get nothing more. It stops when
//! - every other point is behind: **decided**;
//! - the rest are behind or equivalent: **equivalent**, and the one over most volumes is
//!   recommended (the paper's first finding: fewer slices over more volumes);
//! - only tied points are left, or the run budget (runs or seconds of training) or the seeds run
//!   out: **undecided**, the leader recommended and the points not told apart from it named.
//!
//! Its state is the result store: each decision is made from the stored runs, so a cancelled
//! race keeps every finished run and a rerun continues where it stopped.

use serde::Serialize;

use super::file::AllocationRule;
use super::sequential::Sequential;
use super::stats::{Interval, dice_interval, t_975};
use super::store::StoreContents;
use super::summary::scenario_key;
use crate::error::{Error, Result};
use crate::study::stats::separation::seeds_to_separate;
use crate::study::store::key::RunSpec;

/// The margin within which two allocations count as equivalent by default (ΔDice at 95 %).
pub const DEFAULT_MARGIN: f64 = 0.01;

/// What a race knows of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// The run learned the target and scored this mean Dice.
    Dice(f64),
    /// The run did not learn (flagged): a seed spent, no Dice.
    Flagged,
    /// The allocation's plan cannot be made.
    Skipped,
}

/// When a race stops for want of budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RaceRule {
    /// Points within this much Dice of the leader (95 % interval) are equivalent.
    pub margin: f64,
    /// At most this many runs (stored runs of the race count, also from before a resume).
    pub max_runs: Option<usize>,
    /// At most this many seconds of training and scoring, summed over the race's stored runs.
    pub max_seconds: Option<f64>,
}

impl Default for RaceRule {
    fn default() -> Self {
        RaceRule {
            margin: DEFAULT_MARGIN,
            max_runs: None,
            max_seconds: None,
        }
    }
}

/// One candidate allocation: its name, volume count and one run per seed of the race.
#[derive(Debug, Clone, PartialEq)]
pub struct RacePoint {
    pub label: String,
    pub volumes: usize,
    pub specs: Vec<RunSpec>,
}

/// The runs a race has, point by point and seed by seed, and what they cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Board {
    /// `outcomes[p][k]`: point p's run under the race's k-th seed, if stored.
    pub outcomes: Vec<Vec<Option<Outcome>>>,
    pub runs: usize,
    pub seconds: f64,
}

/// How a point stands against the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// The highest mean Dice.
    Leader,
    /// The leader is ahead at 95 %.
    Behind,
    /// Within the margin of the leader at 95 %.
    Equivalent,
    /// Not told apart yet.
    Open,
    /// Not told apart, and not expected to be within the race's seeds: its difference from the
    /// leader, at the spread seen over three or more shared seeds, needs more seeds than there
    /// are to separate with 80 % power (`separation::seeds_to_separate`).
    Tied,
    /// Every run so far did not learn (two or more), or its plan cannot be made.
    NoResult,
    /// No run yet.
    Unmeasured,
}

/// Why a race stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Verdict {
    /// The leader is ahead of every other point at 95 %.
    Decided { leader: usize },
    /// The points left are within the margin of each other; the one over most volumes is
    /// recommended.
    Equivalent {
        points: Vec<usize>,
        recommended: usize,
    },
    /// The run budget or the seeds ran out with points still open (or not expected to be told
    /// apart within the seeds); the leader, the highest mean, is recommended.
    BudgetSpent {
        leader: Option<usize>,
        open: Vec<usize>,
        recommended: Option<usize>,
        reason: String,
    },
}

impl Verdict {
    /// The point the race recommends, if any.
    pub fn recommended(&self) -> Option<usize> {
        match self {
            Verdict::Decided { leader } => Some(*leader),
            Verdict::Equivalent { recommended, .. } => Some(*recommended),
            Verdict::BudgetSpent { recommended, .. } => *recommended,
        }
    }
}

/// What to do next: these (point, seed index) runs, or stop.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Train and store these runs, then decide again.
    Run(Vec<(usize, usize)>),
    /// The race is over, and why.
    Stop(Verdict),
}

/// One point's Dice by seed index (runs that learned).
fn dice_by_seed(outcomes: &[Option<Outcome>]) -> std::collections::BTreeMap<u64, f64> {
    outcomes
        .iter()
        .enumerate()
        .filter_map(|(k, o)| match o {
            Some(Outcome::Dice(d)) => Some((k as u64, *d)),
            _ => None,
        })
        .collect()
}

/// The mean Dice of a point's learned runs with its interval (None without one).
pub fn point_dice(outcomes: &[Option<Outcome>]) -> Option<Interval> {
    let values: Vec<f64> = dice_by_seed(outcomes).into_values().collect();
    (!values.is_empty()).then(|| dice_interval(&values))
}

fn measured(outcomes: &[Option<Outcome>]) -> bool {
    outcomes.iter().any(Option::is_some)
}

fn no_result(outcomes: &[Option<Outcome>]) -> bool {
    let runs: Vec<&Outcome> = outcomes.iter().flatten().collect();
    runs.contains(&&Outcome::Skipped)
        || (runs.len() >= 2 && runs.iter().all(|o| **o == Outcome::Flagged))
}

/// The leader: the highest mean Dice, the most volumes among equals.
fn leader(board: &Board, volumes: &[usize]) -> Option<usize> {
    (0..board.outcomes.len())
        .filter(|&p| !no_result(&board.outcomes[p]))
        .filter_map(|p| point_dice(&board.outcomes[p]).map(|d| (p, d.mean)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(volumes[a.0].cmp(&volumes[b.0])))
        .map(|(p, _)| p)
}

/// Each point's paired differences from `l` (leader − point) over the seeds both learned.
fn differences(board: &Board, l: usize) -> Vec<Vec<f64>> {
    let lead = dice_by_seed(&board.outcomes[l]);
    board
        .outcomes
        .iter()
        .map(|o| {
            dice_by_seed(o)
                .iter()
                .filter_map(|(k, d)| lead.get(k).map(|x| x - d))
                .collect()
        })
        .collect()
}

/// The 95 % interval of each point's mean difference from the leader (None: no shared seed,
/// or no spread known yet). The seed-to-seed spread is pooled over every point's differences
/// (each point's own mean taken out), as in a two-way layout with seeds as blocks: the points
/// are trained and scored alike, so one spread serves them all, and its degrees of freedom
/// grow with every run instead of with one point's seeds.
fn intervals_against(board: &Board, l: usize) -> Vec<Option<(Interval, f64)>> {
    let diffs = differences(board, l);
    let (mut squares, mut df) = (0.0, 0usize);
    for (p, d) in diffs.iter().enumerate() {
        if p != l && d.len() > 1 {
            let mean = d.iter().sum::<f64>() / d.len() as f64;
            squares += d.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
            df += d.len() - 1;
        }
    }
    let sd = if df > 0 {
        (squares / df as f64).sqrt()
    } else {
        0.0
    };
    diffs
        .iter()
        .map(|d| {
            if d.is_empty() || df == 0 {
                return None;
            }
            let n = d.len() as f64;
            let mean = d.iter().sum::<f64>() / n;
            let half = t_975(df) * sd / n.sqrt();
            let interval = Interval {
                mean,
                lo: mean - half,
                hi: mean + half,
                n: d.len(),
            };
            Some((interval, sd))
        })
        .collect()
}

/// Shared seeds a point needs before it may be called tied (fewer say too little of the spread).
const SEEDS_BEFORE_TIED: usize = 3;

/// Every point's standing against `leader` with `margin`.
pub fn standings(board: &Board, leader: Option<usize>, margin: f64) -> Vec<Standing> {
    let against = leader.map(|l| intervals_against(board, l));
    (0..board.outcomes.len())
        .map(|p| {
            let o = &board.outcomes[p];
            if !measured(o) {
                return Standing::Unmeasured;
            }
            if no_result(o) {
                return Standing::NoResult;
            }
            let (Some(l), Some(against)) = (leader, &against) else {
                return Standing::Open;
            };
            if p == l {
                return Standing::Leader;
            }
            let seeds = board.outcomes[p].len();
            match against[p] {
                Some((d, _)) if d.lo > 0.0 => Standing::Behind,
                Some((d, _)) if d.lo >= -margin && d.hi <= margin => Standing::Equivalent,
                Some((d, sd))
                    if d.n >= SEEDS_BEFORE_TIED
                        && seeds_to_separate(d.mean, sd).is_none_or(|n| n > seeds) =>
                {
                    Standing::Tied
                }
                _ => Standing::Open,
            }
        })
        .collect()
}

/// Frontier points between the leader and its nearest measured neighbours, one per side (the
/// middle of the gap), where the gap holds any and the neighbour is behind the leader (or never
/// learned): the best allocation may then lie between them. Toward a neighbour still open the
/// race waits; toward one tied or equivalent with the leader the frontier is flat there, and the
/// recommendation (the most volumes among them) cannot fall between.
fn bisections(board: &Board, leader: usize, stand: &[Standing]) -> Vec<usize> {
    let n = board.outcomes.len();
    let is_measured = |p: usize| measured(&board.outcomes[p]);
    let resolved_behind = |p: usize| matches!(stand[p], Standing::Behind | Standing::NoResult);
    let left = (0..leader).rev().find(|&p| is_measured(p));
    let right = (leader + 1..n).find(|&p| is_measured(p));
    let mut out = Vec::new();
    match left {
        Some(j) if leader - j > 1 && resolved_behind(j) => out.push((leader + j) / 2),
        None if leader > 0 => out.push(0),
        _ => {}
    }
    match right {
        Some(k) if k - leader > 1 && resolved_behind(k) => out.push((leader + k).div_ceil(2)),
        None if leader + 1 < n => out.push(n - 1),
        _ => {}
    }
    out
}

/// The next seed index `p` should run so it shares seeds with the leader `l`: one the leader
/// has and it lacks, else (both run on the same seeds) the next seed neither has run.
fn pairing_runs(board: &Board, l: usize, p: usize) -> Vec<(usize, usize)> {
    let (lo, po) = (&board.outcomes[l], &board.outcomes[p]);
    if let Some(k) = (0..po.len()).find(|&k| lo[k].is_some() && po[k].is_none()) {
        return vec![(p, k)];
    }
    if let Some(k) = (0..lo.len()).find(|&k| po[k].is_some() && lo[k].is_none()) {
        return vec![(l, k)];
    }
    match (0..lo.len()).find(|&k| lo[k].is_none() && po[k].is_none()) {
        Some(k) => vec![(l, k), (p, k)],
        None => Vec::new(),
    }
}

/// The first round: one seed at both ends and the middle of the frontier.
fn opening(n: usize) -> Vec<(usize, usize)> {
    let mut points = vec![0, n / 2, n.saturating_sub(1)];
    points.dedup();
    points.into_iter().map(|p| (p, 0)).collect()
}

/// What the race does next on `board` (points in frontier order, `volumes` each).
pub fn next_step(board: &Board, volumes: &[usize], rule: &RaceRule) -> Step {
    let n = board.outcomes.len();
    let leader = leader(board, volumes);
    let stand = standings(board, leader, rule.margin);
    let open: Vec<usize> = (0..n).filter(|&p| stand[p] == Standing::Open).collect();
    let tied: Vec<usize> = (0..n).filter(|&p| stand[p] == Standing::Tied).collect();
    let undecided = |points: &[usize], reason: String| {
        // Not told apart is not shown equivalent: the highest mean is the best bet (on the demo
        // lesions, the one over most volumes among points tied after three seeds was behind the
        // leader on all five).
        let recommended = leader;
        Step::Stop(Verdict::BudgetSpent {
            leader,
            open: points.to_vec(),
            recommended,
            reason,
        })
    };
    let still: Vec<usize> = open.iter().chain(&tied).copied().collect();
    let spent = |reason: &str| undecided(&still, reason.to_string());
    if rule.max_runs.is_some_and(|m| board.runs >= m) {
        return spent("run budget spent");
    }
    if rule.max_seconds.is_some_and(|m| board.seconds >= m) {
        return spent("time budget spent");
    }
    // The opening first (also when a cancelled race resumes part-way through it).
    let opening_left: Vec<(usize, usize)> = opening(n)
        .into_iter()
        .filter(|&(p, _)| !measured(&board.outcomes[p]))
        .collect();
    if !opening_left.is_empty() {
        return Step::Run(opening_left);
    }
    let Some(l) = leader else {
        // Nothing learned yet: the next seed at the points measured, while seeds last.
        let runs: Vec<(usize, usize)> = (0..n)
            .filter(|&p| measured(&board.outcomes[p]) && stand[p] != Standing::NoResult)
            .filter_map(|p| {
                let k = board.outcomes[p].iter().position(Option::is_none)?;
                Some((p, k))
            })
            .collect();
        return if runs.is_empty() {
            spent("no allocation learned the target")
        } else {
            Step::Run(runs)
        };
    };
    let first_seed = board.outcomes[l]
        .iter()
        .position(Option::is_some)
        .unwrap_or(0);
    let mut runs: Vec<(usize, usize)> = bisections(board, l, &stand)
        .into_iter()
        .map(|p| (p, first_seed))
        .collect();
    for &p in &open {
        for r in pairing_runs(board, l, p) {
            if !runs.contains(&r) {
                runs.push(r);
            }
        }
    }
    if !runs.is_empty() {
        return Step::Run(runs);
    }
    if !open.is_empty() {
        return spent("seeds spent");
    }
    if !tied.is_empty() {
        let seeds = board.outcomes[l].len();
        return undecided(
            &tied,
            format!("not expected to be told apart within {seeds} seeds"),
        );
    }
    let equivalent: Vec<usize> = (0..n)
        .filter(|&p| matches!(stand[p], Standing::Equivalent | Standing::Leader))
        .collect();
    if equivalent.len() > 1 {
        let recommended = *equivalent.iter().max_by_key(|&&p| volumes[p]).unwrap_or(&l);
        return Step::Stop(Verdict::Equivalent {
            points: equivalent,
            recommended,
        });
    }
    Step::Stop(Verdict::Decided { leader: l })
}

/// A race over the allocations `points` (frontier order) under `rule`.
#[derive(Debug, Clone, PartialEq)]
pub struct Race {
    pub points: Vec<RacePoint>,
    pub rule: RaceRule,
}

/// How a race ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaceReport {
    pub verdict: Verdict,
    /// The race's stored runs and their training and scoring seconds.
    pub runs: usize,
    pub seconds: f64,
    /// Per point: label, volumes, Dice, seeds run and standing.
    pub points: Vec<PointReport>,
}

/// One point at the end of a race.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointReport {
    pub label: String,
    pub volumes: usize,
    pub dice: Option<Interval>,
    pub runs: usize,
    pub standing: Standing,
}

impl Race {
    /// A race over `points`, sorted by volume count; refused before any training when it
    /// cannot stop by its rule (no points, no seeds, a margin below zero).
    pub fn new(mut points: Vec<RacePoint>, rule: RaceRule) -> Result<Race> {
        if points.is_empty() {
            return Err(Error::invalid("a race needs at least one allocation"));
        }
        if !(rule.margin >= 0.0 && rule.margin.is_finite()) {
            return Err(Error::invalid(format!(
                "a race's margin is a Dice difference of 0 or more, got {}",
                rule.margin
            )));
        }
        if rule.max_runs == Some(0) || rule.max_seconds.is_some_and(|s| s.is_nan() || s <= 0.0) {
            return Err(Error::invalid(
                "a race's run budget must allow at least one run",
            ));
        }
        let seeds = points[0].specs.len();
        if seeds == 0 || points.iter().any(|p| p.specs.len() != seeds) {
            return Err(Error::invalid(
                "a race needs the same seeds, at least one, at every allocation",
            ));
        }
        points.sort_by_key(|p| p.volumes);
        Ok(Race { points, rule })
    }

    /// What the store holds of the race.
    pub fn board(&self, contents: &StoreContents) -> Board {
        let mut board = Board::default();
        for point in &self.points {
            let mut row = Vec::new();
            for spec in &point.specs {
                let stored = contents.get(&spec.key());
                row.push(stored.map(|run| match run.result() {
                    None => Outcome::Skipped,
                    Some(r) if r.learned() => Outcome::Dice(r.mean_dice),
                    Some(_) => Outcome::Flagged,
                }));
                if let Some(r) = stored.and_then(|run| run.result()) {
                    board.seconds += r.train_seconds + r.warmup_seconds + r.eval_seconds;
                }
                board.runs += usize::from(stored.is_some());
            }
            board.outcomes.push(row);
        }
        board
    }

    fn volumes(&self) -> Vec<usize> {
        self.points.iter().map(|p| p.volumes).collect()
    }

    /// The runs to make next, or how the race ended, from what `contents` holds.
    pub fn next(&self, contents: &StoreContents) -> std::result::Result<Vec<RunSpec>, RaceReport> {
        let board = self.board(contents);
        match next_step(&board, &self.volumes(), &self.rule) {
            Step::Run(runs) => Ok(runs
                .into_iter()
                .map(|(p, k)| self.points[p].specs[k].clone())
                .collect()),
            Step::Stop(verdict) => Err(self.report(&board, verdict)),
        }
    }

    fn report(&self, board: &Board, verdict: Verdict) -> RaceReport {
        let leader = leader(board, &self.volumes());
        let stand = standings(board, leader, self.rule.margin);
        RaceReport {
            verdict,
            runs: board.runs,
            seconds: board.seconds,
            points: self
                .points
                .iter()
                .enumerate()
                .map(|(p, point)| PointReport {
                    label: point.label.clone(),
                    volumes: point.volumes,
                    dice: point_dice(&board.outcomes[p]),
                    runs: board.outcomes[p].iter().flatten().count(),
                    standing: stand[p],
                })
                .collect(),
        }
    }

    /// Replays the race on `full`, a store holding every run it could ask for (an exhaustive
    /// grid measured once): each run it asks for is taken from `full` instead of trained.
    /// Refused when `full` lacks one.
    pub fn replay(&self, full: &StoreContents) -> Result<RaceReport> {
        let revealed = std::cell::RefCell::new(StoreContents::default());
        self.run(
            || Ok(revealed.borrow().clone()),
            |batch| {
                for spec in batch {
                    let run = full.get(&spec.key()).ok_or_else(|| {
                        Error::invalid(format!(
                            "the replayed store has no run {}; run the whole grid first",
                            spec.label()
                        ))
                    })?;
                    revealed.borrow_mut().insert(run.clone());
                }
                Ok(())
            },
        )
    }
}

impl Sequential for Race {
    type Report = RaceReport;

    fn next_runs(&self, contents: &StoreContents) -> std::result::Result<Vec<RunSpec>, RaceReport> {
        self.next(contents)
    }

    fn line(report: &RaceReport) -> String {
        report.line()
    }
}

/// Where an allocation lies on the frontier, fewest volumes first (a volume count as itself, a
/// density by how few slices per volume it means, spread over every volume last).
fn frontier_order(rule: AllocationRule) -> usize {
    match rule {
        AllocationRule::Volumes(s) => s,
        AllocationRule::Density(r) => (1000.0 / r.max(1e-6)).round() as usize,
        AllocationRule::Spread => usize::MAX,
    }
}

/// A study's runs as races: one per scenario (budget, strategy, model and interpolation,
/// preset), its allocations the points and its seeds the seeds; each with its name.
pub fn races_of_study(specs: &[RunSpec], rule: RaceRule) -> Result<Vec<(String, Race)>> {
    let mut groups: Vec<(String, Vec<RacePoint>)> = Vec::new();
    for spec in specs {
        let (budget, allocation, strategy, model, preset) = scenario_key(spec);
        let name = format!("{budget} {strategy} {model} {preset}");
        let at = match groups.iter().position(|g| g.0 == name) {
            Some(i) => i,
            None => {
                groups.push((name, Vec::new()));
                groups.len() - 1
            }
        };
        let points = &mut groups[at].1;
        match points.iter_mut().find(|p| p.label == allocation) {
            Some(p) => p.specs.push(spec.clone()),
            None => points.push(RacePoint {
                label: allocation,
                volumes: frontier_order(AllocationRule::of(&spec.request)),
                specs: vec![spec.clone()],
            }),
        }
    }
    groups
        .into_iter()
        .map(|(name, points)| Ok((name, Race::new(points, rule)?)))
        .collect()
}

impl RaceReport {
    /// One line: how the race ended, after how many runs, and what it recommends.
    pub fn line(&self) -> String {
        let name = |p: usize| {
            let point = &self.points[p];
            match point.dice {
                Some(d) if d.n > 1 => format!(
                    "{} (Dice {:.3}, 95 % {:.3}–{:.3})",
                    point.label, d.mean, d.lo, d.hi
                ),
                Some(d) => format!("{} (Dice {:.3}, one seed)", point.label, d.mean),
                None => point.label.clone(),
            }
        };
        let list = |ps: &[usize]| {
            ps.iter()
                .map(|&p| self.points[p].label.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let runs = format!("{} run(s), {:.0} s of training", self.runs, self.seconds);
        match &self.verdict {
            Verdict::Decided { leader } => {
                format!(
                    "decided after {runs}: {} is ahead of every other allocation at 95 %",
                    name(*leader)
                )
            }
            Verdict::Equivalent {
                points,
                recommended,
            } => format!(
                "equivalent after {runs}: {} are within the margin of each other; {} is recommended (the one over most volumes)",
                list(points),
                name(*recommended)
            ),
            Verdict::BudgetSpent {
                leader,
                open,
                reason,
                recommended,
            } => match (leader, recommended) {
                (Some(l), _) if open.is_empty() => {
                    format!("undecided after {runs} ({reason}): {} leads", name(*l))
                }
                (Some(l), Some(_)) => format!(
                    "undecided after {runs} ({reason}): {} leads and is recommended; not told apart from it: {}",
                    name(*l),
                    list(open)
                ),
                _ => format!("undecided after {runs} ({reason})"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `next_step` against known outcomes (`truth[p][k]`), revealing what it asks for;
    /// returns the verdict and the runs it took.
    fn simulate(truth: &[Vec<Outcome>], volumes: &[usize], rule: &RaceRule) -> (Verdict, usize) {
        let mut board = Board {
            outcomes: truth.iter().map(|row| vec![None; row.len()]).collect(),
            runs: 0,
            seconds: 0.0,
        };
        for _ in 0..1000 {
            match next_step(&board, volumes, rule) {
                Step::Stop(v) => return (v, board.runs),
                Step::Run(runs) => {
                    assert!(!runs.is_empty());
                    for (p, k) in runs {
                        assert!(board.outcomes[p][k].is_none(), "({p}, {k}) asked twice");
                        board.outcomes[p][k] = Some(truth[p][k]);
                        board.runs += 1;
                        board.seconds += 60.0;
                    }
                }
            }
        }
        panic!("the race did not stop");
    }

    /// Dice `mean[p]` with a per-seed shift shared by every point (the test volumes of a seed
    /// are harder or easier for all) and a small point-specific wobble.
    fn grid(means: &[f64], seeds: usize, wobble: f64) -> Vec<Vec<Outcome>> {
        let shift = [0.0, -0.03, 0.02, -0.01, 0.025, -0.02, 0.01];
        means
            .iter()
            .enumerate()
            .map(|(p, m)| {
                (0..seeds)
                    .map(|k| {
                        let w = if (p + k) % 2 == 0 { wobble } else { -wobble };
                        Outcome::Dice(m + shift[k % shift.len()] + w)
                    })
                    .collect()
            })
            .collect()
    }

    const VOLUMES: [usize; 7] = [2, 3, 5, 8, 12, 16, 20];

    #[test]
    fn a_clear_winner_is_decided_in_a_fraction_of_the_grid() {
        // A concave frontier peaking at 8 volumes, 0.05 above its neighbours.
        let truth = grid(&[0.60, 0.70, 0.78, 0.84, 0.79, 0.74, 0.70], 5, 0.004);
        let (verdict, runs) = simulate(&truth, &VOLUMES, &RaceRule::default());
        assert_eq!(verdict, Verdict::Decided { leader: 3 });
        assert!(runs * 3 <= 7 * 5, "{runs} runs of a grid of 35");
    }

    #[test]
    fn equivalent_points_recommend_the_most_volumes() {
        // 12, 16 and 20 volumes within 0.002 of each other, seed for seed.
        let truth = grid(&[0.60, 0.65, 0.70, 0.75, 0.861, 0.862, 0.860], 5, 0.0005);
        let (verdict, _) = simulate(&truth, &VOLUMES, &RaceRule::default());
        match verdict {
            Verdict::Equivalent {
                points,
                recommended,
            } => {
                // 16 volumes lies between two equivalent points: it is not needed to recommend.
                assert!(points.contains(&4) && points.contains(&6), "{points:?}");
                assert_eq!(recommended, *points.iter().max().unwrap());
                assert_eq!(recommended, 6, "20 volumes: the most");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_noisy_point_is_given_seeds_until_the_seeds_run_out() {
        // 8 volumes lead by 0.01 on average, but its runs swing ±0.06 from seed to seed
        // against the others: with five seeds it cannot be told from 12 volumes.
        let mut truth = grid(&[0.60, 0.70, 0.78, 0.84, 0.83, 0.74, 0.70], 5, 0.0);
        for (k, swing) in [0.06, -0.06, 0.06, -0.06, 0.06].iter().enumerate() {
            if let Outcome::Dice(d) = &mut truth[3][k] {
                *d += swing;
            }
        }
        let (verdict, runs) = simulate(&truth, &VOLUMES, &RaceRule::default());
        match &verdict {
            Verdict::BudgetSpent { open, reason, .. } => {
                assert!(
                    reason == "seeds spent" || reason.starts_with("not expected to be told apart"),
                    "{reason}"
                );
                assert!(open.contains(&3) || open.contains(&4), "{verdict:?}");
            }
            other => panic!("{other:?}"),
        }
        // Points clearly behind got no more than they needed: fewer runs than the grid.
        assert!(runs < 35, "{runs}");
    }

    #[test]
    fn a_run_budget_stops_the_race_and_says_so() {
        let truth = grid(&[0.60, 0.70, 0.78, 0.84, 0.79, 0.74, 0.70], 5, 0.004);
        let rule = RaceRule {
            max_runs: Some(5),
            ..RaceRule::default()
        };
        let (verdict, runs) = simulate(&truth, &VOLUMES, &rule);
        assert!((5..10).contains(&runs), "{runs}");
        match verdict {
            Verdict::BudgetSpent { reason, leader, .. } => {
                assert_eq!(reason, "run budget spent");
                assert!(leader.is_some());
            }
            other => panic!("{other:?}"),
        }
        let timed = RaceRule {
            max_seconds: Some(180.0),
            ..RaceRule::default()
        };
        let (verdict, runs) = simulate(&truth, &VOLUMES, &timed);
        assert!(
            matches!(verdict, Verdict::BudgetSpent { ref reason, .. } if reason == "time budget spent")
        );
        assert!((3..8).contains(&runs), "{runs}");
    }

    #[test]
    fn points_that_never_learn_are_left_behind() {
        // 2 and 3 volumes never learn; the rest as a clear winner at 12.
        let mut truth = grid(&[0.0, 0.0, 0.70, 0.75, 0.85, 0.76, 0.72], 5, 0.003);
        for row in truth.iter_mut().take(2) {
            row.fill(Outcome::Flagged);
        }
        let (verdict, _) = simulate(&truth, &VOLUMES, &RaceRule::default());
        assert_eq!(verdict, Verdict::Decided { leader: 4 });
    }

    #[test]
    fn an_impossible_race_is_refused_before_training() {
        let spec = |seed: u64| {
            RunSpec::new(
                "fp",
                crate::plan::PlanRequest {
                    seed,
                    ..Default::default()
                },
                crate::train::TrainConfig::default(),
                "tiny",
            )
        };
        let point = |volumes: usize, seeds: usize| RacePoint {
            label: format!("s={volumes}"),
            volumes,
            specs: (0..seeds as u64).map(spec).collect(),
        };
        let e = Race::new(Vec::new(), RaceRule::default()).unwrap_err();
        assert!(e.to_string().contains("at least one allocation"), "{e}");
        let negative = RaceRule {
            margin: -0.01,
            ..RaceRule::default()
        };
        let e = Race::new(vec![point(2, 3)], negative).unwrap_err();
        assert!(e.to_string().contains("margin"), "{e}");
        let e = Race::new(vec![point(2, 3), point(5, 2)], RaceRule::default()).unwrap_err();
        assert!(e.to_string().contains("same seeds"), "{e}");
        let none = RaceRule {
            max_runs: Some(0),
            ..RaceRule::default()
        };
        assert!(Race::new(vec![point(2, 3)], none).is_err());
        let race = Race::new(vec![point(5, 2), point(2, 2)], RaceRule::default()).unwrap();
        assert_eq!(race.points[0].volumes, 2, "sorted by volumes");
    }
}
