//! Matrix products on strided views of flat buffers, by the `gemm` crate (the kernels candle
//! itself uses): attention reads each head's queries, keys and values in place, so heads are
//! never copied out. The fused training block and pretrained models' inference share them.

use candle_core::Result;
use gemm::Parallelism;

/// A read-only strided matrix view, checked to lie inside its slice.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    rs: usize,
    cs: usize,
}

fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

fn view_error(rows: usize, cols: usize, len: usize) -> candle_core::Error {
    candle_core::Error::Msg(format!("matmul: a {rows}x{cols} view does not fit in {len} elements"))
}

impl<'a> Mat<'a> {
    pub fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Result<Self> {
        if extent(rows, cols, rs, cs) > data.len() {
            return Err(view_error(rows, cols, data.len()));
        }
        Ok(Mat { data, rows, cols, rs, cs })
    }

    /// A dense row-major (rows, cols) matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    pub fn t(self) -> Self {
        Mat { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }
}

/// A writable strided matrix view.
pub(crate) struct MatMut<'a> {
    ptr: *mut f32,
    rows: usize,
    cols: usize,
    rs: usize,
    _life: std::marker::PhantomData<&'a mut [f32]>,
}

impl<'a> MatMut<'a> {
    pub fn rows(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self> {
        if rows * cols > data.len() {
            return Err(view_error(rows, cols, data.len()));
        }
        Ok(MatMut { ptr: data.as_mut_ptr(), rows, cols, rs: cols, _life: std::marker::PhantomData })
    }

    /// A (rows, cols) view with row stride `rs`, `offset` elements into `data`.
    pub fn new(data: &'a mut [f32], offset: usize, rows: usize, cols: usize, rs: usize) -> Result<Self> {
        if offset + extent(rows, cols, rs, 1) > data.len() {
            return Err(view_error(rows, cols, data.len().saturating_sub(offset)));
        }
        Ok(MatMut { ptr: data[offset..].as_mut_ptr(), rows, cols, rs, _life: std::marker::PhantomData })
    }
}

/// `dst = [dst +] scale * lhs rhs`, on the calling thread: callers parallelise over chunks.
pub(crate) fn matmul(dst: MatMut, lhs: Mat, rhs: Mat, accumulate: bool, scale: f32) -> Result<()> {
    matmul_on(dst, lhs, rhs, accumulate, scale, Parallelism::None)
}

/// [`matmul`] on `threads` of rayon's pool: for one large product that nothing else splits.
pub(crate) fn matmul_threads(dst: MatMut, lhs: Mat, rhs: Mat, accumulate: bool, threads: usize) -> Result<()> {
    let par = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    matmul_on(dst, lhs, rhs, accumulate, 1.0, par)
}

fn matmul_on(dst: MatMut, lhs: Mat, rhs: Mat, accumulate: bool, scale: f32, par: Parallelism) -> Result<()> {
    if lhs.rows != dst.rows || rhs.cols != dst.cols || lhs.cols != rhs.rows {
        candle_core::bail!(
            "matmul: ({}x{}) = ({}x{}) ({}x{}) does not multiply",
            dst.rows,
            dst.cols,
            lhs.rows,
            lhs.cols,
            rhs.rows,
            rhs.cols
        );
    }
    // SAFETY: every view was checked to lie inside its buffer; `dst` comes from a `&mut`
    // borrow, so it overlaps neither input.
    unsafe {
        gemm::gemm(
            dst.rows,
            dst.cols,
            lhs.cols,
            dst.ptr,
            1,
            dst.rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            scale,
            false,
            false,
            false,
            par,
        );
    }
    Ok(())
}
