//! Custom domains (SPEC §3.5): adding one (a verification token and a DKIM key of its own),
//! checking its DNS records, and re-checking pending domains in the background.

use std::time::Duration;

use futures_util::StreamExt;

use crate::dns::Dns;
use crate::domain::custom_domain::{DnsAnswers, Domain, SendingStatus, evaluate};
use crate::domain::{AccountId, Credential, DomainId, DomainName, random};
use crate::mail::dkim::DkimKey;
use crate::state::AppState;
use crate::store::domains::{self as store, DomainLimits, NewDomain};
use crate::store::{StoreError, Tx};
use crate::webhooks::{self, Event, events::DomainVerified};

/// Domains re-checked per background pass at most.
const RECHECK_BATCH: usize = 50;
/// Domains checked at once in a background pass.
const RECHECK_CONCURRENCY: usize = 8;

/// Adds `name` to `who`'s account with a new verification token and DKIM key.
/// In the transaction that stores it, the caller's response is made from the new domain
/// with `respond` (see [`crate::mail::send::submit`]).
pub async fn add<R: Send + 'static>(
    state: &AppState,
    who: &Credential,
    name: DomainName,
    respond: impl FnOnce(&Tx<'_>, Domain) -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    let config = &state.config.domains;
    let limits = DomainLimits {
        sandbox: state.sandbox.clone(),
        max_per_account: config.max_per_account,
    };
    // Refused requests do not cost a key generation.
    let (now, checked, limits_now) = (state.now(), name.clone(), limits.clone());
    state
        .store
        .read_as(who, now, move |c, auth| {
            store::may_add(c, auth.account_id, &checked, &limits_now, now)
        })
        .await?;
    // A selector of its own per domain: two accounts (or a re-added domain) never publish
    // different keys under one name, and a key can later be replaced without a gap.
    let selector = format!("{}-{}", config.dkim_selector, random::lower_alnum(6));
    let algorithm = config.dkim_algorithm;
    let (key_domain, key_selector) = (name.to_string(), selector.clone());
    // RSA key generation takes a good fraction of a second: not on an async thread.
    let (key, private) = tokio::task::spawn_blocking(move || {
        DkimKey::generate(algorithm, &key_domain, &key_selector)
    })
    .await
    .map_err(|e| StoreError::Task(format!("key generation: {e}")))?
    .map_err(StoreError::Task)?;
    let new = NewDomain {
        name,
        verification_token: hex::encode(random::bytes::<16>()),
        dkim_selector: selector,
        dkim_algorithm: algorithm,
        dkim_private_key: private,
        dkim_public_key: key.public_key_base64(),
    };
    state
        .store
        .write_as(who, now, move |tx, auth| {
            let domain = store::create_domain(tx, auth.account_id, &new, &limits, now)?;
            respond(tx, domain)
        })
        .await
}

/// Checks one of `who`'s domains in DNS now and stores what was found.
pub async fn verify(
    state: &AppState,
    who: &Credential,
    id: DomainId,
) -> Result<Domain, StoreError> {
    let domain = state
        .store
        .read_as(who, state.now(), move |c, auth| {
            store::get_domain(c, auth.account_id, id)
        })
        .await?;
    check(state, domain).await
}

/// Re-checks domains still pending whose last check is older than the configured interval,
/// until a day after their verification period (past it, only DNS failures keep a domain
/// pending, and a manual check still works). A few at a time; returns how many were checked.
pub async fn recheck_due(state: &AppState) -> Result<usize, StoreError> {
    let config = &state.config.domains;
    let now = state.now();
    let checked_before = now.minus(Duration::from_secs(config.recheck_interval_secs));
    let created_after = now.minus(Duration::from_secs(
        config
            .verification_hours
            .saturating_add(24)
            .saturating_mul(3600),
    ));
    let due = state
        .store
        .read(move |c| store::due_for_check(c, created_after, checked_before, RECHECK_BATCH))
        .await?;
    let outcomes: Vec<_> = futures_util::stream::iter(due)
        .map(|(account_id, id)| async move { (id, recheck(state, account_id, id).await) })
        .buffer_unordered(RECHECK_CONCURRENCY)
        .collect()
        .await;
    let mut checked = 0;
    for (id, outcome) in outcomes {
        match outcome {
            Ok(_) => checked += 1,
            // Deleted meanwhile.
            Err(StoreError::NotFound(_)) => {}
            Err(e) => log::warn!("re-checking domain {id}: {e}"),
        }
    }
    Ok(checked)
}

async fn recheck(
    state: &AppState,
    account_id: AccountId,
    id: DomainId,
) -> Result<Domain, StoreError> {
    let domain = state
        .store
        .read(move |c| store::get_domain(c, account_id, id))
        .await?;
    check(state, domain).await
}

/// Looks the domain's records up and records the outcome; fires `domain.verified` when
/// sending becomes verified. The status change is decided on the row as it is in the write
/// transaction, so concurrent checks cannot fire the event twice.
async fn check(state: &AppState, domain: Domain) -> Result<Domain, StoreError> {
    let answers = lookup(&state.dns, &domain).await;
    let setup = state.dns_setup.clone();
    let period = Duration::from_secs(state.config.domains.verification_hours.saturating_mul(3600));
    let now = state.now();
    let (account_id, id) = (domain.account_id, domain.id);
    state
        .store
        .write(move |tx| {
            let before = store::get_domain(tx, account_id, id)?;
            let claimed = store::received_elsewhere(tx, &before)?;
            let deadline = before.created_at.plus(period);
            let outcome = evaluate(&before, &answers, &setup.mail_host, claimed, now, deadline);
            let after = store::record_check(tx, &before, &outcome, now)?;
            if before.sending_status != SendingStatus::Verified
                && after.sending_status == SendingStatus::Verified
            {
                webhooks::emit(
                    tx,
                    account_id,
                    &Event::DomainVerified(DomainVerified {
                        domain_id: id,
                        domain: after.name.to_string(),
                    }),
                    now,
                )?;
            }
            Ok(after)
        })
        .await
}

/// The three lookups of a check, at once.
async fn lookup(dns: &Dns, domain: &Domain) -> DnsAnswers {
    let (verification_name, dkim_name) = (domain.verification_name(), domain.dkim_name());
    let (verification, dkim, mx) = tokio::join!(
        dns.txt_now(&verification_name),
        dns.txt_now(&dkim_name),
        dns.mx_now(domain.name.as_str()),
    );
    DnsAnswers {
        verification,
        dkim,
        mx,
    }
}
