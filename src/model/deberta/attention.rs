//! DeBERTa-v2's disentangled self-attention: content-to-content scores plus the
//! content-to-position (c2p) and position-to-content (p2c) terms read from relative-position
//! embeddings, with the log position buckets of `transformers`' `make_log_bucket_position`.

use candle_core::{Device, Result, Tensor};

use crate::model::ops;

/// The relative position `rel = i − j` (query minus key) as a bucket: `rel` itself within
/// `±buckets / 2`, beyond that `sign(rel) · (mid + ⌈ln(|rel| / mid) / ln((max_position − 1) /
/// mid) · (mid − 1)⌉)`, in float32 as `transformers` computes it (`mid = buckets / 2`).
pub fn log_bucket(rel: i64, buckets: usize, max_position: usize) -> i64 {
    let mid = (buckets / 2) as i64;
    if rel.abs() <= mid {
        return rel;
    }
    let abs = rel.abs();
    let ratio = ((max_position as f64 - 1.0) / mid as f64) as f32;
    let log_pos =
        ((abs as f32 / mid as f32).ln() / ratio.ln() * (mid - 1) as f32).ceil() + mid as f32;
    rel.signum() * log_pos as i64
}

/// The relative position of query `i` to key `j` as `transformers`' `build_relative_position`
/// gives it: `i − j`, bucketed when the config has buckets.
fn relative_position(i: usize, j: usize, buckets: Option<usize>, max_position: usize) -> i64 {
    let rel = i as i64 - j as i64;
    match buckets {
        Some(b) => log_bucket(rel, b, max_position),
        None => rel,
    }
}

/// Where the c2p and p2c terms of a `[B, L]` batch read the position scores: flat indices into
/// the `[B·L, 2·span]` score rows of one head, one per `(b, i, j)` in row-major order.
#[derive(Debug, Clone)]
pub struct RelativeIndex {
    /// c2p: `(b·L + i)·2S + clamp(rel(i, j) + S, 0, 2S − 1)`, `[B·L·L]` u32.
    pub c2p: Tensor,
    /// p2c: `(b·L + j)·2S + clamp(−rel(j, i) + S, 0, 2S − 1)`, `[B·L·L]` u32.
    pub p2c: Tensor,
}

impl RelativeIndex {
    /// The indices for `b` sequences of length `l`, `span` relative positions either side
    /// (`att_span`), optional log `buckets` over `max_position`.
    pub fn new(
        b: usize,
        l: usize,
        span: usize,
        buckets: Option<usize>,
        max_position: usize,
        device: &Device,
    ) -> Result<Self> {
        let s = span as i64;
        let clamp = |x: i64| x.clamp(0, 2 * s - 1) as usize;
        let mut rel = vec![0i64; l * l];
        for i in 0..l {
            for j in 0..l {
                rel[i * l + j] = relative_position(i, j, buckets, max_position);
            }
        }
        let width = 2 * span;
        let mut c2p = Vec::with_capacity(b * l * l);
        let mut p2c = Vec::with_capacity(b * l * l);
        for bi in 0..b {
            for i in 0..l {
                for j in 0..l {
                    c2p.push(((bi * l + i) * width + clamp(rel[i * l + j] + s)) as u32);
                    p2c.push(((bi * l + j) * width + clamp(-rel[j * l + i] + s)) as u32);
                }
            }
        }
        let n = b * l * l;
        Ok(RelativeIndex {
            c2p: Tensor::from_vec(c2p, n, device)?,
            p2c: Tensor::from_vec(p2c, n, device)?,
        })
    }
}

/// The additive attention mask `[1, B, L, L]` of `transformers`' `get_attention_mask`:
/// query `i` may attend to key `j` when both are real tokens; every other score is replaced
/// by `f32::MIN`, so that a padded query attends uniformly to all keys, as in `transformers`.
pub fn pair_mask(attention_mask: &Tensor) -> Result<Tensor> {
    let (b, l) = attention_mask.dims2()?;
    let m = attention_mask.to_vec2::<u32>()?;
    let mut out = Vec::with_capacity(b * l * l);
    for row in &m {
        for &qi in row {
            for &kj in row {
                out.push(if qi != 0 && kj != 0 { 0.0 } else { f32::MIN });
            }
        }
    }
    Tensor::from_vec(out, (1, b, l, l), attention_mask.device())
}

/// Split `[B, L, H]` into heads, `[nh, B, L, d]`.
pub fn split_heads(x: &Tensor, heads: usize) -> Result<Tensor> {
    let (b, l, h) = x.dims3()?;
    x.reshape((b, l, heads, h / heads))?
        .permute((2, 0, 1, 3))?
        .contiguous()
}

/// The relative embeddings projected into heads: `[2S, H]` → `[nh, 2S, d]`.
pub fn split_positions(x: &Tensor, heads: usize) -> Result<Tensor> {
    let (s2, h) = x.dims2()?;
    x.reshape((s2, heads, h / heads))?
        .transpose(0, 1)?
        .contiguous()
}

/// Gather the relative scores of `content · positionsᵀ` at `index`: `content` `[nh, B, L, d]`,
/// `positions` `[nh, 2S, d]`; returns `[nh, B, L, L]`.
fn gather_relative(content: &Tensor, positions: &Tensor, index: &Tensor) -> Result<Tensor> {
    let (nh, b, l, d) = content.dims4()?;
    let rows = content.reshape((nh, b * l, d))?;
    let scores = rows.matmul(&positions.t()?)?;
    let flat = scores.reshape((nh, ()))?;
    flat.index_select(index, 1)?.reshape((nh, b, l, l))
}

