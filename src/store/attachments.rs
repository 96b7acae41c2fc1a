//! Attachments: uploads and parts of received mail, lookups, the bytes kept and
//! read in pieces of [`PIECE`] bytes, and retention of attachments no message uses.

use super::conn::Row;
use crate::domain::Refusal;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::Db;
use super::sql::unsigned;
use super::{Failure, Tx};
use crate::domain::Resource;
use crate::domain::message::{Attachment, AttachmentMeta};
use crate::domain::{AccountId, AttachmentId, MessageId, Timestamp};

/// An attachment ready to store.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    /// Sanitised filename.
    pub filename: String,
    /// MIME type.
    pub content_type: &'a str,
    /// The bytes.
    pub content: &'a [u8],
    /// `Content-ID` (inline parts of received mail).
    pub content_id: Option<&'a str>,
}

/// Where an attachment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `POST /attachments`.
    Upload,
    /// A part of received mail.
    Inbound,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Upload => "upload",
            Origin::Inbound => "inbound",
        }
    }
}

/// Stores an attachment and its bytes.
pub fn insert(
    tx: &Tx<'_>,
    account_id: AccountId,
    a: &NewAttachment<'_>,
    origin: Origin,
    now: Timestamp,
) -> Result<Attachment, Failure> {
    let id = AttachmentId::new();
    let sha256 = hex::encode(Sha256::digest(a.content));
    tx.sql()
        .prepare_cached(
            "INSERT INTO attachments (id, account_id, filename, content_type, size, sha256,
             content_id, origin, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            id,
            account_id,
            a.filename,
            a.content_type,
            i64::try_from(a.content.len()).unwrap_or(i64::MAX),
            sha256,
            a.content_id,
            origin.as_str(),
            now
        ])?;
    let mut piece_stmt = tx.sql().prepare_cached(
        "INSERT INTO attachment_pieces (attachment_id, seq, data) VALUES (?1, ?2, ?3)",
    )?;
    for (seq, piece) in a.content.chunks(PIECE).enumerate() {
        piece_stmt.execute(params![id, i64::try_from(seq).unwrap_or(i64::MAX), piece])?;
    }
    Ok(Attachment {
        meta: AttachmentMeta {
            id,
            filename: a.filename.clone(),
            content_type: a.content_type.to_owned(),
            size: a.content.len() as u64,
        },
        sha256,
        created_at: now,
    })
}

/// Bytes per stored piece of an attachment. Fixed: a download finds byte `n` in piece
/// `n / PIECE`, and migration 2 cut the attachments of older databases to this size.
pub const PIECE: usize = 256 * 1024;

const COLUMNS: &str = "id, filename, content_type, size, sha256, created_at";

fn attachment_from_row(r: &Row<'_>) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        meta: AttachmentMeta {
            id: r.get(0)?,
            filename: r.get(1)?,
            content_type: r.get(2)?,
            size: unsigned(r, "size")?,
        },
        sha256: r.get(4)?,
        created_at: r.get(5)?,
    })
}

/// An attachment of the account (uploaded or received).
pub fn get(conn: &Db, account_id: AccountId, id: AttachmentId) -> Result<Attachment, Failure> {
    conn.sql()
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM attachments WHERE id = ?1 AND account_id = ?2"
        ))?
        .query_row(params![id, account_id], attachment_from_row)
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Attachment)))
}

/// An attachment of any account: for presigned links, whose signature is the authorisation.
pub fn get_unchecked(conn: &Db, id: AttachmentId) -> Result<Attachment, Failure> {
    conn.sql()
        .prepare_cached(&format!("SELECT {COLUMNS} FROM attachments WHERE id = ?1"))?
        .query_row(params![id], attachment_from_row)
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Attachment)))
}

/// An attachment of the account with all its bytes (composing a message needs them whole).
pub fn with_content(
    conn: &Db,
    account_id: AccountId,
    id: AttachmentId,
) -> Result<(AttachmentMeta, Vec<u8>), Failure> {
    let meta = get(conn, account_id, id)?.meta;
    let content = content(conn, id, meta.size)?;
    Ok((meta, content))
}

/// All the bytes of attachment `id`, of `size` bytes, its pieces in order.
fn content(conn: &Db, id: AttachmentId, size: u64) -> Result<Vec<u8>, Failure> {
    let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut stmt = conn.sql().prepare_cached(
        "SELECT data FROM attachment_pieces WHERE attachment_id = ?1 ORDER BY seq",
    )?;
    let mut rows = stmt.query([id])?;
    while let Some(row) = rows.next()? {
        let piece = row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
        content.extend_from_slice(piece);
    }
    Ok(content)
}

