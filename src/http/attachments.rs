//! Attachments: upload (`multipart/form-data`, field `file`), metadata with a
//! presigned `url`, and the bytes, with the API key (`/content`) or through the presigned link
//! (`/download`, no key). Downloads are streamed from SQLite a piece at a time, so memory per
//! download stays at one piece whatever the file's size.

use crate::http::error_code::ErrorCode;
use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::body::SizedStream;
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use actix_web::web::{Bytes, Data, Path, Payload, Query};
use actix_web::{HttpRequest, HttpResponse, Responder};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::extract::{Authenticated, content_length, media_type_is};
use super::idempotency::{Idempotency, Reply};
use crate::budget::{Reservation, reserve_up_to};
use crate::domain::links::DownloadLinks;
use crate::domain::links::LinkError;
use crate::domain::message::{
    Attachment, AttachmentMeta, MAX_UPLOAD_SIZE, sanitize_filename, upload_content_type,
};
use crate::domain::{AttachmentId, Timestamp};
use crate::state::AppState;
use crate::store::Failure;
use crate::store::attachments::{self, NewAttachment, Origin};

/// An attachment on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentDto {
    #[schema(value_type = String, format = Uuid)]
    id: AttachmentId,
    /// Sanitised: no path, no control characters, at most 200 characters.
    filename: String,
    #[schema(example = "application/pdf")]
    content_type: String,
    /// Bytes.
    size: u64,
    /// SHA-256 of the bytes, hex (addition).
    sha256: String,
    /// Presigned download link, no API key needed; valid for one hour (configurable).
    url: String,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
}

impl AttachmentDto {
    pub(crate) fn new(a: Attachment, links: &DownloadLinks, now: Timestamp) -> Self {
        Self {
            url: links.url(a.meta.id, now),
            id: a.meta.id,
            filename: a.meta.filename,
            content_type: a.meta.content_type,
            size: a.meta.size,
            sha256: a.sha256,
            created_at: a.created_at,
        }
    }
}

/// The upload form, for the OpenAPI document.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes the request body for the OpenAPI document only"
)]
pub struct UploadForm {
    /// The file (at most 10 MiB); its filename and content type are taken from the part.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Upload an attachment to use in sends.
#[utoipa::path(post, path = "/attachments", tag = "Attachments", operation_id = "uploadAttachment",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = AttachmentDto),
        (status = 400, description = "No `file` part, more than one, or over 10 MiB (`ATTACHMENT_TOO_LARGE`)", body = ErrorBody),
        (status = 413, description = "Request body over the multipart limit", body = ErrorBody),
        (status = 408, description = "REQUEST_TIMEOUT: the body arrived too slowly", body = ErrorBody),
        (status = 415, description = "Not `multipart/form-data`", body = ErrorBody),
        (status = 503, description = "SERVER_BUSY: too much data in memory at once", body = ErrorBody),
    ))]
pub async fn upload(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    req: HttpRequest,
    payload: Payload,
) -> Result<Reply, ApiError> {
    if !media_type_is(req.headers(), "multipart/form-data") {
        return Err(ApiError::unsupported_media_type("multipart/form-data"));
    }
    let body_limit = state.config.http.multipart_body_limit;
    if content_length(req.headers()).is_some_and(|n| n > body_limit as u64) {
        return Err(ApiError::payload_too_large(body_limit));
    }
    // The key is checked before the body is read: a bad key never costs 10 MiB of buffering.
    let now = state.now();
    let who = state.store.read_as(&auth.0, now, |_, who| Ok(who)).await?;

    // Every byte of the body counts against the limit, part headers and skipped fields too.
    let mut read = 0usize;
    let body = payload.map(move |chunk| {
        let chunk = chunk?;
        read += chunk.len();
        if read > body_limit {
            return Err(PayloadError::Overflow);
        }
        Ok(chunk)
    });
    // Held until the upload is stored.
    let mut reserved = state.memory.reservation();
    let file = read_file_part(
        Multipart::new(req.headers(), body),
        body_limit,
        &mut reserved,
    )
    .await?;
    let links = state.links.clone();
    Ok(state
        .store
        .write(move |tx| {
            let new = NewAttachment {
                filename: file.filename,
                content_type: &file.content_type,
                content: &file.content,
                content_id: None,
            };
            let attachment = attachments::insert(tx, who.account_id, &new, Origin::Upload, now)?;
            let created = AttachmentDto::new(attachment, &links, now);
            idempotency.keep(tx, Reply::json(StatusCode::CREATED, &created)?)
        })
        .await?)
}

