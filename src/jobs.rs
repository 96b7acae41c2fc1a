//! The janitor: it drops idempotency records whose window has passed, rate-limit counters of
//! finished windows, webhook deliveries past their retention, finished jobs, attachments no
//! message uses (uploads never sent), the event log's events once past their retention, and
//! messages past their retention (`retention.messages_days`, or their account's own); then it
//! gives the freed pages back to the file system (incremental vacuum).
//! [`janitor_tick`] does one pass, so tests can drive it directly; [`run_janitor`] repeats it
//! until shutdown.

use std::time::Duration;

use tokio::sync::watch;

use crate::state::AppState;
use crate::store::{
    Failure, attachments, events, idempotency, jobs, rate_limits, retention, webhooks,
};

/// Time between janitor passes.
pub const JANITOR_INTERVAL: Duration = Duration::from_secs(60);

/// What one janitor pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JanitorReport {
    /// Expired idempotency records.
    pub idempotency_keys: usize,
    /// Counters of past rate-limit windows.
    pub rate_limit_windows: usize,
    /// Finished webhook deliveries past the retention period.
    pub webhook_deliveries: usize,
    /// Background jobs finished longer ago than `database.job_retention_secs`.
    pub jobs: usize,
    /// Attachments no message used within their retention.
    pub attachments: usize,
    /// Events past the event log's retention.
    pub events: usize,
    /// Messages past their retention.
    pub messages: usize,
    /// Free pages given back to the file system.
    pub vacuumed_pages: u64,
}

/// Messages deleted per write transaction (each write holds the writer for milliseconds), and
/// such writes per pass at most: a backlog (retention just turned on) goes 10,000 a minute.
const MESSAGE_BATCH: usize = 200;
const MESSAGE_BATCHES_PER_PASS: usize = 50;
/// Free pages given back per write (4 MiB of 4 KiB pages), and such writes per pass at most.
const VACUUM_PAGES: u32 = 1024;
const VACUUM_STEPS_PER_PASS: usize = 64;

/// One janitor pass.
pub async fn janitor_tick(state: &AppState) -> Result<JanitorReport, Failure> {
    let now = state.now();
    let window = i64::try_from(state.config.limits.rate_limit_window_secs).unwrap_or(i64::MAX);
    let provision_window =
        i64::try_from(state.config.sandbox.provision_window_secs).unwrap_or(i64::MAX);
    let window_start = |len: i64| now.as_secs() - now.as_secs().rem_euclid(len.max(1));
    let (current_window_start, current_provision_start) =
        (window_start(window), window_start(provision_window));
    let retention = Duration::from_secs(
        state
            .config
            .retention
            .deliveries_days
            .saturating_mul(86_400),
    );
    let deliveries_before = now.minus(retention);
    let jobs_before = now.minus(Duration::from_secs(
        state.config.database.job_retention_secs,
    ));
    let uploads_before = now.minus(Duration::from_secs(
        state
            .config
            .attachments
            .upload_retention_days
            .saturating_mul(86_400),
    ));
    let events_before = now.minus(Duration::from_secs(
        state.config.retention.events_days.saturating_mul(86_400),
    ));
    let mut report = state
        .store
        .write(move |conn| {
            Ok(JanitorReport {
                idempotency_keys: idempotency::purge(conn, now)?,
                rate_limit_windows: rate_limits::purge(
                    conn,
                    current_window_start,
                    current_provision_start,
                )?,
                webhook_deliveries: webhooks::purge_finished(conn, deliveries_before)?,
                jobs: jobs::purge_finished(conn, jobs_before)?,
                attachments: attachments::purge_unused(conn, uploads_before)?,
                events: events::purge(conn, events_before)?,
                messages: 0,
                vacuumed_pages: 0,
            })
        })
        .await?;
    let default_days = state.config.retention.messages_days;
    for _ in 0..MESSAGE_BATCHES_PER_PASS {
        let deleted = state
            .store
            .write(move |tx| retention::purge_messages(tx, now, default_days, MESSAGE_BATCH))
            .await?;
        report.messages += deleted;
        if deleted < MESSAGE_BATCH {
            break;
        }
    }
    report.vacuumed_pages = vacuum(state).await?;
    Ok(report)
}

/// Gives free pages back to the file system, a few MiB per write, until none are left or the
/// pass has done its share. Returns how many pages went.
async fn vacuum(state: &AppState) -> Result<u64, Failure> {
    let mut freed = 0;
    let mut before = state.store.read(retention::free_pages).await?;
    for _ in 0..VACUUM_STEPS_PER_PASS {
        if before == 0 {
            break;
        }
        let left = state
            .store
            .write(|tx| retention::incremental_vacuum(tx, VACUUM_PAGES))
            .await?;
        freed += before.saturating_sub(left);
        // A file without incremental auto-vacuum frees nothing: stop rather than spin.
        if left >= before {
            break;
        }
        before = left;
    }
    Ok(freed)
}

/// Runs [`janitor_tick`] every [`JANITOR_INTERVAL`] until `shutdown` turns true.
pub async fn run_janitor(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(JANITOR_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
        // Nodes sharing a PostgreSQL database take turns: one pass at a time.
        match state.store.one_node_at_a_time(janitor_tick(&state)).await {
            Ok(Some(Ok(report))) if report != JanitorReport::default() => {
                log::debug!("janitor: {report:?}");
            }
            Ok(Some(Ok(_))) => {}
            Ok(None) => log::debug!("janitor: another node is making its pass"),
            Ok(Some(Err(e))) | Err(e) => log::warn!("janitor pass failed: {e}"),
        }
    }
}
