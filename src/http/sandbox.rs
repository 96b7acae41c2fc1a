//! Agent self-service: `POST /auth/auto-provision` hands an agent a sandbox
//! account, and the claim page (`/claim/{token}`, plain HTML that works without JavaScript)
//! lets a person claim it.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::web::{Bytes, Data, Path, Payload};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::Label;
use super::auth::client_ip;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, media_type_is};
use super::messages::Mailbox;
use super::rate_limit::Window;
use crate::config::AutoProvision;
use crate::domain::account::{AccountName, DeviceId};
use crate::domain::html::escape;
use crate::domain::links::ClaimLinks;
use crate::domain::sandbox::SandboxLimits;
use crate::domain::{AccountId, EmailAddress, Plan, random};
use crate::state::AppState;
use crate::store::accounts::{self, ClaimError, ClaimOf, NewAccount};
use crate::store::rate_limits;

/// Whether `POST /auth/auto-provision` is served.
pub fn provisioning_enabled(state: &AppState) -> bool {
    match state.config.sandbox.auto_provision {
        AutoProvision::Enabled => true,
        AutoProvision::Disabled => false,
        // On a developer's machine; a loopback listener behind a reverse proxy is public.
        AutoProvision::Auto => {
            state.config.http.listen.ip().is_loopback()
                && state.config.http.public_url.is_empty()
                && !state.config.http.trust_proxy_headers
        }
    }
}

/// The provisioning request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionRequest {
    /// 8–128 characters from `[A-Za-z0-9._:-]`, stable per agent installation.
    #[schema(value_type = String, example = "my-agent-laptop-01", pattern = r"^[A-Za-z0-9._:-]{8,128}$")]
    device_id: Option<String>,
}

/// The account as provisioning shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProvisionedAccount {
    #[schema(value_type = String, format = Uuid)]
    id: AccountId,
    email: String,
    /// `sandbox` until claimed, then `free`.
    plan: &'static str,
}

/// The provisioning response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionResponse {
    account: ProvisionedAccount,
    /// A new API key for the account (earlier ones keep working).
    api_key: String,
    /// Whether this call created the account.
    is_new: bool,
    /// Where a person claims the account; null once it is claimed.
    claim_url: Option<String>,
}

/// Get a sandbox account for this device (no API key; enabled by configuration).
#[utoipa::path(post, path = "/auth/auto-provision", tag = "Account", operation_id = "autoProvision",
    security(()),
    request_body = ProvisionRequest,
    responses(
        (status = 201, description = "A new sandbox account", body = ProvisionResponse),
        (status = 200, description = "The device's existing account, with a fresh key", body = ProvisionResponse),
        (status = 400, description = "Bad `deviceId`", body = ErrorBody),
        (status = 404, description = "Auto-provisioning is disabled", body = ErrorBody),
        (status = 429, description = "Too many provisioning calls from this address", body = ErrorBody),
    ))]
