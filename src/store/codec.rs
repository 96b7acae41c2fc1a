//! Compression of stored bytes with zstd: raw messages and replayed response bodies (each
//! blob stored with a codec number beside it, so rows written before compression, codec 0,
//! read as they always did, and a later codec can be added the same way), and message bodies
//! ([`Body`], whose storage class says how they are stored). SQL cannot look inside a
//! compressed body: anything that searches bodies reads them through the store.

use std::cell::RefCell;

use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, Type, ValueRef};

use super::Failure;

/// The bytes as they are.
pub(super) const PLAIN: i64 = 0;
/// A zstd frame.
pub(super) const ZSTD: i64 = 1;

/// The first bytes of every zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// What [`Body::Unchanged`] is stored as.
const UNCHANGED: &[u8] = &ZSTD_MAGIC;

/// zstd's default level: fast (hundreds of MB/s) and about 2–3× smaller for mail text.
const LEVEL: i32 = 3;
/// Smaller blobs are stored plain: the saving would be a few bytes.
const MIN_SIZE: usize = 128;
/// Larger blobs are stored plain: compression runs on the single writer thread, where a
/// multi-megabyte message (mostly base64 attachments, which shrink little) would hold up
/// every other write for tens of milliseconds.
const MAX_SIZE: usize = 1 << 20;

thread_local! {
    /// Each thread's compression and decompression contexts, made once: a fresh context per
    /// blob costs an allocation of hundreds of kilobytes and the page faults to zero it, more
    /// than compressing a mail.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        RefCell::new(zstd::bulk::Compressor::new(LEVEL).ok());
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        RefCell::new(zstd::bulk::Decompressor::new().ok());
}

/// The compressed form of `pieces` (one blob, in order) when it is worth storing instead.
pub(super) fn compress(pieces: &[&[u8]]) -> Option<Vec<u8>> {
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    if !(MIN_SIZE..=MAX_SIZE).contains(&len) {
        return None;
    }
    let joined;
    let input = match pieces {
        [one] => *one,
        _ => {
            joined = pieces.concat();
            joined.as_slice()
        }
    };
    // One frame with its content size in the header, which sizes the decompression buffer.
    let out = COMPRESSOR.with_borrow_mut(|c| c.as_mut()?.compress(input).ok())?;
    // Keep the plain bytes unless compression saves at least a tenth.
    (out.len() < len - len / 10).then_some(out)
}

/// A message body as it is stored: compressed into a BLOB when that pays, or else the text
/// itself. The value's storage class is the codec: a BLOB in a text column is a zstd frame,
/// TEXT is the text (every body stored before compression was TEXT). Bodies are most of a
/// message's row: compressed, a 2 KB body's row fits three to a page instead of one.
pub(super) enum Body<'a> {
    /// Stored as it is.
    Plain(Option<&'a str>),
    /// A zstd frame.
    Packed(Vec<u8>),
    /// Stored as zstd's magic number alone (never a whole frame, never UTF-8 text): what
    /// the body it was derived from gives when nothing is taken out of it (a message's new
    /// content is most often the whole body, and would otherwise be stored twice).
    Unchanged,
}

impl<'a> Body<'a> {
    /// The stored form of `text`.
    pub(super) fn of(text: Option<&'a str>) -> Self {
        match text.and_then(|t| compress(&[t.as_bytes()])) {
            Some(packed) => Body::Packed(packed),
            None => Body::Plain(text),
        }
    }

    /// The stored form of `text`, derived from `body`: [`Body::Unchanged`] when it is what
    /// `unchanged` makes of the body.
    pub(super) fn derived(
        text: Option<&'a str>,
        body: Option<&str>,
        unchanged: fn(&str) -> String,
    ) -> Self {
        match (text, body) {
            (Some(text), Some(body)) if text == unchanged(body) => Body::Unchanged,
            _ => Body::of(text),
        }
    }

