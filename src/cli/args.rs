//! The command line, declared with clap: every subcommand, its options, their defaults and help.
//! Flag names are the ones scripts have used since 0.1; usage errors exit with code 2.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use sliceplan::interp::Method;
use sliceplan::plan::CostModel;
use sliceplan::plan::{SliceStrategy, VolumeStrategy};
use sliceplan::train::{BackendChoice, ModelKind, TrainConfig};

const AFTER_HELP: &str = "--data demo uses the built-in synthetic cohort. Labels (--label) are names or values, \
comma-separated. Errors are one sentence on stderr, exit code 2. RUST_LOG=sliceplan=debug (or -v, -vv) \
shows more log messages.";

/// sliceplan — plan which slices to annotate, and predict the Dice each plan buys.
///
/// Without a command the desktop app starts (on the last dataset opened, else the built-in demo
/// cohort).
#[derive(Debug, Parser)]
#[command(name = "sliceplan", version, about, long_about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// No progress on stderr (results on stdout are unchanged)
    #[arg(long, short, global = true, env = "SLICEPLAN_QUIET")]
    pub quiet: bool,
    /// More log messages on stderr: -v debug, -vv trace (RUST_LOG overrides)
    #[arg(long, short, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

// Parsed once per process: boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The desktop app on a dataset
    Gui(GuiArgs),
    /// Describe a NIfTI file, a DICOM folder (its series) or a dataset folder
    Info(InfoArgs),
    /// Write the demo cohort as an nnU-Net raw dataset
    Demo(DemoArgs),
    /// Choose volumes and slices for a budget; write plan.json and a worklist
    Plan(PlanArgs),
    /// A sparse nnU-Net v2 dataset of a plan (unannotated voxels = ignore label)
    ExportNnunet(ExportNnunetArgs),
    /// Compare annotators' returned masks with a plan (or read a hand-off package back)
    Status(StatusArgs),
    /// Split a plan between annotators: per annotator a worklist to tick and, per case, a
    /// label template with files for 3D Slicer and ITK-SNAP
    Handoff(HandoffArgs),
    /// Interpolate masks between a plan's slices
    Interp(InterpArgs),
    /// Train a 2D/3D U-Net on a plan's slices; Dice on held-out volumes
    Train(TrainArgs),
    /// Train and score several plans at one budget side by side
    Simulate(SimulateArgs),
    /// Run a study file (budgets × allocations × strategies × …) into a result store, show its
    /// status, write its report
    Study(StudyArgs),
    /// Where the GPU kernel cache is and how large; --clear empties it
    Cache(CacheArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(CompletionsArgs),
    /// Put sliceplan in the desktop's application launcher (a .desktop file and its icon)
    InstallDesktop(InstallDesktopArgs),
}