pub async fn provision(
    state: Data<AppState>,
    req: HttpRequest,
    payload: Payload,
) -> Result<impl Responder, ApiError> {
    // Switched off, the route answers like any unknown one, whatever the body.
    if !provisioning_enabled(&state) {
        return Err(ApiError::route_not_found());
    }
    let body = ApiJson::<ProvisionRequest>::from_request(&req, &mut payload.into_inner()).await?;
    let device = body
        .into_inner()
        .device_id
        .and_then(|raw| DeviceId::parse(&raw).ok())
        .ok_or_else(|| {
            ApiError::invalid_field(
                "deviceId",
                "is required: 8 to 128 characters from A-Z, a-z, 0-9, '.', '_', ':' and '-'",
            )
        })?;
    let config = &state.config;
    let now = state.now();
    let limit = config.sandbox.provision_limit;
    let window = Window::containing(now, config.sandbox.provision_window_secs);
    let bucket = rate_limits::provisioning_bucket(&client_ip(
        &req.connection_info(),
        config.http.trust_proxy_headers,
    ));
    // A mailbox-shaped placeholder until a person claims the account with their own.
    let email = EmailAddress::parse(&format!(
        "sandbox-{}@{}",
        random::lower_alnum(10),
        config.mail.shared_domain
    ))
    .map_err(ApiError::internal)?;
    let new = NewAccount {
        name: AccountName::parse("Sandbox").map_err(ApiError::internal)?,
        email,
        plan: Plan::Sandbox,
        daily_send_limit: config.sandbox.daily_send_limit,
    };
    let claims = state.claims.clone();
    let outcome = state
        .store
        .write(move |tx| {
            if limit > 0 && rate_limits::hit(tx, &bucket, window.start)? > u64::from(limit) {
                return Ok(None);
            }
            let hash = |id| ClaimLinks::hash(&claims.token(id));
            accounts::provision(tx, &device, &new, hash, now).map(Some)
        })
        .await?;
    let Some(p) = outcome else {
        return Err(ApiError::rate_limited(window.retry_after(now)));
    };
    let claim_url = (p.account.plan == Plan::Sandbox).then(|| state.claims.url(p.account.id));
    let response = ProvisionResponse {
        account: ProvisionedAccount {
            id: p.account.id,
            email: p.account.email,
            plan: p.account.plan.as_str(),
        },
        api_key: p.key.expose().to_owned(),
        is_new: p.is_new,
        claim_url,
    };
    let status = if p.is_new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(response))
}

/// The claim page: a form for a person's name and email (HTML; no API key, the token in the
/// link is the authorisation).
#[utoipa::path(get, path = "/claim/{token}", tag = "Account", operation_id = "getClaimPage",
    security(()),
    params(("token" = String, Path, description = "From the account's `claimUrl`")),
    responses(
        (status = 200, description = "The form", content_type = "text/html", body = String),
        (status = 404, description = "Unknown link", content_type = "text/html", body = String),
        (status = 410, description = "Already claimed", content_type = "text/html", body = String),
    ))]
pub async fn claim_page(state: Data<AppState>, token: Path<String>) -> HttpResponse {
    let token = token.into_inner();
    let hash = ClaimLinks::hash(&token);
    let found = state
        .store
        .read(move |c| accounts::find_by_claim_token(c, &hash))
        .await;
    match found {
        Ok(Some(account)) if account.plan == Plan::Sandbox => {
            page(StatusCode::OK, &form(&state.sandbox.limits, "", "", None))
        }
        Ok(Some(_)) => already_claimed(),
        Ok(None) => unknown_link(),
        Err(e) => failed(&e),
    }
}

/// The claim form's fields.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ClaimForm {
    /// The person's name.
    #[schema(value_type = Label)]
    name: Option<String>,
    /// Their email address.
    #[schema(value_type = Mailbox)]
    email: Option<String>,
}

/// Claims the account with the form's `name` and `email`
/// (`application/x-www-form-urlencoded`); answers with an HTML page.
#[utoipa::path(post, path = "/claim/{token}", tag = "Account", operation_id = "submitClaim",
    security(()),
    params(("token" = String, Path, description = "From the account's `claimUrl`")),
    request_body(content = ClaimForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Claimed", content_type = "text/html", body = String),
        (status = 400, description = "Missing or invalid name or email; the form again", content_type = "text/html", body = String),
        (status = 415, description = "Not a form (`application/x-www-form-urlencoded`)", content_type = "text/html", body = String),
        (status = 404, description = "Unknown link", content_type = "text/html", body = String),
        (status = 410, description = "Already claimed", content_type = "text/html", body = String),
    ))]
