//! The selection report: what each DPS matrix looks like at a selection, computed once per
//! selection (not per step), compact enough to log and to draw.

use crate::core::events::MatrixReport;

/// At most this many entries in a per-row density vector (rows are grouped beyond it).
pub const MAX_ROW_CELLS: usize = 128;
/// The 2-D density map is at most this many cells in each direction.
pub const MAX_MAP_ROWS: usize = 16;
pub const MAX_MAP_COLS: usize = 48;

fn quantise(x: f64) -> u8 {
    (x.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Inputs for one matrix's report.
pub struct MatrixInput<'a> {
    pub name: &'a str,
    pub layer: Option<usize>,
    pub module: &'a str,
    pub rows: usize,
    pub cols: usize,
    /// The new mask, row-major, 1 = selected.
    pub mask: &'a [f32],
    pub prev_mask: Option<&'a [f32]>,
    /// Σ importance of this matrix and of all DPS matrices together.
    pub importance_sum: f64,
    pub importance_total: f64,
    /// Mean |ΔW| over the previous stage relative to mean |W|.
    pub update_rel: f64,
    /// Attention heads, for q/k/v (row blocks) and o (column blocks).
    pub num_heads: Option<usize>,
}

/// Jaccard overlap |A∩B| / |A∪B| of two 0/1 masks (1 when both are empty).
pub fn jaccard(a: &[f32], b: &[f32]) -> f64 {
    let (mut inter, mut union) = (0usize, 0usize);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x != 0.0, y != 0.0);
        inter += (x && y) as usize;
        union += (x || y) as usize;
    }
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// Fraction selected in each of `cells` equal groups of rows.
fn row_groups(mask: &[f32], rows: usize, cols: usize, cells: usize) -> Vec<u8> {
    (0..cells)
        .map(|c| {
            let (r0, r1) = (
                c * rows / cells,
                ((c + 1) * rows / cells).max(c * rows / cells + 1),
            );
            let sel: f64 = mask[r0 * cols..r1 * cols].iter().map(|&x| x as f64).sum();
            quantise(sel / ((r1 - r0) * cols) as f64)
        })
        .collect()
}

fn col_groups(mask: &[f32], rows: usize, cols: usize, cells: usize) -> Vec<u8> {
    (0..cells)
        .map(|c| {
            let (c0, c1) = (
                c * cols / cells,
                ((c + 1) * cols / cells).max(c * cols / cells + 1),
            );
            let mut sel = 0f64;
            for r in 0..rows {
                sel += mask[r * cols + c0..r * cols + c1]
                    .iter()
                    .map(|&x| x as f64)
                    .sum::<f64>();
            }
            quantise(sel / ((c1 - c0) * rows) as f64)
        })
        .collect()
}

/// A `mr × mc` map of selected fractions.
fn density_map(mask: &[f32], rows: usize, cols: usize, mr: usize, mc: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(mr * mc);
    for i in 0..mr {
        let (r0, r1) = (i * rows / mr, ((i + 1) * rows / mr).max(i * rows / mr + 1));
        for j in 0..mc {
            let (c0, c1) = (j * cols / mc, ((j + 1) * cols / mc).max(j * cols / mc + 1));
            let mut sel = 0f64;
            for r in r0..r1 {
                sel += mask[r * cols + c0..r * cols + c1]
                    .iter()
                    .map(|&x| x as f64)
                    .sum::<f64>();
            }
            out.push(quantise(sel / ((r1 - r0) * (c1 - c0)) as f64));
        }
    }
    out
}

pub fn matrix_report(m: &MatrixInput) -> MatrixReport {
    let n = m.mask.len().max(1);
    let selected: f64 = m.mask.iter().map(|&x| (x != 0.0) as u8 as f64).sum();
    let row_cells = m.rows.min(MAX_ROW_CELLS);
    let head_density = match (m.num_heads, m.module) {
        (
            Some(h),
            "q" | "k" | "v" | "q_lin" | "k_lin" | "v_lin" | "q_proj" | "k_proj" | "v_proj",
        ) if m.rows.is_multiple_of(h) => row_groups(m.mask, m.rows, m.cols, h),
        (Some(h), "o" | "out_lin" | "attn.Wo") if m.cols.is_multiple_of(h) => {
            col_groups(m.mask, m.rows, m.cols, h)
        }
        _ => Vec::new(),
    };
    let (mr, mc) = (m.rows.min(MAX_MAP_ROWS), m.cols.min(MAX_MAP_COLS));
    MatrixReport {
        name: m.name.to_string(),
        layer: m.layer,
        module: m.module.to_string(),
        shape: vec![m.rows, m.cols],
        selected_fraction: selected / n as f64,
        importance_share: if m.importance_total > 0.0 {
            m.importance_sum / m.importance_total
        } else {
            0.0
        },
        overlap_prev: m.prev_mask.map(|p| jaccard(m.mask, p)),
        update_rel: m.update_rel,
        row_density: row_groups(m.mask, m.rows, m.cols, row_cells),
        head_density,
        density: density_map(m.mask, m.rows, m.cols, mr, mc),
        density_shape: vec![mr, mc],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_of_a_half_mask() {
        // 4 rows x 4 cols; rows 0-1 selected.
        let mask: Vec<f32> = (0..16).map(|i| if i < 8 { 1.0 } else { 0.0 }).collect();
        let prev: Vec<f32> = (0..16).map(|i| if i < 4 { 1.0 } else { 0.0 }).collect();
        let r = matrix_report(&MatrixInput {
            name: "encoder.layer.0.attention.self.query.weight",
            layer: Some(0),
            module: "q",
            rows: 4,
            cols: 4,
            mask: &mask,
            prev_mask: Some(&prev),
            importance_sum: 1.0,
            importance_total: 4.0,
            update_rel: 0.1,
            num_heads: Some(2),
        });
        assert_eq!(r.selected_fraction, 0.5);
        assert_eq!(r.importance_share, 0.25);
        assert_eq!(r.overlap_prev, Some(0.5));
        assert_eq!(r.row_density, vec![255, 255, 0, 0]);
        assert_eq!(r.head_density, vec![255, 0]);
        assert_eq!(r.density_shape, vec![4, 4]);
        assert_eq!(&r.density[..4], &[255; 4]);
    }

    #[test]
    fn a_bert_large_report_is_small() {
        // 24 layers x 6 matrices of up to 4096 x 1024, plus pooler and classifier.
        let big = vec![1.0f32; 4096 * 1024];
        let r = matrix_report(&MatrixInput {
            name: "x",
            layer: Some(0),
            module: "ffn_in",
            rows: 4096,
            cols: 1024,
            mask: &big,
            prev_mask: None,
            importance_sum: 0.0,
            importance_total: 0.0,
            update_rel: 0.0,
            num_heads: None,
        });
        let one = serde_json::to_string(&r).unwrap().len();
        assert!(one * 24 * 6 + 2 * one < 1_000_000, "{one} bytes per matrix");
    }
}
