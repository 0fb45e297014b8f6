//! Benchmark: open a 300-case dataset of real CTs and plan it with `ual`, against one nibabel
//! pass over the same files, side by side in one run (issue 11: "a 300-case dataset opens and
//! plans with `ual` in the time of one nibabel pass over its files").
//!
//! `cargo build --release && cargo run --release --example bench_dataset_plan [-- --cases 300]`
//! The dataset is an nnU-Net folder in the temp folder (`--dir D` to choose), its cases copies of
//! the real CTs in ../shared/data/real with their label maps, in turn (never stored in the repo).
//! Timed: `sliceplan plan --data D --strategy ual --budget-slices 2N` as a whole process (start,
//! opening the dataset, reading every planned volume for its slice features, selection), and
//! examples/reference/nibabel_pass.py loading every image once in one Python process
//! (interpreter start and imports not timed); and `sliceplan info D --json` (every image and
//! label map read, grids checked, intensity ranges and label counts) against nibabel loading every
//! image and label map. Three alternating rounds after
//! one untimed read of every file (so both read from the page cache); the median is reported.

mod common;
use common::{BenchArgs, load_average, measure_process, reference_script, sliceplan_exe};
use std::path::{Path, PathBuf};

const SOURCES: [&str; 5] = [
    "totalseg-ct-chest",
    "totalseg-ct-dicom-abdomen",
    "totalseg-ct-abdomen",
    "totalseg-ct-small",
    "tptbox-spine-ct",
];
const ROUNDS: usize = 3;

/// Writes the nnU-Net folder (once: an existing one with the same case count is kept); returns
/// the image files and the label files.
fn build_dataset(dir: &Path, cases: usize) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    let (images_dir, labels_dir) = (dir.join("imagesTr"), dir.join("labelsTr"));
    std::fs::create_dir_all(&images_dir).expect("imagesTr");
    std::fs::create_dir_all(&labels_dir).expect("labelsTr");
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for i in 0..cases {
        let source = real.join(SOURCES[i % SOURCES.len()]);
        let image = images_dir.join(format!("case_{i:03}_0000.nii.gz"));
        let label = labels_dir.join(format!("case_{i:03}.nii.gz"));
        for (from, to) in [("image.nii.gz", &image), ("labels.nii.gz", &label)] {
            if !to.is_file() {
                std::fs::copy(source.join(from), to)
                    .unwrap_or_else(|e| panic!("copy {}: {e}", source.join(from).display()));
            }
        }
        images.push(image);
        labels.push(label);
    }
    std::fs::write(
        dir.join("dataset.json"),
        r#"{"channel_names": {"0": "CT"}, "labels": {"background": 0, "structure": 1}, "file_ending": ".nii.gz"}"#,
    )
    .expect("dataset.json");
    (images, labels)
}

/// One nibabel pass over `files`: seconds (NaN when nibabel is missing).
fn nibabel_pass(list: &Path) -> f64 {
    let script = reference_script("examples/reference/nibabel_pass.py");
    match std::process::Command::new("python3")
        .arg(script)
        .arg(list)
        .output()
    {
        Ok(o) if o.status.success() => serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .ok()
            .and_then(|v| v["seconds"].as_f64())
            .unwrap_or(f64::NAN),
        Ok(o) => {
            eprintln!("nibabel: {}", String::from_utf8_lossy(&o.stderr));
            f64::NAN
        }
        Err(e) => {
            eprintln!("nibabel: {e}");
            f64::NAN
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn write_list(path: &Path, files: &[PathBuf]) {
    let text: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
    std::fs::write(path, text).expect("file list");
}

fn main() {
    let args = BenchArgs::from_env();
    let cases: usize = args.parsed("--cases", 300);
    let dir = args
        .value("--dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("sliceplan-bench-dataset-{cases}")));
    let (images, labels) = build_dataset(&dir, cases);
    let images_list = dir.join("images.txt");
    let all_list = dir.join("all.txt");
    write_list(&images_list, &images);
    write_list(&all_list, &[images.clone(), labels.clone()].concat());
    let bytes: u64 = images
        .iter()
        .chain(&labels)
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    // Untimed: every file once into the page cache.
    for f in images.iter().chain(&labels) {
        let _ = std::fs::read(f);
    }
    let exe = sliceplan_exe();
    let data = dir.display().to_string();
    let budget = (2 * cases).to_string();
    let plan_args = [
        "plan",
        "--data",
        &data,
        "--strategy",
        "ual",
        "--budget-slices",
        &budget,
        "--quiet",
    ];
    println!("load average before: {}", load_average());
    println!(
        "{cases} cases ({} files, {:.0} MB compressed) from {}",
        images.len() + labels.len(),
        bytes as f64 / 1e6,
        SOURCES.join(", ")
    );
    let info_args = ["info", &data, "--json", "--quiet"];
    let (mut plans, mut peaks, mut infos) = (vec![], vec![], vec![]);
    let (mut nib_images, mut nib_all) = (vec![], vec![]);
    for round in 0..ROUNDS {
        let (s, mb) = measure_process(&exe, &plan_args);
        plans.push(s);
        peaks.push(mb);
        let (info_s, _) = measure_process(&exe, &info_args);
        infos.push(info_s);
        nib_images.push(nibabel_pass(&images_list));
        nib_all.push(nibabel_pass(&all_list));
        eprintln!(
            "round {round}: sliceplan plan {s:.2} s ({mb:.0} MB), info {info_s:.2} s; nibabel images {:.2} s, images and labels {:.2} s",
            nib_images[round], nib_all[round]
        );
    }
    let (plan_s, info_s) = (median(plans), median(infos));
    let (images_s, all_s) = (median(nib_images), median(nib_all));
    println!(
        "| cases | sliceplan open + plan ual (s) | peak MB | nibabel pass, images (s) | nibabel / plan | sliceplan info: images + labels (s) | nibabel pass, images + labels (s) | nibabel / info |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {cases} | {plan_s:.2} | {:.0} | {images_s:.2} | {:.2}× | {info_s:.2} | {all_s:.2} | {:.2}× |",
        median(peaks),
        images_s / plan_s,
        all_s / info_s
    );
    println!("load average after: {}", load_average());
}
