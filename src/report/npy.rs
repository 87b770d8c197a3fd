//! NumPy `.npy` files (format 1.0), so `numpy.load` reads exports directly.

use std::io::{Read, Write};
use std::path::Path;

use super::ReportError;

/// An element type we write: its NumPy `descr` and little-endian bytes.
pub trait NpyElement: Copy {
    const DESCR: &'static str;
    fn write_le(self, out: &mut Vec<u8>);
    fn read_le(bytes: &[u8]) -> Self;
    const SIZE: usize;
}

impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
    const SIZE: usize = 4;
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read_le(b: &[u8]) -> Self {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl NpyElement for i64 {
    const DESCR: &'static str = "<i8";
    const SIZE: usize = 8;
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read_le(b: &[u8]) -> Self {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        i64::from_le_bytes(a)
    }
}

const MAGIC: &[u8] = b"\x93NUMPY";

pub fn encode<T: NpyElement>(shape: &[usize], data: &[T]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {dims}, }}", T::DESCR);
    // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * T::SIZE);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for &v in data {
        v.write_le(&mut out);
    }
    out
}

pub fn write<T: NpyElement>(path: &Path, shape: &[usize], data: &[T]) -> Result<(), ReportError> {
    let mut f = std::fs::File::create(path).map_err(|e| ReportError::write(path, e))?;
    f.write_all(&encode(shape, data)).map_err(|e| ReportError::write(path, e))
}

/// Reads a file written by [`write`]: its shape and data.
pub fn read<T: NpyElement>(path: &Path) -> Result<(Vec<usize>, Vec<T>), ReportError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| ReportError::Read { file: path.to_path_buf(), reason: e.to_string() })?;
    let bad = |why: &str| ReportError::Read {
        file: path.to_path_buf(),
        reason: format!("not a .npy file we can read: {why}"),
    };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("no NumPy magic"));
    }
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(bytes.get(10..10 + hlen).ok_or_else(|| bad("truncated header"))?)
        .map_err(|_| bad("header"))?;
    if !header.contains(&format!("'descr': '{}'", T::DESCR)) {
        return Err(bad("element type"));
    }
    let dims = header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).ok_or_else(|| bad("shape"))?;
    let shape: Vec<usize> = dims
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("shape")))
        .collect::<Result<_, _>>()?;
    let body = &bytes[10 + hlen..];
    let n: usize = shape.iter().product();
    if body.len() != n * T::SIZE {
        return Err(bad("data length does not match the shape"));
    }
    Ok((shape, body.chunks_exact(T::SIZE).map(T::read_le).collect()))
}
