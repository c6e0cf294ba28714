//! Loss history in compact columnar form (12 bytes a step), with debiased EMA smoothing and
//! decimation into per-column buckets that keep the min/max envelope.

/// Training loss and learning rate per optimizer step, stored as parallel `u32`/`f32` columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LossHistory {
    steps: Vec<u32>,
    loss: Vec<f32>,
    lr: Vec<f32>,
}

/// One decimated bucket of consecutive steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Step at the bucket's centre.
    pub x: f64,
    /// Smallest finite loss in the bucket (`NaN` when none is finite).
    pub min: f64,
    /// Largest finite loss in the bucket.
    pub max: f64,
    /// Mean of the finite losses in the bucket.
    pub mean: f64,
    /// The smoothed loss at the bucket's last step.
    pub ema: f64,
    /// Whether any loss in the bucket was NaN or infinite.
    pub non_finite: bool,
}

impl LossHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append one step. A step at or before the last recorded step (a resumed or replayed run)
    /// first drops the recorded steps from it on, so steps stay strictly increasing.
    pub fn push(&mut self, step: usize, loss: f64, lr: f64) {
        let step = step.min(u32::MAX as usize) as u32;
        if self.steps.last().is_some_and(|&s| s >= step) {
            let keep = self.steps.partition_point(|&s| s < step);
            self.steps.truncate(keep);
            self.loss.truncate(keep);
            self.lr.truncate(keep);
        }
        self.steps.push(step);
        self.loss.push(loss as f32);
        self.lr.push(lr as f32);
    }

    /// Number of recorded steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The first recorded step.
    pub fn first_step(&self) -> Option<usize> {
        self.steps.first().map(|&s| s as usize)
    }

    /// The last recorded step.
    pub fn last_step(&self) -> Option<usize> {
        self.steps.last().map(|&s| s as usize)
    }

    /// The last recorded loss.
    pub fn last_loss(&self) -> Option<f64> {
        self.loss.last().map(|&l| l as f64)
    }

    /// The loss at index `i`.
    pub fn loss_at(&self, i: usize) -> f64 {
        self.loss[i] as f64
    }

    /// The learning rate at index `i`.
    pub fn lr_at(&self, i: usize) -> f64 {
        self.lr[i] as f64
    }

    /// Index of the first recorded step `>= step`.
    pub fn index_of(&self, step: usize) -> usize {
        self.steps.partition_point(|&s| (s as usize) < step)
    }

    /// Bytes held by the columns (capacity, not length).
    pub fn heap_bytes(&self) -> usize {
        self.steps.capacity() * 4 + self.loss.capacity() * 4 + self.lr.capacity() * 4
    }

    /// The debiased exponential moving average of the loss at every index up to `end`
    /// (exclusive), as TensorBoard and W&B smooth: `ema = s*ema + (1-s)*x`, divided by
    /// `1 - s^n`. Non-finite losses are skipped. `smoothing` 0 returns the raw losses.
    pub fn ema(&self, smoothing: f64, end: usize) -> Vec<f64> {
        let s = smoothing.clamp(0.0, 0.9999);
        let mut out = Vec::with_capacity(end);
        let (mut acc, mut weight) = (0.0f64, 0.0f64);
        for &l in &self.loss[..end.min(self.loss.len())] {
            let x = l as f64;
            if x.is_finite() {
                acc = s * acc + (1.0 - s) * x;
                weight = s * weight + (1.0 - s);
            }
            out.push(if weight > 0.0 { acc / weight } else { f64::NAN });
        }
        out
    }

    /// Decimate indices `start..end` into at most `n` buckets of consecutive steps. When there are
    /// no more points than buckets, every point is its own bucket (min = max = mean = the loss).
    pub fn buckets(&self, start: usize, end: usize, n: usize, smoothing: f64) -> Vec<Bucket> {
        let end = end.min(self.len());
        if start >= end || n == 0 {
            return Vec::new();
        }
        let ema = self.ema(smoothing, end);
        let count = end - start;
        let n = n.min(count);
        let mut out = Vec::with_capacity(n);
        for b in 0..n {
            let lo = start + b * count / n;
            let hi = start + (b + 1) * count / n;
            let (mut min, mut max, mut sum, mut k, mut non_finite) =
                (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize, false);
            for i in lo..hi {
                let x = self.loss[i] as f64;
                if x.is_finite() {
                    min = min.min(x);
                    max = max.max(x);
                    sum += x;
                    k += 1;
                } else {
                    non_finite = true;
                }
            }
            let (min, max, mean) = if k == 0 {
                (f64::NAN, f64::NAN, f64::NAN)
            } else {
                (min, max, sum / k as f64)
            };
            out.push(Bucket {
                x: (self.steps[lo] as f64 + self.steps[hi - 1] as f64) / 2.0,
                min,
                max,
                mean,
                ema: ema[hi - 1],
                non_finite,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_keeps_steps_increasing_on_resume() {
        let mut h = LossHistory::new();
        for s in 1..=10 {
            h.push(s, s as f64, 1e-3);
        }
        h.push(6, 100.0, 1e-3);
        assert_eq!(h.len(), 6);
        assert_eq!(h.last_step(), Some(6));
        assert_eq!(h.last_loss(), Some(100.0));
        assert_eq!(h.index_of(3), 2);
    }

    #[test]
    fn ema_is_debiased_and_zero_smoothing_is_raw() {
        let mut h = LossHistory::new();
        for (i, l) in [2.0, 4.0, f64::NAN, 6.0].iter().enumerate() {
            h.push(i + 1, *l, 0.0);
        }
        let raw = h.ema(0.0, 4);
        assert_eq!(raw[0], 2.0);
        assert_eq!(raw[1], 4.0);
        assert_eq!(raw[2], 4.0, "NaN is skipped");
        let e = h.ema(0.5, 4);
        assert_eq!(e[0], 2.0, "debiased: the first value is the first loss");
        assert!((e[1] - (0.25 * 2.0 + 0.5 * 4.0) / 0.75).abs() < 1e-9);
    }

    #[test]
    fn buckets_keep_the_envelope() {
        let mut h = LossHistory::new();
        for s in 0..1000 {
            let spike = if s == 501 { 50.0 } else { 1.0 };
            h.push(s, spike, 0.0);
        }
        let b = h.buckets(0, h.len(), 10, 0.0);
        assert_eq!(b.len(), 10);
        assert_eq!(b[5].max, 50.0, "a one-step spike survives decimation");
        assert_eq!(b[5].min, 1.0);
        assert_eq!(b[0].max, 1.0);
        let few = h.buckets(990, 1000, 50, 0.0);
        assert_eq!(few.len(), 10, "no more buckets than points");
        assert_eq!(few[0].x, 990.0);
    }
}
