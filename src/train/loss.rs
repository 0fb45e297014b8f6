//! Masked loss for sparse supervision: cross-entropy plus (1 − soft Dice of the foreground),
//! both computed only where `mask` is 1, so labels on unannotated voxels cannot change the loss
//! or its gradients. With an all-ones mask this is exactly the reference benchmark's loss.

use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};

/// Smoothing term of the soft Dice.
pub const DICE_SMOOTH: f32 = 1e-5;

/// `logits`, `onehot`: `[batch, classes, spatial…]`; `mask`: `[batch, 1, spatial…]` of 0/1.
/// Returns a one-element tensor.
pub fn masked_dice_ce<const D: usize>(
    logits: Tensor<D>,
    onehot: Tensor<D>,
    mask: Tensor<D>,
) -> Tensor<1> {
    let batch = logits.dims()[0];
    let annotated = mask.clone().sum().clamp_min(1.0);
    let log_p = log_softmax(logits.clone(), 1);
    let ce = (onehot.clone() * log_p * mask.clone())
        .sum()
        .neg()
        .div(annotated);
    let p: Tensor<2> =
        (softmax(logits, 1).narrow(1, 1, 1) * mask.clone()).reshape([batch as i64, -1]);
    let g: Tensor<2> = (onehot.narrow(1, 1, 1) * mask).reshape([batch as i64, -1]);
    let intersection = (p.clone() * g.clone()).sum_dim(1);
    let dice = intersection
        .mul_scalar(2.0)
        .add_scalar(DICE_SMOOTH)
        .div((p.sum_dim(1) + g.sum_dim(1)).add_scalar(DICE_SMOOTH));
    let dice_loss = dice.mean().neg().add_scalar(1.0);
    ce + dice_loss
}
