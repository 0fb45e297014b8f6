//! Benchmark: racing the allocations against the exhaustive grid. A study's every run (every
//! allocation × seed) is measured once into a store (`sliceplan study run STUDY --data D
//! --store S`); each of its scenarios is then raced on that store, every run the race asks for
//! taken from the store instead of trained (`Race::replay`), so the race and the grid are
//! compared on the same runs.
//!
//! `cargo run --release --example bench_race -- --study examples/studies/race-demo-spleen.toml \
//!     --data demo --store /tmp/race-spleen [--margin 0.01]`
//!
//! Per scenario: the grid's runs and training time with its recommendation (all seeds: the
//! highest mean; among points within the margin of it at 95 %, the one over most volumes), the
//! race's runs, time, verdict and recommendation, and whether they agree (the same allocation,
//! or one the grid finds within the margin of its pick at 95 %, or not told apart from it).

mod common;

use std::path::PathBuf;

use common::BenchArgs;
use sliceplan::study::race::{Standing, Step, next_step, races_of_study, standings};
use sliceplan::study::{RaceRule, ResultStore, Study};

fn main() -> sliceplan::Result<()> {
    let args = BenchArgs::from_env();
    let study_path = PathBuf::from(
        args.value("--study")
            .unwrap_or_else(|| "examples/studies/race-demo-spleen.toml".into()),
    );
    let data = args.value("--data").unwrap_or_else(|| "demo".into());
    let store_dir = args.value("--store").map(PathBuf::from);
    let rule = RaceRule {
        margin: args.parsed("--margin", sliceplan::study::race::DEFAULT_MARGIN),
        ..RaceRule::default()
    };
    let ds = sliceplan::dataset::open_spec(&data)?;
    let store = ResultStore::for_dataset(&ds, store_dir.as_deref())?;
    let study = Study::load(&study_path)?;
    let specs = study.runs(&ds, store.fingerprint(), &study_path)?;
    let contents = store.load()?;
    println!(
        "| scenario | grid runs | grid time | grid pick | race runs | race time | race verdict | race pick | runs | agrees |"
    );
    println!("|---|---:|---:|---|---:|---:|---|---|---:|---|");
    for (name, race) in races_of_study(&specs, rule)? {
        let full = race.board(&contents);
        let total: usize = race.points.iter().map(|p| p.specs.len()).sum();
        if full.runs < total {
            println!(
                "| {name} | {} of {total} runs stored: run the study first |",
                full.runs
            );
            continue;
        }
        let volumes: Vec<usize> = race.points.iter().map(|p| p.volumes).collect();
        let grid_verdict = match next_step(&full, &volumes, &rule) {
            Step::Stop(v) => v,
            Step::Run(_) => unreachable!("a full grid has nothing left to run"),
        };
        let grid_pick = grid_verdict.recommended();
        let report = race.replay(&contents)?;
        let race_pick = report.verdict.recommended();
        let agrees = match (grid_pick, race_pick) {
            (Some(g), Some(r)) if g == r => "same".to_string(),
            (Some(g), Some(r)) => match standings(&full, Some(g), rule.margin)[r] {
                Standing::Equivalent => "within the margin".into(),
                Standing::Open | Standing::Tied => "not told apart by the grid".into(),
                other => format!("no ({other:?} on the grid)"),
            },
            _ => "no pick".into(),
        };
        let label = |p: Option<usize>| p.map_or("–".into(), |p| race.points[p].label.clone());
        println!(
            "| {name} | {total} | {:.0} min | {} | {} | {:.0} min | {} | {} | {:.0} % | {agrees} |",
            full.seconds / 60.0,
            label(grid_pick),
            report.runs,
            report.seconds / 60.0,
            report.line(),
            label(race_pick),
            100.0 * report.runs as f64 / total as f64,
        );
    }
    Ok(())
}
