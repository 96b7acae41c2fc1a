//! One server per database file. A second `serve` on the same file would take up the first
//! one's claimed work and in-flight requests as if it had died; it is refused instead.
//! Administration commands (accounts, keys) do not take the lock: they may run beside the
//! server.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// An exclusive lock on `<database>-lock`, held while the server runs and released by the
/// operating system when the process ends, however it ends. A separate file: closing any
/// handle to the database file itself would drop SQLite's own locks on it.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

impl ServeLock {
    /// Takes the lock of the database at `db`, or says which file another server holds.
    pub fn acquire(db: &Path) -> Result<Self, String> {
        let path = lock_path(db);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(format!(
                "another server is already running on {} (it holds {})",
                db.display(),
                path.display()
            )),
            Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }
}

fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_server_on_the_same_file_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let first = ServeLock::acquire(&db).unwrap();
        let err = ServeLock::acquire(&db).unwrap_err();
        assert!(err.contains("already running"), "{err}");
        assert!(ServeLock::acquire(&dir.path().join("b.db")).is_ok());
        drop(first);
        ServeLock::acquire(&db).unwrap();
    }
}
