//! Fast `.nii.gz` voxels: the whole gzip file inflated by libdeflate into the voxel vector
//! itself, without a second buffer for the compressed bytes.
//!
//! libdeflate is 1.5× faster than a streaming inflater but wants the whole compressed stream in
//! memory. Holding it beside the voxels would cost a CT 1.4–1.7× its voxel bytes; instead the
//! compressed bytes are read into the *end* of the voxel allocation (grown by a margin, see
//! `margin`) and inflated towards its start. The inflater writes behind the point it reads
//! from: a deflate stream's unread rest is never much longer than the output it still has to
//! produce, so with the margin the output never reaches input not yet read. Anything unusual makes this path step aside
//! (returns `None`) for the streaming reader: a multi-member file, a size field that does not
//! match the header, a stream over 4 GiB, and any stream whose CRC-32 or length check fails,
//! which is also what an output overtaking its input would produce. The peak is the voxel
//! bytes plus the header and the margin.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_SUCCESS,
};

use crate::error::{Error, Result};

/// Slack between the end of the output and the start of the compressed bytes: 64 KiB plus an
/// eighth of the stream. The rest of a deflate stream can be longer than the output it still
/// decodes to: by 5 bytes per 64 KiB stored block, and by up to 1 bit in 8 where a fast
/// encoder (zlib-ng's level 1, as ITK and zlib-rs use) writes incompressible bytes with the
/// fixed Huffman code's 9-bit literals.
fn margin(stream: usize) -> usize {
    (64 << 10) + stream / 8
}

/// Bytes a stream may hold after the voxels and still take this path.
const TRAILING_BYTES: usize = 1 << 20;

/// Frees the decompressor however the call ends.
struct Decompressor(*mut libdeflate_decompressor);

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor, freed once.
        unsafe { libdeflate_free_decompressor(self.0) }
    }
}

