//! Stratified subsets: the per-class counts of scikit-learn's `StratifiedShuffleSplit`.
//!
//! The out-of-domain protocol trains on a subset of a large NLI train split drawn with
//! `StratifiedShuffleSplit(n_splits=1, train_size=n, random_state=seed)`. [`stratified_subsample`]
//! draws a subset with the same number of examples of each class as that split's train part;
//! which examples are drawn within a class is this crate's own seeded choice.

use super::glue::{subsample, Dataset, LabelKind};
use crate::rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// How many of `n` draws each class gets, as scikit-learn's `_approximate_mode(class_counts,
/// n, rng)` computes the train counts of `StratifiedShuffleSplit`: class `i` gets
/// `floor(n * c_i / total)` (computed as `c_i / total * n` in `f64`, as numpy does), and the
/// draws left over go one each to the classes with the largest fractional parts. Ties between
/// equal fractional parts that cannot all get one are broken by a draw seeded with `seed`
/// (`ChaCha8Rng`); sklearn breaks them with its own generator, so in that case the counts are
/// one of the outcomes sklearn can give, not necessarily the one it gives for the same seed.
/// Without such ties the counts are exactly sklearn's.
///
/// Classes with no examples get none. `n >= total` gives every example of every class. Unlike
/// sklearn, nothing is refused (sklearn wants at least 2 examples per class and at least as
/// many train and test examples as classes).
pub fn stratified_counts(class_counts: &[usize], n: usize, seed: u64) -> Vec<usize> {
    approximate_mode(class_counts, n, &mut rng::seeded(seed, rng::STREAM_DATA))
}

fn approximate_mode(class_counts: &[usize], n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let total: usize = class_counts.iter().sum();
    if n >= total {
        return class_counts.to_vec();
    }
    let continuous: Vec<f64> = class_counts
        .iter()
        .map(|&c| c as f64 / total as f64 * n as f64)
        .collect();
    let mut floored: Vec<f64> = continuous.iter().map(|x| x.floor()).collect();
    let mut need = n as i64 - floored.iter().sum::<f64>() as i64;
    if need > 0 {
        let remainder: Vec<f64> = continuous
            .iter()
            .zip(&floored)
            .map(|(c, f)| c - f)
            .collect();
        // Only the classes present, as sklearn's `np.unique(y)` sees them.
        let present: Vec<usize> = (0..class_counts.len())
            .filter(|&i| class_counts[i] > 0)
            .collect();
        let mut values: Vec<f64> = present.iter().map(|&i| remainder[i]).collect();
        values.sort_by(|a, b| b.total_cmp(a));
        values.dedup();
        for value in values {
            let mut inds: Vec<usize> = present
                .iter()
                .copied()
                .filter(|&i| remainder[i] == value)
                .collect();
            let add_now = inds.len().min(need as usize);
            if add_now < inds.len() {
                inds.shuffle(rng);
                inds.truncate(add_now);
            }
            for i in inds {
                floored[i] += 1.0;
            }
            need -= add_now as i64;
            if need == 0 {
                break;
            }
        }
    }
    floored
        .iter()
        .zip(class_counts)
        .map(|(&f, &c)| (f as usize).min(c))
        .collect()
}

/// A seeded subset of `n` examples with the per-class counts of scikit-learn's
/// `StratifiedShuffleSplit(n_splits=1, train_size=n, random_state=seed)` train part
/// ([`stratified_counts`], with its note on ties), kept in file order. Only the counts match
/// sklearn, not the drawn examples: within each class the examples are drawn by a seeded
/// shuffle (`ChaCha8Rng`, the same generator that broke the ties). The same
/// `(dataset, n, seed)` always gives the same subset; `n >= len` returns all examples.
///
/// Regression tasks have no classes to stratify by: they fall back to [`subsample`].
pub fn stratified_subsample(ds: &Dataset, n: usize, seed: u64) -> Dataset {
    if n >= ds.examples.len() {
        return ds.clone();
    }
    let LabelKind::Classes(names) = ds.task.labels else {
        return subsample(ds, n, seed);
    };
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    for (i, e) in ds.examples.iter().enumerate() {
        if let super::glue::Label::Class(c) = e.label {
            if let Some(v) = by_class.get_mut(c) {
                v.push(i);
            }
        }
    }
    let counts: Vec<usize> = by_class.iter().map(Vec::len).collect();
    let mut rng = rng::seeded(seed, rng::STREAM_DATA);
    let take = approximate_mode(&counts, n, &mut rng);
    let mut idx = Vec::with_capacity(n);
    for (mut members, k) in by_class.into_iter().zip(take) {
        members.shuffle(&mut rng);
        idx.extend_from_slice(&members[..k.min(members.len())]);
    }
    idx.sort_unstable();
    ds.select(&idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sum_to_n_and_follow_the_proportions() {
        assert_eq!(stratified_counts(&[100, 200, 300], 60, 0), vec![10, 20, 30]);
        assert_eq!(stratified_counts(&[2, 500, 498], 100, 7), vec![0, 50, 50]);
        assert_eq!(
            stratified_counts(&[0, 10, 10], 5, 1).iter().sum::<usize>(),
            5
        );
        assert_eq!(stratified_counts(&[0, 10, 10], 5, 1)[0], 0);
        assert_eq!(stratified_counts(&[3, 4], 100, 1), vec![3, 4]);
        for seed in 0..20 {
            let c = stratified_counts(&[10, 10, 10], 10, seed);
            assert_eq!(c.iter().sum::<usize>(), 10);
            assert!(c.iter().all(|&x| x == 3 || x == 4), "{c:?}");
        }
    }
}