/// The inline images of a message (parts with a content id and an `image/*` type) whose
/// content ids are `wanted`, as content id (without angle brackets), media type and bytes, up
/// to `max_bytes` in all (larger ones are left out).
pub fn inline_images(
    conn: &Db,
    message_id: MessageId,
    wanted: &[String],
    max_bytes: u64,
) -> Result<Vec<(String, String, Vec<u8>)>, Failure> {
    let parts = conn
        .sql()
        .prepare_cached(
            "SELECT a.id, a.content_id, a.content_type, a.size
             FROM message_attachments ma JOIN attachments a ON a.id = ma.attachment_id
             WHERE ma.message_id = ?1 AND a.content_id IS NOT NULL
               AND a.content_type LIKE 'image/%'
             ORDER BY ma.position",
        )?
        .query_map([message_id], |r| {
            Ok((
                r.get::<_, AttachmentId>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                unsigned::<u64>(r, "size")?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut budget = max_bytes;
    let mut images = Vec::new();
    for (id, content_id, content_type, size) in parts {
        let content_id = content_id
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned();
        if size > budget || !wanted.contains(&content_id) {
            continue;
        }
        budget -= size;
        images.push((content_id, content_type, content(conn, id, size)?));
    }
    Ok(images)
}

/// Piece `seq` of an attachment's bytes; `None` past the end (or when it was deleted).
pub fn read_piece(conn: &Db, id: AttachmentId, seq: u64) -> Result<Option<Vec<u8>>, Failure> {
    Ok(conn
        .sql()
        .prepare_cached("SELECT data FROM attachment_pieces WHERE attachment_id = ?1 AND seq = ?2")?
        .query_row(params![id, i64::try_from(seq).unwrap_or(i64::MAX)], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Attachments deleted per janitor pass at most, so that one pass never holds the writer long.
const PURGE_BATCH: i64 = 1000;

/// Deletes attachments created before `before` that no message uses: uploads never sent (a
/// part of received mail goes with the last message using it; should one be left over, it is
/// taken here too). Uploads a draft not yet sent names are kept: it may be scheduled for
/// longer than uploads are kept. Returns how many.
pub fn purge_unused(tx: &Tx<'_>, before: Timestamp) -> Result<usize, Failure> {
    Ok(tx.sql().execute(
        "DELETE FROM attachments WHERE id IN (
             SELECT a.id FROM attachments a
             WHERE a.created_at < ?1
               AND NOT EXISTS (SELECT 1 FROM message_attachments m WHERE m.attachment_id = a.id)
               AND NOT EXISTS (SELECT 1 FROM drafts d, json_each(d.attachment_ids) j
                               WHERE d.account_id = a.account_id AND d.status != 'sent'
                                 AND j.value = a.id)
             LIMIT ?2)",
        params![before, PURGE_BATCH],
    )?)
}

/// Migration 2, after its SQL created `attachment_pieces`: moves each attachment's bytes from
/// the old one-blob column into pieces, reading the old blob with incremental blob I/O (one
/// piece in memory at a time, each byte read once), then drops the old column.
pub(super) fn move_blobs_into_pieces(tx: &Tx<'_>) -> Result<(), Failure> {
    let rows: Vec<(i64, AttachmentId)> = tx
        .sql()
        .prepare("SELECT rowid, id FROM attachments")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut insert = tx
        .sql()
        .prepare("INSERT INTO attachment_pieces (attachment_id, seq, data) VALUES (?1, ?2, ?3)")?;
    let mut buf = vec![0; PIECE];
    for (rowid, id) in rows {
        let blob = tx.sql().sqlite_only()?.blob_open(
            rusqlite::MAIN_DB,
            c"attachments",
            c"content",
            rowid,
            true,
        )?;
        let len = blob.len();
        for (seq, start) in (0..len).step_by(PIECE).enumerate() {
            let piece = &mut buf[..PIECE.min(len - start)];
            blob.read_at_exact(piece, start)?;
            insert.execute(params![id, i64::try_from(seq).unwrap_or(i64::MAX), &*piece])?;
        }
    }
    tx.sql()
        .execute_batch("ALTER TABLE attachments DROP COLUMN content")?;
    Ok(())
}
