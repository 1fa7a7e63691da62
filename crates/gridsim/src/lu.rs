//! Sparse linear solvers for the Newton-Raphson Jacobian.
//!
//! The Jacobian is stored per bus as 2×2 blocks (rows ΔP, ΔQ; columns Δθ, Δ|V|) on the Y-bus
//! pattern, so its structure never changes when a bus switches between PV and PQ: a fixed
//! variable just gets an identity row. Two solvers implement `LinearSolver`:
//!
//! - `BlockLu`, ours: a minimum-degree ordering of the bus graph and a symbolic factorisation
//!   once per topology, then a left-looking block LU (Gilbert–Peierls without the depth-first
//!   search, since the pattern is known) with a fixed pivot sequence: the 2×2 diagonal blocks,
//!   inverted exactly. This is what KLU's refactorisation does with a pivot sequence chosen
//!   once, except that the sequence here comes from the ordering alone.
//! - `FaerLu`: faer's general sparse LU with partial pivoting on the scalar matrix. It is the
//!   fallback when a static pivot is too small, and the oracle in tests.

use faer::Mat;
use faer::sparse::SparseColMat;
use faer::sparse::linalg::solvers::{Lu, SymbolicLu};

/// A 2×2 block, row-major: `[a, b, c, d]` is `[[a, b], [c, d]]`.
pub type Block = [f64; 4];

#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum LuError {
    /// The pivot block of bus `bus` (an index into the pattern) is singular or tiny.
    #[error("singular pivot at bus index {bus}")]
    Singular { bus: usize },
}

/// The block pattern a solver factorises: a symmetric CSR pattern with the diagonal present
/// (in practice the Y-bus pattern).
#[derive(Debug, Clone, Copy)]
pub struct BlockPattern<'a> {
    pub n: usize,
    pub row_ptr: &'a [usize],
    pub col_idx: &'a [u32],
}

/// A linear solver for block systems on a fixed pattern.
pub trait LinearSolver {
    /// Numeric factorisation; `values[s]` is the block at pattern slot `s`.
    fn factor(&mut self, values: &[Block]) -> Result<(), LuError>;
    /// Solves `A x = b` in place; `rhs[2i]`, `rhs[2i+1]` belong to bus `i`.
    fn solve_in_place(&mut self, rhs: &mut [f64]);
}

#[inline(always)]
fn mul(a: &Block, b: &Block) -> Block {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    ]
}

#[inline(always)]
fn sub_mul(x: &mut Block, a: &Block, b: &Block) {
    x[0] -= a[0] * b[0] + a[1] * b[2];
    x[1] -= a[0] * b[1] + a[1] * b[3];
    x[2] -= a[2] * b[0] + a[3] * b[2];
    x[3] -= a[2] * b[1] + a[3] * b[3];
}

/// A minimum-degree elimination order of a symmetric graph and the filled graph it implies.
#[derive(Debug, Clone)]
pub struct Elimination {
    /// `order[k]` is the original node eliminated at step `k`.
    pub order: Vec<u32>,
    /// For each step `k`: the later steps its node is connected to when eliminated
    /// (the pattern of column `k` of L, in new numbering), sorted.
    pub l_pattern: Vec<Vec<u32>>,
}

