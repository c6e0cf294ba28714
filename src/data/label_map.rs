//! How a model trained on one classification task is scored on another: each of the training
//! task's labels maps onto one of the eval task's labels, by name.
//!
//! The defaults are the authors' out-of-domain protocol (`script/metric.py`,
//! `simple_map_accuracy`): between two 3-way NLI sets (MNLI, SNLI, SICK) the labels are the
//! same; onto a 2-way set (RTE: entailment / not_entailment, SciTail: entails / neutral)
//! entailment maps onto its entailment label and neutral and contradiction onto the other one.
//! Anything else needs an explicit map (`label_maps` in the configuration).

use super::batching::EncodedDataset;
use super::glue::{LabelKind, TaskSpec};
use std::collections::BTreeMap;

/// Another task's examples (`eval_tasks`) and how the training task's labels map onto its
/// labels.
#[derive(Debug, Clone)]
pub struct EvalSet {
    pub task: &'static TaskSpec,
    pub map: LabelMap,
    /// The examples; `None` when the set is the training task's own dev set, whose metrics
    /// are copied rather than computed twice.
    pub data: Option<EncodedDataset>,
}

/// The training task's class ids mapped onto the eval task's.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMap {
    /// `ids[c]`: the eval class of training class `c`.
    pub ids: Vec<usize>,
    /// The same as `training label → eval label` pairs, for messages.
    pub names: Vec<(String, String)>,
}

/// Whether a label name means entailment in one of the sets' spellings.
fn is_entailment(name: &str) -> bool {
    matches!(name, "entailment" | "entails")
}

impl LabelMap {
    /// The map from `train` onto `eval`: the default (see the module doc) with `overrides`
    /// (`training label → eval label`, names case-insensitive) applied on top.
    pub fn resolve(
        train: &TaskSpec,
        eval: &TaskSpec,
        overrides: Option<&BTreeMap<String, String>>,
    ) -> Result<LabelMap, String> {
        let (LabelKind::Classes(from), LabelKind::Classes(to)) = (train.labels, eval.labels) else {
            return Err(format!(
                "`{}` cannot be scored with a model trained on `{}`: label maps need two \
                 classification tasks",
                eval.name, train.name
            ));
        };
        let find = |labels: &[&str], name: &str| {
            labels
                .iter()
                .position(|l| l.eq_ignore_ascii_case(name.trim()))
        };
        let mut ids: Vec<Option<usize>> = from
            .iter()
            .map(|l| find(to, l).or_else(|| default_target(l, to)))
            .collect();
        for (k, v) in overrides.into_iter().flatten() {
            let i = find(from, k).ok_or_else(|| {
                format!(
                    "label_maps.{}: `{k}` is not a label of the training task `{}` ({}). Fix: \
                     map its labels: {}",
                    eval.name,
                    train.name,
                    from.join(", "),
                    from.join(", ")
                )
            })?;
            let j = find(to, v).ok_or_else(|| {
                format!(
                    "label_maps.{}: `{v}` is not a label of `{}` ({}). Fix: map onto one of \
                     those",
                    eval.name,
                    eval.name,
                    to.join(", ")
                )
            })?;
            ids[i] = Some(j);
        }
        let missing: Vec<&str> = from
            .iter()
            .zip(&ids)
            .filter(|(_, t)| t.is_none())
            .map(|(l, _)| *l)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "no default map from `{}` ({}) onto `{}` ({}) for {}. Fix: give one in the \
                 configuration, e.g. label_maps: {{{}: {{{}: {}}}}}",
                train.name,
                from.join(", "),
                eval.name,
                to.join(", "),
                missing.join(", "),
                eval.name,
                missing[0],
                to[0]
            ));
        }
        let ids: Vec<usize> = ids.into_iter().map(|t| t.expect("checked")).collect();
        let names = from
            .iter()
            .zip(&ids)
            .map(|(f, &t)| (f.to_string(), to[t].to_string()))
            .collect();
        Ok(LabelMap { ids, names })
    }

    /// `entailment → entailment, neutral → not_entailment, ...` for messages.
    pub fn describe(&self) -> String {
        self.names
            .iter()
            .map(|(f, t)| format!("{f} → {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The default target of a training label the eval task does not have by name: on a 2-way
/// entailment set, entailment onto its entailment label and anything else onto the other.
fn default_target(label: &str, to: &[&str]) -> Option<usize> {
    if to.len() != 2 {
        return None;
    }
    let entail = to.iter().position(|l| is_entailment(l))?;
    let label = label.to_ascii_lowercase();
    if is_entailment(&label) {
        Some(entail)
    } else if matches!(
        label.as_str(),
        "neutral" | "contradiction" | "not_entailment"
    ) {
        Some(1 - entail)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::glue::task;

    #[test]
    fn three_way_onto_two_way_follows_the_authors() {
        let mnli = task("mnli").unwrap(); // contradiction, entailment, neutral
        let rte = task("rte").unwrap(); // entailment, not_entailment
        let m = LabelMap::resolve(mnli, rte, None).unwrap();
        assert_eq!(m.ids, vec![1, 0, 1]);
        assert_eq!(
            m.describe(),
            "contradiction → not_entailment, entailment → entailment, neutral → not_entailment"
        );
        // Same labels: identity.
        assert_eq!(
            LabelMap::resolve(mnli, mnli, None).unwrap().ids,
            vec![0, 1, 2]
        );
    }

    #[test]
    fn overrides_apply_and_bad_names_are_refused() {
        let mnli = task("mnli").unwrap();
        let rte = task("rte").unwrap();
        let o: BTreeMap<String, String> = [("Neutral".to_string(), "entailment".to_string())]
            .into_iter()
            .collect();
        assert_eq!(
            LabelMap::resolve(mnli, rte, Some(&o)).unwrap().ids,
            vec![1, 0, 0]
        );
        let bad: BTreeMap<String, String> = [("maybe".to_string(), "entailment".to_string())]
            .into_iter()
            .collect();
        let e = LabelMap::resolve(mnli, rte, Some(&bad)).unwrap_err();
        assert!(
            e.contains("`maybe` is not a label of the training task `mnli`"),
            "{e}"
        );
        let bad: BTreeMap<String, String> = [("neutral".to_string(), "yes".to_string())]
            .into_iter()
            .collect();
        let e = LabelMap::resolve(mnli, rte, Some(&bad)).unwrap_err();
        assert!(e.contains("`yes` is not a label of `rte`"), "{e}");
    }

    #[test]
    fn two_way_onto_three_way_needs_a_map() {
        let rte = task("rte").unwrap();
        let mnli = task("mnli").unwrap();
        let e = LabelMap::resolve(rte, mnli, None).unwrap_err();
        assert!(
            e.contains("not_entailment") && e.contains("label_maps"),
            "{e}"
        );
        let o: BTreeMap<String, String> = [("not_entailment".to_string(), "neutral".to_string())]
            .into_iter()
            .collect();
        assert_eq!(
            LabelMap::resolve(rte, mnli, Some(&o)).unwrap().ids,
            vec![1, 2]
        );
        let e = LabelMap::resolve(task("stsb").unwrap(), rte, None).unwrap_err();
        assert!(e.contains("classification"), "{e}");
    }
}
