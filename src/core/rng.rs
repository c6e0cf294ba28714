//! Seeded random number generators whose exact position can be saved in a checkpoint, so a
//! resumed run draws the same numbers as an uninterrupted one.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Streams: one independent sequence per purpose. (The data order and `train_size` subsets are
/// drawn by `data` from `seed_from_u64(seed)`, stream 0; streams 1 and 5 are unused.)
pub const STREAM_DROPOUT: u64 = 2;
pub const STREAM_MIX: u64 = 3;
pub const STREAM_CHILD_TUNING: u64 = 4;
/// Dropout masks of ChildTuning-D's Fisher pass, which runs in train mode.
pub const STREAM_FISHER: u64 = 6;

/// A generator for one purpose (`stream`) of a run seeded with `seed`.
pub fn seeded(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
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
