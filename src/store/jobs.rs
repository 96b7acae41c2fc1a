//! Durable background jobs: rows claimed with a lease, retried at a set time, done or failed.
//! A job whose worker died is taken up again when its lease runs out.

use crate::store::StoreError;
use rusqlite::params;

use super::Db;
use super::{Failure, Queue, Tx, sql::unsigned};
use crate::domain::{BootId, JobId, Timestamp};

/// A claim's lease: the run of the server that holds it, and until when. Work whose lease
/// runs out is taken up again (its worker hung); work claimed by an earlier run is taken up
/// at start-up ([`take_over_orphans`]).
#[derive(Debug, Clone)]
pub struct Lease {
    /// When the claim runs out.
    pub until: Timestamp,
    /// The run holding it.
    pub holder: BootId,
}

impl Lease {
    /// A lease for `holder` taken `now`, for `length`.
    pub fn new(holder: &BootId, now: Timestamp, length: std::time::Duration) -> Self {
        Self {
            until: now.plus(length),
            holder: holder.clone(),
        }
    }
}

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Its JSON payload.
    pub payload: String,
    /// This attempt's number, 1-based.
    pub attempt: u32,
}

/// Queues a job of `kind`, due at `run_at`; `queue` is woken when the transaction commits.
pub fn enqueue(
    tx: &Tx<'_>,
    kind: &str,
    payload: &str,
    run_at: Timestamp,
    queue: Queue,
    now: Timestamp,
) -> Result<JobId, Failure> {
    let id = JobId::new();
    tx.sql()
        .prepare_cached(
            "INSERT INTO jobs (id, kind, payload, run_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?
        .execute(params![id, kind, payload, run_at, now])?;
    tx.wake_after_commit(queue);
    Ok(id)
}

/// Claims up to `max` due jobs of `kind` (pending and due, or running with an expired lease).
pub fn claim(
    tx: &Tx<'_>,
    kind: &str,
    now: Timestamp,
    max: usize,
    lease: &Lease,
) -> Result<Vec<Job>, Failure> {
    // Two index searches (jobs_due, jobs_lease) rather than one OR, which SQLite would answer
    // by scanning every job of the kind ever queued; each walks its index in order and stops
    // after `max` rows, so a claim costs the same however long the backlog is.
    let mut stmt = tx.sql().prepare_cached(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?3,
             claimed_by = ?5, updated_at = ?2
         WHERE id IN (SELECT id FROM (
                          SELECT * FROM (
                              SELECT id, run_at AS due FROM jobs
                              WHERE kind = ?1 AND status = 'pending' AND run_at <= ?2
                              ORDER BY run_at LIMIT ?4) AS due_now
                          UNION ALL
                          SELECT * FROM (
                              SELECT id, lease_until AS due FROM jobs
                              WHERE kind = ?1 AND status = 'running' AND lease_until <= ?2
                              ORDER BY lease_until LIMIT ?4) AS lapsed) AS claimable
                      ORDER BY due LIMIT ?4)
         RETURNING id, payload, attempts",
    )?;
    let jobs = stmt
        .query_map(
            params![
                kind,
                now,
                lease.until,
                i64::try_from(max).unwrap_or(i64::MAX),
                lease.holder.as_str()
            ],
            |r| {
                Ok(Job {
                    id: r.get(0)?,
                    payload: r.get(1)?,
                    attempt: unsigned(r, "attempts")?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    Ok(jobs)
}

/// Makes jobs claimed by other runs of the server (which died holding them: only one server
/// runs on a database) due at once. Returns how many.
pub fn take_over_orphans(tx: &Tx<'_>, me: &BootId, now: Timestamp) -> Result<usize, Failure> {
    Ok(tx.sql().execute(
        "UPDATE jobs SET lease_until = ?2, updated_at = ?2
         WHERE status = 'running' AND claimed_by IS DISTINCT FROM ?1 AND lease_until > ?2",
        params![me.as_str(), now],
    )?)
}

/// Checks that `job` is still held by the attempt that claimed it (`holder`'s claim with the
/// same attempt number): one whose lease ran out may have been taken over by another.
pub fn check_held(tx: &Tx<'_>, job: &Job, holder: &BootId) -> Result<(), Failure> {
    let held: bool = tx
        .sql()
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE id = ?1 AND status = 'running'
                 AND attempts = ?2 AND claimed_by = ?3)",
        )?
        .query_row(params![job.id, job.attempt, holder.as_str()], |r| r.get(0))?;
    if held {
        Ok(())
    } else {
        Err(Failure::Store(StoreError::ClaimLost))
    }
}

/// Marks a job done.
pub fn complete(tx: &Tx<'_>, id: JobId, now: Timestamp) -> Result<(), Failure> {
    tx.sql()
        .prepare_cached(
            "UPDATE jobs SET status = 'done', lease_until = NULL, updated_at = ?2 WHERE id = ?1",
        )?
        .execute(params![id, now])?;
    Ok(())
}

/// Drops a job that has not finished: one under way finds it gone when it records its outcome
/// ([`check_held`]), so nothing of that attempt stays.
pub fn cancel(tx: &Tx<'_>, id: JobId) -> Result<(), Failure> {
    tx.sql()
        .prepare_cached("DELETE FROM jobs WHERE id = ?1 AND status IN ('pending', 'running')")?
        .execute([id])?;
    Ok(())
}

/// Schedules the job's next attempt.
pub fn retry_at(
    tx: &Tx<'_>,
    id: JobId,
    run_at: Timestamp,
    error: &str,
    now: Timestamp,
) -> Result<(), Failure> {
    tx.sql()
        .prepare_cached(
            "UPDATE jobs SET status = 'pending', run_at = ?2, lease_until = NULL, last_error = ?3,
             updated_at = ?4
         WHERE id = ?1",
        )?
        .execute(params![id, run_at, error, now])?;
    Ok(())
}

/// Schedules a recurring job's next run: pending again at `run_at`, without an error. Its
/// count of attempts goes on, so that an attempt that outlived its lease never matches a later
/// claim ([`check_held`]).
pub fn run_again_at(
    tx: &Tx<'_>,
    id: JobId,
    run_at: Timestamp,
    now: Timestamp,
) -> Result<(), Failure> {
    tx.sql()
        .prepare_cached(
            "UPDATE jobs SET status = 'pending', run_at = ?2, lease_until = NULL,
                 last_error = NULL, updated_at = ?3
             WHERE id = ?1",
        )?
        .execute(params![id, run_at, now])?;
    Ok(())
}

/// Hands claimed jobs back (their work was cut short by a shutdown), due at once and without
/// counting the attempt.
pub fn release(tx: &Tx<'_>, ids: &[JobId], now: Timestamp) -> Result<(), Failure> {
    let mut stmt = tx.sql().prepare_cached(
        "UPDATE jobs SET status = 'pending', attempts = max(attempts - 1, 0), run_at = ?2,
             lease_until = NULL, updated_at = ?2
         WHERE id = ?1 AND status = 'running'",
    )?;
    for id in ids {
        stmt.execute(params![id, now])?;
    }
    Ok(())
}

/// When a job of `kind` that is not yet due becomes due (a retry, or an expired lease).
pub fn next_due(conn: &Db, kind: &str, now: Timestamp) -> Result<Option<Timestamp>, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT min(t) FROM (
                 SELECT min(run_at) AS t FROM jobs
                 WHERE kind = ?1 AND status = 'pending' AND run_at > ?2
                 UNION ALL
                 SELECT min(lease_until) FROM jobs
                 WHERE kind = ?1 AND status = 'running' AND lease_until > ?2) AS upcoming",
        )?
        .query_row(params![kind, now], |r| r.get(0))?)
}

