//! Backups of the one database file while the server runs (`agentsend backup`, and scheduled
//! ones under `[backup]`), and restoring one (`agentsend restore`, server stopped).
//!
//! A backup is `VACUUM INTO` a temporary file beside the destination (one read transaction:
//! writers are never blocked, and the copy is the database as of the moment it started),
//! synced, then linked into place under its final name, so that a backup file that exists is
//! always complete.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;

use crate::domain::{Timestamp, random};
use crate::state::AppState;
use crate::store::backup::{self as store_backup, Inspection};
use crate::store::{self, ServeLock, Store};

/// A finished backup.
#[derive(Debug, Clone)]
pub struct Backup {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// Backs up the database of a running server (through its reader pool).
pub async fn take(store: &Store, dest: &Path) -> anyhow::Result<Backup> {
    let started = Instant::now();
    let partial = partial_path(dest)?;
    let target = partial.clone();
    let copied = store
        .read(move |db| store_backup::copy_into(db, &target))
        .await;
    finish(copied.map_err(anyhow::Error::from), &partial, dest, started)
}

/// Backs up the database file at `db` from another process (`agentsend backup`): it may be in
/// use by a server meanwhile.
pub fn take_of_file(db: &Path, dest: &Path) -> anyhow::Result<Backup> {
    let started = Instant::now();
    if !db.is_file() {
        anyhow::bail!("there is no database at {}", db.display());
    }
    let partial = partial_path(dest)?;
    let copied = store_backup::copy_file(db, &partial).map_err(anyhow::Error::from);
    finish(copied, &partial, dest, started)
}

/// A temporary name beside `dest`, after checking that `dest` is free and its directory exists.
fn partial_path(dest: &Path) -> anyhow::Result<PathBuf> {
    if dest.exists() {
        anyhow::bail!(
            "{} already exists; a backup never overwrites a file",
            dest.display()
        );
    }
    let name = dest
        .file_name()
        .with_context(|| format!("{} does not name a file", dest.display()))?;
    let dir = parent_dir(dest);
    if !dir.is_dir() {
        anyhow::bail!("the directory {} does not exist", dir.display());
    }
    let mut partial = std::ffi::OsString::from(".");
    partial.push(name);
    partial.push(format!(".partial-{}", hex::encode(random::bytes::<6>())));
    Ok(dir.join(partial))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Syncs the copy and gives it its final name (a hard link, which unlike a rename never
/// replaces a file that appeared meanwhile); removes the temporary file whatever happens.
fn finish(
    copied: anyhow::Result<()>,
    partial: &Path,
    dest: &Path,
    started: Instant,
) -> anyhow::Result<Backup> {
    let placed = copied
        .with_context(|| format!("cannot write the backup to {}", dest.display()))
        .and_then(|()| {
            std::fs::File::open(partial)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("cannot sync {}", partial.display()))?;
            std::fs::hard_link(partial, dest)
                .with_context(|| format!("cannot create {}", dest.display()))?;
            sync_dir(parent_dir(dest));
            Ok(())
        });
    // The temporary file may not exist (the copy failed before creating it).
    let _ = std::fs::remove_file(partial);
    placed?;
    let bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    Ok(Backup {
        path: dest.to_path_buf(),
        bytes,
        elapsed: started.elapsed(),
    })
}

/// Makes a new directory entry durable; best effort (not every file system allows it).
fn sync_dir(dir: &Path) {
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        log::debug!("cannot sync the directory {}: {e}", dir.display());
    }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// What the restored file holds.
    pub inspection: Inspection,
    /// Where the database it replaced was moved, if there was one.
    pub previous: Option<PathBuf>,
}

/// Replaces the database at `db` with the backup at `source`, with the server stopped: the
/// backup must be a sound AgentSend database of this build's schema version or an older one
/// (later migrated when the server starts); otherwise nothing is touched. The database it
/// replaces (and its write-ahead log) is kept beside it as `<db>.before-restore-<time>`.
pub fn restore(db: &Path, source: &Path, now: Timestamp) -> anyhow::Result<Restored> {
    let _lock = ServeLock::acquire(db).map_err(|why| {
        anyhow::anyhow!(
            "{why}; stop the server before restoring (a backup can be taken while it runs)"
        )
    })?;
    let inspection = store_backup::inspect(source)?;
    let partial = partial_path(&db.with_extension("restoring"))?;
    let copied = store_backup::copy_file(source, &partial)
        .with_context(|| format!("cannot copy {}", source.display()));
    let placed = copied.and_then(|()| {
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("cannot sync {}", partial.display()))
    });
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let previous = match move_aside(db, now) {
        Ok(previous) => previous,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, db)
        .with_context(|| format!("cannot move the restored file to {}", db.display()))?;
    sync_dir(parent_dir(db));
    Ok(Restored {
        inspection,
        previous,
    })
}

