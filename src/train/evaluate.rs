//! Evaluation on the dev sets: one forward pass per batch, the task's metrics per set.

use super::trainer::{TrainError, Trainer};
use crate::core::events::Metrics;
use crate::data::glue::Label;
use crate::data::metrics::{compute_split_metrics, Predictions};

impl Trainer {
    /// Evaluate on every dev set; metric names get each set's suffix.
    pub fn evaluate(&mut self) -> Result<Metrics, TrainError> {
        let mut all = Metrics::new();
        let regression = self.task.is_regression();
        for (suffix, ds) in &self.devs {
            let mut classes = Vec::new();
            let mut scores = Vec::new();
            let mut loss_sum = 0f64;
            for chunk in ds.items.chunks(self.eval_batch_size) {
                let refs: Vec<_> = chunk.iter().collect();
                let b = self.make_batch(&refs)?;
                let out = self.model.forward_input(&b.input(), None, None)?;
                let loss = self.model.loss(&out.logits, b.labels())?;
                loss_sum += loss.to_scalar::<f32>()? as f64 * chunk.len() as f64;
                if regression {
                    scores.extend(out.logits.flatten_all()?.to_vec1::<f32>()?);
                } else {
                    classes.extend(
                        out.logits
                            .argmax(candle_core::D::Minus1)?
                            .to_vec1::<u32>()?
                            .into_iter()
                            .map(|x| x as usize),
                    );
                }
            }
            let preds = if regression {
                Predictions::Scores(scores)
            } else {
                Predictions::Classes(classes)
            };
            let labels: Vec<Label> = ds.items.iter().map(|e| e.label.clone()).collect();
            all.extend(compute_split_metrics(self.task, suffix, &preds, &labels));
            all.insert(
                format!("loss{suffix}"),
                loss_sum / ds.items.len().max(1) as f64,
            );
        }
        Ok(all)
    }
}