/// The inputs of one layer's attention core.
pub struct AttentionInputs<'a> {
    /// Queries, keys and values, `[nh, B, L, d]` each.
    pub q: &'a Tensor,
    /// Keys.
    pub k: &'a Tensor,
    /// Values.
    pub v: &'a Tensor,
    /// c2p: the relative embeddings through the key projection, `[nh, 2S, d]`.
    pub pos_key: Option<&'a Tensor>,
    /// p2c: the relative embeddings through the query projection, `[nh, 2S, d]`.
    pub pos_query: Option<&'a Tensor>,
    /// Where the relative terms read (needed when either is present).
    pub index: Option<&'a RelativeIndex>,
    /// [`pair_mask`], `[1, B, L, L]`.
    pub mask: &'a Tensor,
    /// `1 / √(d · scale_factor)`.
    pub scale: f64,
    /// Dropout factors on the probabilities, `[nh, B, L, L]` row-major.
    pub dropout: Option<Vec<f32>>,
}

/// `softmax((q·kᵀ + c2p + p2c) · scale, masked) · v`, merged back to `[B, L, H]`:
/// `c2p[i, j] = q_i · pos_key[c2p_index(i, j)]`, `p2c[i, j] = k_j · pos_query[p2c_index(j, i)]`.
pub fn disentangled_attention(a: AttentionInputs) -> Result<Tensor> {
    let (nh, b, l, d) = a.q.dims4()?;
    let mut scores = a.q.matmul(&a.k.t()?)?;
    if let (Some(pk), Some(ix)) = (a.pos_key, a.index) {
        scores = (scores + gather_relative(a.q, pk, &ix.c2p)?)?;
    }
    if let (Some(pq), Some(ix)) = (a.pos_query, a.index) {
        scores = (scores + gather_relative(a.k, pq, &ix.p2c)?)?;
    }
    let mut probs = ops::masked_softmax(&scores, a.mask, a.scale)?;
    if let Some(m) = a.dropout {
        let m = Tensor::from_vec(m, probs.shape(), probs.device())?;
        probs = probs.mul(&m)?;
    }
    probs
        .matmul(a.v)?
        .permute((1, 2, 0, 3))?
        .reshape((b, l, nh * d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_transformers() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/families/deberta-v3/log_buckets.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(cases.len(), 3);
        for c in cases {
            let buckets = c["buckets"].as_u64().unwrap() as usize;
            let max = c["max_position"].as_u64().unwrap() as usize;
            let first = c["first"].as_i64().unwrap();
            let want = c["bucket"].as_array().unwrap();
            assert!(want.len() > 2000);
            for (k, w) in want.iter().enumerate() {
                let rel = first + k as i64;
                assert_eq!(
                    log_bucket(rel, buckets, max),
                    w.as_i64().unwrap(),
                    "rel {rel}, buckets {buckets}, max {max}"
                );
            }
        }
    }

    #[test]
    fn indices_clamp_and_mirror() {
        // Without buckets, span 2: rel(i, j) = i − j clamped into [−2, 1] + 2.
        let ix = RelativeIndex::new(1, 4, 2, None, 8, &Device::Cpu).unwrap();
        let c2p = ix.c2p.to_vec1::<u32>().unwrap();
        let p2c = ix.p2c.to_vec1::<u32>().unwrap();
        // Row i = 3, key j = 0: rel 3 → clamp(5) = 3, in row 3 of width 4.
        assert_eq!(c2p[3 * 4], 3 * 4 + 3);
        // Row i = 0, key j = 3: rel −3 → clamp(−1) = 0.
        assert_eq!(c2p[3], 0);
        // p2c (i = 0, j = 3) reads key row 3 at clamp(−rel(3, 0) + 2) = clamp(−1) = 0.
        assert_eq!(p2c[3], 3 * 4);
        // p2c (i = 3, j = 0) reads key row 0 at clamp(−rel(0, 3) + 2) = clamp(5) = 3.
        assert_eq!(p2c[3 * 4], 3);
        // A second sequence reads its own rows.
        let ix2 = RelativeIndex::new(2, 4, 2, None, 8, &Device::Cpu).unwrap();
        let c2p2 = ix2.c2p.to_vec1::<u32>().unwrap();
        assert_eq!(c2p2[16 + 3 * 4], (4 + 3) * 4 + 3);
    }

    #[test]
    fn padded_queries_attend_uniformly() {
        let m = Tensor::new(&[[1u32, 1, 0]], &Device::Cpu).unwrap();
        let pm = pair_mask(&m).unwrap();
        let scores = Tensor::new(
            &[[[[0.3f32, -1.0, 2.0], [0.1, 0.2, 0.3], [5.0, 1.0, -2.0]]]],
            &Device::Cpu,
        )
        .unwrap();
        let p = ops::masked_softmax(&scores, &pm, 0.5)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        let rows = &p[0];
        assert_eq!(rows[0][2], 0.0);
        assert_eq!(rows[1][2], 0.0);
        for &x in &rows[2] {
            assert!((x - 1.0 / 3.0).abs() < 1e-7, "{:?}", rows[2]);
        }
    }
}