pub async fn claim_submit(
    state: Data<AppState>,
    req: HttpRequest,
    token: Path<String>,
    body: Bytes,
) -> HttpResponse {
    if !media_type_is(req.headers(), "application/x-www-form-urlencoded") {
        return page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "<h1>Unsupported form</h1><p>Send the form from the claim page.</p>",
        );
    }
    let fields: ClaimForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (raw_name, raw_email) = (
        fields.name.unwrap_or_default(),
        fields.email.unwrap_or_default(),
    );
    let name = AccountName::parse(&raw_name);
    let email = EmailAddress::parse(raw_email.trim());
    let (name, email) = match (name, email) {
        (Ok(name), Ok(email)) => (name, email),
        (name, email) => {
            let mut problems = Vec::new();
            if name.is_err() {
                problems.push("Enter your name (1 to 255 characters).");
            }
            if email.is_err() {
                problems.push("Enter a valid email address, such as ada@example.com.");
            }
            return page(
                StatusCode::BAD_REQUEST,
                &form(
                    &state.sandbox.limits,
                    &raw_name,
                    &raw_email,
                    Some(&problems),
                ),
            );
        }
    };
    let hash = ClaimLinks::hash(&token.into_inner());
    let limit = state.config.limits.account_daily_send_limit;
    let now = state.now();
    let claimed = state
        .store
        .write(move |tx| {
            Ok(accounts::claim(
                tx,
                ClaimOf::TokenHash(&hash),
                Some(&name),
                &email,
                limit,
                now,
            ))
        })
        .await;
    match claimed {
        Ok(Ok(account)) => page(
            StatusCode::OK,
            &format!(
                "<h1>Account claimed</h1><p>The account now belongs to {} &lt;{}&gt;. \
                 Its API keys keep working, without the sandbox limits (daily sending limit: \
                 {}). An operator may still verify the account.</p>",
                escape(&account.name),
                escape(&account.email),
                account.daily_send_limit
            ),
        ),
        Ok(Err(ClaimError::AlreadyClaimed)) => already_claimed(),
        Ok(Err(ClaimError::Unknown)) => unknown_link(),
        Ok(Err(ClaimError::Store(e))) | Err(e) => failed(&e),
    }
}

fn form(limits: &SandboxLimits, name: &str, email: &str, problems: Option<&[&str]>) -> String {
    let problems = problems.map_or_else(String::new, |list| {
        let items: String = list.iter().map(|p| format!("<li>{p}</li>")).collect();
        format!("<ul class=\"problems\" role=\"alert\">{items}</ul>")
    });
    let mut lifted = vec![
        format!("{} inbox(es)", limits.max_inboxes),
        format!("{} messages in all", limits.max_sends),
        format!("{} days", limits.lifetime.as_secs() / 86_400),
    ];
    if !limits.external_recipients {
        lifted.push("mail only to inboxes on this server".to_owned());
    }
    if !limits.webhooks {
        lifted.push("no webhooks".to_owned());
    }
    format!(
        "<h1>Claim this AgentSend account</h1>\
         <p>An AI agent created this sandbox account. Claiming it lifts the sandbox limits \
         ({}) and keeps the agent's API key working.</p>{problems}\
         <form method=\"post\">\
         <p><label for=\"name\">Your name</label><br>\
         <input id=\"name\" name=\"name\" required maxlength=\"255\" value=\"{}\"></p>\
         <p><label for=\"email\">Your email</label><br>\
         <input id=\"email\" name=\"email\" type=\"email\" required value=\"{}\"></p>\
         <p><button type=\"submit\">Claim account</button></p></form>",
        lifted.join(", "),
        escape(name),
        escape(email)
    )
}

fn already_claimed() -> HttpResponse {
    page(
        StatusCode::GONE,
        "<h1>Already claimed</h1><p>This account has been claimed; the link no longer works.</p>",
    )
}

fn unknown_link() -> HttpResponse {
    page(
        StatusCode::NOT_FOUND,
        "<h1>Unknown link</h1><p>This claim link is not valid. Check that it was copied whole.</p>",
    )
}

fn failed(e: &crate::store::Failure) -> HttpResponse {
    log::error!("claim page: {e}");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "<h1>Something went wrong</h1><p>Please try again in a moment.</p>",
    )
}

/// A small self-contained HTML page: no scripts, no external resources.
fn page(status: StatusCode, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ))
        .insert_header(("x-frame-options", "DENY"))
        .insert_header(("referrer-policy", "no-referrer"))
        .insert_header(("cache-control", "no-store"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>AgentSend</title><style>body{{font-family:system-ui,sans-serif;\
             max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
             input{{width:100%;padding:.4rem}}.problems{{color:#a00}}</style></head>\
             <body>{body}</body></html>"
        ))
}
