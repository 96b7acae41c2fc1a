//! A test fixture's own endpoints (`agentsend fixture` only; `404` elsewhere), guarded by the
//! fixture token of its ready line: `POST /_fixture/reset` empties the database back to the
//! default account, its key and the seed; `GET /_fixture/outbox` lists every message that would have
//! left the machine, with its exact MIME.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::error::ApiError;
use super::messages::MessageDto;
use crate::state::{AppState, FixtureAccess};
use crate::store::{maintenance, messages};

/// The fixture's access, when the request carries its token.
fn access<'a>(state: &'a AppState, request: &HttpRequest) -> Result<&'a FixtureAccess, ApiError> {
    let fixture = state
        .fixture
        .as_deref()
        .ok_or_else(ApiError::route_not_found)?;
    if super::auth::bearer_is(request, &fixture.token) {
        Ok(fixture)
    } else {
        Err(ApiError::unauthorized())
    }
}

/// `POST /_fixture/reset`: everything but the default account and its key goes, and the seed
/// is applied again; answers with the seeded inboxes' (new) ids by address.
pub async fn reset(state: Data<AppState>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let fixture = access(&state, &request)?;
    let (account_id, key_hash) = (fixture.account_id, fixture.key_hash.clone());
    let (account, seed) = (fixture.account.clone(), fixture.seed.clone());
    let now = state.now();
    let inboxes = state
        .store
        .write(move |tx| {
            maintenance::reset_to(tx, account_id, &account, &key_hash)?;
            match &seed {
                Some((seed, setup)) => seed.apply(tx, account_id, setup, now),
                None => Ok(Default::default()),
            }
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "inboxes": inboxes })))
}

/// One message of the outbox.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OutboxMessage {
    #[serde(flatten)]
    message: MessageDto,
    /// The recipients it was handed off for.
    handed_off_to: Vec<String>,
    /// Its exact bytes, as sent.
    raw: String,
}

/// `GET /_fixture/outbox`: every message handed to the `dry-run` transport, oldest first.
pub async fn outbox(state: Data<AppState>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    access(&state, &request)?;
    let entries = state.store.read(messages::outbox).await?;
    let data: Vec<OutboxMessage> = entries
        .into_iter()
        .map(|e| OutboxMessage {
            message: e.message.into(),
            handed_off_to: e.recipients,
            // Composed here, so 7-bit: the text is the bytes.
            raw: String::from_utf8_lossy(&e.raw).into_owned(),
        })
        .collect();
    let total = data.len();
    Ok(HttpResponse::Ok().json(serde_json::json!({"data": data, "total": total})))
}
