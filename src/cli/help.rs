//! Help texts: the overview (`sliceplan help`) and one page per command (`sliceplan COMMAND
//! --help`) listing every option that command accepts, with its default.

pub const OVERVIEW: &str =
    "sliceplan — plan which slices to annotate, and predict the Dice each plan buys

USAGE
  sliceplan                    start the GUI on the built-in demo cohort
  sliceplan COMMAND [OPTIONS]  run a command; `sliceplan COMMAND --help` lists its options

COMMANDS
  gui            the desktop app on a dataset
  info           describe a NIfTI file or a dataset folder
  demo           write the demo cohort as an nnU-Net raw dataset
  plan           choose volumes and slices for a budget; write plan.json and a worklist
  export-nnunet  a sparse nnU-Net v2 dataset of a plan (unannotated voxels = ignore label)
  status         compare annotators' returned masks with a plan
  interp         interpolate masks between a plan's slices
  train          train a 2D/3D U-Net on a plan's slices; Dice on held-out volumes
  simulate       train and score several plans at one budget side by side
  study          run a study file (budgets × allocations × strategies × …) into a result
                 store, show its status, write its report
  cache          where the GPU kernel cache is and how large; --clear empties it

GLOBAL OPTIONS
  --quiet        no progress on stderr (results on stdout are unchanged)
  --help, -h     this text, or a command's options

--data demo uses the built-in synthetic cohort. Labels (--label) are names or values,
comma-separated. Errors are one sentence on stderr, exit code 2.";

const GUI: &str = "sliceplan gui [--data DIR]

  --data DIR     dataset folder to open (default: the last one opened, else the demo cohort)";

const INFO: &str = "sliceplan info PATH [--json]

  PATH           a NIfTI file (.nii, .nii.gz, .hdr) or a dataset folder, or `demo`
  --json         machine-readable output";

const DEMO: &str = "sliceplan demo --out DIR

  --out DIR      where to write the 24 synthetic cases as an nnU-Net v2 raw dataset";

/// Options shared by `plan` and `simulate` (how plans are made).
const PLAN_OPTIONS: &str = "  --data DIR                  dataset folder, or `demo`
  --budget-slices B           budget in annotated slices
  --budget-hours H            budget in hours of annotation (with the cost model below)
  --seconds-per-slice X       cost of annotating one slice (default 90)
  --seconds-per-volume Y      cost of opening and orienting one volume (default 120)
  --volumes S                 annotate S volumes (default: as many as the budget allows)
  --density RHO               annotate a fraction RHO of each volume's slices
  --strategy NAME             slice selection: fixed (default), random, ual, coreset,
                              foreground-random, foreground-fixed (last two: simulation only)
  --volume-strategy NAME      random (default) or representative
  --rounding NAME             fixed-k (default) or density
  --min-slices K              at least K slices per volume (default 1)
  --plane NAME                axial (default), coronal or sagittal
  --seed N                    seed of the plan and hold-out (default 0)
  --holdout N                 volumes kept aside as test volumes (default 0 for plan)
  --label L                   target labels, names or values (default: every non-zero label)
  --body-threshold V          intensity above which a voxel is body (default -500 HU for CT,
                              10 % of the 99th percentile for MR)
  --body-min-fraction F       a slice is a candidate with at least this body fraction (0.05)";

/// Options shared by `train` and `simulate` (how a net is trained).
const TRAIN_OPTIONS: &str = "  --model 2d|3d               the U-Net (default 2d)
  --backend auto|wgpu|cpu     auto (default): the GPU when there is one, else the CPU
  --steps N                   training steps (default 300)
  --batch B                   samples per step (default 8 for 2D, 2 for 3D)
  --patch H,W | D,H,W         patch size (default: 2D the whole slice and a margin, 3D 16,64,64)
  --lr X                      learning rate (default 0.001)
  --features F1,F2,...        features per level (default 2D 16,32,64,128,256; 3D 8,...,128)
  --max-in-plane N            downsample in-plane sides above N (default: about 128, less
                              downsampling when the target would fall under 24 px)
  --validate-every N          early stopping: score a validation split of the plan's own
                              annotated slices every N steps, keep the best net (default: off)
  --patience P                stop after P validations without improvement (default 5)";

const EXPORT_NNUNET: &str =
    "sliceplan export-nnunet --data DIR --plan plan.json --out DIR [OPTIONS]

  --data DIR     dataset folder, or `demo`
  --plan FILE    the plan to export
  --out DIR      the nnU-Net v2 raw dataset to write
  --label L      classes to keep, renumbered 1..K (default: every non-zero label)
  --masks DIR    take labels from annotators' returned masks (CASE.nii.gz) instead of the
                 dataset's dense labels
  --json         machine-readable output";

const CACHE: &str = "sliceplan cache [--clear] [--json]

GPU kernels compiled and autotuned by wgpu training are kept across runs and processes in
$XDG_CACHE_HOME/sliceplan/kernels (else ~/.cache/sliceplan/kernels), shared by the GUI and the
CLI; SLICEPLAN_KERNEL_CACHE=DIR moves it, SLICEPLAN_KERNEL_CACHE=off turns it off.

  --clear   empty it (the next GPU run compiles and tunes again)
  --json    machine-readable output";

const STATUS: &str = "sliceplan status --data DIR --plan plan.json --masks DIR [OPTIONS]

  --data DIR            dataset folder, or `demo`
  --plan FILE           the plan the masks answer
  --masks DIR           the returned masks (CASE.nii.gz)
  --ignore V            a label value meaning \"not annotated\" in the masks
  --remaining-csv FILE  write the worklist of what is still to do
  --json                machine-readable output";

