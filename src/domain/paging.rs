//! Paging: `limit` with either `offset` or an opaque `cursor`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A validated page request: `limit` 1–100 (default 20), and where the page starts: `offset`
/// rows from the start (default 0), or right after the row a `cursor` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    limit: u32,
    start: Start,
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Offset(u64),
    After(Cursor),
}

/// A position in a list: the list's sort key and a row number that breaks ties, of the last
/// row a page returned. Paging on from it costs the same on any page (an index seek, where an
/// offset walks every row before it), and rows added meanwhile neither shift nor repeat rows.
/// On the wire it is opaque: clients pass back what `nextCursor` gave them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The sort key (a timestamp).
    pub key: i64,
    /// The tie-breaker.
    pub row: i64,
}

/// The cursor format's version, the first byte of every cursor.
const CURSOR_VERSION: &str = "1";

impl Cursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{CURSOR_VERSION}.{}.{}", self.key, self.row))
    }

    /// Reads the text form back.
    pub fn decode(text: &str) -> Result<Self, PagingError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| PagingError::Cursor)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| PagingError::Cursor)?;
        let mut parts = text.split('.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(CURSOR_VERSION), Some(key), Some(row), None) => Ok(Self {
                key: key.parse().map_err(|_| PagingError::Cursor)?,
                row: row.parse().map_err(|_| PagingError::Cursor)?,
            }),
            _ => Err(PagingError::Cursor),
        }
    }
}

/// Why a paging parameter is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    /// `limit` is not an integer in 1..=100.
    #[error("must be an integer from 1 to 100")]
    Limit,
    /// `offset` is not a non-negative integer.
    #[error("must be an integer of 0 or more")]
    Offset,
    /// `cursor` is not one this server gave out.
    #[error("must be a nextCursor value from an earlier page of this list")]
    Cursor,
    /// Both `offset` and `cursor` were given.
    #[error("cannot be combined with offset; a cursor already says where the page starts")]
    CursorWithOffset,
}

impl Paging {
    /// Default page size.
    pub const DEFAULT_LIMIT: u32 = 20;
    /// Largest page size.
    pub const MAX_LIMIT: u32 = 100;

    /// Parses the raw query values; absent values take the defaults. Out-of-range values are
    /// errors, never silently clamped.
    pub fn parse_limit(raw: Option<&str>) -> Result<u32, PagingError> {
        match raw {
            None => Ok(Self::DEFAULT_LIMIT),
            Some(s) => match s.parse::<u32>() {
                Ok(n) if (1..=Self::MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(PagingError::Limit),
            },
        }
    }

    /// See [`Paging::parse_limit`].
    pub fn parse_offset(raw: Option<&str>) -> Result<u64, PagingError> {
        match raw {
            None => Ok(0),
            // SQLite's OFFSET is a signed 64-bit integer.
            Some(s) => match s.parse::<u64>() {
                Ok(n) if i64::try_from(n).is_ok() => Ok(n),
                _ => Err(PagingError::Offset),
            },
        }
    }

    /// See [`Paging::parse_limit`]. A cursor and an offset exclude each other.
    pub fn parse_cursor(
        raw: Option<&str>,
        offset: Option<&str>,
    ) -> Result<Option<Cursor>, PagingError> {
        match (raw, offset) {
            (None, _) => Ok(None),
            (Some(_), Some(_)) => Err(PagingError::CursorWithOffset),
            (Some(text), None) => Cursor::decode(text).map(Some),
        }
    }

    /// A page from already validated parts.
    pub fn new(limit: u32, offset: u64) -> Self {
        Self {
            limit: limit.clamp(1, Self::MAX_LIMIT),
            start: Start::Offset(offset),
        }
    }

    /// The page right after `cursor`.
    pub fn after(limit: u32, cursor: Cursor) -> Self {
        Self {
            limit: limit.clamp(1, Self::MAX_LIMIT),
            start: Start::After(cursor),
        }
    }

    /// Rows per page.
    pub fn limit(&self) -> i64 {
        i64::from(self.limit)
    }

    /// Rows skipped (0 for a page that starts at a cursor).
    pub fn offset(&self) -> i64 {
        match self.start {
            Start::Offset(n) => i64::try_from(n).unwrap_or(i64::MAX),
            Start::After(_) => 0,
        }
    }

    /// The cursor the page starts after, if it starts at one.
    pub fn cursor(&self) -> Option<Cursor> {
        match self.start {
            Start::Offset(_) => None,
            Start::After(c) => Some(c),
        }
    }
}

impl Default for Paging {
    fn default() -> Self {
        Self::new(Self::DEFAULT_LIMIT, 0)
    }
}

/// One page of a list, the count of every matching row, and where the next page starts: the
/// `{data, total, nextCursor}` of every list response.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows of this page.
    pub data: Vec<T>,
    /// All matching rows, across pages.
    pub total: u64,
    /// The position of this page's last row, when more rows follow it.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Converts every row.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            total: self.total,
            next: self.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_refuse_anything_else() {
        let c = Cursor {
            key: 1_764_000_000_123,
            row: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        for bad in ["", "x", "MS4y", "!!!!", &URL_SAFE_NO_PAD.encode("2.1.2")] {
            assert_eq!(Cursor::decode(bad), Err(PagingError::Cursor), "{bad}");
        }
        assert_eq!(
            Paging::parse_cursor(Some(&c.encode()), Some("0")),
            Err(PagingError::CursorWithOffset)
        );
        assert_eq!(Paging::parse_cursor(None, Some("5")), Ok(None));
    }
}
