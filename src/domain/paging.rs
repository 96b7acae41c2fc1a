//! Paging: `limit` with either `offset` or an opaque `cursor`.

/// A validated page request: `limit` 1–100 (default 20), and where the page starts: `offset`
/// rows (default 0) from the start of the list, or from right after the row a `cursor` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    limit: u32,
    offset: u64,
    after: Option<Cursor>,
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

impl Cursor {
    /// The pattern of every cursor's text form, for the OpenAPI document: any text it matches
    /// reads back (18 digits stay within an `i64`), so a client, or a fuzzer, can never send a
    /// well-formed cursor that is refused.
    pub const PATTERN: &str = r"^c[0-9]{1,18}\.[0-9]{1,18}$";

    /// The text form: `c<key>.<row>`. Clients treat it as opaque.
    pub fn encode(&self) -> String {
        format!("c{}.{}", self.key, self.row)
    }

    /// Reads the text form back.
    pub fn decode(text: &str) -> Result<Self, PagingError> {
        let (key, row) = text
            .strip_prefix('c')
            .and_then(|rest| rest.split_once('.'))
            .ok_or(PagingError::Cursor)?;
        let number = |s: &str| -> Result<i64, PagingError> {
            if (1..=18).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().map_err(|_| PagingError::Cursor)
            } else {
                Err(PagingError::Cursor)
            }
        };
        Ok(Self {
            key: number(key)?,
            row: number(row)?,
        })
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

    /// See [`Paging::parse_limit`].
    pub fn parse_cursor(raw: Option<&str>) -> Result<Option<Cursor>, PagingError> {
        raw.map(Cursor::decode).transpose()
    }

    /// A page from already validated parts.
    pub fn new(limit: u32, offset: u64) -> Self {
        Self {
            limit: limit.clamp(1, Self::MAX_LIMIT),
            offset,
            after: None,
        }
    }

    /// The page `offset` rows after `cursor` (0: right after it).
    pub fn after(limit: u32, offset: u64, cursor: Cursor) -> Self {
        Self {
            after: Some(cursor),
            ..Self::new(limit, offset)
        }
    }

    /// Rows per page.
    pub fn limit(&self) -> i64 {
        i64::from(self.limit)
    }

    /// Rows skipped (after the cursor, if there is one).
    pub fn offset(&self) -> i64 {
        i64::try_from(self.offset).unwrap_or(i64::MAX)
    }

    /// The cursor the page starts after, if it starts at one.
    pub fn cursor(&self) -> Option<Cursor> {
        self.after
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
    fn limits_outside_one_to_a_hundred_are_errors() {
        assert_eq!(Paging::parse_limit(None), Ok(20));
        assert_eq!(Paging::parse_limit(Some("1")), Ok(1));
        assert_eq!(Paging::parse_limit(Some("100")), Ok(100));
        for bad in ["0", "101", "abc", "-1", "", "1.5"] {
            assert_eq!(
                Paging::parse_limit(Some(bad)),
                Err(PagingError::Limit),
                "{bad}"
            );
        }
    }

    #[test]
    fn offsets_must_be_non_negative_integers() {
        assert_eq!(Paging::parse_offset(None), Ok(0));
        assert_eq!(Paging::parse_offset(Some("40")), Ok(40));
        for bad in ["-1", "x", "18446744073709551615"] {
            assert_eq!(
                Paging::parse_offset(Some(bad)),
                Err(PagingError::Offset),
                "{bad}"
            );
        }
    }

    #[test]
    fn cursors_read_back_and_refuse_anything_else() {
        let c = Cursor {
            key: 1_764_000_000_123,
            row: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        // The longest numbers the pattern allows read back; one digit more is refused.
        assert!(Cursor::decode("c999999999999999999.999999999999999999").is_ok());
        assert_eq!(
            Cursor::decode("c9999999999999999999.1"),
            Err(PagingError::Cursor)
        );
        for bad in [
            "", "x", "c", "c1", "c1.", "c.1", "1.2", "c1.2.3", "c-1.2", "c+1.2", "c1.2 ",
        ] {
            assert_eq!(Cursor::decode(bad), Err(PagingError::Cursor), "{bad}");
        }
        assert_eq!(Paging::parse_cursor(None), Ok(None));
    }
}
