//! Long work on named background threads, with progress, cancellation and a result channel.
//! The GUI polls `Job::try_result` each frame; the CLI blocks with `Job::wait`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Progress shared between a job and its watchers.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    inner: Arc<ProgressInner>,
    /// For a part of a larger job: where its 0–1 lies in the whole, and a message prefix.
    part: Option<Arc<Part>>,
}

#[derive(Debug)]
struct Part {
    offset: f32,
    scale: f32,
    prefix: String,
}

#[derive(Debug, Default)]
struct ProgressInner {
    cancel: AtomicBool,
    state: Mutex<(f32, String)>,
    /// Woken on every `set`.
    changed: Condvar,
}

impl Progress {
    /// A fresh progress handle.
    pub fn new() -> Self {
        Progress::default()
    }

    /// Reports `fraction` (0–1) done and what is happening.
    pub fn set(&self, fraction: f32, message: impl Into<String>) {
        let fraction = fraction.clamp(0.0, 1.0);
        let (fraction, message) = match &self.part {
            None => (fraction, message.into()),
            Some(p) => (
                p.offset + p.scale * fraction,
                format!("{}: {}", p.prefix, message.into()),
            ),
        };
        if let Ok(mut s) = self.inner.state.lock() {
            *s = (fraction, message);
        }
        self.inner.changed.notify_all();
    }

    /// Waits until `done(fraction, message)` holds, woken by each report; false when `timeout`
    /// passes first.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(f32, &str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let Ok(mut state) = self.inner.state.lock() else {
            return false;
        };
        loop {
            if done(state.0, &state.1) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            match self.inner.changed.wait_timeout(state, deadline - now) {
                Ok((s, _)) => state = s,
                Err(_) => return false,
            }
        }
    }

    /// The progress of part `index` of `count` equal parts of this job: its fractions map into
    /// that part's share, its messages start with `label`, and cancelling either cancels both.
    pub fn part(&self, index: usize, count: usize, label: impl Into<String>) -> Progress {
        let count = count.max(1) as f32;
        let (offset, scale, outer) = match &self.part {
            None => (0.0, 1.0, None),
            Some(p) => (p.offset, p.scale, Some(p.prefix.clone())),
        };
        let label = label.into();
        Progress {
            inner: Arc::clone(&self.inner),
            part: Some(Arc::new(Part {
                offset: offset + scale * index as f32 / count,
                scale: scale / count,
                prefix: match outer {
                    Some(o) => format!("{o}: {label}"),
                    None => label,
                },
            })),
        }
    }

    /// The latest fraction and message.
    pub fn get(&self) -> (f32, String) {
        self.inner
            .state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Asks the job to stop.
    pub fn cancel(&self) {
        self.inner.cancel.store(true, Ordering::Relaxed);
    }

    /// True once cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.load(Ordering::Relaxed)
    }

    /// `Err(Error::Cancelled)` once cancellation was asked for.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// A job running on a named thread. Dropping it cancels it: a job replaced in its slot, or
/// forgotten by its caller, stops at its next check and its result is never seen.
pub struct Job<T> {
    pub name: String,
    pub progress: Progress,
    rx: Receiver<Result<T>>,
    /// The result was handed out.
    taken: bool,
}

impl<T: Send + 'static> Job<T> {
    /// Starts `work` on a thread named `name`.
    pub fn spawn(
        name: &str,
        work: impl FnOnce(&Progress) -> Result<T> + Send + 'static,
    ) -> Result<Self> {
        Self::spawn_notify(name, work, || {})
    }

    /// Starts `work` on a thread named `name`; `done` runs on that thread once the result is
    /// ready (a GUI asks for a repaint there, so it need not poll while idle).
    pub fn spawn_notify(
        name: &str,
        work: impl FnOnce(&Progress) -> Result<T> + Send + 'static,
        done: impl FnOnce() + Send + 'static,
    ) -> Result<Self> {
        let progress = Progress::new();
        let (tx, rx) = channel();
        let p = progress.clone();
        let job_name = name.to_string();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                // A panic becomes an error naming the job: the caller (the GUI) stays usable and
                // is told, instead of waiting on a job that silently died.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&p)))
                    .unwrap_or_else(|e| {
                        Err(Error::invalid(format!(
                            "background job '{job_name}' failed: {}",
                            panic_message(e.as_ref())
                        )))
                    });
                let _ = tx.send(result);
                done();
            })
            .map_err(|e| Error::invalid(format!("cannot start background job '{name}': {e}")))?;
        Ok(Job {
            name: name.to_string(),
            progress,
            rx,
            taken: false,
        })
    }

    /// The result, once the job has finished (taken once; None after that).
    pub fn try_result(&mut self) -> Option<Result<T>> {
        if self.taken {
            return None;
        }
        let result = match self.rx.try_recv() {
            Ok(r) => r,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => Err(Error::invalid(format!(
                "background job '{}' stopped unexpectedly",
                self.name
            ))),
        };
        self.taken = true;
        Some(result)
    }

    /// True once cancellation was asked for: its result, even a finished one, is stale.
    pub fn is_cancelled(&self) -> bool {
        self.progress.is_cancelled()
    }

    /// Blocks until the job finishes.
    pub fn wait(self) -> Result<T> {
        match self.rx.recv() {
            Ok(r) => r,
            Err(_) => Err(Error::invalid(format!(
                "background job '{}' stopped unexpectedly",
                self.name
            ))),
        }
    }
}

impl<T> Drop for Job<T> {
    fn drop(&mut self) {
        self.progress.cancel();
    }
}

/// The text of a caught panic.
pub(crate) fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown error".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_job_is_cancelled() {
        let (started_tx, started_rx) = channel();
        let (seen_tx, seen_rx) = channel();
        let job = Job::spawn("dropped", move |p| {
            started_tx.send(()).unwrap();
            while !p.is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            seen_tx.send(()).unwrap();
            Ok(())
        })
        .unwrap();
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        drop(job);
        seen_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the job saw its cancellation");
    }

    #[test]
    fn a_finished_job_notifies_and_hands_its_result_once() {
        let (tx, rx) = channel();
        let mut job =
            Job::spawn_notify("test-job", |_| Ok(7), move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the job said it was done");
        assert_eq!(job.try_result().unwrap().unwrap(), 7);
        assert!(job.try_result().is_none());
    }

    #[test]
    fn a_panicking_job_reports_an_error_and_still_notifies() {
        let (tx, rx) = channel();
        let job = Job::<()>::spawn_notify(
            "panicky",
            |_| panic!("index out of bounds"),
            move || tx.send(()).unwrap(),
        )
        .unwrap();
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the job said it was done");
        let e = job.wait().unwrap_err().to_string();
        assert!(
            e.contains("'panicky' failed") && e.contains("index out of bounds"),
            "{e}"
        );
    }

    #[test]
    fn a_part_reports_within_its_share_and_shares_cancellation() {
        let whole = Progress::new();
        let second = whole.part(1, 4, "scenario 2 of 4");
        second.set(0.5, "step 3/6");
        let (fraction, message) = whole.get();
        assert!((fraction - 0.375).abs() < 1e-6, "{fraction}");
        assert_eq!(message, "scenario 2 of 4: step 3/6");
        whole.cancel();
        assert!(second.is_cancelled());
        assert!(second.check().is_err());
    }
}
