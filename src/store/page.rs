//! One page of a list: `LIMIT`/`OFFSET`, or a seek past a cursor; and the lists' totals.

use super::conn::Row;
use rusqlite::params;
use rusqlite::types::ToSql;

use super::{Db, Failure};
use crate::domain::{Cursor, Page, Paging};

/// The order a list is kept in: a sort key and a row number that breaks ties, both served by
/// an index that starts with the list's filter columns (so a page is an index seek, never a
/// sort).
pub(super) struct Order {
    /// The sort key column (a timestamp, or a rowid that is unique on its own, then also
    /// `row`), as the query names it.
    pub key: &'static str,
    /// The tie-breaking column (the rowid), as the query names it.
    pub row: &'static str,
    /// Newest (largest key) first.
    pub descending: bool,
}

impl Order {
    /// Newest first by `created_at`, the order of most lists.
    pub const NEWEST: Order = Order {
        key: "created_at",
        row: "rowid",
        descending: true,
    };
}

/// Runs one page of `select`, a `SELECT … FROM … WHERE …` (it must end in a `WHERE` clause)
/// whose last two columns are `order`'s key and row, with `params` as `?1`, `?2`, …; `map`
/// reads each row. The page holds at most `paging.limit()` rows, and says where the next one
/// starts when more rows follow.
pub(super) fn page<T>(
    conn: &Db,
    select: &str,
    order: &Order,
    params: &[&dyn ToSql],
    paging: Paging,
    total: u64,
    mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Page<T>, Failure> {
    let (direction, past) = if order.descending {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    let (key, row) = (order.key, order.row);
    let n = params.len();
    let cursor = paging.cursor();
    // A key that is unique on its own (a rowid) is ordered and sought alone: a virtual table
    // such as the full-text index serves `ORDER BY rowid` and `rowid < ?` itself, but not
    // the same column twice.
    let single = key == row;
    let seek = match cursor {
        Some(_) if single => format!(" AND {key} {past} ?{}", n + 1),
        Some(_) => format!(" AND ({key}, {row}) {past} (?{}, ?{})", n + 1, n + 2),
        None => String::new(),
    };
    let order_by = if single {
        format!("{key} {direction}")
    } else {
        format!("{key} {direction}, {row} {direction}")
    };
    let tail = match cursor {
        Some(_) if single => n + 2,
        Some(_) => n + 3,
        None => n + 1,
    };
    let sql = format!(
        "{select}{seek} ORDER BY {order_by} LIMIT ?{tail} OFFSET ?{}",
        tail + 1
    );
    // One row more than the page shows tells whether another page follows.
    let fetch = paging.limit() + 1;
    let offset = paging.offset();
    let mut bound: Vec<&dyn ToSql> = params.to_vec();
    if let Some(c) = &cursor {
        bound.push(&c.key);
        if !single {
            bound.push(&c.row);
        }
    }
    bound.extend([&fetch as &dyn ToSql, &offset]);
    let mut stmt = conn.sql().prepare_cached(&sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query(bound.as_slice())?;
    let mut data = Vec::new();
    let mut last = None;
    let limit = usize::try_from(paging.limit()).unwrap_or(usize::MAX);
    let mut more = false;
    while let Some(r) = rows.next()? {
        if data.len() == limit {
            more = true;
            break;
        }
        data.push(map(&r)?);
        last = Some(Cursor {
            key: r.get(columns - 2)?,
            row: r.get(columns - 1)?,
        });
    }
    Ok(Page {
        data,
        total,
        next: last.filter(|_| more),
    })
}

/// Which kept count a list's total is.
#[derive(Debug, Clone, Copy)]
pub(super) enum Counted {
    /// An inbox's messages.
    Messages,
    /// An inbox's threads.
    Threads,
    /// An account's inboxes.
    Inboxes,
    /// A webhook's deliveries.
    Deliveries,
    /// An inbox's messages with a label (the label is the part).
    Labelled,
    /// An inbox's threads with a label on any of their messages (the label is the part).
    LabelledThreads,
    /// A thread's messages with a label (the label is the part).
    ThreadLabels,
}

impl Counted {
    fn name(self) -> &'static str {
        match self {
            Counted::Messages => "messages",
            Counted::Threads => "threads",
            Counted::Inboxes => "inboxes",
            Counted::Deliveries => "deliveries",
            Counted::Labelled => "labelled",
            Counted::LabelledThreads => "labelled_threads",
            Counted::ThreadLabels => "thread_labels",
        }
    }
}

/// A list's total from the counts the triggers of migrations 8 and 11 keep: the rows of `list`
/// that belong to `owner`, in any of `parts` (statuses, labels), or in any part when `parts` is
/// empty.
pub(super) fn kept_total(
    conn: &Db,
    list: Counted,
    owner: &dyn ToSql,
    parts: &[&str],
) -> Result<u64, Failure> {
    let parts = serde_json::Value::from(parts.to_vec()).to_string();
    let n: i64 = conn
        .sql()
        .prepare_cached(
            "SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM list_counts
             WHERE list = ?1 AND owner = ?2
               AND (?3 = '[]' OR part IN (SELECT value FROM json_each(?3)))",
        )?
        .query_row(params![list.name(), owner, parts], |r| r.get(0))?;
    Ok(super::count(n))
}