/// Moves the database at `db` and its write-ahead log aside (SQLite pairs them by name, so
/// they move together), and drops its shared-memory index; `None` when there is no database.
/// If the log cannot follow, the database goes back: a database is never left without its log.
fn move_aside(db: &Path, now: Timestamp) -> anyhow::Result<Option<PathBuf>> {
    if !db.exists() {
        return Ok(None);
    }
    let aside = suffixed(db, &format!(".before-restore-{}", file_time(now)));
    std::fs::rename(db, &aside).with_context(|| format!("cannot move {} aside", db.display()))?;
    let wal = store::wal_path(db);
    if wal.exists()
        && let Err(e) = std::fs::rename(&wal, store::wal_path(&aside))
    {
        let _ = std::fs::rename(&aside, db);
        return Err(e).with_context(|| format!("cannot move {} aside", wal.display()));
    }
    let _ = std::fs::remove_file(suffixed(db, "-shm"));
    Ok(Some(aside))
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A UTC time for file names: `20261203T120501Z`.
fn file_time(t: Timestamp) -> String {
    t.to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(15)
        .collect::<String>()
        + "Z"
}

/// The prefix and suffix of scheduled backups' names.
const SCHEDULED_PREFIX: &str = "agentsend-";
const SCHEDULED_SUFFIX: &str = ".db";

/// One scheduled backup: a new file in `backup.dir`, then the oldest ones beyond `backup.keep`
/// deleted. Returns the new backup.
pub async fn scheduled_tick(state: &AppState) -> anyhow::Result<Backup> {
    let dir = &state.config.backup.dir;
    let name = format!(
        "{SCHEDULED_PREFIX}{}{SCHEDULED_SUFFIX}",
        file_time(state.now())
    );
    let backup = take(&state.store, &dir.join(name)).await?;
    prune(dir, state.config.backup.keep)?;
    Ok(backup)
}

/// Deletes the oldest scheduled backups in `dir` beyond the newest `keep` (their names sort
/// by time); other files are left alone.
fn prune(dir: &Path, keep: usize) -> anyhow::Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(SCHEDULED_PREFIX) && n.ends_with(SCHEDULED_SUFFIX))
        .collect();
    names.sort_unstable();
    let excess = names.len().saturating_sub(keep);
    for name in &names[..excess] {
        let path = dir.join(name);
        std::fs::remove_file(&path)
            .with_context(|| format!("cannot delete the old backup {}", path.display()))?;
    }
    Ok(())
}

/// Runs [`scheduled_tick`] every `backup.interval_secs` until `shutdown` turns true. A failed
/// backup is logged and tried again at the next interval; the server serves on.
pub async fn run_scheduled(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let interval = Duration::from_secs(state.config.backup.interval_secs);
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        match scheduled_tick(&state).await {
            Ok(b) => log::info!(
                "backup written to {} ({} bytes in {} ms)",
                b.path.display(),
                b.bytes,
                b.elapsed.as_millis()
            ),
            Err(e) => log::error!("scheduled backup failed: {e:#}"),
        }
    }
}
