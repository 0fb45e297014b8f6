//! Choosing where training runs: a wgpu GPU by default, burn's `flex` CPU backend otherwise.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The user's backend choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// A hardware GPU through wgpu if there is one, else the CPU.
    #[default]
    Auto,
    /// wgpu (any adapter, software ones included).
    Wgpu,
    /// burn's `flex` CPU backend.
    Cpu,
}

impl BackendChoice {
    /// Parses `auto`, `wgpu`/`gpu` or `cpu`/`flex`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "wgpu" | "gpu" => Ok(BackendChoice::Wgpu),
            "cpu" | "flex" => Ok(BackendChoice::Cpu),
            _ => Err(Error::invalid(format!(
                "unknown backend '{s}' (choose auto, wgpu or cpu)"
            ))),
        }
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

/// wgpu adapters on this machine: (description, is a software/CPU adapter).
pub fn gpu_adapters() -> Vec<(String, bool)> {
    let result = std::panic::catch_unwind(|| {
        use eframe::wgpu;
        let instance = wgpu::Instance::default();
        block_on(instance.enumerate_adapters(wgpu::Backends::all()))
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
fn probe(device: &Device) -> bool {
    let device = device.clone();
    std::panic::catch_unwind(move || {
        let t = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device);
        let v: f32 = t.sum().into_scalar();
        (v - 6.0).abs() < 1e-4
    })
    .unwrap_or(false)
}

/// Opens the device for `choice`. `Auto` falls back to the CPU with one clear notice when no
/// hardware GPU adapter is available; `Wgpu` fails instead.
pub fn open_device(choice: BackendChoice) -> Result<OpenedDevice> {
    let cpu = |notice: Option<String>| OpenedDevice {
        device: Device::flex(),
        name: "cpu: flex".into(),
        is_gpu: false,
        notice,
    };
    match choice {
        BackendChoice::Cpu => Ok(cpu(None)),
        BackendChoice::Auto | BackendChoice::Wgpu => {
            let adapters = gpu_adapters();
            let hardware = adapters.iter().find(|a| !a.1);
            let chosen = match (choice, hardware, adapters.first()) {
                (_, Some(hw), _) => Some(hw.0.clone()),
                (BackendChoice::Wgpu, None, Some(sw)) => Some(sw.0.clone()),
                _ => None,
            };
            let Some(name) = chosen else {
                let why = if adapters.is_empty() {
                    "no GPU adapter was found (no Vulkan/Metal/DX12 driver)".to_string()
                } else {
                    format!("only a software GPU adapter was found ({})", adapters[0].0)
                };
                if choice == BackendChoice::Wgpu {
                    return Err(Error::Train(format!("cannot train on wgpu: {why}")));
                }
                return Ok(cpu(Some(format!(
                    "{why}; training on the CPU (flex backend) instead, which is much slower"
                ))));
            };
            let device = Device::wgpu(DeviceKind::DefaultDevice);
            if !probe(&device) {
                if choice == BackendChoice::Wgpu {
                    return Err(Error::Train(format!(
                        "the GPU adapter {name} failed to initialise"
                    )));
                }
                return Ok(cpu(Some(format!(
                    "the GPU adapter {name} failed to initialise; training on the CPU (flex backend) instead"
                ))));
            }
            Ok(OpenedDevice {
                device,
                name: format!("wgpu: {name}"),
                is_gpu: true,
                notice: None,
            })
        }
    }
}
