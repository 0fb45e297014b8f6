//! 2D and 3D U-Nets in the spirit of nnU-Net: per level two `ConvUnit`s (convolution, instance
//! norm, leaky ReLU), stride-2 convolutions to downsample (burn has no 3D max-pool), transposed
//! convolutions to upsample, skip connections by concatenation, a 1×1 head giving logits.
//!
//! One template (`define_unet!`) makes both nets, so 2D and 3D share every design decision. Per
//! level strides are configurable: the 3D default keeps stride 1 along the slice axis while the
//! slice spacing is much coarser than the in-plane spacing.

use burn::nn::conv::{
    Conv2d, Conv2dConfig, Conv3d, Conv3dConfig, ConvTranspose2d, ConvTranspose2dConfig,
    ConvTranspose3d, ConvTranspose3dConfig,
};
use burn::nn::{
    InstanceNorm, InstanceNormConfig, LeakyRelu, LeakyReluConfig, PaddingConfig2d, PaddingConfig3d,
};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Shape of a U-Net: channel widths per level (the last is the bottleneck) and per-level strides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UNetSpec {
    pub in_channels: usize,
    pub classes: usize,
    /// Features per level; `features.len() - 1` downsamplings.
    pub features: Vec<usize>,
    /// Stride of each downsampling (length `features.len() - 1`), per spatial axis.
    pub strides: Vec<Vec<usize>>,
}

impl UNetSpec {
    /// Stride 2 on every axis at every level.
    pub fn isotropic(dims: usize, features: Vec<usize>, classes: usize) -> Self {
        let levels = features.len() - 1;
        UNetSpec {
            in_channels: 1,
            classes,
            features,
            strides: vec![vec![2; dims]; levels],
        }
    }

    /// Total downsampling factor per axis (input sizes must be multiples of it).
    pub fn divisor(&self) -> Vec<usize> {
        let dims = self.strides.first().map(|s| s.len()).unwrap_or(0);
        (0..dims)
            .map(|a| self.strides.iter().map(|s| s[a]).product())
            .collect()
    }
}

fn arr<const N: usize>(v: &[usize]) -> [usize; N] {
    let mut out = [1; N];
    for (o, x) in out.iter_mut().zip(v) {
        *o = *x;
    }
    out
}

