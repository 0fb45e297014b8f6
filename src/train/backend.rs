//! Choosing where training runs. `auto` takes the fastest backend this build has for the
//! machine: on a hardware GPU, libtorch's CUDA (a `--features torch` build that sees CUDA) before
//! wgpu; on the CPU, libtorch's CPU kernels (a torch build) before burn's `flex`.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::torch::TorchAvailability;
use crate::error::{Error, Result};

/// The user's backend choice. Its names on the command line and in study files are clap's
/// (`auto`, `wgpu` or `gpu`, `cpu` or `flex`, `tch` or `torch`): one list for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// The fastest this build has: a hardware GPU (libtorch CUDA, else wgpu) if there is
    /// one, else the CPU (libtorch, else flex).
    #[default]
    Auto,
    /// wgpu (any adapter, software ones included).
    #[value(alias = "gpu")]
    Wgpu,
    /// burn's `flex` CPU backend.
    #[value(alias = "flex")]
    Cpu,
    /// burn's libtorch backend (`--features torch`): CUDA if libtorch sees a GPU, else its CPU.
    #[serde(rename = "tch")]
    #[value(name = "tch", alias = "torch")]
    Torch,
}

impl BackendChoice {
    /// Parses a name clap accepts for it (a study file's `backend`).
    pub fn parse(s: &str) -> Result<Self> {
        <Self as clap::ValueEnum>::from_str(s, false).map_err(|_| {
            Error::invalid(format!(
                "unknown backend '{s}' (choose auto, wgpu, cpu or tch)"
            ))
        })
    }
}

/// A device ready for training.
#[derive(Debug, Clone)]
pub struct OpenedDevice {
    pub device: Device,
    /// e.g. "wgpu: NVIDIA H100 (Vulkan)" or "cpu: flex".
    pub name: String,
    pub is_gpu: bool,
    /// A message for the user when the choice was not what they asked for.
    pub notice: Option<String>,
}

thread_local! {
    /// Set while this thread runs device work whose panics are caught and reported as errors.
    static CATCHING_DEVICE_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How many threads are in [`catch_device_panic`] now.
static DEVICE_WORK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs device work, turning a panic (burn panics when the GPU cannot allocate, for one) into
/// an `Err` that the caller maps to a clear error. With [`install_quiet_device_panics`], such a
/// panic prints nothing of its own.
pub(crate) fn catch_device_panic<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    use std::sync::atomic::Ordering;
    let before = CATCHING_DEVICE_PANICS.with(|c| c.replace(true));
    DEVICE_WORK.fetch_add(1, Ordering::SeqCst);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    DEVICE_WORK.fetch_sub(1, Ordering::SeqCst);
    CATCHING_DEVICE_PANICS.with(|c| c.set(before));
    result
}

/// Installs a panic hook that stays silent for panics that device work catches and reports as
/// one-sentence errors: those on the thread doing it, and those on the backend's own worker
/// threads (burn/cubecl panic there and pass the failure on) while device work runs. Panics
/// on `main` and on sliceplan's named threads keep the default report. For binaries.
pub fn install_quiet_device_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let catching_here = CATCHING_DEVICE_PANICS.with(|c| c.get());
        let ours = std::thread::current()
            .name()
            .is_some_and(|n| n == "main" || n.starts_with("sliceplan"));
        let device_work = DEVICE_WORK.load(std::sync::atomic::Ordering::SeqCst) > 0;
        if !(catching_here || (device_work && !ours)) {
            default(info);
        }
    }));
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// wgpu adapters on this machine: (description, is a software/CPU adapter). Enumerated once
/// per process: a study opens a device per run, and drivers' probing prints to stderr on some
/// headless machines (libwayland's "XDG_RUNTIME_DIR is invalid"), once rather than per run.
pub fn gpu_adapters() -> Vec<(String, bool)> {
    static ADAPTERS: std::sync::OnceLock<Vec<(String, bool)>> = std::sync::OnceLock::new();
    ADAPTERS.get_or_init(enumerate_adapters).clone()
}

fn enumerate_adapters() -> Vec<(String, bool)> {
    super::kernel_cache::configure_kernel_cache();
    let result = catch_device_panic(|| {
        use burn::backend::wgpu::wgpu;
        // The primary APIs (Vulkan, Metal, DX12), which burn's wgpu device uses; probing GL
        // would only add EGL noise on headless machines. WGPU_BACKEND still overrides.
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if std::env::var_os("WGPU_BACKEND").is_none() {
            desc.backends = wgpu::Backends::PRIMARY;
        }
        let backends = desc.backends;
        let instance = wgpu::Instance::new(desc);
        block_on(instance.enumerate_adapters(backends))
            .into_iter()
            .map(|a| {
                let info = a.get_info();
                (
                    format!("{} ({:?})", info.name, info.backend),
                    info.device_type == wgpu::DeviceType::Cpu,
                )
            })
            .collect::<Vec<_>>()
    });
    result.unwrap_or_default()
}

/// Checks that a device computes, by a small round trip (wgpu initialises lazily and panics
/// when it cannot).
pub(crate) fn probe(device: &Device) -> bool {
    let device = device.clone();
    catch_device_panic(move || {
        let t = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device);
        let v: f32 = t.sum().into_scalar();
        (v - 6.0).abs() < 1e-4
    })
    .unwrap_or(false)
}

