//! `limit`/`offset` paging.

use serde::Serialize;

/// A validated page request: `limit` 1–100 (default 20), `offset` ≥ 0 (default 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    limit: u32,
    offset: u64,
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

    /// A page from already validated parts.
    pub fn new(limit: u32, offset: u64) -> Self {
        Self {
            limit: limit.clamp(1, Self::MAX_LIMIT),
            offset,
        }
    }

    /// Rows per page.
    pub fn limit(&self) -> i64 {
        i64::from(self.limit)
    }

    /// Rows skipped.
    pub fn offset(&self) -> i64 {
        i64::try_from(self.offset).unwrap_or(i64::MAX)
    }
}

impl Default for Paging {
    fn default() -> Self {
        Self::new(Self::DEFAULT_LIMIT, 0)
    }
}

/// One page of a list and the count of every matching row: the `{data, total}` of every list response.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub data: Vec<T>,
    /// All matching rows, across pages.
    pub total: u64,
}

impl<T> Page<T> {
    /// Converts every row.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            total: self.total,
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
}
