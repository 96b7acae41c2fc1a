//! `/domains`.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::List;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Authenticated, Paged};
use super::idempotency::{Idempotency, Reply};
use crate::domain::custom_domain::{self, DnsRecord, DnsSetup, Domain};
use crate::domain::{AccountId, DomainId, Timestamp};
use crate::state::AppState;
use crate::store::Tx;
use crate::store::domains as store;

/// A DNS record to publish.
#[derive(Debug, Serialize, ToSchema)]
pub struct DnsRecordDto {
    /// `TXT` or `MX`.
    #[serde(rename = "type")]
    #[schema(example = "TXT")]
    kind: &'static str,
    /// Fully qualified name, without the trailing dot.
    name: String,
    /// The value; for `MX`, the host.
    value: String,
    /// `MX` preference.
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<u16>,
    /// `verification`, `dkim`, `spf`, `mx` or `dmarc`.
    purpose: &'static str,
    /// Checked by verification (`false`: recommended only).
    required: bool,
}

impl From<DnsRecord> for DnsRecordDto {
    fn from(r: DnsRecord) -> Self {
        Self {
            kind: r.kind,
            name: r.name,
            value: r.value,
            priority: r.priority,
            purpose: r.purpose,
            required: r.required,
        }
    }
}

/// A custom domain with the records it must publish.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DomainDto {
    #[schema(value_type = String, format = Uuid)]
    id: DomainId,
    /// The owning account.
    #[schema(value_type = String, format = Uuid)]
    account_id: AccountId,
    /// Lower-case; IDNA A-label for internationalised names.
    #[schema(example = "example.com")]
    domain: String,
    /// `pending`, `pending_dkim`, `verified` or `failed`.
    #[schema(example = "pending")]
    sending_status: &'static str,
    /// `pending`, `verified` or `failed`.
    #[schema(example = "pending")]
    receiving_status: &'static str,
    /// Same as `sendingStatus` (older clients).
    verification_status: &'static str,
    /// The token of the ownership TXT record (the `verification` record in `dnsRecords`,
    /// whose value is this token after a fixed prefix).
    verification_token: String,
    /// The DKIM selectors: each publishes `<selector>._domainkey.<domain>` (the `dkim` record
    /// in `dnsRecords`). One selector per domain here.
    dkim_tokens: Vec<String>,
    /// Verification, DKIM, SPF and DMARC records.
    sending_dns_records: Vec<DnsRecordDto>,
    /// The MX record.
    receiving_dns_records: Vec<DnsRecordDto>,
    /// All of them.
    dns_records: Vec<DnsRecordDto>,
    #[schema(value_type = Option<String>, format = DateTime)]
    sending_verified_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    receiving_verified_at: Option<Timestamp>,
    /// Same as `sendingVerifiedAt` (older clients).
    #[schema(value_type = Option<String>, format = DateTime)]
    verified_at: Option<Timestamp>,
    /// When DNS was last checked.
    #[schema(value_type = Option<String>, format = DateTime)]
    last_checked_at: Option<Timestamp>,
    /// What the last check did not find, or why DNS could not answer.
    last_check_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl DomainDto {
    pub(crate) fn new(d: Domain, setup: &DnsSetup) -> Self {
        let (sending, receiving) = (setup.sending_records(&d), setup.receiving_records(&d));
        let dtos = |records: &[DnsRecord]| records.iter().cloned().map(Into::into).collect();
        let all = dtos(&[sending.as_slice(), receiving.as_slice()].concat());
        let (sending, receiving) = (dtos(&sending), dtos(&receiving));
        Self {
            id: d.id,
            account_id: d.account_id,
            domain: d.name.to_string(),
            sending_status: d.sending_status.as_str(),
            receiving_status: d.receiving_status.as_str(),
            verification_status: d.sending_status.as_str(),
            verification_token: d.verification_token.clone(),
            dkim_tokens: vec![d.dkim_selector.clone()],
            sending_dns_records: sending,
            receiving_dns_records: receiving,
            dns_records: all,
            sending_verified_at: d.sending_verified_at,
            receiving_verified_at: d.receiving_verified_at,
            verified_at: d.sending_verified_at,
            last_checked_at: d.last_checked_at,
            last_check_error: d.last_check_error,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// `POST /domains` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateDomain {
    /// A domain name such as `example.com`: two labels or more, the last not a number, 3–253
    /// characters; not this server's shared domain. Internationalised names are accepted too
    /// and stored as A-labels.
    #[schema(value_type = String, min_length = 3, max_length = 253, pattern = r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?![0-9]+\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$")]
    domain: Option<String>,
}

/// `?format=` of `GET /domains/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (default) or `zone`: the records as a zone-file snippet (`text/plain`).
    #[param(value_type = Option<DomainFormat>)]
    format: Option<String>,
}

/// The formats of `GET /domains/{id}`, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DomainFormat {
    Json,
    Zone,
}