/// Whether a job of `kind` is due now (new, or claimed with its lease run out): a read that
/// spares an empty claim its write transaction.
pub fn any_due(conn: &Db, kind: &str, now: Timestamp) -> Result<bool, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM jobs
                            WHERE kind = ?1 AND status = 'pending' AND run_at <= ?2)
                 OR EXISTS (SELECT 1 FROM jobs
                            WHERE kind = ?1 AND status = 'running' AND lease_until <= ?2)",
        )?
        .query_row(params![kind, now], |r| r.get(0))?)
}

/// Jobs of `kind` due now or under way (for tests and benchmarks that wait for quiet).
pub fn unsettled(conn: &Db, kind: &str, now: Timestamp) -> Result<u64, Failure> {
    let n: i64 = conn.sql().query_row(
        "SELECT count(*) FROM jobs
         WHERE kind = ?1 AND ((status = 'pending' AND run_at <= ?2) OR status = 'running')",
        params![kind, now],
        |r| r.get(0),
    )?;
    Ok(super::count(n))
}

/// Drops finished jobs older than `before`.
pub fn purge_finished(tx: &Tx<'_>, before: Timestamp) -> Result<usize, Failure> {
    Ok(tx.sql().execute(
        "DELETE FROM jobs WHERE status IN ('done', 'failed') AND updated_at < ?1",
        [before],
    )?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_attempt_whose_lease_was_taken_over_no_longer_holds_its_job() {
        let (_dir, store) = crate::store::temporary();
        let me = BootId::new();
        let now = Timestamp::from_millis(1_000_000);
        let minute = Duration::from_secs(60);
        let held = store
            .write_blocking(move |tx| {
                enqueue(tx, "send", "{}", now, Queue::Sends, now)?;
                let first = claim(tx, "send", now, 1, &Lease::new(&me, now, minute))?.remove(0);
                let first_holds = check_held(tx, &first, &me).is_ok();
                // The first attempt hangs; its lease runs out and a second attempt claims it.
                let later = now.plus(minute * 2);
                let second =
                    claim(tx, "send", later, 1, &Lease::new(&me, later, minute))?.remove(0);
                let first_after = check_held(tx, &first, &me);
                let second_holds = check_held(tx, &second, &me).is_ok();
                let other_run = check_held(tx, &second, &BootId::new()).is_ok();
                Ok((first_holds, first_after, second_holds, other_run))
            })
            .unwrap();
        assert!(held.0);
        assert!(matches!(held.1, Err(Failure::Store(StoreError::ClaimLost))));
        assert!(held.2);
        assert!(!held.3);
    }
}