struct FilePart {
    filename: String,
    content_type: String,
    content: Vec<u8>,
}

/// Reads the one `file` part; other fields are skipped. Reading stops as soon as the file
/// passes 10 MiB, the body passes `body_limit`, the file would go past the server's memory
/// budget (`reserved` grows with it), or a second `file` part starts.
async fn read_file_part(
    mut form: Multipart,
    body_limit: usize,
    reserved: &mut Reservation,
) -> Result<FilePart, ApiError> {
    let mut file: Option<FilePart> = None;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| bad_form(e, body_limit))?;
        if field.name() != Some("file") {
            read_field(&mut field, None, body_limit).await?;
            continue;
        }
        if file.is_some() {
            return Err(ApiError::invalid_field(
                "file",
                "send exactly one `file` part per upload",
            ));
        }
        let disposition = field.content_disposition();
        let raw_name = disposition
            .and_then(|d| d.get_filename_ext())
            .and_then(|ext| String::from_utf8(ext.value.clone()).ok())
            .or_else(|| {
                disposition
                    .and_then(|d| d.get_filename())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let filename = sanitize_filename(&raw_name);
        let declared = field.content_type().map(ToString::to_string);
        let content_type = upload_content_type(declared.as_deref(), &filename);
        let content = read_field(
            &mut field,
            Some((MAX_UPLOAD_SIZE, &mut *reserved)),
            body_limit,
        )
        .await?;
        file = Some(FilePart {
            filename,
            content_type,
            content,
        });
    }
    file.ok_or_else(|| {
        ApiError::invalid_field(
            "file",
            "is required: a multipart/form-data part named `file`",
        )
    })
}

/// A field's bytes, when `keep` gives a maximum (more is ATTACHMENT_TOO_LARGE, refused without
/// reading further) and the reservation the memory they take must fit in (past the budget:
/// SERVER_BUSY); without it the field is read and dropped.
async fn read_field(
    field: &mut Field,
    mut keep: Option<(usize, &mut Reservation)>,
    body_limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut content = Vec::new();
    while let Some(chunk) = field
        .try_next()
        .await
        .map_err(|e| bad_form(e, body_limit))?
    {
        let Some((max, reserved)) = keep.as_mut() else {
            continue;
        };
        let max = *max;
        if content.len() + chunk.len() > max {
            return Err(ApiError::new(
                ErrorCode::AttachmentTooLarge,
                format!("An attachment can be at most {max} bytes (10 MiB)."),
            ));
        }
        reserve_up_to(&mut content, chunk.len(), max);
        if !reserved.grow_to(content.capacity()) {
            return Err(ApiError::busy());
        }
        content.extend_from_slice(&chunk);
    }
    Ok(content)
}

fn bad_form(e: MultipartError, body_limit: usize) -> ApiError {
    match e {
        MultipartError::Payload(PayloadError::Overflow) => ApiError::payload_too_large(body_limit),
        MultipartError::Payload(e) if super::conn::is_timeout(&e) => ApiError::request_timeout(),
        e => ApiError::bad_request(format!("The multipart body could not be read: {e}")),
    }
}

/// Get an attachment's metadata with a fresh presigned download link.
#[utoipa::path(get, path = "/attachments/{id}", tag = "Attachments", operation_id = "getAttachment",
    params(super::IdParam),
    responses(
        (status = 200, description = "The attachment", body = AttachmentDto),
        (status = 404, description = "No such attachment", body = ErrorBody),
    ))]
pub async fn get(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<AttachmentId>,
) -> Result<impl Responder, ApiError> {
    let attachment = of_account(&state, &auth, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(AttachmentDto::new(attachment, &state.links, state.now())))
}

