//! `/attachments/{id}/content` (SPEC §3.6): an attachment's bytes, for its account.

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, Responder};

use super::error::{ApiError, ErrorBody};
use super::extract::Authenticated;
use crate::domain::AttachmentId;
use crate::state::AppState;
use crate::store::messages;

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

/// Download an attachment's bytes with the API key.
#[utoipa::path(get, path = "/attachments/{id}/content", tag = "Attachments",
    params(super::IdParam),
    responses(
        (status = 200, description = "The bytes, with their content type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such attachment", body = ErrorBody),
    ))]
pub async fn content(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<AttachmentId>,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    let (meta, bytes) = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            messages::attachment_content(c, who.account_id, id)
        })
        .await?;
    let content_type = HeaderValue::from_str(&meta.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&meta.filename))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CONTENT_DISPOSITION, disposition))
        // An HTML attachment must be downloaded, never rendered as this server's page.
        .insert_header(("x-content-type-options", "nosniff"))
        .body(bytes))
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
