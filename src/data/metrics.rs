//! GLUE metrics, with the names Hugging Face's `run_glue.py` reports.
//!
//! | task | metrics |
//! | --- | --- |
//! | cola | `mcc` |
//! | mrpc, qqp | `accuracy`, `f1` (positive class 1), `combined_score` (their mean) |
//! | stsb | `pearson`, `spearmanr`, `combined_score` (their mean) |
//! | others | `accuracy` |
//!
//! Metrics of MNLI's dev mismatched split carry the suffix `_mm` ([`compute_split_metrics`]).

use super::glue::{Label, LabelKind, TaskSpec};
use std::collections::BTreeMap;

/// Model predictions for a split: class ids, or scores for regression.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    Classes(Vec<usize>),
    Scores(Vec<f32>),
}

impl Predictions {
    /// Number of predictions.
    pub fn len(&self) -> usize {
        match self {
            Predictions::Classes(v) => v.len(),
            Predictions::Scores(v) => v.len(),
        }
    }

    /// Whether there are no predictions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Fraction of equal pairs (0 for empty input).
pub fn accuracy(preds: &[usize], labels: &[usize]) -> f64 {
    assert_eq!(preds.len(), labels.len(), "accuracy: length mismatch");
    if preds.is_empty() {
        return 0.0;
    }
    preds.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / preds.len() as f64
}

/// Matthews correlation coefficient (multi-class form, as scikit-learn's `matthews_corrcoef`);
/// 0 when it is undefined (a constant prediction or label vector).
pub fn matthews_corrcoef(preds: &[usize], labels: &[usize]) -> f64 {
    assert_eq!(
        preds.len(),
        labels.len(),
        "matthews_corrcoef: length mismatch"
    );
    let k = preds
        .iter()
        .chain(labels)
        .copied()
        .max()
        .map_or(0, |m| m + 1);
    let mut pred_count = vec![0f64; k];
    let mut true_count = vec![0f64; k];
    let mut correct = 0f64;
    for (&p, &l) in preds.iter().zip(labels) {
        pred_count[p] += 1.0;
        true_count[l] += 1.0;
        if p == l {
            correct += 1.0;
        }
    }
    let s = preds.len() as f64;
    let pt: f64 = pred_count.iter().zip(&true_count).map(|(p, t)| p * t).sum();
    let pp: f64 = pred_count.iter().map(|p| p * p).sum();
    let tt: f64 = true_count.iter().map(|t| t * t).sum();
    let cov_ytyp = correct * s - pt;
    let denom = ((s * s - pp) * (s * s - tt)).sqrt();
    if denom == 0.0 {
        0.0
    } else {
        cov_ytyp / denom
    }
}

/// F1 score of the positive class 1 (binary tasks); 0 when there are no true or predicted
/// positives.
pub fn f1_binary(preds: &[usize], labels: &[usize]) -> f64 {
    assert_eq!(preds.len(), labels.len(), "f1_binary: length mismatch");
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (&p, &l) in preds.iter().zip(labels) {
        match (p == 1, l == 1) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let denom = 2 * tp + fp + fn_;
    if denom == 0 {
        0.0
    } else {
        2.0 * tp as f64 / denom as f64
    }
}

/// Pearson correlation; 0 when it is undefined (fewer than 2 values or a constant input).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "pearson: length mismatch");
    let n = x.len();
    if n < 2 {
        return 0.0;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let denom = (sxx * syy).sqrt();
    if denom == 0.0 {
        0.0
    } else {
        (sxy / denom).clamp(-1.0, 1.0)
    }
}

/// 1-based ranks with ties given their average rank (as `scipy.stats.rankdata`).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        // Positions i..=j (0-based) share the mean of ranks i+1..=j+1.
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman rank correlation (Pearson of average ranks, so ties are handled as scipy does).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "spearman: length mismatch");
    pearson(&average_ranks(x), &average_ranks(y))
}