#[derive(Debug, Args)]
pub struct GuiArgs {
    /// Dataset folder, DICOM folder or `demo` to open [default: the last one opened, else the demo]
    #[arg(long, value_name = "DIR", env = "SLICEPLAN_DATA")]
    pub data: Option<String>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A NIfTI file (.nii, .nii.gz, .hdr), a folder of DICOM files, a dataset folder, or `demo`
    #[arg(value_name = "PATH")]
    pub path: String,
    /// In a DICOM folder, describe the voxels of this series (SeriesInstanceUID)
    #[arg(long, value_name = "UID")]
    pub series: Option<String>,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the 24 synthetic cases as an nnU-Net v2 raw dataset
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The dataset (`--data`), shared by most commands.
#[derive(Debug, Args)]
pub struct DataArg {
    /// Dataset folder, DICOM folder, or `demo`
    #[arg(long, value_name = "DIR", env = "SLICEPLAN_DATA")]
    pub data: String,
}

/// How plans are made: shared by `plan` and `simulate`.
#[derive(Debug, Args)]
pub struct PlanOptions {
    /// Budget in annotated slices
    #[arg(long, value_name = "B", conflicts_with = "budget_hours")]
    pub budget_slices: Option<usize>,
    /// Budget in hours of annotation (with the cost model below)
    #[arg(long, value_name = "H")]
    pub budget_hours: Option<f64>,
    /// Cost of annotating one slice (seconds)
    #[arg(long, value_name = "X", default_value_t = CostModel::default().seconds_per_slice)]
    pub seconds_per_slice: f64,
    /// Cost of opening and orienting one volume (seconds)
    #[arg(long, value_name = "Y", default_value_t = CostModel::default().seconds_per_volume)]
    pub seconds_per_volume: f64,
    /// Annotate S volumes [default: as many as the budget allows]
    #[arg(long, value_name = "S")]
    pub volumes: Option<usize>,
    /// Annotate a fraction RHO of each volume's slices
    #[arg(long, value_name = "RHO")]
    pub density: Option<f64>,
    /// Slice selection (foreground-*: simulation only)
    #[arg(long, value_name = "NAME", default_value = "fixed")]
    pub strategy: SliceStrategy,
    /// Which volumes are annotated
    #[arg(long, value_name = "NAME", default_value = "random")]
    pub volume_strategy: VolumeStrategy,
    /// How slices are shared between volumes
    #[arg(long, value_name = "NAME", default_value = "fixed-k", value_parser = ["fixed-k", "fixed", "density"])]
    pub rounding: String,
    /// At least K slices per volume
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub min_slices: usize,
    /// Slicing plane
    #[arg(long, value_name = "NAME", default_value = "axial", value_parser = ["axial", "coronal", "sagittal"])]
    pub plane: String,
    /// Seed of the plan and hold-out
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Volumes kept aside as test volumes (simulate: 0 holds out a quarter of the volumes)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub holdout: usize,
    /// Draw the test volumes with this seed whatever --seed(s) say, so every seed is scored on
    /// the same volumes [default: each seed draws its own]
    #[arg(long, value_name = "N")]
    pub holdout_seed: Option<u64>,
    /// Target labels, names or values [default: the demo's spleen; elsewhere every non-zero label]
    #[arg(long, value_name = "L")]
    pub label: Option<String>,
    /// Intensity above which a voxel is body [default: -500 HU for CT, 10 % of the 99th
    /// percentile for MR]
    #[arg(long, value_name = "V", allow_negative_numbers = true)]
    pub body_threshold: Option<f64>,
    /// A slice is a candidate with at least this body fraction [default: 0.05]
    #[arg(long, value_name = "F")]
    pub body_min_fraction: Option<f64>,
}

/// How a net is trained: shared by `train` and `simulate`.
#[derive(Debug, Args)]
pub struct TrainOptions {
    /// The U-Net
    #[arg(long, value_name = "2d|3d", default_value = "2d")]
    pub model: ModelKind,
    /// auto: the fastest this build has (a GPU when there is one, else the CPU; libtorch first
    /// in a --features torch build); tch: libtorch (CUDA, else CPU)
    #[arg(long, value_name = "NAME", default_value = "auto")]
    pub backend: BackendChoice,
    /// Training steps
    #[arg(long, value_name = "N", default_value_t = TrainConfig::default().steps)]
    pub steps: usize,
    /// Samples per step [default: 8 for 2D, 2 for 3D]
    #[arg(long, value_name = "B")]
    pub batch: Option<usize>,
    /// Patch size H,W or D,H,W [default: 2D the whole slice and a margin, 3D 16,64,64]
    #[arg(long, value_name = "SIZE")]
    pub patch: Option<String>,
    /// Learning rate
    #[arg(long, value_name = "X", default_value_t = TrainConfig::default().learning_rate)]
    pub lr: f64,
    /// Features per level, F1,F2,… [default: 2D 16,32,64,128,256; 3D 8,…,128]
    #[arg(long, value_name = "LIST")]
    pub features: Option<String>,
    /// Downsample in-plane sides above N [default: about 128, less downsampling when the target
    /// would fall under 24 px]
    #[arg(long, value_name = "N")]
    pub max_in_plane: Option<usize>,
    /// Early stopping: score a validation split of the plan's own annotated slices every N
    /// steps, keep the best net [default: off]
    #[arg(long, value_name = "N")]
    pub validate_every: Option<usize>,
    /// Stop after P validations without improvement [default: 5]
    #[arg(long, value_name = "P", requires = "validate_every")]
    pub patience: Option<usize>,
    /// While the net has not fitted its annotated slices (a small target), train on past
    /// --steps, doubling them, up to N steps [default: off]
    #[arg(long, value_name = "N", conflicts_with = "validate_every")]
    pub max_steps: Option<usize>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub data: DataArg,
    #[command(flatten)]
    pub plan: PlanOptions,
    /// Write the plan (JSON)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the annotators' worklist (CSV)
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportNnunetArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// The plan to export
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The nnU-Net v2 raw dataset to write
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Classes to keep, renumbered 1..K [default: every non-zero label]
    #[arg(long, value_name = "L")]
    pub label: Option<String>,
    /// Take labels from annotators' returned masks instead of the dataset's dense labels: a
    /// folder of CASE.nii.gz / .seg.nrrd / .nrrd / .dcm (DICOM SEG), or a returned hand-off
    /// package (its answered slices)
    #[arg(long, value_name = "DIR")]
    pub masks: Option<PathBuf>,
    /// Keep labels the annotators painted off the planned slices (dropped by default)
    #[arg(long, requires = "masks")]
    pub keep_off_plan: bool,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HandoffArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// The plan to hand off
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// How many annotators share the volumes (whole volumes each, balanced by hours)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub annotators: usize,
    /// Share of the volumes also given to a second annotator, for agreement checks
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    pub overlap: f64,
    /// The package folder to write
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Overwrite a folder that is not empty
    #[arg(long)]
    pub force: bool,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// The plan the masks answer
    #[arg(long, value_name = "FILE", required_unless_present = "handoff")]
    pub plan: Option<PathBuf>,
    /// The returned masks (CASE.nii.gz, .seg.nrrd, .nrrd or DICOM SEG .dcm)
    #[arg(long, value_name = "DIR", required_unless_present = "handoff")]
    pub masks: Option<PathBuf>,
    /// A hand-off package returned by its annotators (`sliceplan handoff`): its saved templates
    /// and ticked worklists, and the agreement on shared cases
    #[arg(long, value_name = "DIR", conflicts_with_all = ["plan", "masks"])]
    pub handoff: Option<PathBuf>,
    /// A label value meaning "not annotated" in the masks
    #[arg(long, value_name = "V", allow_negative_numbers = true)]
    pub ignore: Option<i64>,
    /// Write the worklist of what is still to do
    #[arg(long, value_name = "FILE")]
    pub remaining_csv: Option<PathBuf>,
    /// Write a hand-off's status report (Markdown: counts per case, agreement per shared case
    /// and the slices that disagree most)
    #[arg(long, value_name = "FILE", requires = "handoff")]
    pub report: Option<PathBuf>,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InterpArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// The plan whose slices are interpolated between
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// Interpolation method (sdf reads the image where caps end; sdf-labels the labels alone)
    #[arg(long, value_name = "NAME", default_value = "sdf")]
    pub method: Method,
    /// Write the interpolated label maps here (CASE.nii.gz)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also fill beyond the outermost annotated slices (a copy of the nearest one); between
    /// annotated slices an object without a counterpart ends mid-gap either way
    #[arg(long)]
    pub extrapolate: bool,
    /// Labels to interpolate [default: the plan's target labels]
    #[arg(long, value_name = "L")]
    pub label: Option<String>,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// The plan whose slices are trained on
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// Run folder: checkpoints and report.json
    #[arg(long, value_name = "RUN")]
    pub out: PathBuf,
    /// Continue from the checkpoint in RUN
    #[arg(long)]
    pub resume: bool,
    /// Save a checkpoint every N steps (0: only at the end)
    #[arg(long, value_name = "N", default_value_t = sliceplan::train::TrainConfig::default().checkpoint_every)]
    pub checkpoint_every: usize,
    /// Write the test predictions as NIfTI
    #[arg(long, value_name = "DIR")]
    pub predict_out: Option<PathBuf>,
    /// Train on masks interpolated between the slices
    #[arg(long, value_name = "NAME")]
    pub interp: Option<Method>,
    /// Seed of the training
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Target labels [default: the demo's spleen; elsewhere every non-zero label]
    #[arg(long, value_name = "L")]
    pub label: Option<String>,
    #[command(flatten)]
    pub train: TrainOptions,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Volume counts to compare, e.g. 1,4,8 [default: 4 counts from 1 to all]
    #[arg(long, value_name = "LIST")]
    pub volumes_grid: Option<String>,
    /// Slice strategies side by side, e.g. fixed,random [default: --strategy]
    #[arg(long, value_name = "LIST")]
    pub strategies: Option<String>,
    /// Train on the annotated slices (none) and/or interpolated masks, e.g. none,sdf or
    /// none,sdf,sdf-labels (sdf without reading the image)
    #[arg(long, value_name = "LIST", default_value = "none")]
    pub interp: String,
    /// Run every scenario per seed, e.g. 0,1,2 [default: --seed]
    #[arg(long, value_name = "LIST")]
    pub seeds: Option<String>,
    /// Reruns per scenario of runs that did not learn, each under the next rerun seed (1000, …)
    #[arg(long, value_name = "N", default_value_t = sliceplan::study::reruns::DEFAULT_RERUNS)]
    pub reruns: usize,
    #[command(flatten)]
    pub plan: PlanOptions,
    #[command(flatten)]
    pub train: TrainOptions,
    /// Result store; stored runs are not rerun [default: DATA/.sliceplan; for the demo, the
    /// user's data folder, e.g. ~/.local/share/sliceplan/stores/demo]
    #[arg(long, value_name = "DIR", env = "SLICEPLAN_STORE")]
    pub store: Option<PathBuf>,
    /// Machine-readable output (progress stays on stderr)
    #[arg(long)]
    pub json: bool,
}

/// What `study` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StudyAction {
    /// Run the study's runs that the store lacks (each stored as it ends; a rerun after a cancel
    /// or crash picks up where it stopped)
    Run,
    /// How many runs are done, skipped and missing
    Status,
    /// report.md, report.html, PNG and SVG plots (--out): ranking with 95 % intervals, budget
    /// curves, the three questions answered for this data
    Report,
    /// The study under its preset and under a reference preset: Spearman rank correlation, mean
    /// absolute error and a fitted quick → reference correction
    Calibrate,
    /// A Slurm job array (study.sbatch) and manifest.json of the missing runs (--out)
    ExportSlurm,
    /// One array task: run I of the manifest into a store of its own (--manifest, --index)
    RunTask,
    /// Merge the tasks' runs into the study's store (--manifest)
    Collect,
}

/// A study file (TOML) names: budgets_slices or budgets_hours, seconds_per_slice,
/// seconds_per_volume, allocations (spread, volumes:S, density:RHO), strategies, interpolation
/// (none, sdf, …), models (2d, 3d), seeds, preset (tiny, quick, full), steps, backend, holdout,
/// labels, name. See examples/studies/.
#[derive(Debug, Args)]
#[command(
    override_usage = "sliceplan study <run|status|report|calibrate|export-slurm> STUDY.toml --data DIR [OPTIONS]\n       sliceplan study run-task --manifest FILE --index I\n       sliceplan study collect --manifest FILE"
)]
pub struct StudyArgs {
    /// What to do
    #[arg(value_enum, value_name = "ACTION")]
    pub action: StudyAction,
    /// The study file (not for run-task and collect)
    #[arg(value_name = "STUDY.toml")]
    pub file: Option<PathBuf>,
    /// Dataset folder, DICOM folder, or `demo` (not for run-task and collect)
    #[arg(long, value_name = "DIR", env = "SLICEPLAN_DATA")]
    pub data: Option<String>,
    /// Result store [default: DATA/.sliceplan; for the demo, the user's data folder, e.g.
    /// ~/.local/share/sliceplan/stores/demo]
    #[arg(long, value_name = "DIR", env = "SLICEPLAN_STORE")]
    pub store: Option<PathBuf>,
    /// (report, export-slurm) where to write
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// (export-slurm) #SBATCH --partition [default: the cluster's]
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// (export-slurm) #SBATCH --gpus-per-task
    #[arg(long, value_name = "N")]
    pub gpus_per_task: Option<usize>,
    /// (export-slurm) #SBATCH --time
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// (export-slurm) #SBATCH --mem
    #[arg(long, value_name = "M")]
    pub mem: Option<String>,
    /// (export-slurm) #SBATCH --cpus-per-task
    #[arg(long, value_name = "N")]
    pub cpus_per_task: Option<usize>,
    /// (calibrate) the reference preset
    #[arg(long, value_name = "P", default_value = "full")]
    pub reference_preset: String,
    /// (calibrate) steps of the reference runs [default: the preset's]
    #[arg(long, value_name = "N")]
    pub reference_steps: Option<usize>,
    /// The study under preset P instead of its own (tiny, quick, full)
    #[arg(long, value_name = "P")]
    pub preset: Option<String>,
    /// With --preset: that many steps
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
    /// (run) N worker processes, each with its share of the cores, all writing to the one store
    /// (auto: one per core on the CPU, one on a GPU)
    #[arg(long, value_name = "N|auto", default_value = "auto")]
    pub workers: String,
    /// (run) reruns per scenario of runs that did not learn, each under the next rerun seed
    /// (1000, 1001, …) [default: the study's `reruns`, else 2]
    #[arg(long, value_name = "N")]
    pub reruns: Option<usize>,
    /// (run) only every N-th run from the K-th (what each worker process runs)
    #[arg(long, value_name = "K/N")]
    pub worker: Option<String>,
    /// (run) race each scenario's allocations instead of running every run: one seed at both
    /// ends and the middle, more seeds only where they can change the recommendation, new
    /// allocations next to the leader; stops when decided, equivalent or out of budget
    #[arg(long)]
    pub race: bool,
    /// (run --race) allocations within this Dice of the leader at 95 % are equivalent
    #[arg(long, value_name = "DICE", default_value_t = sliceplan::study::race::DEFAULT_MARGIN, requires = "race", allow_negative_numbers = true)]
    pub margin: f64,
    /// (run --race) at most N runs per race (stored runs count)
    #[arg(long, value_name = "N", requires = "race")]
    pub max_runs: Option<usize>,
    /// (run --race) at most this many minutes of training per race (stored runs count)
    #[arg(long, value_name = "MIN", requires = "race")]
    pub max_minutes: Option<f64>,
    /// (run-task, collect) the manifest export-slurm wrote
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// (run-task) the array task id
    #[arg(long, value_name = "I", env = "SLURM_ARRAY_TASK_ID")]
    pub index: Option<usize>,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

/// GPU kernels compiled and autotuned by wgpu training are kept across runs and processes in
/// the user's cache folder (e.g. ~/.cache/sliceplan/kernels), shared by the GUI and the CLI;
/// SLICEPLAN_KERNEL_CACHE=DIR moves it, SLICEPLAN_KERNEL_CACHE=off turns it off.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Empty it (the next GPU run compiles and tunes again)
    #[arg(long)]
    pub clear: bool,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

/// Prints a completion script on stdout, e.g.
/// `sliceplan completions bash > ~/.local/share/bash-completion/completions/sliceplan`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes sliceplan.desktop and the icon under the user's data folder (XDG: ~/.local/share),
/// pointing at this executable, so the app appears in the launcher.
#[derive(Debug, Args)]
pub struct InstallDesktopArgs {
    /// Install under this folder instead (it gets applications/ and icons/)
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<PathBuf>,
    /// Remove what an earlier install wrote
    #[arg(long)]
    pub uninstall: bool,
}
