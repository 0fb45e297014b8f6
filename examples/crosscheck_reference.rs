//! Cross-check: the same sparse labels trained by sliceplan (burn, the product's training path)
//! and by the PyTorch reference U-Net (examples/reference/sparse_reference.py, the recipe written
//! out independently), Dice on the same held-out volumes, side by side in one run.
//!
//! `cargo run --release --example crosscheck_reference -- [--label lesion] [--budget 400]
//! [--volumes 20] [--steps 300] [--features 8,16,32,64] [--lr 0.003] [--batch 8]
//! [--seeds 0,1,2] [--holdout 4] [--python python3] [--out DIR]`
//!
//! The plan (seed 0) is fixed; only the training seed varies. The PyTorch side needs `torch` and
//! `numpy` in `--python` (or `$SLICEPLAN_TORCH_PYTHON`). Runs on the demo cohort, on the CPU.

mod common;

use std::path::Path;
use std::process::Command;

use common::{BenchArgs, load_average, reference_script};
use sliceplan::dataset::{Dataset, TargetLabels, demo};
use sliceplan::jobs::Progress;
use sliceplan::plan::{Budget, Plan, PlanRequest, make_plan};
use sliceplan::train::data::{BORDER_MARGIN, TrainCase, prepare_case};
use sliceplan::train::prepare::prepare_training;
use sliceplan::train::{BackendChoice, TrainConfig, TrainJob, train_and_evaluate};

fn list<T: std::str::FromStr>(text: &str) -> Vec<T> {
    text.split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect()
}

fn write_case(dir: &Path, case: &TrainCase) -> std::io::Result<()> {
    let image: Vec<u8> = case.image.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join(format!("{}.image.f32", case.id)), image)?;
    std::fs::write(dir.join(format!("{}.target.u8", case.id)), &case.target)
}

fn case_meta(case: &TrainCase) -> serde_json::Value {
    let supervised: Vec<usize> = (0..case.dims[2]).filter(|&s| case.supervised[s]).collect();
    serde_json::json!({
        "id": case.id,
        "dims": case.dims,
        "supervised": supervised,
        "pad_value": case.pad_value,
    })
}