const INTERP: &str = "sliceplan interp --data DIR --plan plan.json [OPTIONS]

  --data DIR       dataset folder, or `demo`
  --plan FILE      the plan whose slices are interpolated between
  --method NAME    sdf (default), linear or nearest
  --out DIR        write the interpolated label maps here (CASE.nii.gz)
  --extrapolate    also fill beyond the outermost annotated slices (a copy of the nearest
                   one); between annotated slices an object without a counterpart ends
                   mid-gap either way
  --label L        labels to interpolate (default: the plan's target labels)
  --json           machine-readable output";

fn plan_help() -> String {
    format!(
        "sliceplan plan --data DIR (--budget-slices B | --budget-hours H) [OPTIONS]\n\n{PLAN_OPTIONS}\n  --out FILE                  write the plan (JSON)\n  --csv FILE                  write the annotators' worklist (CSV)\n  --json                      machine-readable output"
    )
}

fn train_help() -> String {
    format!(
        "sliceplan train --data DIR --plan plan.json --out RUN [OPTIONS]\n\n  --data DIR                  dataset folder, or `demo`\n  --plan FILE                 the plan whose slices are trained on\n  --out RUN                   run folder: checkpoints and report.json\n  --resume                    continue from the checkpoint in RUN\n  --predict-out DIR           write the test predictions as NIfTI\n  --interp NAME               train on masks interpolated between the slices (sdf, linear,\n                              nearest)\n  --seed N                    seed of the training (default 0)\n  --label L                   target labels (default: every non-zero label)\n{TRAIN_OPTIONS}\n  --json                      machine-readable output"
    )
}

fn simulate_help() -> String {
    format!(
        "sliceplan simulate --data DIR (--budget-slices B | --budget-hours H) [OPTIONS]\n\nPlans at one budget, each trained and scored on the same held-out volumes.\n\n  --volumes-grid 1,4,8        volume counts to compare (default: 4 counts from 1 to all)\n  --strategies fixed,random   slice strategies side by side (default: --strategy)\n  --interp none,sdf           train on the annotated slices (none) and/or interpolated masks\n  --seeds 0,1,2               run every scenario per seed (default: --seed)\n{PLAN_OPTIONS}\n                              (simulate: --holdout 0 holds out a quarter of the volumes)\n{TRAIN_OPTIONS}\n  --store DIR                 result store (default: DATA/.sliceplan; for the demo,
                              $XDG_DATA_HOME/sliceplan/stores/demo); stored runs are not rerun
  --json                      machine-readable output (progress stays on stderr)"
    )
}

const STUDY: &str =
    "sliceplan study run|status|report|calibrate|export-slurm STUDY.toml --data DIR [OPTIONS]
sliceplan study run-task --manifest FILE --index I
sliceplan study collect --manifest FILE

  run            run the study's runs that the store lacks (each stored as it ends; a rerun
                 after a cancel or crash picks up where it stopped)
  status         how many runs are done, skipped and missing
  report         report.md, report.html, PNG and SVG plots: ranking with 95 % intervals, budget
                 curves, the three questions answered for this data
  --data DIR     dataset folder, or `demo`
  --store DIR    result store (default: DATA/.sliceplan; for the demo,
                 $XDG_DATA_HOME/sliceplan/stores/demo)
  calibrate      the study under its preset and under a reference preset (--reference-preset,
                 default full; --reference-steps N): Spearman rank correlation, mean absolute
                 error and a fitted quick → reference correction
  export-slurm   a Slurm job array (study.sbatch) and manifest.json of the missing runs
  run-task       one array task: runs run I of the manifest into a store of its own
  collect        merges the tasks' runs into the study's store
  --out DIR      (report, export-slurm) where to write
  --partition P  --gpus-per-task N  --time T  --mem M  --cpus-per-task N
                 (export-slurm) the #SBATCH settings; absent ones keep the cluster's defaults
  --workers N    (run) N worker processes, each with its share of the cores, all writing to
                 the one store (default auto: one per core on the CPU, one on a GPU)
  --worker K/N   (run) only every N-th run from the K-th (what each worker process runs)
  --preset P     the study under preset P instead of its own (--steps N: that many steps)
  --manifest F   (run-task, collect) the manifest export-slurm wrote
  --index I      (run-task) the array task id, $SLURM_ARRAY_TASK_ID
  --json         machine-readable output

A study file (TOML) names: budgets_slices or budgets_hours, seconds_per_slice,
seconds_per_volume, allocations (spread, volumes:S, density:RHO), strategies, interpolation
(none, sdf, …), models (2d, 3d), seeds, preset (tiny, quick, full), steps, backend, holdout,
labels, name. See examples/studies/.";

/// The help page of `command`, if it is one.
pub fn command_help(command: &str) -> Option<String> {
    Some(match command {
        "gui" => GUI.to_string(),
        "info" => INFO.to_string(),
        "demo" => DEMO.to_string(),
        "plan" => plan_help(),
        "export-nnunet" => EXPORT_NNUNET.to_string(),
        "status" => STATUS.to_string(),
        "cache" => CACHE.to_string(),
        "interp" => INTERP.to_string(),
        "train" => train_help(),
        "simulate" => simulate_help(),
        "study" => STUDY.to_string(),
        _ => return None,
    })
}
