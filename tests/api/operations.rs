//! Keeping the one file safe and bounded: backups while serving, restores, `db check`,
//! scheduled backups, retention and the file giving space back.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::cli::{run, stdout};
use crate::helpers::{TestApp, json};
use crate::smtp_client::send_mail;

const DAY: Duration = Duration::from_secs(86_400);

fn message(to: &str, id: &str, body_bytes: usize) -> Vec<u8> {
    // Text that does not compress away, so that the file really grows with it.
    let mut body = String::with_capacity(body_bytes + body_bytes / 76 * 2);
    let mut x: u64 = id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    while body.len() < body_bytes {
        for _ in 0..76 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            body.push(char::from(b'a' + (x % 26) as u8));
        }
        body.push_str("\r\n");
    }
    format!(
        "From: Sender <sender@example.com>\r\nTo: {to}\r\nSubject: {id}\r\n\
         Message-ID: <{id}@example.com>\r\n\r\n{body}"
    )
    .into_bytes()
}

fn stored_message_ids(db: &Path) -> BTreeSet<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT message_id_header FROM messages")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_backup_under_write_load_restores_every_message_acknowledged_before_it_started() {
    if crate::backend::sqlite_only() {
        return;
    }
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "load"})).await;
    let to = inbox["address"].as_str().unwrap().to_owned();
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (acked, stop, to, smtp) = (acknowledged.clone(), stop.clone(), to.clone(), app.smtp);
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let id = format!("w{w}-{n}");
                let (code, _) = send_mail(
                    smtp,
                    "sender@example.com",
                    &[&to],
                    &message(&to, &id, 20_000),
                )
                .await;
                assert_eq!(code, 250);
                acked.lock().unwrap().push(format!("{id}@example.com"));
                n += 1;
            }
        }));
    }
    crate::helpers::eventually("some mail to be stored", || async {
        (acknowledged.lock().unwrap().len() >= 40).then_some(())
    })
    .await;
    // Everything acknowledged before the backup starts must be in it.
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    let db = app.db_path();
    let (db_arg, backup_arg) = (db.to_str().unwrap().to_owned(), backup.clone());
    let cwd = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        run(
            &cwd,
            &["--db", &db_arg, "backup", backup_arg.to_str().unwrap()],
        )
    })
    .await
    .unwrap();
    let printed = stdout(&out);
    assert!(printed.contains("backed up"), "{printed}");
    // The load went on during the backup and after it.
    let during = acknowledged.lock().unwrap().len();
    crate::helpers::eventually("more mail after the backup", || async {
        (acknowledged.lock().unwrap().len() > during + 8).then_some(())
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }

    // Restored into a fresh place, as an operator would after losing the server.
    let restored = dir.path().join("restored.db");
    let out = run(
        dir.path(),
        &[
            "--db",
            restored.to_str().unwrap(),
            "restore",
            backup.to_str().unwrap(),
        ],
    );
    let printed = stdout(&out);
    assert!(printed.contains("restored"), "{printed}");
    assert_eq!(integrity(&restored), "ok");
    let stored = stored_message_ids(&restored);
    for id in &before {
        assert!(
            stored.contains(id),
            "{id} was acknowledged before the backup"
        );
    }
    // And it serves: the server starts on it and lists the mail.
    let check = run(
        dir.path(),
        &["--db", restored.to_str().unwrap(), "db", "check"],
    );
    let printed = stdout(&check);
    assert!(printed.contains("ok (integrity_check)"), "{printed}");
    assert!(printed.contains("incremental auto-vacuum"), "{printed}");
}

