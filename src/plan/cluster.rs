//! Clustering in a feature space: k-means (k-means++ seeding, best of a few restarts), medoids,
//! and greedy k-center.

use crate::rng::Rng;

/// Squared Euclidean distance, summed in eight lanes so it vectorises.
#[inline]
fn dist2(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let d = x[l] - y[l];
            lanes[l] += d * d;
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y) * (x - y)).sum();
    lanes.iter().sum::<f32>() + tail
}

/// Rows of a row-major matrix.
fn row(points: &[f32], dims: usize, i: usize) -> &[f32] {
    &points[i * dims..(i + 1) * dims]
}

/// k-means; returns each point's cluster and the centroids. Best inertia of `restarts` runs.
pub fn kmeans(
    points: &[f32],
    dims: usize,
    k: usize,
    rng: &mut Rng,
    restarts: usize,
) -> (Vec<usize>, Vec<f32>) {
    let n = points.len() / dims.max(1);
    let k = k.min(n).max(1);
    let mut best: Option<(f32, Vec<usize>, Vec<f32>)> = None;
    for _ in 0..restarts.max(1) {
        // k-means++ seeding.
        let mut centroids = Vec::with_capacity(k * dims);
        let first = rng.below(n);
        centroids.extend_from_slice(row(points, dims, first));
        let mut d2: Vec<f32> = (0..n)
            .map(|i| dist2(row(points, dims, i), row(points, dims, first)))
            .collect();
        for _ in 1..k {
            let total: f64 = d2.iter().map(|&d| d as f64).sum();
            let pick = if total <= 0.0 {
                rng.below(n)
            } else {
                let mut target = rng.uniform() * total;
                let mut chosen = n - 1;
                for (i, &d) in d2.iter().enumerate() {
                    target -= d as f64;
                    if target <= 0.0 {
                        chosen = i;
                        break;
                    }
                }
                chosen
            };
            let c = row(points, dims, pick).to_vec();
            for (i, d) in d2.iter_mut().enumerate() {
                *d = d.min(dist2(row(points, dims, i), &c));
            }
            centroids.extend_from_slice(&c);
        }
        // Lloyd iterations.
        let mut assign = vec![0usize; n];
        for _ in 0..50 {
            let mut changed = false;
            for (i, a) in assign.iter_mut().enumerate() {
                let p = row(points, dims, i);
                let c = (0..k)
                    .min_by(|&x, &y| {
                        dist2(p, row(&centroids, dims, x))
                            .total_cmp(&dist2(p, row(&centroids, dims, y)))
                    })
                    .unwrap_or(0);
                if *a != c {
                    *a = c;
                    changed = true;
                }
            }
            let mut sums = vec![0f64; k * dims];
            let mut counts = vec![0usize; k];
            for (i, &a) in assign.iter().enumerate() {
                counts[a] += 1;
                for (s, &v) in sums[a * dims..(a + 1) * dims]
                    .iter_mut()
                    .zip(row(points, dims, i))
                {
                    *s += v as f64;
                }
            }
            for c in 0..k {
                if counts[c] == 0 {
                    // Re-seed an empty cluster at the point farthest from its centroid.
                    let far = (0..n)
                        .max_by(|&x, &y| {
                            dist2(row(points, dims, x), row(&centroids, dims, assign[x])).total_cmp(
                                &dist2(row(points, dims, y), row(&centroids, dims, assign[y])),
                            )
                        })
                        .unwrap_or(0);
                    let p = row(points, dims, far).to_vec();
                    centroids[c * dims..(c + 1) * dims].copy_from_slice(&p);
                    assign[far] = c;
                    changed = true;
                } else {
                    for d in 0..dims {
                        centroids[c * dims + d] = (sums[c * dims + d] / counts[c] as f64) as f32;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let inertia: f32 = (0..n)
            .map(|i| dist2(row(points, dims, i), row(&centroids, dims, assign[i])))
            .sum();
        if best.as_ref().map(|b| inertia < b.0).unwrap_or(true) {
            best = Some((inertia, assign, centroids));
        }
    }
    let (_, assign, centroids) = best.unwrap_or_default();
    (assign, centroids)
}

/// For each cluster, the member closest to its centroid (distinct points, sorted by index).
pub fn medoids(points: &[f32], dims: usize, assign: &[usize], centroids: &[f32]) -> Vec<usize> {
    let k = centroids.len() / dims.max(1);
    let mut out = Vec::with_capacity(k);
    for c in 0..k {
        let best = (0..assign.len())
            .filter(|&i| assign[i] == c)
            .min_by(|&x, &y| {
                dist2(row(points, dims, x), row(centroids, dims, c))
                    .total_cmp(&dist2(row(points, dims, y), row(centroids, dims, c)))
            });
        if let Some(b) = best {
            out.push(b);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Greedy k-center: starts from the point nearest the mean, then repeatedly adds the point
/// farthest from those chosen. Returns points in the order chosen (every prefix is a k-center set).
pub fn kcenter_order(points: &[f32], dims: usize, k: usize) -> Vec<usize> {
    let n = points.len() / dims.max(1);
    if n == 0 {
        return Vec::new();
    }
    let mut mean = vec![0f32; dims];
    for i in 0..n {
        for (m, &v) in mean.iter_mut().zip(row(points, dims, i)) {
            *m += v / n as f32;
        }
    }
    let first = (0..n)
        .min_by(|&x, &y| {
            dist2(row(points, dims, x), &mean).total_cmp(&dist2(row(points, dims, y), &mean))
        })
        .unwrap_or(0);
    let mut chosen = vec![first];
    let mut d2: Vec<f32> = (0..n)
        .map(|i| dist2(row(points, dims, i), row(points, dims, first)))
        .collect();
    while chosen.len() < k.min(n) {
        let far = (0..n)
            .max_by(|&x, &y| d2[x].total_cmp(&d2[y]).then(y.cmp(&x)))
            .unwrap_or(0);
        if d2[far] <= 0.0 && chosen.contains(&far) {
            // All remaining points coincide with chosen ones: take the lowest unchosen index.
            match (0..n).find(|i| !chosen.contains(i)) {
                Some(i) => chosen.push(i),
                None => break,
            }
            continue;
        }
        chosen.push(far);
        let p = row(points, dims, far).to_vec();
        for (i, d) in d2.iter_mut().enumerate() {
            *d = d.min(dist2(row(points, dims, i), &p));
        }
    }
    chosen
}