/// Download an attachment's bytes with the API key.
#[utoipa::path(get, path = "/attachments/{id}/content", tag = "Attachments",
    operation_id = "getAttachmentContent", params(super::IdParam),
    responses(
        (status = 200, description = "The bytes, with the attachment's own content type", content_type = "*/*", body = Vec<u8>),
        (status = 404, description = "No such attachment", body = ErrorBody),
    ))]
pub async fn content(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<AttachmentId>,
) -> Result<impl Responder, ApiError> {
    let attachment = of_account(&state, &auth, id.into_inner()).await?;
    Ok(stream_bytes(&state, attachment.meta))
}

/// The caller's attachment `id`.
async fn of_account(
    state: &AppState,
    auth: &Authenticated,
    id: AttachmentId,
) -> Result<Attachment, ApiError> {
    Ok(state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            attachments::get(c, who.account_id, id)
        })
        .await?)
}

/// The query of a presigned link.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// Unix seconds.
    expires: String,
    /// Hex HMAC-SHA256.
    signature: String,
}

/// Download through a presigned link (the `url` of an attachment); no API key.
#[utoipa::path(get, path = "/attachments/{id}/download", tag = "Attachments",
    operation_id = "downloadAttachment", params(super::IdParam, LinkQuery),
    security(()),
    responses(
        (status = 200, description = "The bytes, with the attachment's own content type", content_type = "*/*", body = Vec<u8>),
        (status = 403, description = "Altered link (`INVALID_SIGNATURE`)", body = ErrorBody),
        (status = 404, description = "The attachment is gone", body = ErrorBody),
        (status = 410, description = "Expired link (`LINK_EXPIRED`)", body = ErrorBody),
    ))]
pub async fn download(
    state: Data<AppState>,
    id: Path<AttachmentId>,
    query: Option<Query<LinkQuery>>,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    let now = state.now();
    let checked = match &query {
        Some(q) => state.links.check(id, &q.expires, &q.signature, now),
        None => Err(LinkError::Invalid),
    };
    checked.map_err(|e| {
        ApiError::link_refused(
            e,
            "download link",
            "get a fresh one from GET /attachments/{id}",
        )
    })?;
    let attachment = state
        .store
        .read(move |c| attachments::get_unchecked(c, id))
        .await?;
    Ok(stream_bytes(&state, attachment.meta))
}

/// The response for a download: headers from the metadata, the body read from the database
/// one stored piece (256 KiB) at a time as the client takes it.
fn stream_bytes(state: &AppState, meta: AttachmentMeta) -> HttpResponse {
    let content_type = HeaderValue::from_str(&meta.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&meta.filename))
        .unwrap_or(HeaderValue::from_static("attachment"));
    let store = state.store.clone();
    let (id, size) = (meta.id, meta.size);
    let body = stream::try_unfold((0u64, 0u64), move |(seq, sent)| {
        let store = store.clone();
        async move {
            if sent >= size {
                return Ok(None);
            }
            let piece = store
                .read(move |c| attachments::read_piece(c, id, seq))
                .await?;
            match piece {
                Some(piece) if !piece.is_empty() && sent + piece.len() as u64 <= size => {
                    let sent = sent + piece.len() as u64;
                    Ok(Some((Bytes::from(piece), (seq + 1, sent))))
                }
                // Deleted meanwhile (or not the size recorded): end the response as broken
                // rather than short or long.
                _ => Err(Failure::task(format!(
                    "attachment {id}: piece {seq} does not continue {sent} of {size} bytes"
                ))),
            }
        }
    });
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CONTENT_DISPOSITION, disposition))
        // An HTML attachment must be downloaded, never rendered as this server's page.
        .insert_header(("x-content-type-options", "nosniff"))
        .body(SizedStream::new(size, body))
}

/// `attachment; filename="..."; filename*=UTF-8''...` (RFC 6266 with an RFC 8187 encoded
/// name): browsers and tools save the file under its real name, and nothing in the name can
/// break out of the header.
pub fn content_disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_carry_an_ascii_fallback_and_the_encoded_name() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition("naïve \"x\".txt"),
            "attachment; filename=\"na_ve _x_.txt\"; filename*=UTF-8''na%C3%AFve%20%22x%22.txt"
        );
    }
}
