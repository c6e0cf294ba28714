//! A minimal reader of SentencePiece's `ModelProto` (`sentencepiece_model.proto`), the format of
//! `spm.model`: the pieces with their scores and types, the trainer's model type and unknown id,
//! and the normalizer's precompiled character map. Fields it does not need are skipped.

/// The type of a piece (`ModelProto.SentencePiece.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl PieceType {
    fn from_code(code: u64) -> Result<Self, String> {
        Ok(match code {
            1 => PieceType::Normal,
            2 => PieceType::Unknown,
            3 => PieceType::Control,
            4 => PieceType::UserDefined,
            5 => PieceType::Unused,
            6 => PieceType::Byte,
            other => return Err(format!("unknown piece type {other}")),
        })
    }
}

/// One vocabulary entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub piece: String,
    pub score: f32,
    pub kind: PieceType,
}

/// The parts of a `ModelProto` that a tokenizer is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct SpmModel {
    pub pieces: Vec<Piece>,
    /// `TrainerSpec.model_type`: 1 unigram, 2 BPE, 3 word, 4 char.
    pub model_type: u64,
    /// `TrainerSpec.unk_id`.
    pub unk_id: usize,
    /// `TrainerSpec.byte_fallback`.
    pub byte_fallback: bool,
    /// `NormalizerSpec.precompiled_charsmap` (empty when absent).
    pub precompiled_charsmap: Vec<u8>,
}

/// The protobuf wire types.
const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

/// One field of a message: its number and value.
enum Value<'a> {
    Varint(u64),
    Fixed32([u8; 4]),
    Bytes(&'a [u8]),
    Other,
}

/// A cursor over the fields of one message.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or("truncated varint at the end of the data")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint longer than 10 bytes at byte {}", self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| {
            format!(
                "a field of {n} bytes at byte {} runs past the end ({} bytes)",
                self.pos,
                self.buf.len()
            )
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field, or `None` at the end of the message.
    fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, String> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (number, wire) = (key >> 3, key & 7);
        let value = match wire {
            VARINT => Value::Varint(self.varint()?),
            FIXED64 => {
                self.take(8)?;
                Value::Other
            }
            LEN => {
                let n = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
                Value::Bytes(self.take(n)?)
            }
            FIXED32 => {
                let b = self.take(4)?;
                Value::Fixed32([b[0], b[1], b[2], b[3]])
            }
            other => return Err(format!("unsupported wire type {other} for field {number}")),
        };
        Ok(Some((number, value)))
    }
}

fn string(bytes: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

fn piece(buf: &[u8], index: usize) -> Result<Piece, String> {
    let mut p = Piece {
        piece: String::new(),
        score: 0.0,
        kind: PieceType::Normal,
    };
    let mut f = Fields::new(buf);
    while let Some((number, value)) = f.next_field()? {
        match (number, value) {
            (1, Value::Bytes(b)) => p.piece = string(b, &format!("piece {index}"))?,
            (2, Value::Fixed32(b)) => p.score = f32::from_le_bytes(b),
            (3, Value::Varint(v)) => {
                p.kind = PieceType::from_code(v).map_err(|e| format!("piece {index}: {e}"))?
            }
            _ => {}
        }
    }
    Ok(p)
}

/// Parse the bytes of an `spm.model` file.
pub fn parse(buf: &[u8]) -> Result<SpmModel, String> {
    let mut m = SpmModel {
        pieces: Vec::new(),
        model_type: 1,
        unk_id: 0,
        byte_fallback: false,
        precompiled_charsmap: Vec::new(),
    };
    let mut f = Fields::new(buf);
    while let Some((number, value)) = f.next_field()? {
        match (number, value) {
            (1, Value::Bytes(b)) => m.pieces.push(piece(b, m.pieces.len())?),
            (2, Value::Bytes(b)) => {
                let mut t = Fields::new(b);
                while let Some((n, v)) = t.next_field()? {
                    match (n, v) {
                        (3, Value::Varint(v)) => m.model_type = v,
                        (35, Value::Varint(v)) => m.byte_fallback = v != 0,
                        (40, Value::Varint(v)) => {
                            m.unk_id = usize::try_from(v).map_err(|_| "unk_id out of range")?
                        }
                        _ => {}
                    }
                }
            }
            (3, Value::Bytes(b)) => {
                let mut n = Fields::new(b);
                while let Some((k, v)) = n.next_field()? {
                    if let (2, Value::Bytes(map)) = (k, v) {
                        m.precompiled_charsmap = map.to_vec();
                    }
                }
            }
            _ => {}
        }
    }
    if m.pieces.is_empty() {
        return Err("no pieces: this is not a SentencePiece model".into());
    }
    if m.unk_id >= m.pieces.len() {
        return Err(format!(
            "unk_id {} is not a piece (there are {})",
            m.unk_id,
            m.pieces.len()
        ));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn bytes_field(number: u64, b: &[u8], out: &mut Vec<u8>) {
        varint(number << 3 | LEN, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }

    fn piece_msg(s: &str, score: f32, kind: u64) -> Vec<u8> {
        let mut p = Vec::new();
        bytes_field(1, s.as_bytes(), &mut p);
        varint(2 << 3 | FIXED32, &mut p);
        p.extend_from_slice(&score.to_le_bytes());
        varint(3 << 3, &mut p);
        varint(kind, &mut p);
        p
    }

    #[test]
    fn reads_pieces_trainer_and_normalizer_fields() {
        let mut buf = Vec::new();
        bytes_field(1, &piece_msg("[PAD]", 0.0, 3), &mut buf);
        bytes_field(1, &piece_msg("<unk>", 0.0, 2), &mut buf);
        bytes_field(1, &piece_msg("▁the", -3.25, 1), &mut buf);
        let mut trainer = Vec::new();
        bytes_field(1, b"input.txt", &mut trainer); // skipped
        varint(3 << 3, &mut trainer);
        varint(1, &mut trainer);
        varint(40 << 3, &mut trainer);
        varint(1, &mut trainer);
        varint(7 << 3 | FIXED64, &mut trainer); // an unknown 64-bit field, skipped
        trainer.extend_from_slice(&[0; 8]);
        bytes_field(2, &trainer, &mut buf);
        let mut norm = Vec::new();
        bytes_field(1, b"nmt_nfkc", &mut norm);
        bytes_field(2, &[1, 2, 3], &mut norm);
        bytes_field(3, &norm, &mut buf);
        let m = parse(&buf).unwrap();
        assert_eq!(m.pieces.len(), 3);
        assert_eq!(m.pieces[2].piece, "▁the");
        assert_eq!(m.pieces[2].score, -3.25);
        assert_eq!(m.pieces[0].kind, PieceType::Control);
        assert_eq!(m.pieces[1].kind, PieceType::Unknown);
        assert_eq!((m.model_type, m.unk_id), (1, 1));
        assert_eq!(m.precompiled_charsmap, vec![1, 2, 3]);
    }

    #[test]
    fn truncated_or_foreign_data_is_an_error() {
        let mut buf = Vec::new();
        bytes_field(1, &piece_msg("a", 0.0, 1), &mut buf);
        assert!(parse(&buf[..buf.len() - 2]).is_err());
        assert!(parse(b"{\"not\": \"protobuf\"}").is_err());
        assert!(parse(&[]).is_err());
    }
}
