//! Exact Euclidean distance transform in 2D, linear time (Felzenszwalb & Huttenlocher's lower
//! envelope of parabolas), with anisotropic pixel spacing.

/// 1D squared-distance transform of `f` (in place), sample spacing `step` (mm).
/// Uses the caller's scratch buffers to avoid allocation.
fn dt_1d(f: &mut [f32], step: f32, v: &mut [usize], z: &mut [f32], out: &mut [f32]) {
    let n = f.len();
    if n == 0 {
        return;
    }
    let s2 = step * step;
    let mut k = 0usize;
    v[0] = 0;
    z[0] = f32::NEG_INFINITY;
    z[1] = f32::INFINITY;
    let mut first_finite = f[0].is_finite();
    for q in 1..n {
        if !f[q].is_finite() {
            continue;
        }
        if !first_finite {
            // No finite parabola yet: this one starts the envelope.
            v[0] = q;
            z[0] = f32::NEG_INFINITY;
            z[1] = f32::INFINITY;
            first_finite = true;
            continue;
        }
        loop {
            let p = v[k];
            let s = ((f[q] + s2 * (q * q) as f32) - (f[p] + s2 * (p * p) as f32))
                / (2.0 * s2 * (q as f32 - p as f32));
            if s <= z[k] && k > 0 {
                k -= 1;
                continue;
            }
            if s <= z[k] {
                // k == 0 and the new parabola dominates everywhere.
                v[0] = q;
                z[0] = f32::NEG_INFINITY;
                z[1] = f32::INFINITY;
                break;
            }
            k += 1;
            v[k] = q;
            z[k] = s;
            z[k + 1] = f32::INFINITY;
            break;
        }
    }
    if !first_finite {
        return; // all infinite: stays infinite
    }
    k = 0;
    for (q, o) in out.iter_mut().enumerate().take(n) {
        while z[k + 1] < q as f32 {
            k += 1;
        }
        let p = v[k];
        let d = q as f32 - p as f32;
        *o = s2 * d * d + f[p];
    }
    f.copy_from_slice(&out[..n]);
}

/// Squared Euclidean distance (mm²) from each pixel to the nearest pixel where `seed` is true,
/// on a `width`×`height` grid with spacings (`sx`, `sy`). Infinite where there is no seed.
pub fn squared_edt(seed: &[bool], width: usize, height: usize, sx: f32, sy: f32) -> Vec<f32> {
    let mut g: Vec<f32> = seed
        .iter()
        .map(|&s| if s { 0.0 } else { f32::INFINITY })
        .collect();
    let m = width.max(height);
    let mut v = vec![0usize; m];
    let mut z = vec![0f32; m + 1];
    let mut out = vec![0f32; m];
    // Columns (along y).
    let mut col = vec![0f32; height];
    for x in 0..width {
        for y in 0..height {
            col[y] = g[x + y * width];
        }
        dt_1d(&mut col, sy, &mut v, &mut z, &mut out);
        for y in 0..height {
            g[x + y * width] = col[y];
        }
    }
    // Rows (along x).
    for y in 0..height {
        dt_1d(
            &mut g[y * width..(y + 1) * width],
            sx,
            &mut v,
            &mut z,
            &mut out,
        );
    }
    g
}

/// Signed distance (mm) of a binary mask: negative inside, positive outside, with the boundary
/// half a pixel from the pixel centres (`d_out − ½h` outside, `−(d_in − ½h)` inside).
/// An empty mask gives +∞ everywhere; a full mask −∞.
pub fn signed_distance(mask: &[bool], width: usize, height: usize, sx: f32, sy: f32) -> Vec<f32> {
    let to_fg = squared_edt(mask, width, height, sx, sy);
    let background: Vec<bool> = mask.iter().map(|&m| !m).collect();
    let to_bg = squared_edt(&background, width, height, sx, sy);
    let half = 0.5 * sx.min(sy);
    mask.iter()
        .zip(to_fg.iter().zip(&to_bg))
        .map(|(&inside, (&dfg, &dbg))| {
            if inside {
                -(dbg.sqrt() - half)
            } else {
                dfg.sqrt() - half
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(seed: &[bool], w: usize, h: usize, sx: f32, sy: f32) -> Vec<f32> {
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                (0..w * h)
                    .filter(|&j| seed[j])
                    .map(|j| {
                        ((x - (j % w) as f32) * sx).powi(2) + ((y - (j / w) as f32) * sy).powi(2)
                    })
                    .fold(f32::INFINITY, f32::min)
            })
            .collect()
    }

    #[test]
    fn matches_brute_force_with_anisotropic_spacing() {
        let (w, h) = (13, 9);
        let mut rng = crate::rng::Rng::new(5);
        for _ in 0..20 {
            let seed: Vec<bool> = (0..w * h).map(|_| rng.uniform() < 0.08).collect();
            let fast = squared_edt(&seed, w, h, 0.7, 2.5);
            let slow = brute(&seed, w, h, 0.7, 2.5);
            for (a, b) in fast.iter().zip(&slow) {
                assert!(
                    (a - b).abs() < 1e-3 || (a.is_infinite() && b.is_infinite()),
                    "{a} vs {b}"
                );
            }
        }
    }
}
