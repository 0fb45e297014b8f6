//! A structural check of a DICOM file before dicom-rs parses it: every element length it
//! declares must fit in the bytes the file has left. dicom-rs allocates (and zero-fills) a
//! value's declared length before reading it, so a corrupt length of 4 GB would cost seconds and
//! gigabytes before failing; memory must follow the file, not a header's claim.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{Error, Result};

const UNDEFINED: u32 = 0xFFFF_FFFF;
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// VRs with a 2-byte length in explicit VR; every other one, unknown ones included, has 2
/// reserved bytes and a 4-byte length (as dicom-rs reads them).
/// The value representations of the standard (PS3.5 6.2): any other in an explicit-VR file is
/// corruption.
const KNOWN_VRS: [&[u8; 2]; 34] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
];
const SHORT_VRS: [&[u8; 2]; 21] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
    b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
];

struct Walker<R> {
    reader: R,
    position: u64,
    size: u64,
}

impl<R: Read + Seek> Walker<R> {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut b = [0u8; N];
        self.reader.read_exact(&mut b).ok()?;
        self.position += N as u64;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.bytes::<2>()?;
        Some(u16::from_le_bytes(b))
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.bytes::<4>()?;
        Some(u32::from_le_bytes(b))
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        self.reader.seek(SeekFrom::Current(n as i64)).ok()?;
        self.position += n;
        Some(())
    }

    fn left(&self) -> u64 {
        self.size.saturating_sub(self.position)
    }

    /// Reads `len` bytes of a short value (the transfer syntax UID).
    fn text(&mut self, len: u32) -> Option<String> {
        let mut b = vec![0u8; len.min(256) as usize];
        self.reader.read_exact(&mut b).ok()?;
        self.position += b.len() as u64;
        Some(
            String::from_utf8_lossy(&b)
                .trim_end_matches(['\0', ' '])
                .to_string(),
        )
    }
}

/// Walks the file's elements (descending into sequences and items) and fails on the first
/// declared length that runs past the end of the file. Unusual encodings it cannot walk
/// (deflated data sets, undefined-length UN) end the walk without a verdict.
pub fn check_dicom_lengths(path: &Path) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let size = file
        .metadata()
        .map_err(|e| Error::io("cannot read the size of", path, e))?
        .len();
    let mut w = Walker {
        reader: BufReader::with_capacity(8192, file),
        position: 0,
        size,
    };
    if w.skip(132).is_none() {
        return Ok(());
    }
    walk(&mut w).map_err(|msg| Error::file(format!("corrupt DICOM file: {msg}"), path))
}

fn too_long(group: u16, element: u16, len: u32, left: u64) -> String {
    format!("element ({group:04X},{element:04X}) claims {len} bytes, the file has {left} left")
}

fn walk<R: Read + Seek>(w: &mut Walker<R>) -> std::result::Result<(), String> {
    let mut explicit = true;
    let mut in_meta = true;
    // Inside encapsulated pixel data: items are fragments to skip, not element lists.
    let mut in_fragments = false;
    loop {
        let Some(group) = w.u16() else { return Ok(()) };
        let Some(element) = w.u16() else {
            return Ok(());
        };
        if in_meta && group != 0x0002 {
            in_meta = false;
        }
        if group == 0xFFFE {
            let Some(len) = w.u32() else { return Ok(()) };
            match element {
                0xE000 if len != UNDEFINED && u64::from(len) > w.left() => {
                    return Err(too_long(group, element, len, w.left()));
                }
                0xE000 if in_fragments && len != UNDEFINED => {
                    w.skip(u64::from(len)).ok_or("truncated fragment")?;
                }
                0xE0DD => in_fragments = false,
                _ => {}
            }
            continue;
        }
        let (vr, len) = if explicit || in_meta {
            let Some(vr) = w.bytes::<2>() else {
                return Ok(());
            };
            if !KNOWN_VRS.contains(&&vr) {
                // dicom-rs spends seconds on an unknown VR of undefined length before failing.
                return Err(format!(
                    "element ({group:04X},{element:04X}) has no valid value representation ('{}')",
                    String::from_utf8_lossy(&vr).escape_default()
                ));
            }
            let len = if SHORT_VRS.contains(&&vr) {
                w.u16().map(u32::from)
            } else {
                if w.skip(2).is_none() {
                    return Ok(());
                }
                w.u32()
            };
            let Some(len) = len else { return Ok(()) };
            (Some(vr), len)
        } else {
            let Some(len) = w.u32() else { return Ok(()) };
            (None, len)
        };
        if len == UNDEFINED {
            match vr.as_ref().map(|v| v.as_slice()) {
                Some(b"SQ") | None => continue,
                Some(b"OB" | b"OW") if (group, element) == (0x7FE0, 0x0010) => {
                    in_fragments = true;
                    continue;
                }
                // Undefined-length UN (implicit VR inside): not walked further.
                _ => return Ok(()),
            }
        }
        if u64::from(len) > w.left() {
            return Err(too_long(group, element, len, w.left()));
        }
        if vr == Some(*b"SQ") {
            continue;
        }
        if (group, element) == (0x0002, 0x0010) {
            let ts = w.text(len).ok_or("truncated transfer syntax")?;
            if u64::from(len) > 256 {
                w.skip(u64::from(len) - 256).ok_or("truncated")?;
            }
            match ts.as_str() {
                IMPLICIT_LE => explicit = false,
                // Deflated and (retired) big-endian data sets are not walked.
                DEFLATED | EXPLICIT_BE => return Ok(()),
                _ => {}
            }
            continue;
        }
        // In implicit VR a sequence is known by its first item.
        if vr.is_none() && len >= 8 {
            let Some(next) = w.bytes::<4>() else {
                return Ok(());
            };
            if next == [0xFE, 0xFF, 0x00, 0xE0] {
                // Step back over the item tag and walk the items.
                w.reader
                    .seek(SeekFrom::Current(-4))
                    .map_err(|e| e.to_string())?;
                w.position -= 4;
                continue;
            }
            w.skip(u64::from(len) - 4).ok_or("truncated")?;
            continue;
        }
        w.skip(u64::from(len)).ok_or("truncated")?;
    }
}