impl Elimination {
    /// Minimum degree on the explicit elimination graph, ties broken by the lowest node
    /// number so the result is deterministic.
    pub fn minimum_degree(p: &BlockPattern<'_>) -> Elimination {
        let n = p.n;
        let mut adj: Vec<Vec<u32>> = (0..n)
            .map(|i| {
                p.col_idx[p.row_ptr[i]..p.row_ptr[i + 1]]
                    .iter()
                    .copied()
                    .filter(|&j| j as usize != i)
                    .collect()
            })
            .collect();
        let mut eliminated = vec![false; n];
        let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(u32, u32)>> =
            (0..n).map(|i| std::cmp::Reverse((adj[i].len() as u32, i as u32))).collect();
        let mut step_of = vec![u32::MAX; n];
        let mut order = Vec::with_capacity(n);
        let mut l_nodes: Vec<Vec<u32>> = Vec::with_capacity(n);
        let mut merged: Vec<u32> = Vec::new();
        while let Some(std::cmp::Reverse((deg, v))) = heap.pop() {
            let vi = v as usize;
            if eliminated[vi] || deg as usize != adj[vi].len() {
                continue; // stale heap entry
            }
            eliminated[vi] = true;
            step_of[vi] = order.len() as u32;
            order.push(v);
            let nbrs = std::mem::take(&mut adj[vi]);
            for &u in &nbrs {
                let ui = u as usize;
                // adj[u] := (adj[u] ∪ nbrs) \ {u, v}, both sorted.
                merged.clear();
                let (a, b) = (&adj[ui], &nbrs);
                let (mut x, mut y) = (0, 0);
                while x < a.len() || y < b.len() {
                    let next = match (a.get(x), b.get(y)) {
                        (Some(&p), Some(&q)) if p == q => {
                            x += 1;
                            y += 1;
                            p
                        }
                        (Some(&p), Some(&q)) if p < q => {
                            x += 1;
                            p
                        }
                        (Some(_), Some(&q)) => {
                            y += 1;
                            q
                        }
                        (Some(&p), None) => {
                            x += 1;
                            p
                        }
                        (None, Some(&q)) => {
                            y += 1;
                            q
                        }
                        (None, None) => break,
                    };
                    if next != u && next != v {
                        merged.push(next);
                    }
                }
                std::mem::swap(&mut adj[ui], &mut merged);
                heap.push(std::cmp::Reverse((adj[ui].len() as u32, u)));
            }
            l_nodes.push(nbrs);
        }
        let l_pattern = l_nodes
            .into_iter()
            .map(|nodes| {
                let mut steps: Vec<u32> = nodes.iter().map(|&u| step_of[u as usize]).collect();
                steps.sort_unstable();
                steps
            })
            .collect();
        Elimination { order, l_pattern }
    }

    /// Number of off-diagonal blocks in L (equal to U's).
    pub fn l_nnz(&self) -> usize {
        self.l_pattern.iter().map(Vec::len).sum()
    }
}

/// Our block LU. See the module documentation.
#[derive(Debug, Clone)]
pub struct BlockLu {
    n: usize,
    /// `perm[new] = old`.
    perm: Vec<u32>,
    /// Combined storage, column by column in the new numbering: U rows (< k, ascending),
    /// then L rows (> k, ascending). The diagonal lives in `diag`.
    col_ptr: Vec<usize>,
    /// Where the L part of each column starts.
    l_start: Vec<usize>,
    rows: Vec<u32>,
    vals: Vec<Block>,
    diag: Vec<Block>,
    diag_inv: Vec<Block>,
    /// For each pattern slot: the position in `vals`, or `DIAG | k` for the diagonal of column k.
    slot_to_pos: Vec<usize>,
    work: Vec<Block>,
    rhs_perm: Vec<[f64; 2]>,
}

const DIAG: usize = 1 << (usize::BITS - 1);

impl BlockLu {
    /// Ordering and symbolic factorisation, once per topology.
    pub fn analyze(p: &BlockPattern<'_>) -> BlockLu {
        let elim = Elimination::minimum_degree(p);
        Self::with_elimination(p, &elim)
    }