    /// Reads back a text stored with [`Body::derived`] from `body` and `unchanged`.
    pub(super) fn read_derived(
        value: ValueRef<'_>,
        body: &Option<String>,
        unchanged: fn(&str) -> String,
    ) -> rusqlite::Result<Option<String>> {
        match value {
            ValueRef::Blob(marker) if marker == UNCHANGED => Ok(body.as_deref().map(unchanged)),
            other => Self::read(other),
        }
    }

    /// Reads a stored body back.
    pub(super) fn read(value: ValueRef<'_>) -> rusqlite::Result<Option<String>> {
        let bad = |e: String| rusqlite::Error::FromSqlConversionFailure(0, Type::Blob, e.into());
        match value {
            ValueRef::Null => Ok(None),
            ValueRef::Text(text) => String::from_utf8(text.to_vec())
                .map(Some)
                .map_err(|e| bad(e.to_string())),
            // PostgreSQL keeps bodies in BYTEA, where the text itself comes back as a blob:
            // UTF-8 text never begins with zstd's magic number (0xB5 cannot follow '(').
            ValueRef::Blob(text) if !text.starts_with(&ZSTD_MAGIC) => {
                String::from_utf8(text.to_vec())
                    .map(Some)
                    .map_err(|e| bad(e.to_string()))
            }
            ValueRef::Blob(packed) => {
                let bytes = decompress(ZSTD, packed.to_vec()).map_err(|e| bad(e.to_string()))?;
                String::from_utf8(bytes)
                    .map(Some)
                    .map_err(|e| bad(e.to_string()))
            }
            ValueRef::Integer(_) | ValueRef::Real(_) => Err(bad("a number as a body".to_owned())),
        }
    }
}

impl ToSql for Body<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Body::Plain(text) => ToSqlOutput::Borrowed(match text {
                Some(t) => ValueRef::Text(t.as_bytes()),
                None => ValueRef::Null,
            }),
            Body::Packed(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            Body::Unchanged => ToSqlOutput::Borrowed(ValueRef::Blob(UNCHANGED)),
        })
    }
}

/// The original bytes of a blob stored with `codec`.
pub(super) fn decompress(codec: i64, bytes: Vec<u8>) -> Result<Vec<u8>, Failure> {
    let bad = |e: &dyn std::fmt::Display| {
        Failure::corrupt(format!("a compressed blob does not decode: {e}"))
    };
    match codec {
        PLAIN => Ok(bytes),
        ZSTD => {
            let size = zstd::zstd_safe::get_frame_content_size(&bytes)
                .ok()
                .flatten()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n <= MAX_SIZE)
                .ok_or_else(|| bad(&"no content size, or too large"))?;
            DECOMPRESSOR.with_borrow_mut(|d| match d.as_mut() {
                Some(d) => d.decompress(&bytes, size).map_err(|e| bad(&e)),
                None => zstd::bulk::decompress(&bytes, size).map_err(|e| bad(&e)),
            })
        }
        other => Err(Failure::corrupt(format!("unknown blob codec {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_compressed_and_reads_back_and_small_or_random_blobs_stay_plain() {
        let text =
            "Subject: hello\r\n\r\nThe quick brown fox jumps over the lazy dog.\r\n".repeat(40);
        let (head, tail) = text.as_bytes().split_at(100);
        let packed = compress(&[head, tail]).expect("text shrinks");
        assert!(packed.len() < text.len() / 3, "{}", packed.len());
        assert_eq!(decompress(ZSTD, packed).unwrap(), text.as_bytes());

        assert_eq!(compress(&[b"short"]), None);
        let mut noise = vec![0u8; 4096];
        getrandom::fill(&mut noise).unwrap();
        assert_eq!(compress(&[&noise]), None, "random bytes do not shrink");
        assert_eq!(decompress(PLAIN, noise.clone()).unwrap(), noise);
        assert!(decompress(ZSTD, b"not zstd".to_vec()).is_err());
        assert!(decompress(7, Vec::new()).is_err());
    }
}
