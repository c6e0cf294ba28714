//! The learning-rate schedules of the Hugging Face Trainer: linear warmup from 0, then linear
//! decay to 0 at the last step (`get_linear_schedule_with_warmup`), or constant after warmup
//! (`get_constant_schedule_with_warmup`).

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearSchedule {
    /// The peak learning rate. Changing it live keeps the schedule's shape.
    pub peak_lr: f64,
    pub warmup_steps: usize,
    pub total_steps: usize,
    /// Constant after warmup instead of decaying.
    pub constant: bool,
}

impl LinearSchedule {
    /// `warmup_steps = ceil(warmup_ratio · total_steps)`, as the Trainer computes it.
    pub fn new(peak_lr: f64, warmup_ratio: f64, total_steps: usize) -> Self {
        LinearSchedule {
            peak_lr,
            warmup_steps: (warmup_ratio * total_steps as f64).ceil() as usize,
            total_steps,
            constant: false,
        }
    }

    /// The learning rate of optimizer step `step` (1-based). As in the Trainer, the first step
    /// runs at `lr_lambda(0)`, which is 0 during warmup.
    pub fn lr_at(&self, step: usize) -> f64 {
        let current = step.saturating_sub(1);
        let factor = if current < self.warmup_steps {
            current as f64 / self.warmup_steps.max(1) as f64
        } else if self.constant {
            1.0
        } else {
            let left = self.total_steps.saturating_sub(current) as f64;
            (left / (self.total_steps.saturating_sub(self.warmup_steps)).max(1) as f64).max(0.0)
        };
        self.peak_lr * factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_trainer() {
        let s = LinearSchedule::new(2e-5, 0.1, 468);
        assert_eq!(s.warmup_steps, 47);
        assert_eq!(s.lr_at(1), 0.0);
        assert!((s.lr_at(2) - 2e-5 / 47.0).abs() < 1e-18);
        assert!((s.lr_at(48) - 2e-5).abs() < 1e-18);
        assert!((s.lr_at(468) - 2e-5 * 1.0 / 421.0).abs() < 1e-18);
        let none = LinearSchedule::new(1e-3, 0.0, 10);
        assert_eq!(none.lr_at(1), 1e-3);
    }
}