    pub fn with_elimination(p: &BlockPattern<'_>, elim: &Elimination) -> BlockLu {
        let n = p.n;
        // Row k of L (= column k of U) holds the earlier steps j with k in l_pattern[j].
        let mut u_rows: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (j, col) in elim.l_pattern.iter().enumerate() {
            for &k in col {
                u_rows[k as usize].push(j as u32); // j ascending by construction
            }
        }
        let mut col_ptr = Vec::with_capacity(n + 1);
        let mut l_start = Vec::with_capacity(n);
        let mut rows = Vec::with_capacity(2 * elim.l_nnz());
        col_ptr.push(0);
        for k in 0..n {
            rows.extend_from_slice(&u_rows[k]);
            l_start.push(rows.len());
            rows.extend_from_slice(&elim.l_pattern[k]);
            col_ptr.push(rows.len());
        }
        let mut new_of = vec![0u32; n];
        for (new, &old) in elim.order.iter().enumerate() {
            new_of[old as usize] = new as u32;
        }
        let mut slot_to_pos = Vec::with_capacity(p.col_idx.len());
        for i in 0..n {
            for &j in &p.col_idx[p.row_ptr[i]..p.row_ptr[i + 1]] {
                let (r, c) = (new_of[i], new_of[j as usize]);
                if r == c {
                    slot_to_pos.push(DIAG | c as usize);
                } else {
                    let range = col_ptr[c as usize]..col_ptr[c as usize + 1];
                    // The filled pattern contains the original one, so this always succeeds.
                    let at = rows[range.clone()].binary_search(&r).unwrap_or(0);
                    slot_to_pos.push(range.start + at);
                }
            }
        }
        let nnz = rows.len();
        BlockLu {
            n,
            perm: elim.order.clone(),
            col_ptr,
            l_start,
            rows,
            vals: vec![[0.0; 4]; nnz],
            diag: vec![[0.0; 4]; n],
            diag_inv: vec![[0.0; 4]; n],
            slot_to_pos,
            work: vec![[0.0; 4]; n],
            rhs_perm: vec![[0.0; 2]; n],
        }
    }

    /// Blocks stored in L and U together, diagonal excluded.
    pub fn factor_nnz(&self) -> usize {
        self.rows.len()
    }

    /// Multiply-adds of 2×2 blocks in one numeric factorisation.
    pub fn block_flops(&self) -> usize {
        (0..self.n)
            .map(|k| {
                self.rows[self.col_ptr[k]..self.l_start[k]]
                    .iter()
                    .map(|&j| self.col_ptr[j as usize + 1] - self.l_start[j as usize])
                    .sum::<usize>()
            })
            .sum()
    }
}

impl LinearSolver for BlockLu {
    fn factor(&mut self, values: &[Block]) -> Result<(), LuError> {
        self.vals.fill([0.0; 4]);
        for (v, &pos) in values.iter().zip(&self.slot_to_pos) {
            if pos & DIAG != 0 {
                self.diag[pos & !DIAG] = *v;
            } else {
                self.vals[pos] = *v;
            }
        }
        let x = &mut self.work;
        for k in 0..self.n {
            let (c0, cl, c1) = (self.col_ptr[k], self.l_start[k], self.col_ptr[k + 1]);
            for p in c0..c1 {
                x[self.rows[p] as usize] = self.vals[p];
            }
            x[k] = self.diag[k];
            for p in c0..cl {
                let j = self.rows[p] as usize;
                let u = x[j];
                self.vals[p] = u;
                for q in self.l_start[j]..self.col_ptr[j + 1] {
                    let i = self.rows[q] as usize;
                    sub_mul(&mut x[i], &self.vals[q], &u);
                }
            }
            let d = x[k];
            let det = d[0] * d[3] - d[1] * d[2];
            let scale = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if !(det.is_finite() && det.abs() > 1e-13 * scale * scale && scale > 0.0) {
                return Err(LuError::Singular { bus: self.perm[k] as usize });
            }
            let inv = [d[3] / det, -d[1] / det, -d[2] / det, d[0] / det];
            self.diag[k] = d;
            self.diag_inv[k] = inv;
            for p in cl..c1 {
                let i = self.rows[p] as usize;
                self.vals[p] = mul(&x[i], &inv);
            }
        }
        Ok(())
    }