/// The GLUE metrics of `task` for `preds` against `labels` (see the module table).
///
/// Panics if the lengths differ or the prediction kind does not match the task (class ids for
/// a classification task, scores for regression).
pub fn compute_metrics(
    task: &TaskSpec,
    preds: &Predictions,
    labels: &[Label],
) -> BTreeMap<String, f64> {
    assert_eq!(
        preds.len(),
        labels.len(),
        "compute_metrics: {} predictions for {} labels",
        preds.len(),
        labels.len()
    );
    let mut m = BTreeMap::new();
    match (task.labels, preds) {
        (LabelKind::Regression, Predictions::Scores(p)) => {
            let x: Vec<f64> = p.iter().map(|&v| v as f64).collect();
            let y: Vec<f64> = labels
                .iter()
                .map(|l| match l {
                    Label::Score(s) => *s as f64,
                    Label::Class(c) => *c as f64,
                })
                .collect();
            let pr = pearson(&x, &y);
            let sp = spearman(&x, &y);
            m.insert("pearson".into(), pr);
            m.insert("spearmanr".into(), sp);
            m.insert("combined_score".into(), (pr + sp) / 2.0);
        }
        (LabelKind::Classes(_), Predictions::Classes(p)) => {
            let y: Vec<usize> = labels
                .iter()
                .map(|l| match l {
                    Label::Class(c) => *c,
                    Label::Score(_) => {
                        panic!("compute_metrics: score label for task `{}`", task.name)
                    }
                })
                .collect();
            match task.name {
                "cola" => {
                    m.insert("mcc".into(), matthews_corrcoef(p, &y));
                }
                "mrpc" | "qqp" => {
                    let acc = accuracy(p, &y);
                    let f1 = f1_binary(p, &y);
                    m.insert("accuracy".into(), acc);
                    m.insert("f1".into(), f1);
                    m.insert("combined_score".into(), (acc + f1) / 2.0);
                }
                _ => {
                    m.insert("accuracy".into(), accuracy(p, &y));
                }
            }
        }
        _ => panic!(
            "compute_metrics: prediction kind does not match task `{}` (regression: {})",
            task.name,
            task.is_regression()
        ),
    }
    m
}

