//! Long commands run on a background thread; their progress is drawn on stderr as a bar
//! (indicatif) when stderr is a terminal, as a line every 10 s otherwise, and not at all under
//! `--quiet`. stdout stays for results, so `--json` output is clean.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use sliceplan::jobs::{Job, Progress};

/// `--quiet`: no progress on stderr.
static QUIET: AtomicBool = AtomicBool::new(false);

/// True under `--quiet`.
pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Silences the progress of long commands (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Positions of the bar: progress fractions are drawn in thousandths.
const BAR_LENGTH: u64 = 1000;

/// The bar's look; without indicatif's own ETA when the message carries a better one (training
/// estimates it from the steady step rate, after the warm-up).
fn style(own_eta: bool) -> ProgressStyle {
    let template = if own_eta {
        "{spinner} {elapsed_precise} [{bar:28}] {percent:>3}% {wide_msg}"
    } else {
        "{spinner} {elapsed_precise} [{bar:28}] {percent:>3}% eta {eta:<4} {wide_msg}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(BAR_LENGTH), ProgressDrawTarget::stderr());
    bar.set_style(style(false));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Runs `work` on a named background thread and shows its progress until it ends.
pub fn with_progress<T: Send + 'static>(
    name: &str,
    work: impl FnOnce(&Progress) -> sliceplan::Result<T> + Send + 'static,
) -> Result<T> {
    let quiet = is_quiet();
    let mut job = Job::spawn(name, work)?;
    let bar = (!quiet && std::io::stderr().is_terminal()).then(bar);
    let mut last = String::new();
    let mut last_line = Instant::now();
    loop {
        if let Some(r) = job.try_result() {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            if !last.is_empty() {
                tracing::debug!(target: "sliceplan", "{name}: last progress: {last}");
            }
            return Ok(r?);
        }
        std::thread::sleep(Duration::from_millis(100));
        let (fraction, msg) = job.progress.get();
        if let Some(bar) = &bar {
            bar.set_position((fraction.clamp(0.0, 1.0) * BAR_LENGTH as f32) as u64);
            if msg != last {
                if msg.contains("ETA") != last.contains("ETA") {
                    bar.set_style(style(msg.contains("ETA")));
                }
                bar.set_message(msg.clone());
            }
        } else if !quiet
            && msg != last
            && (last.is_empty() || last_line.elapsed() >= Duration::from_secs(10))
        {
            eprintln!("{:>5.1}% {msg}", fraction * 100.0);
            last_line = Instant::now();
        }
        if msg != last {
            tracing::trace!(target: "sliceplan", "{name}: {msg}");
            last = msg;
        }
    }
}

/// A bar counting `total` items (`what`: "runs stored") when stderr is a terminal and not
/// `--quiet`; None otherwise (the caller prints a line now and then).
pub fn counter(total: u64, what: &str) -> Option<ProgressBar> {
    if is_quiet() || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = format!(
        "{{spinner}} {{elapsed_precise}} [{{bar:28}}] {{pos}}/{{len}} {what}, eta {{eta}} {{wide_msg}}"
    );
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}
