//! The `demo` task: a synthetic binary classification task over a tiny vocabulary, generated
//! from a seed, so that training runs anywhere without downloads.
//!
//! Vocabulary: `0` = `[PAD]`, `1` = `[CLS]`, `2` = `[SEP]`, `3` = `[UNK]`, `4` = `[MASK]`, and
//! content tokens `5..vocab_size`. Content token `t` is *positive* when `(t - 5) % 4 == 0`,
//! *negative* when `(t - 5) % 4 == 1`, and neutral otherwise. A sequence is
//! `[CLS] t_1 .. t_k [SEP]` with `t_i` uniform over the content tokens and `k` uniform in
//! `[(max_len - 2) / 2, max_len - 2]`; its label is 1 when it holds more positive than negative
//! tokens and 0 when fewer. Sequences whose counts differ by less than 2 are redrawn, so the
//! rule has a margin and the classes are balanced by symmetry. A bag-of-words readout (which a
//! BERT encoder can form by attending from `[CLS]`) separates the classes exactly.

use super::batching::{Encoded, EncodedDataset};
use super::glue::Label;
pub use super::glue::DEMO_TASK;
use crate::rng;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// `[CLS]` id of the demo vocabulary.
pub const DEMO_CLS: u32 = 1;
/// `[SEP]` id of the demo vocabulary.
pub const DEMO_SEP: u32 = 2;
/// First content token id of the demo vocabulary.
pub const DEMO_FIRST_CONTENT: u32 = 5;
/// Smallest vocabulary the demo task accepts (5 special ids and 4 content tokens).
pub const DEMO_MIN_VOCAB: usize = 9;
/// Smallest `max_len` the demo task accepts (`[CLS]`, 4 content tokens, `[SEP]`).
pub const DEMO_MIN_LEN: usize = 6;

/// Whether content token `t` is in the positive set (+1), the negative set (-1), or neither.
pub fn demo_token_polarity(t: u32) -> i32 {
    if t < DEMO_FIRST_CONTENT {
        return 0;
    }
    match (t - DEMO_FIRST_CONTENT) % 4 {
        0 => 1,
        1 => -1,
        _ => 0,
    }
}

fn generate(rng: &mut ChaCha8Rng, n: usize, vocab_size: usize, max_len: usize) -> Vec<Encoded> {
    let min_k = ((max_len - 2) / 2).max(2);
    let max_k = max_len - 2;
    let mut items = Vec::with_capacity(n);
    while items.len() < n {
        let k = rng.random_range(min_k..=max_k);
        let mut ids = Vec::with_capacity(k + 2);
        ids.push(DEMO_CLS);
        let mut score = 0i32;
        for _ in 0..k {
            let t = rng.random_range(DEMO_FIRST_CONTENT..vocab_size as u32);
            score += demo_token_polarity(t);
            ids.push(t);
        }
        ids.push(DEMO_SEP);
        if score.abs() < 2 {
            continue;
        }
        items.push(Encoded {
            type_ids: vec![0; ids.len()],
            ids,
            label: Label::Class(usize::from(score > 0)),
        });
    }
    items
}

/// Generate the demo task's train and dev sets from `seed`: `num_train` and `num_dev`
/// sequences over ids `0..vocab_size`, each at most `max_len` tokens with `[CLS]` and `[SEP]`.
///
/// Panics if `vocab_size < DEMO_MIN_VOCAB` or `max_len < DEMO_MIN_LEN`.
pub fn demo_task(
    seed: u64,
    num_train: usize,
    num_dev: usize,
    vocab_size: usize,
    max_len: usize,
) -> (EncodedDataset, EncodedDataset) {
    assert!(
        vocab_size >= DEMO_MIN_VOCAB,
        "demo task: vocab_size must be at least {DEMO_MIN_VOCAB}, got {vocab_size}"
    );
    assert!(
        max_len >= DEMO_MIN_LEN,
        "demo task: max_len must be at least {DEMO_MIN_LEN}, got {max_len}"
    );
    let mut rng = rng::seeded(seed, rng::STREAM_DATA);
    let train = generate(&mut rng, num_train, vocab_size, max_len);
    let dev = generate(&mut rng, num_dev, vocab_size, max_len);
    (
        EncodedDataset {
            items: train,
            task: &DEMO_TASK,
        },
        EncodedDataset {
            items: dev,
            task: &DEMO_TASK,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(e: &Encoded) -> usize {
        match e.label {
            Label::Class(c) => c,
            Label::Score(_) => panic!("demo labels are classes"),
        }
    }

    #[test]
    fn deterministic_in_seed() {
        let (a, b) = demo_task(7, 200, 50, 64, 32);
        let (c, d) = demo_task(7, 200, 50, 64, 32);
        assert_eq!(a.items.len(), 200);
        assert_eq!(b.items.len(), 50);
        for (x, y) in a
            .items
            .iter()
            .zip(&c.items)
            .chain(b.items.iter().zip(&d.items))
        {
            assert_eq!(x.ids, y.ids);
            assert_eq!(x.label, y.label);
        }
        let (e, _) = demo_task(8, 200, 50, 64, 32);
        assert!(a.items.iter().zip(&e.items).any(|(x, y)| x.ids != y.ids));
    }

    #[test]
    fn roughly_balanced_and_well_formed() {
        let (train, dev) = demo_task(1, 2000, 500, 64, 32);
        let pos = train.items.iter().filter(|e| class(e) == 1).count();
        assert!((850..=1150).contains(&pos), "positives: {pos} of 2000");
        for e in train.items.iter().chain(&dev.items) {
            assert!(e.ids.len() <= 32 && e.ids.len() >= 2 + 15);
            assert_eq!(e.ids[0], DEMO_CLS);
            assert_eq!(*e.ids.last().unwrap(), DEMO_SEP);
            assert!(e.ids[1..e.ids.len() - 1]
                .iter()
                .all(|&t| (DEMO_FIRST_CONTENT..64).contains(&t)));
            assert_eq!(e.type_ids, vec![0; e.ids.len()]);
            // The label follows the rule.
            let s: i32 = e.ids.iter().map(|&t| demo_token_polarity(t)).sum();
            assert_eq!(class(e), usize::from(s > 0));
            assert!(s.abs() >= 2);
        }
    }

    #[test]
    fn demo_spec() {
        assert_eq!(DEMO_TASK.num_labels(), 2);
        assert!(!DEMO_TASK.is_regression());
        assert!(std::ptr::eq(crate::data::task("demo").unwrap(), &DEMO_TASK));
    }
}