/// Add a domain: the response lists the DNS records to publish.
#[utoipa::path(post, path = "/domains", tag = "Domains", operation_id = "createDomain", request_body = CreateDomain,
    responses(
        (status = 201, description = "Domain added, with its DNS records", body = DomainDto),
        (status = 400, description = "Not a valid domain name", body = ErrorBody),
        (status = 402, description = "Sandbox accounts cannot add domains", body = ErrorBody),
        (status = 403, description = "DOMAIN_LIMIT_REACHED: the account has domains.max_per_account domains", body = ErrorBody),
        (status = 409, description = "DOMAIN_EXISTS: the account has it, or another account verified it", body = ErrorBody),
    ))]
pub async fn create(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    body: ApiJson<CreateDomain>,
) -> Result<Reply, ApiError> {
    let raw = body
        .into_inner()
        .domain
        .ok_or_else(|| ApiError::invalid_field("domain", "is required"))?;
    let name = custom_domain::parse_custom_domain(&raw)
        .map_err(|why| ApiError::invalid_field("domain", why))?;
    if name == state.config.mail.shared_domain {
        return Err(ApiError::invalid_field(
            "domain",
            "is this server's shared domain, which needs no adding",
        ));
    }
    let setup = state.dns_setup.clone();
    let respond = move |tx: &Tx<'_>, domain| {
        let created = DomainDto::new(domain, &setup);
        idempotency.keep(tx, Reply::json(StatusCode::CREATED, &created)?)
    };
    Ok(state.domains.add(&auth.0, name, respond).await?)
}

/// The account's domains, newest first.
#[utoipa::path(get, path = "/domains", tag = "Domains", operation_id = "listDomains", params(super::PageParams),
    responses(
        (status = 200, description = "A page of domains", body = List<DomainDto>),
        (status = 400, description = "Bad paging", body = ErrorBody),
    ))]
pub async fn list(
    auth: Authenticated,
    state: Data<AppState>,
    Paged(paging): Paged,
) -> Result<impl Responder, ApiError> {
    let page = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            store::list_domains(c, who.account_id, paging)
        })
        .await?;
    let setup = state.dns_setup.clone();
    Ok(HttpResponse::Ok().json(List::from(page.map(|d| DomainDto::new(d, &setup)))))
}

/// A domain with its records and statuses; `?format=zone` gives the records as a zone-file
/// snippet to paste into a DNS zone.
#[utoipa::path(get, path = "/domains/{id}", tag = "Domains", operation_id = "getDomain",
    params(super::IdParam, FormatQuery),
    responses(
        (status = 200, description = "The domain (or, with ?format=zone, text/plain zone records)",
            content((DomainDto = "application/json"), (String = "text/plain"))),
        (status = 400, description = "Unknown format", body = ErrorBody),
        (status = 404, description = "No such domain", body = ErrorBody),
    ))]
pub async fn get(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<DomainId>,
    query: Query<FormatQuery>,
) -> Result<impl Responder, ApiError> {
    let zone = match query.format.as_deref() {
        None | Some("json") => false,
        Some("zone") => true,
        Some(_) => return Err(ApiError::invalid_field("format", "must be json or zone")),
    };
    let id = id.into_inner();
    let domain = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            store::get_domain(c, who.account_id, id)
        })
        .await?;
    if zone {
        let records = state.dns_setup.records(&domain);
        return Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(custom_domain::zone_file(&domain, &records)));
    }
    Ok(HttpResponse::Ok().json(DomainDto::new(domain, &state.dns_setup)))
}

/// Check the domain's DNS records now. DNS failures are reported in `lastCheckError` and
/// leave the statuses as they were.
#[utoipa::path(post, path = "/domains/{id}/verify", tag = "Domains", operation_id = "verifyDomain", params(super::IdParam),
    responses(
        (status = 200, description = "The domain after the check", body = DomainDto),
        (status = 404, description = "No such domain", body = ErrorBody),
    ))]
pub async fn verify(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<DomainId>,
) -> Result<impl Responder, ApiError> {
    let domain = state.domains.verify(&auth.0, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(DomainDto::new(domain, &state.dns_setup)))
}

/// Delete a domain and its DKIM key.
#[utoipa::path(delete, path = "/domains/{id}", tag = "Domains", operation_id = "deleteDomain", params(super::IdParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such domain", body = ErrorBody),
        (status = 409, description = "DOMAIN_IN_USE: inboxes still use it", body = ErrorBody),
    ))]
pub async fn delete(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<DomainId>,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    state
        .store
        .write_as(&auth.0, state.now(), move |tx, who| {
            store::delete_domain(tx, who.account_id, id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
