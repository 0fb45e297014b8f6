//! Command-line front end. Every subcommand calls the same library functions as the GUI.

mod args;
mod commands;

use anyhow::Result;

pub use args::Args;

const HELP: &str = "sliceplan — plan which slices to annotate, and predict the Dice each plan buys

USAGE
  sliceplan                          start the GUI on the built-in demo cohort
  sliceplan gui [--data DIR]         start the GUI on a dataset
  sliceplan info PATH [--json]       describe a NIfTI file or a dataset folder
  sliceplan demo --out DIR           write the demo cohort as an nnU-Net raw dataset
  sliceplan plan --data DIR (--budget-slices B | --budget-hours H) [--volumes S | --density RHO]
                 [--strategy random|fixed|ual|coreset|foreground-random|foreground-fixed]
                 [--volume-strategy random|representative] [--rounding fixed-k|density]
                 [--min-slices K] [--plane axial|coronal|sagittal] [--seed N] [--holdout N]
                 [--seconds-per-slice X] [--seconds-per-volume Y] [--label L]
                 [--body-threshold V] [--body-min-fraction F]
                 --out plan.json [--csv worklist.csv] [--json]
  sliceplan export-nnunet --data DIR --plan plan.json --out DIR [--label L] [--masks DIR] [--json]
  sliceplan status --data DIR --plan plan.json --masks DIR [--ignore V] [--remaining-csv F] [--json]
  sliceplan interp --data DIR --plan plan.json [--method sdf|linear|nearest] --out DIR [--extrapolate]
                   [--label L] [--json]
  sliceplan train --data DIR --plan plan.json [--model 2d|3d] [--backend auto|wgpu|cpu] [--steps N]
                  --out RUN [--resume] [--predict-out DIR] [--batch B] [--patch H,W|D,H,W]
                  [--lr X] [--seed N] [--label L] [--interp sdf|linear|nearest]
                  [--features 16,32,64,128,256] [--max-in-plane N] [--json]
  sliceplan simulate --data DIR (--budget-slices B | --budget-hours H) [--holdout N]
                  [--volumes-grid 1,4,8] [--strategies fixed,random] [--model 2d|3d]
                  [--interp none,sdf] [--seeds 0,1,2] [--steps N] [--backend auto|wgpu|cpu] [--json]

--data demo uses the built-in synthetic cohort. Labels (--label) are names or values, comma-separated.";

/// Runs the command line; returns the process exit code.
pub fn run(argv: Vec<String>) -> i32 {
    // `sliceplan COMMAND --help` shows the usage rather than a missing-option error.
    if argv.len() > 1 && argv[1..].iter().any(|a| a == "--help" || a == "-h") {
        println!("{HELP}");
        return 0;
    }
    let mut items = argv.into_iter();
    let command = items.next();
    let args = Args::new(items.collect());
    let result: Result<()> = match command.as_deref() {
        None => commands::gui(Args::new(Vec::new())),
        Some("gui") => commands::gui(args),
        Some("help" | "--help" | "-h") => {
            println!("{HELP}");
            Ok(())
        }
        Some("info") => commands::info(args),
        Some("demo") => commands::demo(args),
        Some("plan") => commands::plan(args),
        Some("export-nnunet") => commands::export_nnunet(args),
        Some("status") => commands::status(args),
        Some("interp") => commands::interp(args),
        Some("train") => commands::train(args),
        Some("simulate") => commands::simulate(args),
        Some(other) => Err(anyhow::anyhow!(
            "unknown command '{other}' (see `sliceplan help`)"
        )),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("sliceplan: {e:#}");
            2
        }
    }
}
