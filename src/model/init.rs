//! The parameter list of a model: named shapes ([`ParamSpec`]), filled from checkpoint tensors
//! or freshly initialised as `transformers` does.

use std::collections::HashMap;

use crate::rng::{self, STREAM_INIT};
use candle_core::{DType, Device, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::params::Param;
use super::ModelError;

/// How a new parameter is initialised.
#[derive(Debug, Clone, Copy)]
pub enum Init {
    /// N(0, initializer_range²).
    Normal,
    /// N(0, initializer_range²) with the padding row zeroed (as `transformers` does).
    Embedding {
        /// The row of the padding token.
        pad_row: Option<usize>,
    },
    /// All zeros (biases).
    Zeros,
    /// All ones (norm weights).
    Ones,
}

/// One parameter of a model: its name (without the base-model prefix), shape and
/// initialisation.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    /// The parameter name.
    pub name: String,
    /// Its shape (`[out, in]` for Linear weights).
    pub shape: Vec<usize>,
    /// How a fresh one is drawn.
    pub init: Init,
}

/// Collects [`ParamSpec`]s.
#[derive(Debug, Default)]
pub struct Specs(pub Vec<ParamSpec>);

impl Specs {
    /// Add one parameter.
    pub fn add(&mut self, name: impl Into<String>, shape: Vec<usize>, init: Init) {
        self.0.push(ParamSpec {
            name: name.into(),
            shape,
            init,
        });
    }

    /// A Linear layer `prefix.weight` `[out, in]` (normal) and, with `bias`, `prefix.bias`.
    pub fn linear(&mut self, prefix: &str, out_f: usize, in_f: usize, bias: bool) {
        self.add(format!("{prefix}.weight"), vec![out_f, in_f], Init::Normal);
        if bias {
            self.add(format!("{prefix}.bias"), vec![out_f], Init::Zeros);
        }
    }

    /// A LayerNorm of width `h`: `prefix.weight` (ones) and, with `bias`, `prefix.bias`.
    pub fn norm(&mut self, prefix: &str, h: usize, bias: bool) {
        self.add(format!("{prefix}.weight"), vec![h], Init::Ones);
        if bias {
            self.add(format!("{prefix}.bias"), vec![h], Init::Zeros);
        }
    }

    /// The specs sorted by name.
    pub fn sorted(mut self) -> Vec<ParamSpec> {
        self.0.sort_by(|a, b| a.name.cmp(&b.name));
        self.0
    }
}

/// Draw one standard-normal sample (Box–Muller) from the RNG.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    loop {
        let u1: f64 = rng.random();
        let u2: f64 = rng.random();
        if u1 > f64::MIN_POSITIVE {
            return (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        }
    }
}

/// Create a freshly initialised tensor for `spec`.
pub fn init_tensor(
    spec: &ParamSpec,
    std: f64,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<Tensor, ModelError> {
    let n: usize = spec.shape.iter().product();
    let data: Vec<f32> = match spec.init {
        Init::Zeros => vec![0.0; n],
        Init::Ones => vec![1.0; n],
        Init::Normal | Init::Embedding { .. } => {
            let mut v: Vec<f32> = (0..n)
                .map(|_| (standard_normal(rng) * std) as f32)
                .collect();
            if let Init::Embedding { pad_row: Some(r) } = spec.init {
                let cols = spec.shape[1];
                if r < spec.shape[0] {
                    v[r * cols..(r + 1) * cols].fill(0.0);
                }
            }
            v
        }
    };
    Ok(Tensor::from_vec(data, spec.shape.as_slice(), device)?)
}

/// Every parameter drawn fresh from a ChaCha8 RNG seeded with `seed`, in spec order.
pub fn random_params(
    specs: &[ParamSpec],
    std: f64,
    device: &Device,
    seed: u64,
) -> Result<Vec<Param>, ModelError> {
    let mut rng = rng::seeded(seed, STREAM_INIT);
    specs
        .iter()
        .map(|spec| {
            let t = init_tensor(spec, std, &mut rng, device)?;
            Ok(Param::new(spec.name.clone(), Var::from_tensor(&t)?))
        })
        .collect()
}

/// The parameters of `specs` taken from `tensors` (already renamed to parameter names). A
/// missing parameter whose name starts with one of `head_roots` is initialised (normal
/// weights, zero biases, from a ChaCha8 RNG seeded with `seed`) and its name returned; any
/// other missing parameter, or a tensor of the wrong shape, is an error naming it. Tensors no
/// spec uses are logged and dropped.
pub fn params_from_tensors(
    specs: &[ParamSpec],
    mut by_name: HashMap<String, Tensor>,
    head_roots: &[&str],
    std: f64,
    device: &Device,
    seed: u64,
) -> Result<(Vec<Param>, Vec<String>), ModelError> {
    let mut rng = rng::seeded(seed, STREAM_INIT);
    let mut initialised = Vec::new();
    let mut params = Vec::with_capacity(specs.len());
    for spec in specs {
        let root = spec.name.split('.').next().unwrap_or("");
        let tensor = match by_name.remove(&spec.name) {
            Some(t) => {
                if t.dims() != spec.shape.as_slice() {
                    return Err(ModelError::ShapeMismatch {
                        name: spec.name.clone(),
                        expected: spec.shape.clone(),
                        found: t.dims().to_vec(),
                    });
                }
                t.to_dtype(DType::F32)?.to_device(device)?
            }
            None if head_roots.contains(&root) => {
                initialised.push(spec.name.clone());
                init_tensor(spec, std, &mut rng, device)?
            }
            None => {
                return Err(ModelError::MissingTensor {
                    name: spec.name.clone(),
                    source_file: None,
                })
            }
        };
        params.push(Param::new(spec.name.clone(), Var::from_tensor(&tensor)?));
    }
    if !by_name.is_empty() {
        let mut unused: Vec<&String> = by_name.keys().collect();
        unused.sort();
        tracing::warn!(
            "ignoring {} tensors the model does not use: {:?}",
            unused.len(),
            unused
        );
    }
    Ok((params, initialised))
}

/// Rename checkpoint tensors to parameter names: strip `prefix.` (the base model), rename
/// legacy `gamma`/`beta` to `weight`/`bias`, drop names `ignored` says to. The same name twice
/// (with and without the prefix) is an error.
pub fn rename_tensors(
    tensors: HashMap<String, Tensor>,
    prefix: &str,
    ignored: impl Fn(&str) -> bool,
) -> Result<HashMap<String, Tensor>, ModelError> {
    let mut by_name = HashMap::with_capacity(tensors.len());
    let dotted = format!("{prefix}.");
    for (raw, t) in tensors {
        let n = raw.strip_prefix(&dotted).unwrap_or(&raw);
        let name = if let Some(stem) = n.strip_suffix(".gamma") {
            format!("{stem}.weight")
        } else if let Some(stem) = n.strip_suffix(".beta") {
            format!("{stem}.bias")
        } else {
            n.to_string()
        };
        if ignored(&name) {
            continue;
        }
        if by_name.insert(name.clone(), t).is_some() {
            return Err(ModelError::DuplicateTensor { name });
        }
    }
    Ok(by_name)
}
