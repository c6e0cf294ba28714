//! Subnetwork selection: the top-k threshold rule of the authors' code.
//!
//! For a score vector of N elements and frozen share p, the kept elements are those whose score
//! is `>=` the value at index `ceil(N·(1−p)) − 1` of the scores sorted in descending order: the
//! top `ceil(N·(1−p))` elements plus ties. The threshold is found in O(N) with a selection
//! algorithm instead of a full sort.

/// The number of elements the rule keeps before ties: `ceil(N·(1−p))`, at least 1.
pub fn kept_count(n: usize, p: f64) -> usize {
    (((n as f64) * (1.0 - p)).ceil() as usize).clamp(1, n.max(1))
}

/// The threshold: the `kept_count(N, p)`-th largest score. NaN scores rank lowest (never
/// selected unless everything is NaN).
pub fn threshold(scores: &[f32], p: f64) -> f32 {
    assert!(!scores.is_empty(), "cannot select from an empty matrix");
    let k = kept_count(scores.len(), p) - 1;
    let mut work: Vec<f32> = scores.to_vec();
    let (_, kth, _) = work.select_nth_unstable_by(k, |a, b| desc(*a, *b));
    *kth
}

/// Threshold over several score vectors taken together (the `global` selection scope).
pub fn global_threshold(parts: &[&[f32]], p: f64) -> f32 {
    let total: usize = parts.iter().map(|s| s.len()).sum();
    let mut work: Vec<f32> = Vec::with_capacity(total);
    for s in parts {
        work.extend_from_slice(s);
    }
    threshold(&work, p)
}

/// `numpy.percentile(values, q)` with NumPy's default linear interpolation, over several
/// vectors taken together: the value at fractional rank `q/100 · (N−1)` of the ascending order.
/// ChildTuning-D keeps the elements `>=` this value (see `child_tuning`). NaN ranks highest,
/// as NumPy sorts it.
pub fn percentile_linear(parts: &[&[f32]], q: f64) -> f64 {
    let mut work: Vec<f32> = parts.iter().flat_map(|s| s.iter().copied()).collect();
    assert!(!work.is_empty(), "cannot take a percentile of nothing");
    let rank = (q / 100.0).clamp(0.0, 1.0) * (work.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let asc = |a: &f32, b: &f32| desc(*b, *a);
    let (_, at_lo, above) = work.select_nth_unstable_by(lo, asc);
    let a = *at_lo as f64;
    let t = rank - lo as f64;
    if t == 0.0 || above.is_empty() {
        return a;
    }
    let b = above.iter().copied().min_by(asc).unwrap() as f64;
    // NumPy's `_lerp`: a + (b − a)·t, taken from the upper end when t ≥ 0.5.
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Descending order with NaN last.
fn desc(a: f32, b: f32) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => b.partial_cmp(&a).unwrap(),
    }
}

/// The 0/1 mask of `scores >= thr`.
pub fn mask_from_threshold(scores: &[f32], thr: f32) -> Vec<f32> {
    scores
        .iter()
        .map(|&s| if s >= thr { 1.0 } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy() {
        // np.percentile([3, 1, 4, 1, 5, 9, 2, 6], q) for q = 0, 70, 25, 50, 100:
        // 1.0, 4.9, 1.75, 3.5, 9.0.
        let v = [3f32, 1., 4., 1., 5., 9., 2., 6.];
        let (a, b) = v.split_at(3);
        let parts: [&[f32]; 2] = [a, b];
        let cases = [
            (0.0, 1.0),
            (70.0, 4.9),
            (25.0, 1.75),
            (50.0, 3.5),
            (100.0, 9.0),
        ];
        for (q, want) in cases {
            let got = percentile_linear(&parts, q);
            assert!((got - want).abs() < 1e-12, "q={q}: {got} vs {want}");
        }
        assert_eq!(percentile_linear(&[&[2.5f32]], 70.0), 2.5);
    }
    use rand::{Rng, SeedableRng};

    fn by_sort(scores: &[f32], p: f64) -> f32 {
        let mut s = scores.to_vec();
        s.sort_by(|a, b| b.partial_cmp(a).unwrap());
        s[kept_count(scores.len(), p) - 1]
    }

    #[test]
    fn kept_count_is_exact_without_ties() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in [1usize, 2, 3, 10, 96, 1024, 2048, 12_345] {
            for p in [0.0, 0.1, 0.3, 0.5, 0.7, 0.99] {
                let scores: Vec<f32> = (0..n).map(|_| rng.random::<f32>()).collect();
                let thr = threshold(&scores, p);
                assert_eq!(thr, by_sort(&scores, p));
                let kept = mask_from_threshold(&scores, thr)
                    .iter()
                    .filter(|&&m| m == 1.0)
                    .count();
                assert_eq!(kept, kept_count(n, p), "n={n} p={p}");
            }
        }
        assert_eq!(kept_count(1024, 0.3), 717);
        assert_eq!(kept_count(2048, 0.3), 1434);
        assert_eq!(kept_count(96, 0.3), 68);
    }

    #[test]
    fn ties_at_the_threshold_are_all_kept() {
        let scores = [5.0, 3.0, 3.0, 3.0, 1.0];
        let thr = threshold(&scores, 0.5); // ceil(2.5) = 3 kept before ties
        assert_eq!(thr, 3.0);
        assert_eq!(mask_from_threshold(&scores, thr), vec![1., 1., 1., 1., 0.]);
    }

    #[test]
    fn nan_ranks_lowest() {
        let scores = [f32::NAN, 1.0, 2.0, f32::NAN];
        let thr = threshold(&scores, 0.5);
        assert_eq!(thr, 1.0);
        assert_eq!(mask_from_threshold(&scores, thr), vec![0., 1., 1., 0.]);
    }

    #[test]
    fn global_scope_gives_layers_different_shares() {
        let a: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..100).map(|i| 1000.0 + i as f32).collect();
        let thr = global_threshold(&[&a, &b], 0.5);
        assert_eq!(mask_from_threshold(&a, thr).iter().sum::<f32>(), 0.0);
        assert_eq!(mask_from_threshold(&b, thr).iter().sum::<f32>(), 100.0);
    }
}