/// Opens the device for `choice`. `Auto` falls back to the CPU with one clear notice when no
/// hardware GPU adapter is available; `Wgpu` fails instead. The choice and any notice are logged.
pub fn open_device(choice: BackendChoice) -> Result<OpenedDevice> {
    let opened = open_device_quietly(choice)?;
    if let Some(notice) = &opened.notice {
        tracing::warn!(target: "sliceplan", "{notice}");
    }
    tracing::debug!(target: "sliceplan", "training device: {}", opened.name);
    Ok(opened)
}

fn open_device_quietly(choice: BackendChoice) -> Result<OpenedDevice> {
    match choice {
        BackendChoice::Cpu => Ok(flex(None)),
        BackendChoice::Torch => super::torch::open(true),
        BackendChoice::Wgpu => open_wgpu(),
        BackendChoice::Auto => open_auto(),
    }
}

fn flex(notice: Option<String>) -> OpenedDevice {
    OpenedDevice {
        device: Device::flex(),
        name: "cpu: flex".into(),
        is_gpu: false,
        notice,
    }
}

/// `auto`: libtorch CUDA, wgpu on a hardware adapter, libtorch CPU, flex — the first this
/// build and machine have. A torch build whose libtorch fails to start falls back with a notice.
fn open_auto() -> Result<OpenedDevice> {
    let torch = super::torch::availability();
    let mut notices = Vec::new();
    if matches!(torch, TorchAvailability::Linked { cuda: true, .. }) {
        match super::torch::open(true) {
            Ok(opened) => return Ok(opened),
            Err(e) => notices.push(format!("{e}; trying wgpu")),
        }
    }
    match try_wgpu(false) {
        Ok(mut opened) => {
            notices.extend(opened.notice.take());
            opened.notice = (!notices.is_empty()).then(|| notices.join("; "));
            return Ok(opened);
        }
        Err(no_gpu) => notices.push(no_gpu),
    }
    if matches!(torch, TorchAvailability::Linked { .. }) {
        match super::torch::open(false) {
            Ok(mut opened) => {
                opened.notice = Some(format!(
                    "{}; training on the CPU (libtorch)",
                    notices.join("; ")
                ));
                return Ok(opened);
            }
            Err(e) => notices.push(e.to_string()),
        }
    }
    Ok(flex(Some(format!(
        "{}; training on the CPU (flex backend) instead, which is much slower",
        notices.join("; ")
    ))))
}

/// `wgpu`: a hardware adapter, else any (software) one; an error saying why not.
fn open_wgpu() -> Result<OpenedDevice> {
    try_wgpu(true).map_err(|why| Error::Train(format!("cannot train on wgpu: {why}")))
}

/// A wgpu device on a hardware adapter (or, when `any_adapter`, a software one too), or why
/// there is none.
fn try_wgpu(any_adapter: bool) -> std::result::Result<OpenedDevice, String> {
    let cache_notice = super::kernel_cache::configure_kernel_cache();
    let adapters = gpu_adapters();
    let hardware = adapters.iter().find(|a| !a.1);
    let chosen = hardware.or(adapters.first().filter(|_| any_adapter));
    let Some((name, _)) = chosen else {
        return Err(match adapters.first() {
            None => "no GPU adapter was found (no Vulkan/Metal/DX12 driver)".to_string(),
            Some((software, _)) => format!("only a software GPU adapter was found ({software})"),
        });
    };
    let device = Device::wgpu(DeviceKind::DefaultDevice);
    if !probe(&device) {
        return Err(format!("the GPU adapter {name} failed to initialise"));
    }
    Ok(OpenedDevice {
        device,
        name: format!("wgpu: {name}"),
        is_gpu: true,
        notice: cache_notice,
    })
}

/// A panic from a device (burn panics on allocation failures) as a clear error.
pub(crate) fn map_device_panic(msg: String, device_name: &str) -> Error {
    let lower = msg.to_ascii_lowercase();
    if lower.contains("out of memory") || lower.contains("outofmemory") || lower.contains("allocat")
    {
        // burn's panics carry backtrace scaffolding; keep the line that says what failed.
        let detail = msg
            .lines()
            .map(str::trim)
            .find(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("allocat") || l.contains("memory")
            })
            .unwrap_or(msg.lines().next().unwrap_or_default());
        Error::Train(format!(
            "{device_name} ran out of memory ({detail}); use a smaller patch or batch size"
        ))
    } else {
        Error::Train(format!("training failed on {device_name}: {msg}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allocation_panic_reads_as_out_of_memory_with_advice() {
        // The text burn's wgpu backend panicked with on an H100 for a 3D batch of 64 × 64×192².
        let panic = "Failed to allocate memory\nCaused by:\n  can't allocate buffer of size: \
                     4831838208\nNo backtrace available\nAsked at:\nNo backtrace available";
        let message = map_device_panic(panic.into(), "wgpu: NVIDIA H100").to_string();
        assert!(message.contains("ran out of memory"), "{message}");
        assert!(message.contains("smaller patch or batch size"), "{message}");
        assert!(!message.contains("backtrace"), "{message}");
        let other = map_device_panic("index out of bounds".into(), "cpu").to_string();
        assert!(other.starts_with("training failed on cpu"), "{other}");
    }
}
