//! Benchmark: `ual` slice selection for 100 volumes × 300 slices of 256×256 (goal ≤ 2 s on 2 cores).
//!
//! `cargo run --release --example bench_ual`
//! Volumes are generated one at a time (untimed); the timed part is what planning does per
//! volume: slice embeddings + body rule in one pass, then k-means medoids for n = 10 slices.
//! The volumes are split over both cores; the figure is the busier core's timed work.

mod common;
use common::load_average;
use std::time::Instant;

use sliceplan::dataset::Modality;
use sliceplan::io::{self, Volume, VoxelData};
use sliceplan::plan::select::{SliceStrategy, select_slices};
use sliceplan::plan::{BodyRule, slice_features};
use sliceplan::rng::Rng;

const VOLUMES: usize = 100;
const SLICES: usize = 300;
const SIDE: usize = 256;
const PICK: usize = 10;

fn volume(seed: u64) -> Volume {
    let mut rng = Rng::new(seed);
    let mut data = vec![0i16; SIDE * SIDE * SLICES];
    let phase = rng.uniform() * 6.0;
    for k in 0..SLICES {
        let r = 80.0 + 30.0 * ((k as f64 / 40.0) + phase).sin();
        for j in 0..SIDE {
            for i in 0..SIDE {
                let (x, y) = (i as f64 - 128.0, j as f64 - 128.0);
                let v = if x * x + y * y < r * r {
                    40 + ((i ^ j ^ k) & 31) as i16
                } else {
                    -1000
                };
                data[i + SIDE * (j + SIDE * k)] = v;
            }
        }
    }
    let affine = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 2.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    Volume {
        shape: [SIDE, SIDE, SLICES],
        spacing_mm: [1.0, 1.0, 2.0],
        world_from_voxel: affine,
        data: VoxelData::I16(data),
        scaling: None,
        source_dtype: None,
        header: io::header_for_geometry([SIDE, SIDE, SLICES], [1.0, 1.0, 2.0], &affine),
    }
}

fn main() {
    println!("load average before: {}", load_average());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(2);
    let mut timed = vec![0f64; threads];
    let mut picked = vec![0usize; threads];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let (mut secs, mut n) = (0.0, 0);
                    for v in (t..VOLUMES).step_by(threads) {
                        let vol = volume(v as u64);
                        let start = Instant::now();
                        let rule = BodyRule::default();
                        let f = slice_features(&vol, 2, Modality::Ct, &rule);
                        let cand = f.candidates(&rule);
                        let mut rng = Rng::new(v as u64);
                        let s = select_slices(
                            SliceStrategy::Ual,
                            PICK,
                            &cand,
                            Some(&f),
                            None,
                            &mut rng,
                        )
                        .expect("ual");
                        secs += start.elapsed().as_secs_f64();
                        n += s.len();
                    }
                    (secs, n)
                })
            })
            .collect();
        for (t, h) in handles.into_iter().enumerate() {
            let (s, n) = h.join().expect("worker");
            timed[t] = s;
            picked[t] = n;
        }
    });
    let wall = timed.iter().cloned().fold(0.0, f64::max);
    println!(
        "ual: {VOLUMES} volumes × {SLICES} slices of {SIDE}×{SIDE}, {PICK} slices each ({} picked) on {threads} thread(s): {wall:.2} s (goal ≤ 2 s), {:.1} ms per volume per thread",
        picked.iter().sum::<usize>(),
        1e3 * timed.iter().sum::<f64>() / VOLUMES as f64
    );
    println!("load average after: {}", load_average());
}
