//! Every seeded random number generator of a run, in one place: one stream per purpose, and the
//! exact position of a generator saved in a checkpoint, so a resumed run draws the same numbers as
//! an uninterrupted one. The lowest layer: `data` (orders, subsets), `model` (initial weights),
//! `dps` and `train` (dropout, masks) all draw from here.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Streams: one independent sequence per purpose. Streams 1 and 5 are unused.
///
/// Stream 0: the `train_size` subsets (random and stratified), the demo's synthetic examples and
/// freshly initialised weights. It is what `ChaCha8Rng::seed_from_u64(seed)` gives, which run
/// folders written before these streams existed rely on, so it stays as it is.
pub const STREAM_DATA: u64 = 0;
/// See [`STREAM_DATA`]: initial weights share stream 0 (each from its own generator).
pub const STREAM_INIT: u64 = 0;
pub const STREAM_DROPOUT: u64 = 2;
pub const STREAM_MIX: u64 = 3;
pub const STREAM_CHILD_TUNING: u64 = 4;
/// Dropout masks of ChildTuning-D's Fisher pass, which runs in train mode.
pub const STREAM_FISHER: u64 = 6;
/// The benchmark's synthetic batches.
pub const STREAM_BENCH: u64 = 99;

/// A generator for one purpose (`stream`) of a run seeded with `seed`.
pub fn seeded(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// A generator keyed by `(seed, index, purpose)`, for draws that must depend only on those (each
/// epoch's data order: `keyed(seed, epoch, *b"dps-tui/epochord")`), wherever they happen.
pub fn keyed(seed: u64, index: u64, purpose: [u8; 16]) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&index.to_le_bytes());
    key[16..32].copy_from_slice(&purpose);
    ChaCha8Rng::from_seed(key)
}

/// The generator's full state as JSON.
pub fn save(r: &ChaCha8Rng) -> Value {
    json!({
        "seed": r.get_seed().iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "stream": r.get_stream(),
        "word_pos": r.get_word_pos().to_string(),
    })
}

/// Restore what [`save`] wrote.
pub fn load(v: &Value) -> Option<ChaCha8Rng> {
    let hex = v.get("seed")?.as_str()?;
    if hex.len() != 64 {
        return None;
    }
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    let mut r = ChaCha8Rng::from_seed(seed);
    r.set_stream(v.get("stream")?.as_u64()?);
    r.set_word_pos(v.get("word_pos")?.as_str()?.parse().ok()?);
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn stream_zero_is_seed_from_u64() {
        // Run folders written before the streams existed drew their data from this.
        let mut a = seeded(42, STREAM_DATA);
        let mut b = ChaCha8Rng::seed_from_u64(42);
        for _ in 0..50 {
            assert_eq!(a.random::<u64>(), b.random::<u64>());
        }
    }

    #[test]
    fn save_and_load_continue_the_same_sequence() {
        let mut a = seeded(42, 3);
        for _ in 0..17 {
            a.random::<u32>();
        }
        let mut b = load(&save(&a)).unwrap();
        for _ in 0..100 {
            assert_eq!(a.random::<u64>(), b.random::<u64>());
        }
    }
}