/// Writes the plan's training slices and the test volumes as sliceplan prepares them.
fn export(
    ds: &Dataset,
    plan: &Plan,
    target: &TargetLabels,
    config: &TrainConfig,
    dir: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    // The training slices exactly as a run prepares them.
    let prepared = prepare_training(&TrainJob::new(ds, plan, target, config), &Progress::new())?;
    let (axis, factor) = (plan.volumes[0].axis, prepared.factor);
    let mut train = Vec::new();
    let mut max_h = 0;
    for case in &prepared.cases {
        max_h = max_h.max(case.dims[0]).max(case.dims[1]);
        write_case(dir, case)?;
        train.push(case_meta(case));
    }
    let mut test = Vec::new();
    for id in &plan.test_cases {
        let case = ds.load(ds.require_case(id)?)?;
        let prepared = prepare_case(&case, axis, target, None, None, factor)?;
        write_case(dir, &prepared)?;
        test.push(case_meta(&prepared));
    }
    let features = config.features.clone().unwrap_or_default();
    let divisor = 1usize << (features.len() - 1);
    let side = (max_h + 2 * BORDER_MARGIN).div_ceil(divisor) * divisor;
    let meta = serde_json::json!({
        "train": train,
        "test": test,
        "patch": [side, side],
        "margin": BORDER_MARGIN,
        "divisor": divisor,
        "features": features,
        "steps": config.steps,
        "batch": config.batch_size,
        "learning_rate": config.learning_rate,
        "fg_fraction": config.fg_fraction,
        "in_plane_factor": factor,
    });
    std::fs::write(dir.join("meta.json"), serde_json::to_vec_pretty(&meta)?)?;
    Ok(())
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, var.sqrt())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = BenchArgs::from_env();
    let ds = demo::dataset();
    let label = args.value("--label").unwrap_or_else(|| "lesion".into());
    let target = TargetLabels::parse(&label, &ds.label_names)?;
    let request = PlanRequest {
        budget: Some(Budget::Slices(args.parsed("--budget", 400))),
        volumes: Some(args.parsed("--volumes", 20)),
        holdout: args.parsed("--holdout", 4),
        target: target.clone(),
        ..PlanRequest::default()
    };
    let plan = make_plan(&ds, &request, &Progress::new())?;
    let base = TrainConfig {
        backend: BackendChoice::Cpu,
        steps: args.parsed("--steps", 300),
        batch_size: Some(args.parsed("--batch", 8)),
        features: Some(list(
            &args
                .value("--features")
                .unwrap_or_else(|| "8,16,32,64".into()),
        )),
        learning_rate: args.parsed("--lr", 3e-3),
        max_in_plane: None,
        ..TrainConfig::default()
    };
    let out = args
        .value("--out")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("sliceplan-crosscheck"));
    export(&ds, &plan, &target, &base, &out)?;
    let python = args
        .value("--python")
        .or_else(|| std::env::var("SLICEPLAN_TORCH_PYTHON").ok())
        .unwrap_or_else(|| "python3".into());
    let script = reference_script("examples/reference/sparse_reference.py");
    let seeds: Vec<u64> = list(&args.value("--seeds").unwrap_or_else(|| "0,1,2".into()));
    println!(
        "crosscheck: demo, target {label}, {} slices over {} volumes, {} held out; {} steps, batch {}, features {:?}, lr {}; load {}",
        plan.total_slices(),
        plan.volumes.len(),
        plan.test_cases.len(),
        base.steps,
        base.batch_size.unwrap_or(0),
        base.features.clone().unwrap_or_default(),
        base.learning_rate,
        load_average()
    );
    println!("| seed | sliceplan mean Dice | PyTorch mean Dice | sliceplan s | PyTorch s |");
    println!("|---|---|---|---|---|");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for &seed in &seeds {
        let config = TrainConfig {
            seed,
            ..base.clone()
        };
        let report = train_and_evaluate(
            &TrainJob::new(&ds, &plan, &target, &config),
            &Progress::new(),
        )?;
        let output = Command::new(&python)
            .arg(&script)
            .arg(&out)
            .arg(seed.to_string())
            .env("OMP_WAIT_POLICY", "PASSIVE")
            .env("REFERENCE_THREADS", "2")
            .output()?;
        if !output.status.success() {
            return Err(format!(
                "the PyTorch reference failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        let line = String::from_utf8_lossy(&output.stdout);
        let reference: serde_json::Value = serde_json::from_str(line.trim())?;
        let dice_ref: Vec<f64> = plan
            .test_cases
            .iter()
            .map(|id| reference["dice"][id].as_f64().unwrap_or(f64::NAN))
            .collect();
        let ref_mean = dice_ref.iter().sum::<f64>() / dice_ref.len().max(1) as f64;
        println!(
            "| {seed} | {:.3} ({}) | {:.3} ({}) | {:.0} | {:.0} |",
            report.mean_dice,
            report
                .test
                .iter()
                .map(|t| format!("{:.2}", t.dice))
                .collect::<Vec<_>>()
                .join(" "),
            ref_mean,
            dice_ref
                .iter()
                .map(|d| format!("{d:.2}"))
                .collect::<Vec<_>>()
                .join(" "),
            report.train_seconds,
            reference["train_seconds"].as_f64().unwrap_or(f64::NAN)
        );
        ours.push(report.mean_dice);
        theirs.push(ref_mean);
    }
    let (m1, s1) = mean_sd(&ours);
    let (m2, s2) = mean_sd(&theirs);
    println!(
        "mean over seeds: sliceplan {m1:.3} ± {s1:.3}, PyTorch {m2:.3} ± {s2:.3}; difference {:+.3}",
        m1 - m2
    );
    Ok(())
}
