//! Attachments (SPEC §3.6): uploads, lookups, the bytes read piece by piece with SQLite's
//! incremental blob I/O, and retention of uploads no message uses. Inbound attachments are
//! stored by [`super::messages::insert_inbound`] and served by the same functions.

use rusqlite::{Connection, OptionalExtension, Row, params};
use sha2::{Digest, Sha256};

use super::sql::unsigned;
use super::{Resource, StoreError, Tx};
use crate::domain::message::{Attachment, AttachmentMeta};
use crate::domain::{AccountId, AttachmentId, Timestamp};

/// An upload, ready to store.
#[derive(Debug, Clone, Copy)]
pub struct NewUpload<'a> {
    /// Sanitised filename.
    pub filename: &'a str,
    /// MIME type (see [`crate::domain::message::upload_content_type`]).
    pub content_type: &'a str,
    /// The bytes.
    pub content: &'a [u8],
}

/// Stores an upload.
pub fn insert_upload(
    tx: &Tx<'_>,
    account_id: AccountId,
    upload: &NewUpload<'_>,
    now: Timestamp,
) -> Result<Attachment, StoreError> {
    let id = AttachmentId::new();
    let sha256 = hex::encode(Sha256::digest(upload.content));
    tx.prepare_cached(
        "INSERT INTO attachments (id, account_id, filename, content_type, size, sha256, origin,
             created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'upload', ?7)",
    )?
    .execute(params![
        id,
        account_id,
        upload.filename,
        upload.content_type,
        i64::try_from(upload.content.len()).unwrap_or(i64::MAX),
        sha256,
        now
    ])?;
    insert_pieces(tx, id, upload.content)?;
    Ok(Attachment {
        meta: AttachmentMeta {
            id,
            filename: upload.filename.to_owned(),
            content_type: upload.content_type.to_owned(),
            size: upload.content.len() as u64,
        },
        sha256,
        created_at: now,
    })
}

/// Bytes per stored piece of an attachment (fixed: migration 2 cut existing ones to it).
pub const PIECE: usize = 256 * 1024;

/// Stores an attachment's bytes, [`PIECE`] at a time (after its `attachments` row).
pub(super) fn insert_pieces(
    tx: &Tx<'_>,
    id: AttachmentId,
    content: &[u8],
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO attachment_pieces (attachment_id, seq, data) VALUES (?1, ?2, ?3)",
    )?;
    for (seq, piece) in content.chunks(PIECE).enumerate() {
        stmt.execute(params![id, i64::try_from(seq).unwrap_or(i64::MAX), piece])?;
    }
    Ok(())
}

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
pub fn get(
    conn: &Connection,
    account_id: AccountId,
    id: AttachmentId,
) -> Result<Attachment, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM attachments WHERE id = ?1 AND account_id = ?2"
    ))?
    .query_row(params![id, account_id], attachment_from_row)
    .optional()?
    .ok_or(StoreError::NotFound(Resource::Attachment))
}

/// An attachment of any account: for presigned links, whose signature is the authorisation.
pub fn get_unchecked(conn: &Connection, id: AttachmentId) -> Result<Attachment, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM attachments WHERE id = ?1"))?
        .query_row(params![id], attachment_from_row)
        .optional()?
        .ok_or(StoreError::NotFound(Resource::Attachment))
}

/// An attachment of the account with all its bytes (composing a message needs them whole).
pub fn with_content(
    conn: &Connection,
    account_id: AccountId,
    id: AttachmentId,
) -> Result<(AttachmentMeta, Vec<u8>), StoreError> {
    let meta = get(conn, account_id, id)?.meta;
    let mut content = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0));
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM attachment_pieces WHERE attachment_id = ?1 ORDER BY seq",
    )?;
    let mut rows = stmt.query([id])?;
    while let Some(row) = rows.next()? {
        let piece: Vec<u8> = row.get(0)?;
        content.extend_from_slice(&piece);
    }
    Ok((meta, content))
}

/// Piece `seq` of an attachment's bytes (see [`PIECE`]), read with incremental blob I/O
/// straight into the returned buffer; `None` past the end.
pub fn read_piece(
    conn: &Connection,
    id: AttachmentId,
    seq: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let rowid: Option<i64> = conn
        .prepare_cached(
            "SELECT rowid FROM attachment_pieces WHERE attachment_id = ?1 AND seq = ?2",
        )?
        .query_row(params![id, i64::try_from(seq).unwrap_or(i64::MAX)], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(rowid) = rowid else {
        return Ok(None);
    };
    let blob = conn.blob_open(
        rusqlite::MAIN_DB,
        c"attachment_pieces",
        c"data",
        rowid,
        true,
    )?;
    let mut buf = vec![0; blob.len()];
    blob.read_at_exact(&mut buf, 0)?;
    Ok(Some(buf))
}

/// Deletes uploads created before `before` that no message uses; returns how many.
pub fn purge_unused_uploads(tx: &Tx<'_>, before: Timestamp) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "DELETE FROM attachments
         WHERE origin = 'upload' AND created_at < ?1
           AND NOT EXISTS (SELECT 1 FROM message_attachments m WHERE m.attachment_id = attachments.id)",
        [before],
    )?)
}
