//! The raw tab-separated reader used for GLUE files.
//!
//! GLUE's TSV files are read the way GLUE's own scripts read them: split lines on `'\n'`
//! (a trailing `'\r'` is dropped), split fields on `'\t'`, and never interpret quotes: a field
//! such as `"the witness",` is kept verbatim. A UTF-8 byte-order mark at the start of the file
//! (MRPC has one) is removed, a missing final newline is fine, and empty lines are skipped.

use super::DataError;
use std::path::Path;

/// One non-empty line of a TSV file, split on tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsvRow<'a> {
    /// 1-based line number in the file.
    pub line: usize,
    /// The tab-separated fields, verbatim.
    pub fields: Vec<&'a str>,
}

/// Read a whole file as UTF-8 text. Invalid UTF-8 is reported with its line number.
pub fn read_text(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        DataError::Parse {
            path: path.to_path_buf(),
            line,
            message: "the line is not valid UTF-8. Fix: re-save the file as UTF-8".into(),
        }
    })
}

/// The non-empty rows of TSV `text`, in file order, with their 1-based line numbers.
pub fn rows(text: &str) -> impl Iterator<Item = TsvRow<'_>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n').enumerate().filter_map(|(i, line)| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            None
        } else {
            Some(TsvRow {
                line: i + 1,
                fields: line.split('\t').collect(),
            })
        }
    })
}

/// A [`DataError::Parse`] for `path` at 1-based `line`.
pub fn parse_error(path: &Path, line: usize, message: impl Into<String>) -> DataError {
    DataError::Parse {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_bom_crlf_and_skips_empty_lines() {
        let text = "\u{feff}a\tb\r\n\n\"x\ty\"\tz";
        let r: Vec<_> = rows(text).collect();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].line, 1);
        assert_eq!(r[0].fields, vec!["a", "b"]);
        assert_eq!(r[1].line, 3);
        assert_eq!(r[1].fields, vec!["\"x", "y\"", "z"]);
    }

    #[test]
    fn keeps_empty_fields() {
        let r: Vec<_> = rows("gj04\t1\t\tA sentence.\n").collect();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].fields, vec!["gj04", "1", "", "A sentence."]);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.tsv");
        std::fs::write(&p, b"a\tb\nc\t\xff\n").unwrap();
        let e = read_text(&p).unwrap_err().to_string();
        assert!(e.contains("bad.tsv:2:"), "{e}");
    }
}
