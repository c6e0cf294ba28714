//! The statistics of a metric over runs (seeds), shared by `dps-tui report` and the `watch`
//! board's group lines: mean, sample standard deviation and median.

/// The arithmetic mean; 0 for no values.
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The sample standard deviation (n − 1); 0 for fewer than two values.
pub fn sample_std(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// The median (the mean of the middle two for an even count); NaN for no values.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_std_and_median_of_small_samples() {
        let v = [0.78, 0.82, 0.80, 0.84];
        assert!((mean(&v) - 0.81).abs() < 1e-12);
        // Deviations -0.03, 0.01, -0.01, 0.03: sum of squares 0.002, over n - 1 = 3.
        assert!((sample_std(&v) - (0.002f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((median(&v) - 0.81).abs() < 1e-12);
        assert_eq!(median(&v[..3]), 0.80);
        assert_eq!((mean(&[]), sample_std(&[0.5])), (0.0, 0.0));
        assert!(median(&[]).is_nan());
    }
}
