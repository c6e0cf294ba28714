//! Fixture Hugging Face caches: parquet files written with the parquet crate, in a dataset's
//! snapshot folder with `refs/main` naming it, as `huggingface_hub` lays the cache out.

use dps_tui::hub::{HubSource, RepoKind};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, FloatType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const COMMIT: &str = "bcdcba79d07bc864c1c254ccfcedcce55bcc9a8c";

/// One column of a fixture parquet file (nullable, as Hugging Face's files are).
pub enum Col {
    Text(&'static str, Vec<&'static str>),
    Long(&'static str, Vec<i64>),
    Float(&'static str, Vec<f32>),
}

impl Col {
    fn schema(&self) -> String {
        match self {
            Col::Text(n, _) => format!("OPTIONAL BINARY {n} (UTF8);"),
            Col::Long(n, _) => format!("OPTIONAL INT64 {n};"),
            Col::Float(n, _) => format!("OPTIONAL FLOAT {n};"),
        }
    }
    fn len(&self) -> usize {
        match self {
            Col::Text(_, v) => v.len(),
            Col::Long(_, v) => v.len(),
            Col::Float(_, v) => v.len(),
        }
    }
}

/// The columns of an NLI pair set on the Hub: `premise`, `hypothesis` and an integer `label`.
pub fn nli_columns(p: Vec<&'static str>, h: Vec<&'static str>, l: Vec<i64>) -> Vec<Col> {
    vec![
        Col::Text("premise", p),
        Col::Text("hypothesis", h),
        Col::Long("label", l),
    ]
}

/// Write a snappy-compressed parquet file with `cols` plus an `idx` column.
pub fn write_parquet(path: &Path, cols: &[Col]) {
    let n = cols[0].len();
    let schema = format!(
        "message schema {{ {} OPTIONAL INT32 idx; }}",
        cols.iter().map(Col::schema).collect::<Vec<_>>().join(" ")
    );
    let schema = Arc::new(parse_message_type(&schema).unwrap());
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, schema, props).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let defs = vec![1i16; n];
    let idx: Vec<i32> = (0..n as i32).collect();
    let mut i = 0;
    while let Some(mut cw) = rg.next_column().unwrap() {
        match cols.get(i) {
            Some(Col::Text(_, v)) => {
                let vals: Vec<ByteArray> = v.iter().map(|s| ByteArray::from(*s)).collect();
                cw.typed::<ByteArrayType>()
                    .write_batch(&vals, Some(&defs), None)
                    .unwrap();
            }
            Some(Col::Long(_, v)) => {
                cw.typed::<Int64Type>()
                    .write_batch(v, Some(&defs), None)
                    .unwrap();
            }
            Some(Col::Float(_, v)) => {
                cw.typed::<FloatType>()
                    .write_batch(v, Some(&defs), None)
                    .unwrap();
            }
            None => {
                cw.typed::<Int32Type>()
                    .write_batch(&idx, Some(&defs), None)
                    .unwrap();
            }
        }
        cw.close().unwrap();
        i += 1;
    }
    rg.close().unwrap();
    w.close().unwrap();
}

pub fn snapshot_dir(cache: &Path, kind: RepoKind, repo: &str) -> PathBuf {
    let repo_dir = HubSource::offline(cache).repo_dir(kind, repo);
    std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
    std::fs::write(repo_dir.join("refs/main"), COMMIT).unwrap();
    repo_dir.join("snapshots").join(COMMIT)
}