macro_rules! define_unet {
    ($Unit:ident, $Net:ident, $D:literal, $N:literal, $Conv:ident, $ConvCfg:ident, $TConv:ident, $TConvCfg:ident, $pad:expr) => {
        /// Convolution → instance norm → leaky ReLU.
        #[derive(Module, Debug)]
        pub struct $Unit {
            conv: $Conv,
            norm: InstanceNorm,
            act: LeakyRelu,
        }

        impl $Unit {
            fn new(cin: usize, cout: usize, stride: [usize; $N], device: &Device) -> Self {
                $Unit {
                    conv: $ConvCfg::new([cin, cout], [3; $N])
                        .with_stride(stride)
                        .with_padding($pad)
                        .with_bias(false)
                        .init(device),
                    norm: InstanceNormConfig::new(cout)
                        .with_epsilon(1e-5)
                        .init(device),
                    act: LeakyReluConfig::new().with_negative_slope(0.01).init(),
                }
            }

            fn forward(&self, x: Tensor<$D>) -> Tensor<$D> {
                self.act.forward(self.norm.forward(self.conv.forward(x)))
            }
        }

        /// A U-Net over this many spatial dimensions.
        #[derive(Module, Debug)]
        pub struct $Net {
            /// Two units per encoder level (the last level is the bottleneck).
            encoder: Vec<$Unit>,
            /// One transposed convolution per decoder level, deepest first.
            up: Vec<$TConv>,
            /// Two units per decoder level, deepest first.
            decoder: Vec<$Unit>,
            head: $Conv,
        }

        impl $Net {
            /// Builds the net described by `spec` on `device`.
            pub fn new(spec: &UNetSpec, device: &Device) -> Self {
                let f = &spec.features;
                let mut encoder = Vec::new();
                for l in 0..f.len() {
                    let (cin, stride) = if l == 0 {
                        (spec.in_channels, [1; $N])
                    } else {
                        (f[l - 1], arr::<$N>(&spec.strides[l - 1]))
                    };
                    encoder.push($Unit::new(cin, f[l], stride, device));
                    encoder.push($Unit::new(f[l], f[l], [1; $N], device));
                }
                let mut up = Vec::new();
                let mut decoder = Vec::new();
                for l in (0..f.len() - 1).rev() {
                    let s = arr::<$N>(&spec.strides[l]);
                    up.push(
                        $TConvCfg::new([f[l + 1], f[l]], s)
                            .with_stride(s)
                            .init(device),
                    );
                    decoder.push($Unit::new(2 * f[l], f[l], [1; $N], device));
                    decoder.push($Unit::new(f[l], f[l], [1; $N], device));
                }
                let head = $ConvCfg::new([f[0], spec.classes], [1; $N]).init(device);
                $Net {
                    encoder,
                    up,
                    decoder,
                    head,
                }
            }

            /// A new net whose weights are drawn from `device`'s generator seeded with `seed`,
            /// all under `seeded_init`'s lock: its first weights are its own even when other
            /// nets start training at the same time.
            pub fn seeded(spec: &UNetSpec, device: &Device, seed: u64) -> Self {
                crate::train::seeded_init(device, seed, || {
                    Self::new(spec, device).drawn(spec, device)
                })
            }

            /// The net with every parameter drawn now, in the order training's first forward
            /// pass would draw them (burn draws a parameter's initial values from the device's
            /// generator on its first use, which would otherwise fall outside the lock).
            fn drawn(self, spec: &UNetSpec, device: &Device) -> Self {
                let mut shape = vec![1, spec.in_channels];
                shape.extend(spec.divisor());
                let x = Tensor::<$D>::zeros(Shape::from(shape), device);
                let _ = self.forward(x);
                self
            }

            /// Logits `[batch, classes, spatial…]` for input `[batch, channels, spatial…]`.
            pub fn forward(&self, x: Tensor<$D>) -> Tensor<$D> {
                let levels = self.encoder.len() / 2;
                let mut skips = Vec::with_capacity(levels);
                let mut x = x;
                for l in 0..levels {
                    x = self.encoder[2 * l + 1].forward(self.encoder[2 * l].forward(x));
                    if l + 1 < levels {
                        skips.push(x.clone());
                    }
                }
                for (d, up) in self.up.iter().enumerate() {
                    let skip = skips.pop().expect("one skip per decoder level");
                    x = Tensor::cat(vec![up.forward(x), skip], 1);
                    x = self.decoder[2 * d + 1].forward(self.decoder[2 * d].forward(x));
                }
                self.head.forward(x)
            }
        }
    };
}

define_unet!(
    ConvUnit2d,
    UNet2d,
    4,
    2,
    Conv2d,
    Conv2dConfig,
    ConvTranspose2d,
    ConvTranspose2dConfig,
    PaddingConfig2d::Explicit(1, 1, 1, 1)
);
define_unet!(
    ConvUnit3d,
    UNet3d,
    5,
    3,
    Conv3d,
    Conv3dConfig,
    ConvTranspose3d,
    ConvTranspose3dConfig,
    PaddingConfig3d::Explicit(1, 1, 1)
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::seeded_init;

    #[test]
    fn a_seeded_net_draws_its_weights_under_the_seed_not_at_first_use() {
        let device = Device::flex();
        let spec = UNetSpec::isotropic(2, vec![2, 4, 8], 2);
        let x = Tensor::<4>::ones([1, 1, 8, 8], &device);
        let net = || UNet2d::seeded(&spec, &device, 3);
        let a = net();
        // Another training seeds the shared generator before `a` is first used (under the lock,
        // as trainings do: a bare reseed here could land inside another test's seeded draw).
        seeded_init(&device, 99, || ());
        let first = a.forward(x.clone()).into_data();
        let b = net();
        assert_eq!(first, b.forward(x).into_data());
    }
}
