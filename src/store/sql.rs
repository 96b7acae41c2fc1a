//! Conversions between domain types and SQLite values.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::domain::{
    AccountId, ApiKeyId, AttachmentId, DeliveryId, DomainId, DraftId, EventId, InboxId, JobId,
    ListEntryId, MessageId, ThreadId, Timestamp, WebhookId,
};

macro_rules! id_sql {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.to_string()))
            }
        }
        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }
    )*};
}

id_sql!(
    AccountId,
    ApiKeyId,
    InboxId,
    DomainId,
    WebhookId,
    EventId,
    DeliveryId,
    MessageId,
    ThreadId,
    AttachmentId,
    JobId,
    ListEntryId,
    DraftId
);

impl ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_millis()))
    }
}

impl FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_i64().map(Timestamp::from_millis)
    }
}

/// Reads a non-negative INTEGER column as `u32`/`u64`, failing loudly on garbage rather than
/// wrapping.
pub fn unsigned<T: TryFrom<i64>>(row: &super::conn::Row<'_>, idx: &str) -> rusqlite::Result<T> {
    let v: i64 = row.get(idx)?;
    T::try_from(v).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Integer,
            format!("{idx} = {v} is out of range").into(),
        )
    })
}

/// A text column whose stored value does not make sense (a bug or a hand-edited database).
pub fn bad_text(column: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, what.into())
}
