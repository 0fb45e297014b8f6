//! Benchmark: what a GUI frame costs when nothing new is shown, on a large dataset with a large
//! result store — the planner on `synthetic-ct:N` (300 CTs of 512×512×100–600) with a plan
//! made and a store of R runs (10⁴) that fill its frontier, drawn headless (egui_kittest, no
//! GPU rendering: the app's own work per frame). Then the frame after one more run lands in
//! the store (another process's estimate finishing).
//!
//! `cargo run --release --example bench_frame [-- --cases 300 --runs 10000 --frames 200]`
//! Prints the median and 95th percentile of the idle frames, the frame after a new run, and
//! the frames of a drag of the budget (the settings change every frame; plans replan live).

mod common;

use std::time::{Duration, Instant};

use common::{BenchArgs, load_average};
use egui_kittest::Harness;
use sliceplan::app::{Settings, SliceplanApp};
use sliceplan::study::store::{RunOutcome, RunResult, StoredRun};
use sliceplan::study::{AllocationRule, ResultStore};
use sliceplan::train::CaseDice;

fn run_until_idle(h: &mut Harness<'static, SliceplanApp>) {
    for _ in 0..60_000 {
        h.step();
        if !h.state().busy() {
            h.step();
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the app stayed busy: {}", h.state().status);
}

/// A measured run of `spec` (made-up Dice: what is measured is the frame, not training).
fn stored(spec: sliceplan::study::RunSpec, i: usize) -> StoredRun {
    let dice = 0.5 + 0.4 * ((i * 7919) % 1000) as f64 / 1000.0;
    StoredRun {
        key: spec.key(),
        spec,
        outcome: RunOutcome::Done(RunResult {
            slices: 600,
            volumes: 100,
            slices_per_volume: 6.0,
            density: 0.02,
            annotation_hours: 15.0,
            mean_dice: dice,
            cases: (0..4)
                .map(|c| CaseDice {
                    case_id: format!("case{c}"),
                    dice,
                    truth_voxels: 1000,
                    predicted_voxels: 1000,
                })
                .collect(),
            loss_curve: (0..30).map(|s| (s * 10, 1.0 / (1.0 + s as f32))).collect(),
            validation_curve: Vec::new(),
            steps_trained: 300,
            train_seconds: 100.0,
            warmup_seconds: 1.0,
            eval_seconds: 10.0,
            device: "cpu: flex".into(),
            flags: Vec::new(),
            notes: Vec::new(),
        }),
        finished_unix: 0,
    }
}

/// Median and 95th percentile (ms) of `frames` idle frames.
fn idle_frames(h: &mut Harness<'static, SliceplanApp>, frames: usize) -> (f64, f64) {
    let mut ms: Vec<f64> = (0..frames)
        .map(|_| {
            let t = Instant::now();
            h.step();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    (
        ms[ms.len() / 2],
        ms[(ms.len() * 95 / 100).min(ms.len() - 1)],
    )
}

fn main() {
    let args = BenchArgs::from_env();
    let cases: usize = args.parsed("--cases", 300);
    let runs: usize = args.parsed("--runs", 10_000);
    let frames: usize = args.parsed("--frames", 200);
    println!("load average before: {}", load_average());
    let dataset = sliceplan::dataset::open_spec(&format!("synthetic-ct:{cases}")).unwrap();
    let stores = tempfile::tempdir().unwrap();
    let settings = Settings {
        budget_slices: 2 * cases,
        body_min_fraction: 0.0,
        estimate_seeds: 5,
        ..Settings::default()
    };
    let mut app = SliceplanApp::new(dataset.clone(), settings);
    app.store_dir = Some(stores.path().to_path_buf());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut SliceplanApp| app.show_ui(ui), app);
    run_until_idle(&mut h);
    h.state_mut().start_plan();
    run_until_idle(&mut h);
    // The store: every allocation of the plan's budget over many seeds, then other budgets.
    let setup = h.state().estimate_setup().expect("a plan and its store");
    let store_dir = h
        .state()
        .store_view
        .as_ref()
        .unwrap()
        .store
        .dir()
        .to_path_buf();
    let store = ResultStore::for_dataset(&dataset, Some(&store_dir)).unwrap();
    let budget = setup.base.budget.unwrap();
    let mut written = 0;
    'fill: for seed in 0.. {
        for volumes in 1..=cases {
            if written == runs {
                break 'fill;
            }
            let spec = setup.spec(budget, AllocationRule::Volumes(volumes), seed);
            store.append(&stored(spec, written)).unwrap();
            written += 1;
        }
    }
    // Let the app take the store in, then measure frames with nothing new.
    for _ in 0..5 {
        h.step();
    }
    run_until_idle(&mut h);
    let estimated = h.state().frontier_points().len();
    let (median, p95) = idle_frames(&mut h, frames);
    // One more run lands.
    let spec = setup.spec(budget, AllocationRule::Volumes(1), 1_000_000);
    store.append(&stored(spec, 0)).unwrap();
    let t = Instant::now();
    h.step();
    let after_run = t.elapsed().as_secs_f64() * 1e3;
    let (median_after, _) = idle_frames(&mut h, frames / 4);
    // A drag of the budget: the settings change every frame (live replanning on).
    let mut drag: Vec<f64> = (0..frames)
        .map(|i| {
            h.state_mut().settings.budget_slices = 2 * cases + 1 + i % 50;
            let t = Instant::now();
            h.step();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    drag.sort_by(f64::total_cmp);
    let (drag_median, drag_p95) = (drag[drag.len() / 2], drag[drag.len() * 95 / 100]);
    println!(
        "| cases | stored runs | frontier points | idle frame median ms | idle p95 ms | frame a new run lands ms | idle after ms | budget drag median ms | drag p95 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {cases} | {written} | {estimated} | {median:.2} | {p95:.2} | {after_run:.2} | {median_after:.2} | {drag_median:.2} | {drag_p95:.2} |"
    );
    println!("load average after: {}", load_average());
}
