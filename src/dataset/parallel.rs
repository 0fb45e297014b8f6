//! Work over many cases of a dataset on every core: each reader thread takes the next case,
//! reads it and computes what it needs, as many at once as the cores and a memory bound allow.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{CaseGeometry, Dataset};
use crate::error::{Error, Result};
use crate::jobs::Progress;

/// Voxel memory the cases read at once may hold together; the number read in parallel is
/// bounded by it as well as by the cores.
const READ_AT_ONCE_BYTES: usize = 2 << 30;

/// In-memory bytes of a case's voxels as loaded (a generous 4 bytes for types it cannot tell).
fn voxel_bytes(geometry: &CaseGeometry) -> usize {
    let per_voxel = match geometry.dtype.as_str() {
        "uint8" | "int8" => 1,
        "int16" | "uint16" | "dicom" => 2,
        "float64" | "int64" | "uint64" | "complex128" | "float128" | "complex256" => 8,
        _ => 4,
    };
    geometry.shape.iter().product::<usize>() * per_voxel
}

/// How many of `cases` to read at once: every core, as long as that many of the largest case
/// (`volumes_per_case` volumes of its image's size: 2 for an image with its label map) fit in
/// [`READ_AT_ONCE_BYTES`].
fn reader_count(cases: &[usize], geometries: &[CaseGeometry], volumes_per_case: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let largest = cases
        .iter()
        .map(|&i| voxel_bytes(&geometries[i]) * volumes_per_case)
        .max()
        .unwrap_or(1)
        .max(1);
    cores
        .min(READ_AT_ONCE_BYTES / largest)
        .min(cases.len())
        .max(1)
}

/// `read(case)` for every case of `cases`, in that order, on as many threads as
/// `reader_count` allows (`volumes_per_case`: the volumes of the image's size one read
/// holds). Progress runs from `from` to `to`, naming `what` is being done and the case; a cancel
/// stops every reader before its next case. On failure, the error of the first failing case in
/// `cases`' order is returned.
pub fn read_cases<R: Send>(
    dataset: &Dataset,
    cases: &[usize],
    (geometries, volumes_per_case): (&[CaseGeometry], usize),
    progress: &Progress,
    (from, to, what): (f32, f32, &str),
    read: impl Fn(usize) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    let readers = reader_count(cases, geometries, volumes_per_case);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R>>>> =
        Mutex::new((0..cases.len()).map(|_| None).collect());
    let read_until_done = || {
        loop {
            let pos = next.fetch_add(1, Ordering::Relaxed);
            let Some(&case) = cases.get(pos) else { break };
            let result = progress.check().and_then(|()| read(case));
            let failed = result.is_err();
            if let Ok(mut r) = results.lock() {
                r[pos] = Some(result);
            }
            if failed {
                // No new case after a failure or a cancel.
                next.store(cases.len(), Ordering::Relaxed);
                break;
            }
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress.set(
                from + (to - from) * finished as f32 / cases.len() as f32,
                format!(
                    "{what} {} ({finished} of {}, {readers} at a time)",
                    dataset.cases[case].id,
                    cases.len()
                ),
            );
        }
    };
    if readers == 1 {
        read_until_done();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..readers {
                scope.spawn(read_until_done);
            }
        });
    }
    // Every case before a failing one was taken before it and finished: the first error in
    // order is the first failure in order.
    let mut out = Vec::with_capacity(cases.len());
    for result in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match result {
            Some(Ok(value)) => out.push(value),
            Some(Err(e)) => return Err(e),
            None => return Err(Error::invalid("a case was left unread")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(shape: [usize; 3], dtype: &str) -> CaseGeometry {
        CaseGeometry {
            shape,
            spacing_mm: [1.0; 3],
            orientation: "RAS".into(),
            dtype: dtype.into(),
            world_from_voxel: crate::io::geometry::IDENTITY,
        }
    }

    #[test]
    fn readers_are_bounded_by_cores_cases_and_memory() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let small = vec![geometry([64, 64, 64], "int16"); 40];
        assert_eq!(reader_count(&[0, 1, 2], &small, 1), cores.min(3));
        assert_eq!(reader_count(&(0..40).collect::<Vec<_>>(), &small, 2), cores);
        // 512×512×2048 float64 is 4 GiB: one at a time, whatever the cores.
        let mut mixed = small.clone();
        mixed[7] = geometry([512, 512, 2048], "float64");
        assert_eq!(reader_count(&[0, 7, 9], &mixed, 1), 1);
        // Without the large case among those read, it does not count.
        assert_eq!(reader_count(&[0, 9], &mixed, 1), cores.min(2));
        // 1 GiB of int16 with its label map: 2 GiB a case, still one at a time.
        mixed[3] = geometry([512, 512, 2048], "int16");
        assert_eq!(reader_count(&[3, 9], &mixed, 1), cores.min(2));
        assert_eq!(reader_count(&[3, 9], &mixed, 2), 1);
        assert_eq!(voxel_bytes(&geometry([10, 10, 10], "uint8")), 1000);
        assert_eq!(voxel_bytes(&geometry([10, 10, 10], "dicom")), 2000);
    }
}
