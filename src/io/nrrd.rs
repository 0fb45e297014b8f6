//! NRRD volumes (teem's format, 3D Slicer's default for segmentations, `.seg.nrrd`): an attached
//! header and raw or gzip data, read into a [`Volume`] in RAS+ world millimetres and written as
//! Slicer writes them (LPS space, gzip). The header's key/value pairs (`key:=value`, where
//! Slicer keeps segment names, colours and label values) come back with the voxels.
//!
//! A fourth axis that is a list (Slicer's layers of overlapping segments) is kept as layers.
//! Detached headers (`.nhdr`), skipped bytes and encodings other than raw and gzip are refused
//! by name.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use super::atomic::write_bytes_atomic;
use super::geometry::Affine;
use super::volume::{Volume, VoxelData};
use crate::error::{Error, Result};

/// The most voxel bytes an NRRD is read with (8 GiB): sizes claiming more are refused.
const MAX_BYTES: usize = 8 << 30;

/// An NRRD file read: its voxels (one volume per layer) and its key/value pairs.
#[derive(Debug, Clone)]
pub struct Nrrd {
    /// One volume per layer (one for an ordinary 3D file).
    pub layers: Vec<Volume>,
    /// `key:=value` pairs of the header, in file order.
    pub key_values: Vec<(String, String)>,
}

