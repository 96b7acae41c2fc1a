//! The full-text index of messages (migration 11) and the filtered lists built on it.
//!
//! On SQLite the index is an FTS5 table without content of its own: each message's subject,
//! addresses and body text are written to it by the transaction that stores the message,
//! under the message's rowid, and leave with the message (a trigger). Bodies are compressed in
//! `messages`, so the text to index is handed in by the caller, who has it anyway. On
//! PostgreSQL it is a `tsvector` per message (subject, addresses and body weighted A, B and C)
//! with a GIN index, made of the same words FTS5 sees (runs of letters and digits, lower case),
//! searched with [`SearchQuery::as_tsquery`] and ranked by `ts_rank`.

use rusqlite::params;
use rusqlite::types::ToSql;

use super::page::{Counted, Order, kept_total, page};
use super::{Db, Engine, Failure, Tx, inboxes, messages};
use crate::domain::message::{Message, Thread};
use crate::domain::reading::Reading;
use crate::domain::search::{MessageQuery, SearchOrder, SearchQuery, without_diacritics};
use crate::domain::{AccountId, Cursor, InboxId, Label, Page, Paging, Timestamp};

/// A list total that would need a count of every match stops here: `total` then means "this
/// many or more", and the count stays within a few milliseconds however common the words.
pub const TOTAL_CAP: u64 = 1_000;

/// What the index holds of one message.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// The subject.
    pub subject: &'a str,
    /// The sender, with its name.
    pub from: &'a str,
    /// The To recipients.
    pub to: &'a [String],
    /// The Cc recipients.
    pub cc: &'a [String],
    /// The body as text (HTML reduced to text).
    pub body: &'a str,
}

