//! Log messages through `tracing`: the CLI prints them on stderr (`-v`, `-vv`, `RUST_LOG`), the
//! GUI prints them too and keeps the recent ones for its log panel. Library code logs with
//! `tracing::{info, warn, debug}` under the `sliceplan` target; nothing prints directly.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Lines the GUI's log panel keeps.
const KEPT_LINES: usize = 500;

/// One log message.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub at: SystemTime,
    pub level: Level,
    pub message: String,
}

static RECENT: Mutex<VecDeque<LogLine>> = Mutex::new(VecDeque::new());

/// The most recent messages at `info` and above (oldest first), for the GUI's log panel.
pub fn recent() -> Vec<LogLine> {
    match RECENT.lock() {
        Ok(lines) => lines.iter().cloned().collect(),
        Err(poisoned) => poisoned.into_inner().iter().cloned().collect(),
    }
}

fn push(line: LogLine) {
    let mut lines = match RECENT.lock() {
        Ok(l) => l,
        Err(poisoned) => poisoned.into_inner(),
    };
    if lines.len() == KEPT_LINES {
        lines.pop_front();
    }
    lines.push_back(line);
}

/// Collects an event's message and fields as text.
#[derive(Default)]
struct MessageText(String);

impl Visit for MessageText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

/// Keeps events in `RECENT`.
struct RecentLayer;

impl<S: Subscriber> Layer<S> for RecentLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = MessageText::default();
        event.record(&mut text);
        push(LogLine {
            at: SystemTime::now(),
            level: *event.metadata().level(),
            message: text.0,
        });
    }
}

/// The panel keeps sliceplan's messages from `info` up and other crates' errors.
fn recent_filter() -> Targets {
    Targets::new()
        .with_target("sliceplan", Level::INFO)
        .with_default(Level::ERROR)
}

/// The stderr filter: `RUST_LOG` when set, else by verbosity (0: sliceplan's info and
/// everyone's warnings; 1: debug; 2+: trace), and errors only under `--quiet`.
fn stderr_filter(verbose: u8, quiet: bool) -> EnvFilter {
    if let Ok(filter) = EnvFilter::try_from_default_env() {
        return filter;
    }
    let spec = match (quiet, verbose) {
        (true, 0) => "error",
        (_, 0) => "warn,sliceplan=info",
        (_, 1) => "warn,sliceplan=debug",
        _ => "info,sliceplan=trace",
    };
    EnvFilter::new(spec)
}

/// Logging for the command line: messages on stderr (stdout stays for results). Also feeds
/// the GUI's panel when the command opens the GUI. Calling it twice does nothing.
pub fn init_cli(verbose: u8, quiet: bool) {
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(stderr_filter(verbose, quiet));
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(RecentLayer.with_filter(recent_filter()))
        .try_init();
}

/// Logging for tests and embedders that only want the GUI's panel filled.
pub fn init_recent_only() {
    let _ = tracing_subscriber::registry()
        .with(RecentLayer.with_filter(recent_filter()))
        .try_init();
}
