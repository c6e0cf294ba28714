//! The heatmap's colour scale: how a lens value becomes a position `t` in `0..=1` on the ramp.
//!
//! On a real encoder the pooler and classifier take most of the importance (over 0.9 of it on
//! MiniLM), so one scale for every row paints the whole encoder in the ramp's darkest colour.
//! The encoder rows and the head rows (pooler, classifier) are therefore scaled on their own,
//! each from the smallest to the largest value of the run, and importance, which spans decades
//! across an encoder, is scaled by its logarithm.

use crate::core::events::MatrixReport;
use crate::ui::run_state::Run;
use crate::ui::view::Lens;

/// The values of one group of rows: smallest and largest (positive ones only on a log scale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub lo: f64,
    pub hi: f64,
}

impl Range {
    fn widen(r: Option<Range>, v: f64) -> Option<Range> {
        Some(match r {
            None => Range { lo: v, hi: v },
            Some(r) => Range {
                lo: r.lo.min(v),
                hi: r.hi.max(v),
            },
        })
    }
}

/// The scale of one lens over one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatScale {
    pub lens: Lens,
    /// Whether `t` follows the logarithm of the value.
    pub log: bool,
    /// Range of the encoder rows (rows with a layer).
    pub encoder: Option<Range>,
    /// Range of the head rows (pooler, classifier).
    pub head: Option<Range>,
}

impl HeatScale {
    /// The scale of `lens` over every selection of `run`.
    pub fn of(run: &Run, lens: Lens) -> HeatScale {
        let log = lens == Lens::Importance;
        let (mut encoder, mut head) = (None, None);
        if let Some(max) = lens.fixed_max() {
            let r = Some(Range { lo: 0.0, hi: max });
            return HeatScale {
                lens,
                log,
                encoder: r,
                head: r,
            };
        }
        for c in &run.selections {
            for m in &c.reports {
                let Some(v) = lens.value(m).filter(|v| !log || *v > 0.0) else {
                    continue;
                };
                let group = if m.layer.is_some() {
                    &mut encoder
                } else {
                    &mut head
                };
                *group = Range::widen(*group, v);
            }
        }
        HeatScale {
            lens,
            log,
            encoder,
            head,
        }
    }

    /// The range that applies to the row of `m`.
    pub fn range_for(&self, m: &MatrixReport) -> Option<Range> {
        if m.layer.is_some() {
            self.encoder
        } else {
            self.head
        }
    }

    /// The ramp position of value `v` of a row in range `r`.
    pub fn t_in(&self, r: Option<Range>, v: f64) -> f64 {
        let Some(r) = r else { return 0.0 };
        let raw = v;
        let (lo, hi, v) = if self.log {
            if v <= 0.0 {
                return 0.0;
            }
            (r.lo.ln(), r.hi.ln(), v.ln())
        } else {
            (r.lo, r.hi, v)
        };
        if hi > lo {
            ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else if raw > 0.0 {
            // Every value equal: the middle of the ramp, so it is not read as "none".
            0.5
        } else {
            0.0
        }
    }

    /// The ramp position of `m`'s value, `None` where the lens has no value.
    pub fn t(&self, m: &MatrixReport) -> Option<f64> {
        self.lens.value(m).map(|v| self.t_in(self.range_for(m), v))
    }

    /// What a bright cell means, in words, for the legend.
    pub fn meaning(&self) -> &'static str {
        match self.lens {
            Lens::Importance => "bright = more important (log scale)",
            Lens::Churn => "bright = mask changed more since the last stage",
            Lens::Update => "bright = weights moved more in the last stage",
            Lens::Selected => "bright = kept; cells split per head / row group",
        }
    }
}

/// The ramp positions of the parts of `m`'s mask (heads of an attention matrix, else row
/// groups) in `n` equal slices, as the zoom draws them; `None` when the report has no
/// per-head or per-row densities.
pub fn kept_slices(m: &MatrixReport, n: usize) -> Option<Vec<f64>> {
    let d = if m.head_density.is_empty() {
        &m.row_density
    } else {
        &m.head_density
    };
    if d.is_empty() || n == 0 {
        return None;
    }
    Some(
        (0..n)
            .map(|i| {
                let lo = i * d.len() / n;
                let hi = ((i + 1) * d.len() / n).max(lo + 1).min(d.len());
                let lo = lo.min(hi - 1);
                d[lo..hi].iter().map(|&x| x as f64).sum::<f64>() / (hi - lo) as f64 / 255.0
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(layer: Option<usize>, share: f64) -> MatrixReport {
        MatrixReport {
            name: "m".into(),
            layer,
            module: if layer.is_some() { "q" } else { "pooler" }.into(),
            shape: vec![4, 4],
            selected_fraction: 0.7,
            importance_share: share,
            overlap_prev: None,
            update_rel: 0.0,
            row_density: vec![255, 0, 128, 64],
            head_density: Vec::new(),
            density: Vec::new(),
            density_shape: Vec::new(),
        }
    }

    #[test]
    fn head_rows_do_not_stretch_the_encoder_scale() {
        let mut run = Run::default();
        run.selections.push(crate::ui::run_state::SelectionColumn {
            stage: 1,
            step: 1,
            p: 0.3,
            seconds: None,
            reports: vec![
                report(Some(0), 1e-4),
                report(Some(1), 1e-2),
                report(None, 0.9),
            ],
            row_index: Vec::new(),
        });
        let s = HeatScale::of(&run, Lens::Importance);
        let r = &run.selections[0].reports;
        assert_eq!(s.t(&r[0]), Some(0.0));
        assert_eq!(s.t(&r[1]), Some(1.0));
        // 1e-3 is half way between 1e-4 and 1e-2 on a log scale.
        assert!((s.t_in(s.encoder, 1e-3) - 0.5).abs() < 1e-12);
        // The only head value sits mid-ramp on its own scale.
        assert_eq!(s.t(&r[2]), Some(0.5));
    }

    #[test]
    fn slices_average_the_densities() {
        let m = report(Some(0), 0.1);
        assert_eq!(
            kept_slices(&m, 2).unwrap(),
            vec![127.5 / 255.0, 96.0 / 255.0]
        );
        assert_eq!(kept_slices(&m, 4).unwrap()[0], 1.0);
        // More slices than densities repeat them.
        assert_eq!(kept_slices(&m, 8).unwrap().len(), 8);
    }
}
