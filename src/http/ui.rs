//! The web interface: a single-page application compiled into the binary (the files in
//! `src/http/ui/`), served at `/` and under `/ui/`, and the signed, sandboxed views in which it
//! shows a message's HTML.
//!
//! Assets are served under names that carry a hash of their content
//! (`/ui/assets/app.<hash>.js`) and are cached for a year; the page that names them is revalidated
//! on every load. Every response of the interface carries a strict Content-Security-Policy (no
//! inline script or style, nothing from another origin) and refuses to be framed. A message view
//! is the one response that may be framed (by the interface itself), with a policy of its own:
//! no script at all, no network unless the reader allowed remote images.

use std::io::Write;
use std::sync::OnceLock;

use actix_web::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, ETAG, HeaderName, HeaderValue, IF_NONE_MATCH,
    VARY,
};
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::extract::{ApiJson, Authenticated};
use crate::domain::html::{inline_image_ids, prepare_for_view};
use crate::domain::links::LinkError;
use crate::domain::{MessageId, Refusal, Resource};
use crate::state::AppState;
use crate::store::{Failure, attachments, messages};

/// The interface's files: name, media type, bytes. `index.html` names each as `{{name}}`.
const FILES: [(&str, &str, &[u8]); 3] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("ui/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("ui/app.css"),
    ),
    ("icon.svg", "image/svg+xml", include_bytes!("ui/icon.svg")),
];

/// The page every interface address loads.
const INDEX: &str = include_str!("ui/index.html");

/// The policy of the interface's own responses.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-src 'self'; font-src 'self'; \
    manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The policy of a message view, whose images may come from `$images`: inline styles, no
/// script, nothing else from anywhere; the `sandbox` directive repeats the frame's own sandbox,
/// for a view opened outside its frame.
macro_rules! view_policy {
    ($images:literal) => {
        concat!(
            "default-src 'none'; img-src ",
            $images,
            "; style-src 'unsafe-inline'; font-src data:; base-uri 'none'; form-action 'none'; \
            frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"
        )
    };
}

/// A view before the reader allowed remote images: embedded (`data:`) images only.
const VIEW_POLICY: &str = view_policy!("data:");

/// A view once the reader allowed remote images.
const VIEW_POLICY_IMAGES: &str = view_policy!("data: http: https:");

/// Bytes of inline images (`cid:`) a message view embeds at most.
const INLINE_IMAGES_BYTES: u64 = 10 * 1024 * 1024;

/// Cache lifetime of a hashed asset: its name changes with its content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// What goes before a message's HTML in its view: links open outside the frame, and mail
/// written for a white page gets one in a dark interface too.
const VIEW_PREFIX: &str = "<base target=\"_blank\"><meta name=\"color-scheme\" content=\"light\">\
    <style>:root{background:#fff;color:#111}</style>";

/// One file as served.
struct Asset {
    /// Where it is served.
    path: String,
    content_type: &'static str,
    body: Bytes,
    /// A strong validator of `body`.
    etag: String,
    /// The gzip form, when smaller, and its own validator.
    gzip: Option<(Bytes, String)>,
}

impl Asset {
    fn new(path: String, content_type: &'static str, body: Vec<u8>) -> Self {
        let hash = hex::encode(&Sha256::digest(&body)[..12]);
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        let gzip = gz
            .write_all(&body)
            .and_then(|()| gz.finish())
            .ok()
            .filter(|g| g.len() < body.len())
            .map(|g| (Bytes::from(g), format!("\"{hash}-gz\"")));
        Self {
            path,
            content_type,
            etag: format!("\"{hash}\""),
            body: Bytes::from(body),
            gzip,
        }
    }

    /// The response to `req`: the bytes (gzip when the client takes it), or `304` when the
    /// client has them.
    fn serve(&self, req: &HttpRequest, cache_control: &'static str) -> HttpResponse {
        let (body, etag, encoding) = match &self.gzip {
            Some((gzip, etag)) if accepts_gzip(req) => (gzip, etag, Some("gzip")),
            _ => (&self.body, &self.etag, None),
        };
        let current = has_current(req, etag);
        let mut res = if current {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        res.insert_header((CACHE_CONTROL, cache_control))
            .insert_header((ETAG, etag.as_str()))
            .insert_header((VARY, "Accept-Encoding"));
        if current {
            return res.finish();
        }
        if let Some(encoding) = encoding {
            res.insert_header((CONTENT_ENCODING, encoding));
        }
        res.content_type(self.content_type).body(body.clone())
    }
}

/// The page and the files it names, built on first use.
struct Assets {
    index: Asset,
    files: Vec<Asset>,
}

fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let mut index = INDEX.to_owned();
        let files = FILES
            .iter()
            .map(|&(name, content_type, body)| {
                let hash = hex::encode(&Sha256::digest(body)[..6]);
                let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
                let path = format!("/ui/assets/{stem}.{hash}.{extension}");
                index = index.replace(&format!("{{{{{name}}}}}"), &path);
                Asset::new(path, content_type, body.to_vec())
            })
            .collect();
        Assets {
            index: Asset::new("/".to_owned(), "text/html; charset=utf-8", index.into()),
            files,
        }
    })
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn has_current(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// Whether `Accept-Encoding` takes gzip: listed, or covered by `*`, with a weight above 0.
fn accepts_gzip(req: &HttpRequest) -> bool {
    let (mut gzip, mut any) = (None, None);
    for coding in req
        .headers()
        .get_all(ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let weight = parts
            .find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| v.trim().parse::<f32>().ok())?
            })
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case("gzip") {
            gzip = Some(weight);
        } else if name == "*" {
            any = Some(weight);
        }
    }
    gzip.or(any).is_some_and(|q| q > 0.0)
}

