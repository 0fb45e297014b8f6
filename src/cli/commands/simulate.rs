//! `sliceplan simulate`: plans at one budget trained and scored side by side.

use anyhow::Result;

use super::super::args::SimulateArgs;
use super::{list, load_data_arg, print_json, request_args, train_config, with_progress};
use sliceplan::interp::Method;
use sliceplan::plan::SliceStrategy;
use sliceplan::sim::{SimulationSpec, summarize};
use sliceplan::study::ResultStore;

pub fn simulate(args: SimulateArgs) -> Result<()> {
    let ds = load_data_arg(&args.data)?;
    let base = request_args(&args.plan, &ds)?;
    let volumes_grid = match &args.volumes_grid {
        Some(g) => Some(list::<usize>(g, "--volumes-grid")?),
        None => None,
    };
    let strategies: Vec<SliceStrategy> = match &args.strategies {
        Some(s) => s
            .split(',')
            .map(|x| SliceStrategy::parse(x.trim()))
            .collect::<sliceplan::Result<_>>()?,
        None => vec![base.slice_strategy],
    };
    // `--interp none,sdf` compares training with and without interpolated masks.
    let interpolations: Vec<Option<Method>> = args
        .interp
        .split(',')
        .map(|m| match m.trim() {
            "none" => Ok(None),
            other => Method::parse(other).map(Some),
        })
        .collect::<sliceplan::Result<_>>()?;
    // `--seeds 0,1,2` repeats every scenario per seed (plans, held-out volumes and training).
    let seeds: Vec<u64> = match &args.seeds {
        Some(spec) => list::<u64>(spec, "--seeds")?,
        None => Vec::new(),
    };
    let train = train_config(&args.train, 0, None)?;
    let (store_dir, json) = (args.store, args.json);
    let mut setup = SimulationSpec {
        base,
        volumes_grid,
        strategies,
        interpolations,
        seeds,
        train,
    }
    .prepare(&ds)?;
    setup.reruns = args.reruns;
    let store = ResultStore::for_dataset(&ds, store_dir.as_deref())?;
    let simulation = with_progress("sliceplan-simulate", move |p| {
        setup
            .run_stored(&ds, &store, p)
            .map(|stored| stored.simulation)
    })?;
    if json {
        return print_json(&simulation);
    }
    println!(
        "{:<26} {:>9} {:>8} {:>10} {:>8} {:>5}  vs best, seed by seed (95 %)",
        "plan", "per vol", "density", "mean Dice", "± sd", "runs"
    );
    for s in summarize(&simulation.results) {
        println!(
            "{:<26} {:>9.2} {:>8.3} {:>10} {:>8.4} {:>5}  {}{}",
            s.scenario.label(),
            s.slices_per_volume,
            s.density,
            s.mean_dice_text(4),
            s.sd_dice,
            s.runs,
            s.behind_best_text(),
            s.flagged_text()
                .map(|t| format!("  {t}"))
                .unwrap_or_default()
        );
    }
    for warning in simulation.results.iter().filter_map(|r| r.warning()) {
        println!("{warning}");
    }
    for k in &simulation.skipped {
        println!(
            "skipped {} (seed {}): {}",
            k.scenario.label(),
            k.seed,
            k.reason
        );
    }
    Ok(())
}
