//! The bus admittance matrix, built exactly as MATPOWER's `makeYbus`.
//!
//! Branch π-model: `ys = 1/(r + jx)`, `t = ratio·e^{j·shift}` (tap on the from side),
//! `Yff = (ys + jb/2)/|t|²`, `Yft = −ys/conj(t)`, `Ytf = −ys/t`, `Ytt = ys + jb/2`;
//! bus shunts add `(Gs + jBs)/baseMVA` on the diagonal.
//!
//! The sparsity pattern (`YbusPattern`) depends only on which branches are live and is
//! kept between solves; values are recomputed on every solve, which is cheap and makes tap
//! and impedance changes safe.

use num_complex::Complex64 as C64;

use crate::case::Case;

/// The symmetric pattern of Y-bus in CSR form, with the diagonal always present.
#[derive(Debug, Clone, PartialEq)]
pub struct YbusPattern {
    pub n_buses: usize,
    pub row_ptr: Vec<usize>,
    pub col_idx: Vec<u32>,
    /// Slot of the diagonal entry of each row.
    pub diag: Vec<usize>,
    /// For each branch: the slots of (ff, ft, tf, tt), or `None` if the branch is not live.
    pub branch_slots: Vec<Option<[usize; 4]>>,
}

impl YbusPattern {
    /// `live_branch[k]` says whether branch `k` is part of the network.
    pub fn new(case: &Case, live_branch: &[bool]) -> YbusPattern {
        let n = case.buses.len();
        let mut adj: Vec<Vec<u32>> = (0..n).map(|i| vec![i as u32]).collect();
        for (br, &live) in case.branches.iter().zip(live_branch) {
            if live {
                let (f, t) = (br.from.get(), br.to.get());
                adj[f].push(t as u32);
                adj[t].push(f as u32);
            }
        }
        let mut row_ptr = Vec::with_capacity(n + 1);
        let mut col_idx = Vec::new();
        let mut diag = Vec::with_capacity(n);
        row_ptr.push(0);
        for (i, cols) in adj.iter_mut().enumerate() {
            cols.sort_unstable();
            cols.dedup();
            let start = col_idx.len();
            diag.push(start + cols.binary_search(&(i as u32)).unwrap_or(0));
            col_idx.extend_from_slice(cols);
            row_ptr.push(col_idx.len());
        }
        let slot = |row: usize, col: usize| -> usize {
            let range = row_ptr[row]..row_ptr[row + 1];
            range.start + col_idx[range].binary_search(&(col as u32)).unwrap_or(0)
        };
        let branch_slots = case
            .branches
            .iter()
            .zip(live_branch)
            .map(|(br, &live)| {
                live.then(|| {
                    let (f, t) = (br.from.get(), br.to.get());
                    [slot(f, f), slot(f, t), slot(t, f), slot(t, t)]
                })
            })
            .collect();
        YbusPattern { n_buses: n, row_ptr, col_idx, diag, branch_slots }
    }

    pub fn nnz(&self) -> usize {
        self.col_idx.len()
    }
}

/// The four admittances of a branch's π-model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BranchAdmittance {
    pub yff: C64,
    pub yft: C64,
    pub ytf: C64,
    pub ytt: C64,
}

impl BranchAdmittance {
    pub fn of(br: &crate::case::Branch) -> BranchAdmittance {
        let ys = C64::new(1.0, 0.0) / C64::new(br.r_pu, br.x_pu);
        let bc = C64::new(0.0, br.b_pu / 2.0);
        let t = C64::from_polar(br.effective_tap(), br.shift_deg.to_radians());
        let ytt = ys + bc;
        BranchAdmittance { yff: ytt / t.norm_sqr(), yft: -ys / t.conj(), ytf: -ys / t, ytt }
    }
}

/// Fills `values` (one per pattern slot) with Y-bus for the live branches.
pub fn fill_values(case: &Case, pattern: &YbusPattern, values: &mut Vec<C64>) {
    values.clear();
    values.resize(pattern.nnz(), C64::new(0.0, 0.0));
    for (br, slots) in case.branches.iter().zip(&pattern.branch_slots) {
        if let Some([ff, ft, tf, tt]) = *slots {
            let y = BranchAdmittance::of(br);
            values[ff] += y.yff;
            values[ft] += y.yft;
            values[tf] += y.ytf;
            values[tt] += y.ytt;
        }
    }
    for (bus, &d) in case.buses.iter().zip(&pattern.diag) {
        values[d] += C64::new(bus.gs_mw, bus.bs_mvar) / case.base_mva;
    }
}
