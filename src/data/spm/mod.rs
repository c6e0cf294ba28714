//! SentencePiece tokenizers: `spm.model` (with `tokenizer_config.json`), as DeBERTa-v2/v3
//! publish them instead of a `tokenizer.json`.
//!
//! - [`proto`]: a minimal reader of the `ModelProto` protobuf in `spm.model`;
//! - [`convert`]: the `tokenizers` tokenizer that `transformers`' `DebertaV2TokenizerFast`
//!   builds from it.

pub mod convert;
pub mod proto;

pub use convert::{deberta_v2_tokenizer, DebertaV2Options};

use std::path::Path;
use tokenizers::Tokenizer;

/// The SentencePiece model file of a model folder.
pub const SPM_MODEL: &str = "spm.model";
/// The tokenizer settings beside it.
pub const TOKENIZER_CONFIG: &str = "tokenizer_config.json";

/// Read `spm_path` and the `tokenizer_config.json` beside it (defaults when there is none) as
/// a DeBERTa-v2 tokenizer. Errors name the file at fault.
pub fn load_deberta_v2(spm_path: &Path) -> Result<Tokenizer, String> {
    let bytes = std::fs::read(spm_path).map_err(|e| format!("{}: {e}", spm_path.display()))?;
    let model = proto::parse(&bytes).map_err(|e| {
        format!(
            "{}: not a SentencePiece model ({e}); re-download it",
            spm_path.display()
        )
    })?;
    let config_path = spm_path.with_file_name(TOKENIZER_CONFIG);
    let options = if config_path.is_file() {
        let text = std::fs::read_to_string(&config_path)
            .map_err(|e| format!("{}: {e}", config_path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: invalid JSON: {e}", config_path.display()))?;
        let map = value
            .as_object()
            .ok_or_else(|| format!("{}: must hold a JSON object", config_path.display()))?;
        DebertaV2Options::from_config(map).map_err(|e| format!("{}: {e}", config_path.display()))?
    } else {
        DebertaV2Options::default()
    };
    deberta_v2_tokenizer(&model, &options).map_err(|e| format!("{}: {e}", spm_path.display()))
}