    fn solve_in_place(&mut self, rhs: &mut [f64]) {
        let y = &mut self.rhs_perm;
        for (new, &old) in self.perm.iter().enumerate() {
            let o = old as usize;
            y[new] = [rhs[2 * o], rhs[2 * o + 1]];
        }
        // Forward: L y = b, L unit lower, stored by columns.
        for k in 0..self.n {
            let yk = y[k];
            for p in self.l_start[k]..self.col_ptr[k + 1] {
                let l = &self.vals[p];
                let yi = &mut y[self.rows[p] as usize];
                yi[0] -= l[0] * yk[0] + l[1] * yk[1];
                yi[1] -= l[2] * yk[0] + l[3] * yk[1];
            }
        }
        // Backward: U x = y, U block upper with diagonal `diag`, stored by columns.
        for k in (0..self.n).rev() {
            let d = &self.diag_inv[k];
            let yk = y[k];
            let xk = [d[0] * yk[0] + d[1] * yk[1], d[2] * yk[0] + d[3] * yk[1]];
            y[k] = xk;
            for p in self.col_ptr[k]..self.l_start[k] {
                let u = &self.vals[p];
                let yj = &mut y[self.rows[p] as usize];
                yj[0] -= u[0] * xk[0] + u[1] * xk[1];
                yj[1] -= u[2] * xk[0] + u[3] * xk[1];
            }
        }
        for (new, &old) in self.perm.iter().enumerate() {
            let o = old as usize;
            rhs[2 * o] = y[new][0];
            rhs[2 * o + 1] = y[new][1];
        }
    }
}

/// faer's sparse LU with partial pivoting, on the scalar form of the block matrix.
#[derive(Debug)]
pub struct FaerLu {
    n: usize,
    /// For each pattern slot, the positions of its four scalars in faer's value array.
    slot_pos: Vec<[usize; 4]>,
    matrix: SparseColMat<usize, f64>,
    symbolic: SymbolicLu<usize>,
    lu: Option<Lu<usize, f64>>,
}

impl FaerLu {
    pub fn analyze(p: &BlockPattern<'_>) -> FaerLu {
        let n = p.n;
        let mut triplets = Vec::with_capacity(4 * p.col_idx.len());
        for i in 0..n {
            for &j in &p.col_idx[p.row_ptr[i]..p.row_ptr[i + 1]] {
                let j = j as usize;
                for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    triplets.push(faer::sparse::Triplet::new(2 * i + r, 2 * j + c, 0.0));
                }
            }
        }
        let matrix = SparseColMat::<usize, f64>::try_new_from_triplets(2 * n, 2 * n, &triplets)
            .expect("pattern without duplicates");
        // Locate each scalar in the compressed columns.
        let sym = matrix.symbolic();
        let find = |row: usize, col: usize| -> usize {
            let start = sym.col_ptr()[col];
            let rows = &sym.row_idx()[start..sym.col_ptr()[col + 1]];
            start + rows.binary_search(&row).unwrap_or(0)
        };
        let mut slot_pos = Vec::with_capacity(p.col_idx.len());
        for i in 0..n {
            for &j in &p.col_idx[p.row_ptr[i]..p.row_ptr[i + 1]] {
                let j = j as usize;
                slot_pos.push([
                    find(2 * i, 2 * j),
                    find(2 * i, 2 * j + 1),
                    find(2 * i + 1, 2 * j),
                    find(2 * i + 1, 2 * j + 1),
                ]);
            }
        }
        let symbolic = SymbolicLu::try_new(matrix.symbolic()).expect("symbolic LU of a square pattern");
        FaerLu { n, slot_pos, matrix, symbolic, lu: None }
    }
}

impl LinearSolver for FaerLu {
    fn factor(&mut self, values: &[Block]) -> Result<(), LuError> {
        let vals = self.matrix.val_mut();
        for (v, pos) in values.iter().zip(&self.slot_pos) {
            for (x, &at) in v.iter().zip(pos) {
                vals[at] = *x;
            }
        }
        match Lu::try_new_with_symbolic(self.symbolic.clone(), self.matrix.as_ref()) {
            Ok(lu) => {
                self.lu = Some(lu);
                Ok(())
            }
            Err(_) => {
                self.lu = None;
                Err(LuError::Singular { bus: 0 })
            }
        }
    }

    fn solve_in_place(&mut self, rhs: &mut [f64]) {
        use faer::linalg::solvers::Solve;
        let Some(lu) = &self.lu else { return };
        let mut b = Mat::<f64>::from_fn(2 * self.n, 1, |i, _| rhs[i]);
        lu.solve_in_place(b.as_mut());
        for (i, r) in rhs.iter_mut().enumerate() {
            *r = b[(i, 0)];
        }
    }
}