#[tokio::test]
async fn restore_refuses_what_it_cannot_use_and_overwrites_nothing() {
    if crate::backend::sqlite_only() {
        return;
    }
    let app = TestApp::spawn().await;
    app.create_inbox(json!({"address": "keep"})).await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    stdout(&run(
        dir.path(),
        &[
            "--db",
            app.db_path().to_str().unwrap(),
            "backup",
            good.to_str().unwrap(),
        ],
    ));
    // The target database: a copy of the good one, which must survive every refusal.
    let target = dir.path().join("target.db");
    std::fs::copy(&good, &target).unwrap();
    let original = std::fs::read(&target).unwrap();

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not a database at all, just text").unwrap();
    let newer = dir.path().join("newer.db");
    std::fs::copy(&good, &newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('hi');")
        .unwrap();
    let corrupt = dir.path().join("corrupt.db");
    let mut bytes = std::fs::read(&good).unwrap();
    // Scribble over the middle of the file: b-tree pages no longer make sense.
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 8192] {
        *b = 0xA5;
    }
    std::fs::write(&corrupt, bytes).unwrap();

    for (file, expected) in [
        (&junk, "is not an SQLite database"),
        (&newer, "schema version 999, newer than this build"),
        (&foreign, "is not an AgentSend database"),
        (&corrupt, "is damaged"),
        (&dir.path().join("missing.db"), "cannot read"),
    ] {
        let out = run(
            dir.path(),
            &[
                "--db",
                target.to_str().unwrap(),
                "restore",
                file.to_str().unwrap(),
            ],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: restored", file.display());
        assert!(err.contains(expected), "{}: {err}", file.display());
        assert_eq!(
            std::fs::read(&target).unwrap(),
            original,
            "{}",
            file.display()
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("partial") || n.contains("before-restore"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A running server's database is not replaced under it.
    let out = run(
        dir.path(),
        &[
            "--db",
            app.db_path().to_str().unwrap(),
            "restore",
            good.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stop the server"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_backup_to_an_unwritable_place_fails_and_the_server_carries_on() {
    if crate::backend::sqlite_only() {
        return;
    }
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let db = app.db_path();
    for dest in ["/proc/self/agentsend-backup.db", "/nonexistent-dir/b.db"] {
        let out = run(dir.path(), &["--db", db.to_str().unwrap(), "backup", dest]);
        assert!(!out.status.success(), "{dest}");
        assert!(!Path::new(dest).exists());
    }
    // An existing file is never overwritten.
    let existing = dir.path().join("exists.db");
    std::fs::write(&existing, b"precious").unwrap();
    let out = run(
        dir.path(),
        &[
            "--db",
            db.to_str().unwrap(),
            "backup",
            existing.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&existing).unwrap(), b"precious");
    // The server is unaffected.
    let inbox = app.create_inbox(json!({})).await;
    assert!(inbox["id"].is_string());
    let (status, _) = json(app.anonymous(Method::GET, "/ready").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn scheduled_backups_keep_the_newest_and_a_failing_one_leaves_the_server_serving() {
    if crate::backend::sqlite_only() {
        return;
    }
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_path_buf();
    let app = TestApp::spawn_with(|c| {
        c.backup.dir = dir.clone();
        c.backup.keep = 2;
    })
    .await;
    let mut made = Vec::new();
    for _ in 0..3 {
        app.create_inbox(json!({})).await;
        let b = agentsend::backup::scheduled_tick(&app.state).await.unwrap();
        assert_eq!(integrity(&b.path), "ok");
        made.push(b.path.file_name().unwrap().to_owned());
        app.advance(Duration::from_secs(3600));
    }
    let mut kept: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    kept.sort();
    assert_eq!(kept, made[1..], "the oldest is pruned");
    // The newest holds the three inboxes (and the default account's nothing else).
    let conn = rusqlite::Connection::open(dir.join(&made[2])).unwrap();
    let inboxes: i64 = conn
        .query_row("SELECT count(*) FROM inboxes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(inboxes, 3);

    // The directory disappears: the backup fails, the server serves on.
    drop(backups);
    assert!(agentsend::backup::scheduled_tick(&app.state).await.is_err());
    let (status, _) = json(app.anonymous(Method::GET, "/ready").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

fn file_len(app: &TestApp) -> u64 {
    std::fs::metadata(app.db_path()).map_or(0, |m| m.len())
}

#[tokio::test]
async fn retention_deletes_exactly_the_mail_past_its_age_and_the_file_shrinks() {
    let app = TestApp::spawn_with(|c| c.retention.messages_days = 30).await;
    let old_inbox = app.create_inbox(json!({"address": "old"})).await;
    let to = old_inbox["address"].as_str().unwrap().to_owned();
    for n in 0..60 {
        let (code, _) = send_mail(
            app.smtp,
            "sender@example.com",
            &[&to],
            &message(&to, &format!("old-{n}"), 60_000),
        )
        .await;
        assert_eq!(code, 250);
    }
    // An account that keeps its mail forever, whatever the server's default.
    let (other_account, other_key) = app.other_account().await;
    let other = app
        .request_as(&other_key, Method::POST, "/inboxes")
        .json(&json!({"address": "forever"}))
        .send()
        .await
        .unwrap();
    let (_, other_inbox) = json(other).await;
    let forever = other_inbox["address"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let printed = stdout(&run(
        dir.path(),
        &[
            "--db",
            &app.db_arg(),
            "accounts",
            "retention",
            &other_account,
            "--messages-days",
            "0",
        ],
    ));
    assert!(
        printed.contains("kept forever (its own setting)"),
        "{printed}"
    );
    let (code, _) = send_mail(
        app.smtp,
        "sender@example.com",
        &[&forever],
        &message(&forever, "forever-1", 1000),
    )
    .await;
    assert_eq!(code, 250);

    app.advance(20 * DAY);
    for n in 0..3 {
        let (code, _) = send_mail(
            app.smtp,
            "sender@example.com",
            &[&to],
            &message(&to, &format!("young-{n}"), 1000),
        )
        .await;
        assert_eq!(code, 250);
    }
    // Exactly 30 days after the first batch nothing goes yet; a moment past it, the old go.
    app.advance(10 * DAY - Duration::from_secs(3600));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.messages, 0);
    app.state.store.checkpoint().await.unwrap();
    let full = file_len(&app);

    app.advance(Duration::from_secs(7200));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.messages, 60);
    // The SQLite file gives the space back (PostgreSQL's autovacuum does that itself).
    if !crate::backend::postgres() {
        assert!(report.vacuumed_pages > 0, "{report:?}");
        app.state.store.checkpoint().await.unwrap();
        let shrunk = file_len(&app);
        assert!(
            shrunk + 2_000_000 < full,
            "the file gives the space back: {full} -> {shrunk} bytes"
        );
    }

    let stored: BTreeSet<String> = app
        .sql()
        .query("SELECT message_id_header FROM messages", [])
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect();
    let expected: BTreeSet<String> = ["young-0", "young-1", "young-2", "forever-1"]
        .iter()
        .map(|id| format!("{id}@example.com"))
        .collect();
    assert_eq!(stored, expected);
    // The API agrees: the inbox lists the young ones, its threads and counts follow.
    let (_, list) = json(
        app.get(&format!(
            "/inboxes/{}/messages",
            old_inbox["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 3, "{list}");
    assert_eq!(list["total"], 3, "{list}");
    let (_, threads) = json(
        app.get(&format!(
            "/inboxes/{}/threads",
            old_inbox["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    assert_eq!(threads["total"], 3, "{threads}");
    // A second pass finds nothing more.
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.messages, 0);
    if !crate::backend::postgres() {
        assert_eq!(integrity(&app.db_path()), "ok");
    }
}

#[test]
fn db_check_reports_a_damaged_file_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    // A real database (created by a CLI command on a new file), then damaged.
    stdout(&run(
        dir.path(),
        &["--db", db.to_str().unwrap(), "accounts", "list"],
    ));
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let printed = stdout(&run(
        dir.path(),
        &["--db", db.to_str().unwrap(), "db", "check"],
    ));
    assert!(printed.contains("ok (integrity_check)"), "{printed}");
    assert!(printed.contains("rows: accounts 0"), "{printed}");
    let mut bytes = std::fs::read(&db).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len - 4096..] {
        *b = 0x5A;
    }
    std::fs::write(&db, bytes).unwrap();
    let out = run(dir.path(), &["--db", db.to_str().unwrap(), "db", "check"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("damaged"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