/// Asks Linux to back `bytes` with transparent huge pages where it allows them on request: the
/// buffer's first touch then faults 2 MiB at a time instead of 4 KiB (on a 157 MB CT, 0.42 →
/// 0.33 s for the whole read). Left out below 8 MiB, where 2 MiB pages would round the peak up
/// for little time saved. A hint only; refused or elsewhere, nothing changes.
fn advise_huge_pages(bytes: &mut [u8]) {
    #[cfg(target_os = "linux")]
    if bytes.len() >= 8 << 20 {
        const PAGE: usize = 4096;
        let start = bytes.as_mut_ptr() as usize;
        let aligned = start.next_multiple_of(PAGE);
        let len = (start + bytes.len()).saturating_sub(aligned) / PAGE * PAGE;
        if len > 0 {
            // SAFETY: the range lies inside `bytes`, memory this process owns; MADV_HUGEPAGE
            // changes how the kernel backs it, never its contents, and a failure is harmless.
            unsafe { libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = bytes;
}

/// The `n` values of `T` that start `offset` bytes into the decompressed stream of the gzip
/// file `path`, inflated in place; `None` where the fast path does not apply (see the module
/// notes: the caller then reads the file with the streaming inflater, which also names any
/// problem). I/O errors name the file.
pub(crate) fn read_values<T: bytemuck::Pod + Default>(
    path: &Path,
    offset: usize,
    n: usize,
) -> Result<Option<Vec<T>>> {
    let size = std::mem::size_of::<T>();
    let Some(needed) = n.checked_mul(size).and_then(|b| b.checked_add(offset)) else {
        return Ok(None);
    };
    let mut file = File::open(path).map_err(|e| Error::io("cannot open file", path, e))?;
    let compressed = file
        .metadata()
        .map_err(|e| Error::io("cannot read file size", path, e))?
        .len();
    // gzip: a 10-byte header, the deflate stream, CRC-32 and the length mod 2^32.
    let Ok(compressed) = usize::try_from(compressed) else {
        return Ok(None);
    };
    if compressed < 18 || needed > u32::MAX as usize {
        return Ok(None);
    }
    let mut trailer = [0u8; 4];
    file.seek(SeekFrom::End(-4))
        .and_then(|_| file.read_exact(&mut trailer))
        .map_err(|e| Error::io("cannot read file", path, e))?;
    // The stream may hold a few bytes after the voxels; it may not end before them. (A
    // truncated file's last bytes are not a length: far off, they are not trusted with an
    // allocation.)
    let stream = u32::from_le_bytes(trailer) as usize;
    if stream < needed || stream - needed > TRAILING_BYTES {
        return Ok(None);
    }
    let total = stream.max(compressed) + margin(stream);
    let mut values: Vec<T> = vec![T::default(); total.div_ceil(size)];
    let input_start = values.len() * size - compressed;
    {
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut values);
        advise_huge_pages(bytes);
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.read_exact(&mut bytes[input_start..]))
            .map_err(|e| Error::io("cannot read file", path, e))?;
    }
    drop(file);
    // SAFETY: libdeflate allocates its own state; null means out of memory.
    let decompressor = Decompressor(unsafe { libdeflate_alloc_decompressor() });
    if decompressor.0.is_null() {
        return Ok(None);
    }
    let (mut read, mut written) = (0usize, 0usize);
    let base = values.as_mut_ptr().cast::<u8>();
    // SAFETY: both ranges lie inside `values` (input: its last `compressed` bytes; output: its
    // first `stream` bytes, `stream + margin ≤ input_start + compressed`), no Rust reference
    // to `values` is alive during the call, and libdeflate checks every length and distance
    // against the bounds it is given, so no input can make it read or write outside them. The
    // two ranges overlap by design: output is written only where the input has already been
    // consumed (module notes), and any stream where that failed ends with a CRC-32 mismatch,
    // so its result is thrown away. libdeflate's prototypes mark `in` and `out` `restrict`,
    // which this overlap steps outside of: what it relies on is that the decoder reads its
    // input strictly forward and never rereads a byte once it is behind the output (at least
    // the margin behind where it reads), which holds for libdeflate's loop; the CRC-32 check
    // is the guard if it ever did not.
    let result = unsafe {
        libdeflate_gzip_decompress_ex(
            decompressor.0,
            base.add(input_start).cast(),
            compressed,
            base.cast(),
            stream,
            &mut read,
            &mut written,
        )
    };
    if result != libdeflate_result_LIBDEFLATE_SUCCESS || read != compressed || written != stream {
        // Corrupt, truncated, multi-member or not what the trailer said: the streaming reader
        // decides and explains.
        return Ok(None);
    }
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut values);
    bytes.copy_within(offset..needed, 0);
    values.truncate(n);
    values.shrink_to_fit();
    Ok(Some(values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn written(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Bytes that compress very well first and not at all after: the case where the output
    /// comes closest to the unread input.
    fn hard_case(len: usize) -> Vec<u8> {
        let mut rng = crate::rng::Rng::new(5);
        (0..len)
            .map(|i| {
                if i < len / 2 {
                    (i / 4096) as u8
                } else {
                    (rng.uniform() * 256.0) as u8
                }
            })
            .collect()
    }

    #[test]
    fn in_place_inflate_matches_the_data_at_every_compressibility_and_level() {
        let dir = tempfile::tempdir().unwrap();
        let len = 3 << 20;
        let mut rng = crate::rng::Rng::new(9);
        let random: Vec<u8> = (0..len).map(|_| (rng.uniform() * 256.0) as u8).collect();
        let ramp: Vec<u8> = (0..len).map(|i| (i / 1000) as u8).collect();
        let mut reversed = hard_case(len);
        reversed.reverse();
        // Bytes 144–255 only: 9 bits each in the fixed Huffman code of level 1.
        let high: Vec<u8> = (0..len)
            .map(|i| {
                if i < len / 4 {
                    0
                } else {
                    144 + (rng.uniform() * 112.0) as u8
                }
            })
            .collect();
        for (name, data) in [
            ("random", random),
            ("ramp", ramp),
            ("compressible-then-random", hard_case(len)),
            ("random-then-compressible", reversed),
            ("zeros-then-high-bytes", high),
        ] {
            for level in [0, 1, 6, 9] {
                let path = written(dir.path(), "v.gz", &gzip(&data, level));
                // 352 header bytes, then i16 values.
                let n = (data.len() - 352) / 2;
                let values: Vec<i16> = read_values(&path, 352, n)
                    .unwrap()
                    .unwrap_or_else(|| panic!("{name} level {level}: the fast path stepped aside"));
                let expected: Vec<i16> = data[352..352 + 2 * n]
                    .chunks_exact(2)
                    .map(|c| i16::from_ne_bytes([c[0], c[1]]))
                    .collect();
                assert!(values == expected, "{name} level {level}");
                assert_eq!(values.capacity(), n, "{name}: no slack kept");
            }
        }
    }

    #[test]
    fn anything_unusual_steps_aside_for_the_streaming_reader() {
        let dir = tempfile::tempdir().unwrap();
        let data = hard_case(1 << 20);
        let good = gzip(&data, 6);
        let n = (data.len() - 352) / 4;
        // Two members: libdeflate reads the first only.
        let mut two = gzip(&data[..1000], 6);
        two.extend(gzip(&data[1000..], 6));
        let two = written(dir.path(), "two.gz", &two);
        assert!(read_values::<f32>(&two, 352, n).unwrap().is_none());
        // A flipped byte in the middle: the CRC (or the stream) fails.
        let mut bad = good.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x55;
        let bad = written(dir.path(), "bad.gz", &bad);
        assert!(read_values::<f32>(&bad, 352, n).unwrap().is_none());
        // Truncated, and a header asking for more voxels than the stream holds.
        let cut = written(dir.path(), "cut.gz", &good[..good.len() - 100]);
        assert!(read_values::<f32>(&cut, 352, n).unwrap().is_none());
        let ok = written(dir.path(), "ok.gz", &good);
        assert!(read_values::<f32>(&ok, 352, n + 1).unwrap().is_none());
        assert!(read_values::<f32>(&ok, 352, n).unwrap().is_some());
        // Not there at all: an error naming the file.
        let err = read_values::<f32>(&dir.path().join("missing.gz"), 352, n).unwrap_err();
        assert!(err.to_string().contains("missing.gz"), "{err}");
    }
}