/// Adds the headers every interface response carries: `policy` as its
/// Content-Security-Policy, and whether it may be framed by the interface (`SAMEORIGIN`) or
/// not at all (`DENY`).
fn harden(mut res: HttpResponse, policy: &'static str, frame: &'static str) -> HttpResponse {
    let headers = res.headers_mut();
    for (name, value) in [
        ("content-security-policy", policy),
        ("x-frame-options", frame),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-resource-policy", "same-origin"),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=()",
        ),
        ("x-dns-prefetch-control", "off"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if frame == "DENY" {
        headers.insert(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        );
    }
    res
}

/// The interface's page, at `/` and every address under `/ui/` (its own routes).
pub async fn index(req: HttpRequest) -> HttpResponse {
    harden(assets().index.serve(&req, "no-cache"), PAGE_POLICY, "DENY")
}

/// A file of the interface, under its hashed name.
pub async fn asset(req: HttpRequest) -> HttpResponse {
    let res = match assets().files.iter().find(|a| a.path == req.path()) {
        Some(asset) => asset.serve(&req, IMMUTABLE),
        None => ApiError::route_not_found().error_response(),
    };
    harden(res, PAGE_POLICY, "DENY")
}

/// What `POST /ui/frames` takes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewView {
    /// The message whose HTML to show.
    message_id: MessageId,
    /// Let its remote images load.
    #[serde(default)]
    images: bool,
}

/// What `POST /ui/frames` answers.
#[derive(Debug, Serialize)]
struct View {
    /// The view's address (a path on this server), valid for a few minutes.
    url: String,
}

/// A signed address at which a frame of the interface shows one of the caller's messages' HTML
/// (a frame cannot send the API key).
pub async fn create_view(
    auth: Authenticated,
    state: Data<AppState>,
    body: ApiJson<NewView>,
) -> Result<HttpResponse, ApiError> {
    let NewView { message_id, images } = body.into_inner();
    let now = state.now();
    let message = state
        .store
        .read_as(&auth.0, now, move |c, who| {
            messages::get_message(c, who.account_id, message_id)
        })
        .await?;
    if message.body_html.is_none() {
        return Err(ApiError::invalid_field(
            "messageId",
            "this message has no HTML body; show its bodyText",
        ));
    }
    let url = state.views.path(message_id, images, now);
    Ok(HttpResponse::Ok().json(View { url }))
}

/// The query of a message view.
#[derive(Debug, Deserialize)]
pub struct ViewQuery {
    images: String,
    expires: String,
    signature: String,
}

/// A message's HTML, through a signed address from `POST /ui/frames`: no script runs (the
/// policy and the frame's sandbox), nothing is fetched unless the address allows remote
/// images.
pub async fn view(
    state: Data<AppState>,
    id: Path<MessageId>,
    query: Option<Query<ViewQuery>>,
) -> HttpResponse {
    let shown = show(&state, id.into_inner(), query.map(Query::into_inner)).await;
    let (res, policy) = match shown {
        Ok((html, images)) => {
            let policy = if images {
                VIEW_POLICY_IMAGES
            } else {
                VIEW_POLICY
            };
            let res = HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header((CACHE_CONTROL, "no-store"))
                .body(html);
            (res, policy)
        }
        Err(e) => (e.error_response(), VIEW_POLICY),
    };
    harden(res, policy, "SAMEORIGIN")
}

async fn show(
    state: &AppState,
    id: MessageId,
    query: Option<ViewQuery>,
) -> Result<(String, bool), ApiError> {
    let refused = |e| ApiError::link_refused(e, "message view", "open the message again");
    let query = query.ok_or_else(|| refused(LinkError::Invalid))?;
    let images = match query.images.as_str() {
        "0" => false,
        "1" => true,
        _ => return Err(refused(LinkError::Invalid)),
    };
    state
        .views
        .check(id, images, &query.expires, &query.signature, state.now())
        .map_err(refused)?;
    let (html, inline) = state
        .store
        .read(move |c| {
            let Some(html) = messages::html_body_unchecked(c, id)? else {
                return Ok((None, Vec::new()));
            };
            let wanted = inline_image_ids(&html);
            let inline = if wanted.is_empty() {
                Vec::new()
            } else {
                attachments::inline_images(c, id, &wanted, INLINE_IMAGES_BYTES)?
            };
            Ok((Some(html), inline))
        })
        .await?;
    let html = html.ok_or(Failure::Refused(Refusal::NotFound(Resource::Message)))?;
    // Inline parts become `data:` URLs: the view's policy lets nothing else load. Should the
    // rewriter fail, the policy and the sandbox still hold for the mail as it is.
    let prepared = prepare_for_view(&html, |content_id| {
        let (_, content_type, bytes) = inline.iter().find(|(cid, _, _)| cid == content_id)?;
        Some(format!(
            "data:{content_type};base64,{}",
            STANDARD.encode(bytes)
        ))
    })
    .unwrap_or(html);
    Ok((with_prefix(&prepared), images))
}

/// `html` with [`VIEW_PREFIX`] before it, or right after its doctype (which then still decides
/// how the mail renders).
fn with_prefix(html: &str) -> String {
    let start = html.trim_start();
    if start
        .get(..9)
        .is_some_and(|s| s.eq_ignore_ascii_case("<!doctype"))
        && let Some(end) = start.find('>')
    {
        let (doctype, rest) = start.split_at(end + 1);
        return format!("{doctype}{VIEW_PREFIX}{rest}");
    }
    format!("{VIEW_PREFIX}{html}")
}
