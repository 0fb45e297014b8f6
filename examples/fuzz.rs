//! The mutation fuzzer (`tests/common/fuzz.rs`) as a long run:
//! `cargo run --release --example fuzz -- --iterations 1000000 [--seed N] [--dir D]`.
//!
//! Prints tried / accepted / refused / panics / timeouts / unclear refusals, the slowest input,
//! the peak resident memory and the load average; inputs that broke a property are kept in
//! `D/failure-*` (default D: a folder under the system temp dir) and listed. Exit code 1 when any
//! property broke.

mod common;
#[path = "../tests/common/fuzz.rs"]
mod fuzz;
#[path = "../tests/common/seg.rs"]
mod seg;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::{BenchArgs, load_average};

fn peak_rss_mb() -> f64 {
    common::proc_status_kb("self", "VmHWM:") as f64 / 1024.0
}

fn main() {
    let args = BenchArgs::from_env();
    let iterations: u64 = args.parsed("--iterations", 100_000);
    let seed: u64 = args.parsed("--seed", 1);
    let dir = args
        .value("--dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("sliceplan-fuzz-{seed}")));
    let _ = std::fs::remove_dir_all(&dir);
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    let real = real.is_dir().then_some(real);
    // A panic is counted, not printed 10⁶ times.
    std::panic::set_hook(Box::new(|_| {}));
    println!("load average before: {}", load_average());
    let started = Instant::now();
    let mut fuzzer = fuzz::Fuzzer::new(&dir, real.as_deref(), seed);
    println!(
        "seeds: {} NIfTI, {} DICOM, {} case.json; {} targets",
        fuzzer.seeds.nifti.len(),
        fuzzer.seeds.dicom.len(),
        fuzzer.seeds.case_json.len(),
        fuzz::TARGETS.len()
    );
    let report_every = (iterations / 20).max(1000);
    let counts = fuzzer.run(iterations, |c| {
        if c.tried % report_every == 0 {
            eprintln!(
                "{} tried, {} panics, {} timeouts, {:.0} s",
                c.tried,
                c.panics,
                c.timeouts,
                started.elapsed().as_secs_f64()
            );
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "tried {} | accepted {} | refused {} | panics {} | timeouts (> {:?}) {} | unclear refusals {}",
        counts.tried,
        counts.accepted,
        counts.refused,
        counts.panics,
        fuzz::TIME_LIMIT,
        counts.timeouts,
        counts.unclear
    );
    println!(
        "{seconds:.0} s ({:.0} inputs/s), slowest input {:.3} s, peak RSS {:.0} MB",
        counts.tried as f64 / seconds,
        counts.slowest.as_secs_f64(),
        peak_rss_mb()
    );
    println!("load average after: {}", load_average());
    for (target, why, path) in counts.failures.iter().take(50) {
        println!("FAILURE {target}: {why} ({})", path.display());
    }
    if !counts.failures.is_empty() {
        std::process::exit(1);
    }
}
