//! Checks the families' unit tests share.

use candle_core::Tensor;

use super::classifier::SequenceClassifier;

/// The largest `|a − b|` over all elements.
pub(crate) fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>())
        .expect("tensors of one shape and dtype f32")
}

/// Both models have the same parameters, sorted by name, with equal values.
pub(crate) fn assert_same_params(a: &dyn SequenceClassifier, b: &dyn SequenceClassifier) {
    let names = |m: &dyn SequenceClassifier| -> Vec<String> {
        m.params().iter().map(|p| p.name.clone()).collect()
    };
    let (na, nb) = (names(a), names(b));
    assert_eq!(na, nb);
    let mut sorted = na.clone();
    sorted.sort();
    assert_eq!(na, sorted, "parameters are sorted by name");
    for (x, y) in a.params().iter().zip(b.params()) {
        let d = max_abs_diff(x.var.as_tensor(), y.var.as_tensor());
        assert_eq!(d, 0.0, "{}", x.name);
    }
}

/// The sum of `|x|` over row `row` of parameter `name`: 0 for an embedding's padding row.
pub(crate) fn row_abs_sum(m: &dyn SequenceClassifier, name: &str, row: usize) -> f32 {
    let t = m.param(name).unwrap_or_else(|| panic!("no {name}"));
    t.var
        .as_tensor()
        .get(row)
        .and_then(|r| r.abs()?.sum_all()?.to_scalar::<f32>())
        .expect("a row of an f32 tensor")
}