/// [`compute_metrics`] with a dev split's suffix added to every name (`accuracy_mm` on MNLI's
/// dev mismatched split: [`Split::metric_suffix`](crate::data::glue::Split::metric_suffix)).
pub fn compute_split_metrics(
    task: &TaskSpec,
    suffix: &str,
    preds: &Predictions,
    labels: &[Label],
) -> BTreeMap<String, f64> {
    compute_metrics(task, preds, labels)
        .into_iter()
        .map(|(k, v)| (format!("{k}{suffix}"), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::glue::{task, Split};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn mcc_hand_computed() {
        // TP=2 (idx 0,1), TN=2 (idx 4,5), FP=1 (idx 3), FN=1 (idx 2):
        // (2*2 - 1*1) / sqrt(3*3*3*3) = 3/9.
        let y = [1, 1, 1, 0, 0, 0];
        let p = [1, 1, 0, 1, 0, 0];
        assert!(close(matthews_corrcoef(&p, &y), 1.0 / 3.0));
        // TP=3 TN=1 FP=1 FN=0: (3*1 - 1*0)/sqrt(4*3*2*1) = 3/sqrt(24).
        let y = [1, 1, 1, 0, 0];
        let p = [1, 1, 1, 1, 0];
        assert!(close(matthews_corrcoef(&p, &y), 3.0 / 24f64.sqrt()));
        assert!(close(matthews_corrcoef(&y, &y), 1.0));
        let inv: Vec<usize> = y.iter().map(|v| 1 - v).collect();
        assert!(close(matthews_corrcoef(&inv, &y), -1.0));
        // Constant predictions: undefined, reported as 0 (as scikit-learn).
        assert_eq!(matthews_corrcoef(&[1, 1, 1], &[0, 1, 1]), 0.0);
    }

    #[test]
    fn mcc_multiclass_matches_sklearn() {
        // Gorodkin's R_K: (c*s - sum p_k t_k) / sqrt((s^2 - sum p_k^2) (s^2 - sum t_k^2)).
        let y = [0, 1, 2, 0, 1, 2];
        let p = [0, 2, 1, 0, 0, 2];
        // c = 3 correct; sum p_k t_k = 3*2 + 1*2 + 2*2 = 12; sum p^2 = 9+1+4 = 14; sum t^2 = 12.
        let expected = (3.0 * 6.0 - 12.0) / ((36.0f64 - 14.0) * (36.0 - 12.0)).sqrt();
        assert!(close(matthews_corrcoef(&p, &y), expected));
    }

    #[test]
    fn f1_hand_computed() {
        // TP=2 FP=1 FN=1: 2*2/(4+1+1) = 2/3.
        let y = [1, 1, 1, 0, 0, 0];
        let p = [1, 1, 0, 1, 0, 0];
        assert!(close(f1_binary(&p, &y), 2.0 / 3.0));
        assert_eq!(f1_binary(&[0, 0], &[0, 0]), 0.0);
        assert!(close(accuracy(&p, &y), 4.0 / 6.0));
    }

    #[test]
    fn pearson_hand_computed() {
        // x=[1,2,3], y=[1,3,2]: means 2,2; sxy = (-1)(-1)+0+1*0 = 1; sxx = syy = 2 -> 0.5.
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]), 0.5));
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), 1.0));
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0));
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), 0.0);
    }

    #[test]
    fn spearman_with_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 20.0, 5.0]),
            vec![2.0, 3.5, 3.5, 1.0]
        );
        // x=[1,2,2,3] -> ranks [1,2.5,2.5,4]; y=[1,2,3,4] -> ranks [1,2,3,4].
        // Rank means 2.5; dx=[-1.5,0,0,1.5], dy=[-1.5,-0.5,0.5,1.5];
        // sxy = 2.25+0+0+2.25 = 4.5; sxx = 4.5; syy = 5 -> 4.5/sqrt(22.5) = 0.9486832980505138
        // (scipy.stats.spearmanr([1,2,2,3],[1,2,3,4]) gives the same).
        let s = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]);
        assert!(close(s, 4.5 / 22.5f64.sqrt()), "{s}");
        // Monotone but non-linear: Spearman 1, Pearson below 1.
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 4.0, 9.0, 100.0];
        assert!(close(spearman(&x, &y), 1.0));
        assert!(pearson(&x, &y) < 0.99);
    }

    #[test]
    fn compute_metrics_names() {
        let labels: Vec<Label> = [1, 0, 1, 1].iter().map(|&c| Label::Class(c)).collect();
        let p = Predictions::Classes(vec![1, 0, 0, 1]);
        let m = compute_metrics(task("mrpc").unwrap(), &p, &labels);
        assert!(close(m["accuracy"], 0.75));
        assert!(close(m["f1"], 0.8));
        assert!(close(m["combined_score"], 0.775));
        let m = compute_metrics(task("cola").unwrap(), &p, &labels);
        assert_eq!(m.keys().collect::<Vec<_>>(), vec!["mcc"]);
        let nli: Vec<Label> = [0, 1, 2].iter().map(|&c| Label::Class(c)).collect();
        let m = compute_split_metrics(
            task("mnli").unwrap(),
            Split::DevMismatched.metric_suffix(),
            &Predictions::Classes(vec![0, 1, 1]),
            &nli,
        );
        assert!(close(m["accuracy_mm"], 2.0 / 3.0));
        let scores = vec![Label::Score(1.0), Label::Score(2.0), Label::Score(3.0)];
        let m = compute_metrics(
            task("stsb").unwrap(),
            &Predictions::Scores(vec![1.0, 3.0, 2.0]),
            &scores,
        );
        assert!(close(m["pearson"], 0.5));
        assert!(close(m["spearmanr"], 0.5));
        assert!(close(m["combined_score"], 0.5));
    }
}