impl Nrrd {
    /// The value of key/value pair `key`, if the header holds one.
    pub fn key_value(&self, key: &str) -> Option<&str> {
        self.key_values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The header's fields (`field: value`), lower-cased names.
struct Header {
    fields: BTreeMap<String, String>,
    key_values: Vec<(String, String)>,
    data_offset: usize,
}

fn parse_header(bytes: &[u8], path: &Path) -> Result<Header> {
    if !bytes.starts_with(b"NRRD000") {
        return Err(Error::file(
            "not an NRRD file (no NRRD000x magic line)",
            path,
        ));
    }
    let mut fields = BTreeMap::new();
    let mut key_values = Vec::new();
    let mut at = 0;
    let mut first = true;
    loop {
        let Some(len) = bytes[at..].iter().position(|&b| b == b'\n') else {
            return Err(Error::file(
                "the NRRD header does not end (no blank line before the data)",
                path,
            ));
        };
        let line = String::from_utf8_lossy(&bytes[at..at + len]);
        let line = line.trim_end_matches('\r');
        at += len + 1;
        if first {
            first = false;
            continue;
        }
        if line.is_empty() {
            break;
        }
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once(":=") {
            key_values.push((k.to_string(), v.to_string()));
        } else if let Some((k, v)) = line.split_once(": ") {
            fields.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        } else {
            return Err(Error::file(
                format!("unreadable NRRD header line '{line}'"),
                path,
            ));
        }
    }
    Ok(Header {
        fields,
        key_values,
        data_offset: at,
    })
}

/// The voxel type named by NRRD's `type` field, and its size in bytes.
fn voxel_type(name: &str) -> Option<(&'static str, usize)> {
    Some(match name {
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => ("u8", 1),
        "signed char" | "int8" | "int8_t" => ("i8", 1),
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => {
            ("i16", 2)
        }
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => ("u16", 2),
        "int" | "signed int" | "int32" | "int32_t" => ("i32", 4),
        "uint" | "unsigned int" | "uint32" | "uint32_t" => ("u32", 4),
        "longlong"
        | "long long"
        | "long long int"
        | "signed long long"
        | "signed long long int"
        | "int64"
        | "int64_t" => ("i64", 8),
        "ulonglong" | "unsigned long long" | "unsigned long long int" | "uint64" | "uint64_t" => {
            ("u64", 8)
        }
        "float" => ("f32", 4),
        "double" => ("f64", 8),
        _ => return None,
    })
}

/// `bytes` as voxels of type `kind` (`voxel_type`'s names), `big_endian` or not.
fn voxels(kind: &str, bytes: &[u8], big_endian: bool) -> VoxelData {
    macro_rules! decode {
        ($t:ty, $n:expr, $variant:ident) => {
            VoxelData::$variant(
                bytes
                    .chunks_exact($n)
                    .map(|c| {
                        let mut a = [0u8; $n];
                        a.copy_from_slice(c);
                        if big_endian {
                            <$t>::from_be_bytes(a)
                        } else {
                            <$t>::from_le_bytes(a)
                        }
                    })
                    .collect(),
            )
        };
    }
    match kind {
        "u8" => VoxelData::U8(bytes.to_vec()),
        "i8" => VoxelData::I8(bytes.iter().map(|&b| b as i8).collect()),
        "i16" => decode!(i16, 2, I16),
        "u16" => decode!(u16, 2, U16),
        "i32" => decode!(i32, 4, I32),
        "u32" => decode!(u32, 4, U32),
        "i64" => decode!(i64, 8, I64),
        "u64" => decode!(u64, 8, U64),
        "f32" => decode!(f32, 4, F32),
        _ => decode!(f64, 8, F64),
    }
}

/// The signs that take the header's `space` to RAS+.
fn space_to_ras(space: &str) -> Option<[f64; 3]> {
    Some(match space.to_ascii_lowercase().as_str() {
        "right-anterior-superior" | "ras" => [1.0, 1.0, 1.0],
        "left-posterior-superior" | "lps" => [-1.0, -1.0, 1.0],
        "left-anterior-superior" | "las" => [-1.0, 1.0, 1.0],
        _ => return None,
    })
}

/// The vectors of a `space directions` or `space origin` field: `(x,y,z)` groups, `none` for a
/// non-spatial axis.
fn vectors(text: &str) -> Option<Vec<Option<[f64; 3]>>> {
    text.split_whitespace()
        .map(|group| {
            if group == "none" {
                return Some(None);
            }
            let inner = group.strip_prefix('(')?.strip_suffix(')')?;
            let v: Vec<f64> = inner
                .split(',')
                .map(|x| x.trim().parse().ok())
                .collect::<Option<_>>()?;
            (v.len() == 3).then(|| Some([v[0], v[1], v[2]]))
        })
        .collect()
}

/// The grid of a header: sizes of the three spatial axes, the affine (RAS+), and the number of
/// layers (a leading list axis, 1 when there is none).
fn grid(h: &Header, path: &Path) -> Result<([usize; 3], Affine, usize)> {
    let field = |name: &str| {
        h.fields
            .get(name)
            .ok_or_else(|| Error::file(format!("the NRRD header has no '{name}' field"), path))
    };
    let sizes: Vec<usize> = field("sizes")?
        .split_whitespace()
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()
        .ok_or_else(|| Error::file("unreadable NRRD 'sizes'", path))?;
    let space = field("space")?;
    let sign = space_to_ras(space).ok_or_else(|| {
        Error::file(
            format!("NRRD space '{space}' is not read (RAS, LPS or LAS are)"),
            path,
        )
    })?;
    let directions = vectors(field("space directions")?)
        .ok_or_else(|| Error::file("unreadable NRRD 'space directions'", path))?;
    let origin = match h.fields.get("space origin") {
        Some(o) => vectors(o)
            .and_then(|v| v.first().copied().flatten())
            .ok_or_else(|| Error::file("unreadable NRRD 'space origin'", path))?,
        None => [0.0; 3],
    };
    if sizes.contains(&0) {
        return Err(Error::file(
            format!("NRRD sizes {sizes:?} hold a zero"),
            path,
        ));
    }
    let (layers, spatial) = match (sizes.len(), directions.len()) {
        (3, 3) if directions.iter().all(Option::is_some) => (1, 0),
        (4, 4) if directions[0].is_none() && directions[1..].iter().all(Option::is_some) => {
            (sizes[0], 1)
        }
        _ => {
            return Err(Error::file(
                format!(
                    "an NRRD of {} axes ({} spatial) is not a 3D volume or a layered segmentation",
                    sizes.len(),
                    directions.iter().flatten().count()
                ),
                path,
            ));
        }
    };
    let mut world_from_voxel = super::geometry::IDENTITY;
    for (axis, d) in directions[spatial..].iter().enumerate() {
        let d = d.unwrap_or([0.0; 3]);
        for r in 0..3 {
            world_from_voxel[r][axis] = sign[r] * d[r];
        }
    }
    for r in 0..3 {
        world_from_voxel[r][3] = sign[r] * origin[r];
    }
    let shape = [sizes[spatial], sizes[spatial + 1], sizes[spatial + 2]];
    Ok((shape, world_from_voxel, layers))
}

/// The data bytes after the header, inflated when gzip; at most `limit` bytes are inflated (a
/// gzip stream claiming more than the header's sizes need is not read further).
fn data_bytes(h: &Header, bytes: &[u8], limit: usize, path: &Path) -> Result<Vec<u8>> {
    if let Some(file) = h.fields.get("data file").or(h.fields.get("datafile")) {
        return Err(Error::file(
            format!("a detached NRRD header (data in '{file}') is not read; save as one .nrrd"),
            path,
        ));
    }
    for skip in ["line skip", "byte skip"] {
        if h.fields.get(skip).is_some_and(|v| v.trim() != "0") {
            return Err(Error::file(format!("NRRD '{skip}' is not read"), path));
        }
    }
    let raw = &bytes[h.data_offset..];
    let encoding = h.fields.get("encoding").map(String::as_str).unwrap_or("");
    match encoding {
        "raw" => Ok(raw.to_vec()),
        "gzip" | "gz" => {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(raw)
                .take(limit as u64)
                .read_to_end(&mut out)
                .map_err(|e| Error::file(format!("corrupt gzip data in the NRRD ({e})"), path))?;
            Ok(out)
        }
        other => Err(Error::file(
            format!(
                "NRRD encoding '{other}' is not read (raw and gzip are; re-save in Slicer with compression on)"
            ),
            path,
        )),
    }
}

/// Reads the NRRD file at `path` (attached header, raw or gzip).
pub fn read_nrrd(path: impl AsRef<Path>) -> Result<Nrrd> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
    let header = parse_header(&bytes, path)?;
    let type_name = header.fields.get("type").map(String::as_str).unwrap_or("");
    let (kind, size) = voxel_type(type_name)
        .ok_or_else(|| Error::file(format!("NRRD type '{type_name}' is not read"), path))?;
    let (shape, world_from_voxel, layers) = grid(&header, path)?;
    let want = [shape[0], shape[1], shape[2], layers, size]
        .iter()
        .try_fold(1usize, |n, &m| n.checked_mul(m))
        .filter(|&n| n <= MAX_BYTES)
        .ok_or_else(|| {
            Error::file(
                format!("NRRD sizes {shape:?} × {layers} layers are too large to read"),
                path,
            )
        })?;
    let data = data_bytes(&header, &bytes, want, path)?;
    if data.len() < want {
        return Err(Error::file(
            format!(
                "the NRRD is truncated: {} bytes of voxels, {want} expected",
                data.len()
            ),
            path,
        ));
    }
    let big_endian = header.fields.get("endian").is_some_and(|e| e == "big");
    let all = voxels(kind, &data[..want], big_endian);
    let spacing_mm = [0, 1, 2].map(|c| {
        (0..3)
            .map(|r| world_from_voxel[r][c] * world_from_voxel[r][c])
            .sum::<f64>()
            .sqrt()
    });
    let layer_volumes = (0..layers)
        .map(|l| {
            // Layers are the fastest axis: voxel v of layer l is element v·layers + l.
            let data = with_layer(&all, layers, l);
            Volume::new(shape, spacing_mm, world_from_voxel, data)
        })
        .collect();
    Ok(Nrrd {
        layers: layer_volumes,
        key_values: header.key_values,
    })
}

/// Layer `l` of `layers` interleaved in `all` (all of it when there is one layer).
fn with_layer(all: &VoxelData, layers: usize, l: usize) -> VoxelData {
    if layers == 1 {
        return all.clone();
    }
    macro_rules! pick {
        ($($variant:ident),*) => {
            match all {
                $(VoxelData::$variant(v) => {
                    VoxelData::$variant(v.iter().skip(l).step_by(layers).copied().collect())
                })*
            }
        };
    }
    pick!(U8, I8, U16, I16, U32, I32, U64, I64, F32, F64)
}

/// Writes `volume` (u8 or u16 labels) as a gzip NRRD in LPS space, as 3D Slicer does, with
/// `key_values` in the header; atomically.
pub fn write_nrrd(
    path: impl AsRef<Path>,
    volume: &Volume,
    key_values: &[(String, String)],
) -> Result<()> {
    let path = path.as_ref();
    let (type_name, bytes): (&str, Vec<u8>) = match &volume.data {
        VoxelData::U8(v) => ("unsigned char", v.clone()),
        VoxelData::U16(v) => (
            "unsigned short",
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        other => {
            return Err(Error::invalid(format!(
                "NRRD label maps are written as uint8 or uint16, not {}",
                other.dtype_name()
            )));
        }
    };
    let a = &volume.world_from_voxel;
    let lps = [-1.0, -1.0, 1.0];
    let vector = |v: [f64; 3]| format!("({},{},{})", v[0], v[1], v[2]);
    let direction = |c: usize| vector([0, 1, 2].map(|r| lps[r] * a[r][c]));
    let [nx, ny, nz] = volume.shape;
    let mut text = format!(
        "NRRD0004\n# Complete NRRD file format specification at:\n# http://teem.sourceforge.net/nrrd/format.html\ntype: {type_name}\ndimension: 3\nspace: left-posterior-superior\nsizes: {nx} {ny} {nz}\nspace directions: {} {} {}\nkinds: domain domain domain\nendian: little\nencoding: gzip\nspace origin: {}\n",
        direction(0),
        direction(1),
        direction(2),
        vector([0, 1, 2].map(|r| lps[r] * a[r][3])),
    );
    for (k, v) in key_values {
        text.push_str(&format!("{k}:={v}\n"));
    }
    text.push('\n');
    let mut gz = flate2::write::GzEncoder::new(text.into_bytes(), flate2::Compression::fast());
    gz.write_all(&bytes)
        .map_err(|e| Error::io("cannot compress", path, e))?;
    let out = gz
        .finish()
        .map_err(|e| Error::io("cannot compress", path, e))?;
    // The header is not compressed: GzEncoder wrote only the voxels after it.
    write_bytes_atomic(path, &out)
}