/// Adds the message stored under `row` (its rowid) to the index.
pub(super) fn index(tx: &Tx<'_>, row: i64, doc: &Document<'_>) -> Result<(), Failure> {
    let mut addresses = doc.from.to_owned();
    for a in doc.to.iter().chain(doc.cc) {
        addresses.push(' ');
        addresses.push_str(a);
    }
    let statement = match tx.sql().engine() {
        Engine::Sqlite => {
            return Ok(tx
                .sql()
                .prepare_cached(
                    "INSERT INTO message_search (rowid, subject, addresses, body)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![row, doc.subject, addresses, doc.body])
                .map(|_| ())?);
        }
        Engine::Postgres => {
            "INSERT INTO message_search (rowid, document)
             VALUES (?1, setweight(to_tsvector('simple', ?2), 'A')
                         || setweight(to_tsvector('simple', ?3), 'B')
                         || setweight(to_tsvector('simple', ?4), 'C'))"
        }
    };
    tx.sql().prepare_cached(statement)?.execute(params![
        row,
        words(doc.subject),
        words(&addresses),
        words(doc.body)
    ])?;
    Ok(())
}

/// The words of `text` as FTS5's tokenizer finds them (runs of letters and digits, without
/// diacritics), one space apart: what PostgreSQL's parser is given, so that an address or a
/// hyphenated word is indexed as the words a query names, not as one token.
fn words(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(without_diacritics)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `CROSS JOIN`: on SQLite the left table drives the join (the index's or the labels'
/// matches, never every message); PostgreSQL plans joins itself and takes a plain `JOIN`.
fn driving_join(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "CROSS JOIN",
        Engine::Postgres => "JOIN",
    }
}

/// The condition that the message `s` matches the query `?`, for `engine`.
fn matches(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "message_search MATCH ?",
        Engine::Postgres => "s.document @@ to_tsquery('simple', ?)",
    }
}

/// `query` as `engine`'s index reads it.
fn query_text(engine: Engine, query: &SearchQuery) -> String {
    match engine {
        Engine::Sqlite => query.as_fts().to_owned(),
        Engine::Postgres => query.as_tsquery().to_owned(),
    }
}

/// The message columns, read through the alias `m`.
fn message_columns() -> String {
    messages::COLUMNS
        .split(',')
        .map(|c| format!("m.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A query being put together: the tables, the conditions and their parameters.
struct Sql {
    from: String,
    conditions: Vec<String>,
    params: Vec<Box<dyn ToSql>>,
}

impl Sql {
    fn new(from: impl Into<String>) -> Self {
        Self {
            from: from.into(),
            conditions: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Adds a condition whose bare `?` is the next parameter (a numbered `?N` stays as it is).
    fn and(&mut self, condition: &str, value: impl ToSql + 'static) {
        self.params.push(Box::new(value));
        let numbered = format!("?{}", self.params.len());
        let mut out = String::with_capacity(condition.len() + 4);
        let mut chars = condition.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '?' && !chars.peek().is_some_and(char::is_ascii_digit) {
                out.push_str(&numbered);
            } else {
                out.push(c);
            }
        }
        self.conditions.push(out);
    }

    fn and_plain(&mut self, condition: &str) {
        self.conditions.push(condition.to_owned());
    }

    fn where_clause(&self) -> String {
        format!("{} WHERE {}", self.from, self.conditions.join(" AND "))
    }

    fn params(&self) -> Vec<&dyn ToSql> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &dyn ToSql)
            .collect()
    }

    /// `count(*)` of the rows, up to [`TOTAL_CAP`].
    fn capped_count(&self, conn: &Db) -> Result<u64, Failure> {
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {TOTAL_CAP}) AS capped",
            self.where_clause()
        );
        let n: i64 = conn
            .sql()
            .prepare_cached(&sql)?
            .query_row(self.params().as_slice(), |r| r.get(0))?;
        Ok(super::count(n))
    }
}

/// The conditions of `q` other than the words and the table that drives the query. `from`
/// and `to` compare with ASCII case folded, as SQLite's `lower` does.
fn filters(sql: &mut Sql, q: &MessageQuery, label_done: bool) {
    if let Some(inbox) = q.inbox_id {
        sql.and("m.inbox_id = ?", inbox);
    }
    if let Some(from) = &q.from {
        sql.and(
            "instr(lower(m.from_address), ?) > 0",
            from.to_ascii_lowercase(),
        );
    }
    if let Some(to) = &q.to {
        sql.and(
            "instr(lower(m.to_addresses || m.cc_addresses || m.bcc_addresses), ?) > 0",
            to.to_ascii_lowercase(),
        );
    }
    if let Some(after) = q.after {
        sql.and("m.created_at >= ?", after);
    }
    if let Some(before) = q.before {
        sql.and("m.created_at < ?", before);
    }
    match q.has_attachment {
        Some(true) => {
            sql.and_plain("EXISTS (SELECT 1 FROM message_attachments WHERE message_id = m.id)")
        }
        Some(false) => {
            sql.and_plain("NOT EXISTS (SELECT 1 FROM message_attachments WHERE message_id = m.id)")
        }
        None => {}
    }
    if let Some(label) = &q.label
        && !label_done
    {
        sql.and(
            "EXISTS (SELECT 1 FROM message_labels WHERE message_row = m.rowid AND label = ?)",
            label.as_str().to_owned(),
        );
    }
    if let Some(direction) = q.direction {
        sql.and("m.direction = ?", direction.as_str());
    }
    if let Some(status) = q.status {
        sql.and("m.status = ?", status.as_str());
    }
}

/// The account's messages that `q` selects, newest first (or best match first with words and
/// `order = rank`). Words are looked up in the index; without words, a label is looked up in
/// the labels' index, else the inbox's messages are walked (`q.inbox_id` is then required).
pub fn find_messages(
    conn: &Db,
    account_id: AccountId,
    q: &MessageQuery,
    paging: Paging,
) -> Result<Page<Message>, Failure> {
    let columns = message_columns();
    let (mut sql, order, label_done) = if let Some(text) = &q.text {
        let engine = conn.sql().engine();
        let mut sql = Sql::new(format!(
            "message_search s {} messages m ON m.rowid = s.rowid",
            driving_join(engine)
        ));
        sql.and(matches(engine), query_text(engine, text));
        let order = Order {
            key: "s.rowid",
            row: "s.rowid",
            descending: true,
        };
        (sql, order, false)
    } else if let (Some(label), Some(inbox)) = (&q.label, q.inbox_id) {
        let mut sql = Sql::new(format!(
            "message_labels l {} messages m ON m.rowid = l.message_row",
            driving_join(conn.sql().engine())
        ));
        sql.and("l.inbox_id = ?", inbox);
        sql.and("l.label = ?", label.as_str().to_owned());
        let order = Order {
            key: "l.created_at",
            row: "l.message_row",
            descending: true,
        };
        (sql, order, true)
    } else {
        let order = Order {
            key: "m.created_at",
            row: "m.rowid",
            descending: true,
        };
        (Sql::new("messages m"), order, false)
    };
    sql.and("m.account_id = ?", account_id);
    filters(&mut sql, q, label_done);
    // A label alone in an inbox: its kept count is exact and costs one lookup.
    let only_label = *q
        == MessageQuery {
            label: q.label.clone(),
            inbox_id: q.inbox_id,
            order: q.order,
            ..MessageQuery::default()
        };
    let total = match (&q.label, q.inbox_id) {
        (Some(label), Some(inbox)) if only_label => {
            kept_total(conn, Counted::Labelled, &inbox, &[label.as_str()])?
        }
        _ => sql.capped_count(conn)?,
    };
    let select = format!(
        "SELECT {columns}, {}, {} FROM {}",
        order.key,
        order.row,
        sql.where_clause()
    );
    let mut page = if q.text.is_some() && q.order == SearchOrder::Rank {
        ranked(conn, &select, &sql, paging, total)?
    } else {
        page(
            conn,
            &select,
            &order,
            &sql.params(),
            paging,
            total,
            messages::from_row,
        )?
    };
    messages::complete(conn, &mut page.data)?;
    Ok(page)
}

/// Best match first: the index's BM25 rank. A page starts at `offset`, or at the position in
/// the ranking that a cursor of an earlier page names (its key; a rank is no value to seek
/// past, so the cursor is a position).
fn ranked(
    conn: &Db,
    select: &str,
    sql: &Sql,
    paging: Paging,
    total: u64,
) -> Result<Page<Message>, Failure> {
    let n = sql.params.len();
    // The words are the first parameter (see `find_messages`).
    let rank = match conn.sql().engine() {
        Engine::Sqlite => "s.rank",
        Engine::Postgres => "ts_rank(s.document, to_tsquery('simple', ?1)) DESC",
    };
    let query = format!(
        "{select} ORDER BY {rank}, s.rowid DESC LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    );
    let fetch = paging.limit() + 1;
    let offset = paging.cursor().map_or(paging.offset(), |c| c.key);
    let mut bound = sql.params();
    bound.extend([&fetch as &dyn ToSql, &offset]);
    let mut data: Vec<Message> = conn
        .sql()
        .prepare_cached(&query)?
        .query_map(bound.as_slice(), messages::from_row)?
        .collect::<Result<_, _>>()?;
    let limit = usize::try_from(paging.limit()).unwrap_or(usize::MAX);
    let next = (data.len() > limit).then(|| Cursor {
        key: offset + paging.limit(),
        row: 0,
    });
    data.truncate(limit);
    Ok(Page { data, total, next })
}

/// An inbox's threads, most recently active first: those with a message that matches `text`
/// and with a message labelled `label`, when given.
pub fn find_threads(
    conn: &Db,
    account_id: AccountId,
    inbox: InboxId,
    text: Option<&SearchQuery>,
    label: Option<&Label>,
    paging: Paging,
    now: Timestamp,
) -> Result<Page<Thread>, Failure> {
    inboxes::get_inbox(conn, account_id, inbox, now)?;
    let mut sql = Sql::new("threads");
    sql.and("threads.inbox_id = ?", inbox);
    if let Some(text) = text {
        // Not correlated with the outer row (`?1` is the inbox), so it runs once.
        let engine = conn.sql().engine();
        sql.and(
            &format!(
                "threads.id IN (SELECT m.thread_id FROM message_search s
                                {} messages m ON m.rowid = s.rowid
                                WHERE {} AND m.inbox_id = ?1)",
                driving_join(engine),
                matches(engine)
            ),
            query_text(engine, text),
        );
    }
    if let Some(label) = label {
        sql.and(
            "EXISTS (SELECT 1 FROM list_counts WHERE list = 'thread_labels'
                     AND owner = threads.id AND part = ?)",
            label.as_str().to_owned(),
        );
    }
    let total = match (text, label) {
        (None, Some(label)) => {
            kept_total(conn, Counted::LabelledThreads, &inbox, &[label.as_str()])?
        }
        (None, None) => kept_total(conn, Counted::Threads, &inbox, &[])?,
        _ => sql.capped_count(conn)?,
    };
    let select = format!(
        "SELECT {}, last_message_at, threads.rowid FROM {}",
        messages::THREAD_COLUMNS,
        sql.where_clause()
    );
    let mut page = page(
        conn,
        &select,
        &Order {
            key: "last_message_at",
            row: "threads.rowid",
            descending: true,
        },
        &sql.params(),
        paging,
        total,
        messages::thread_from_row,
    )?;
    for thread in &mut page.data {
        messages::complete_thread(conn, thread)?;
    }
    Ok(page)
}

/// Indexes every message stored before migration 11 and records its new content (the Rust
/// step of that migration).
pub(super) fn index_existing(tx: &Tx<'_>) -> Result<(), Failure> {
    let rows: Vec<i64> = tx
        .sql()
        .prepare("SELECT rowid FROM messages ORDER BY rowid")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for row in rows {
        let m = messages::by_row(tx, row)?;
        let reading = Reading::of(m.body_text.as_deref(), m.body_html.as_deref());
        messages::set_reading(tx, row, &m, &reading)?;
        index_stored(tx, row, &m, &reading)?;
    }
    Ok(())
}

/// Adds the stored message `m` (its rowid `row`, its body read as `reading`) to the index.
pub(super) fn index_stored(
    tx: &Tx<'_>,
    row: i64,
    m: &Message,
    reading: &Reading,
) -> Result<(), Failure> {
    index(
        tx,
        row,
        &Document {
            subject: &m.subject,
            from: &m.from_address,
            to: &m.to_addresses,
            cc: &m.cc_addresses,
            body: &reading.body,
        },
    )
}
