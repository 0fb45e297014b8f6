//! burn's libtorch backend (the optional `torch` cargo feature): PyTorch's own kernels, oneDNN on
//! the CPU and cuDNN on NVIDIA GPUs, behind the same `Device` as flex and wgpu.
//!
//! Built without the feature, every function here says so and nothing links PyTorch: the
//! default build and its tests need no libtorch.

#[cfg(feature = "torch")]
use burn::prelude::*;

use super::OpenedDevice;
use crate::error::{Error, Result};

/// Where libtorch's kernels can run in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TorchAvailability {
    /// This sliceplan was built without the `torch` feature.
    NotBuilt,
    /// libtorch is linked; `cuda` says whether it sees a CUDA GPU.
    Linked { version: String, cuda: bool },
}

/// Why a torch device cannot be used: built without the feature.
pub const NOT_BUILT: &str = "this sliceplan was built without the torch feature \
     (build it with --features torch against a PyPI PyTorch: bash scripts/torch.sh build; docs/src/torch.md)";

/// What libtorch offers here (cheap; asks libtorch once).
pub fn availability() -> TorchAvailability {
    #[cfg(feature = "torch")]
    {
        static CUDA: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let cuda = *CUDA.get_or_init(|| {
            super::backend::catch_device_panic(tch::Cuda::is_available).unwrap_or(false)
        });
        TorchAvailability::Linked {
            version: linked_version().to_string(),
            cuda,
        }
    }
    #[cfg(not(feature = "torch"))]
    TorchAvailability::NotBuilt
}

/// The PyTorch version the binary was built against (from the build script).
#[cfg(feature = "torch")]
fn linked_version() -> &'static str {
    option_env!("SLICEPLAN_LIBTORCH_VERSION").unwrap_or("unknown version")
}

/// Opens a libtorch device: CUDA 0 when `gpu` and libtorch sees one, else its CPU, whose
/// thread count follows `RAYON_NUM_THREADS` where a study worker was given one (as flex's
/// does). Without the feature: an error that says how to build it.
pub fn open(gpu: bool) -> Result<OpenedDevice> {
    #[cfg(feature = "torch")]
    {
        let cuda = gpu && matches!(availability(), TorchAvailability::Linked { cuda: true, .. });
        let (device, name) = linked_device(cuda);
        if !super::backend::probe(&device) {
            return Err(Error::Train(format!("{name} failed to initialise")));
        }
        Ok(OpenedDevice {
            device,
            name,
            is_gpu: cuda,
            notice: None,
        })
    }
    #[cfg(not(feature = "torch"))]
    {
        let _ = gpu;
        Err(Error::Train(format!("cannot train on tch: {NOT_BUILT}")))
    }
}

#[cfg(feature = "torch")]
#[allow(deprecated)] // burn 0.22 marks burn-tch deprecated; it is still the way to PyTorch's kernels.
fn linked_device(cuda: bool) -> (Device, String) {
    let version = linked_version();
    if cuda {
        return (
            Device::libtorch_cuda(0),
            format!("tch: CUDA 0 (libtorch {version})"),
        );
    }
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse::<i32>().ok())
        .filter(|&t| t > 0);
    if let Some(threads) = threads {
        tch::set_num_threads(threads);
    }
    (Device::libtorch(), format!("tch: CPU (libtorch {version})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torch_device_opens_exactly_when_built_with_the_feature() {
        let opened = open(false);
        if cfg!(feature = "torch") {
            let opened = opened.expect("libtorch CPU device");
            assert!(opened.name.starts_with("tch: CPU"), "{}", opened.name);
            assert!(!opened.is_gpu);
        } else {
            let message = opened
                .expect_err("no torch device without the feature")
                .to_string();
            assert!(message.contains("--features torch"), "{message}");
            assert_eq!(availability(), TorchAvailability::NotBuilt);
        }
    }
}
