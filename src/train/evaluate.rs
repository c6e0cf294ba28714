//! Evaluation on the dev sets: one forward pass per batch, the task's metrics per set; then
//! on every other task's dev set (`eval_tasks`), its predictions mapped onto that task's labels
//! and its metrics named `<task>/<metric>`.

use super::trainer::{TrainError, Trainer};
use crate::core::events::Metrics;
use crate::data::batching::EncodedDataset;
use crate::data::glue::{Label, TaskSpec};
use crate::data::label_map::LabelMap;
use crate::data::metrics::{compute_metrics, compute_split_metrics, Predictions};

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
        for set in &self.eval_sets {
            let m = match &set.data {
                Some(data) => self.evaluate_mapped(set.task, &set.map, data)?,
                None => own_dev_metrics(set.task, &all),
            };
            all.extend(m);
        }
        Ok(all)
    }

    /// One eval task: the predicted classes mapped onto its labels, its metrics named
    /// `<task>/<metric>` (no loss: the label sets differ).
    fn evaluate_mapped(
        &self,
        task: &TaskSpec,
        map: &LabelMap,
        data: &EncodedDataset,
    ) -> Result<Metrics, TrainError> {
        let mut classes = Vec::with_capacity(data.items.len());
        for chunk in data.items.chunks(self.eval_batch_size) {
            let refs: Vec<_> = chunk.iter().collect();
            let b = self.make_batch(&refs)?;
            let out = self.model.forward_input(&b.input(), None, None)?;
            classes.extend(
                out.logits
                    .argmax(candle_core::D::Minus1)?
                    .to_vec1::<u32>()?
                    .into_iter()
                    .map(|c| map.ids[c as usize]),
            );
        }
        let labels: Vec<Label> = data.items.iter().map(|e| e.label.clone()).collect();
        Ok(
            compute_metrics(task, &Predictions::Classes(classes), &labels)
                .into_iter()
                .map(|(k, v)| (format!("{}/{k}", task.name), v))
                .collect(),
        )
    }
}

/// The training task's own dev metrics (no suffix, no loss) as `<task>/<metric>`.
fn own_dev_metrics(task: &TaskSpec, all: &Metrics) -> Metrics {
    all.iter()
        .filter(|(k, _)| !k.contains('/') && !k.starts_with("loss") && !k.ends_with("_mm"))
        .map(|(k, v)| (format!("{}/{k}", task.name), *v))
        .collect()
}
