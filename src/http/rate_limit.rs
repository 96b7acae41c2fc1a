//! Fixed-window rate limiting: the window arithmetic and the headers. Counting
//! happens in the gate middleware ([`super::auth`]), in the same database call as the key
//! lookup.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::domain::Timestamp;

/// The window a request falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Unix seconds at which the window started.
    pub start: i64,
    /// Unix seconds at which it resets.
    pub reset: i64,
}

impl Window {
    /// The fixed window of `len_secs` containing `now`, aligned to the epoch.
    pub fn containing(now: Timestamp, len_secs: u64) -> Self {
        let len = i64::try_from(len_secs.max(1)).unwrap_or(i64::MAX);
        let now = now.as_secs();
        let start = now - now.rem_euclid(len);
        Self {
            start,
            reset: start.saturating_add(len),
        }
    }

    /// Whole seconds until the reset, at least 1 (a `Retry-After` of 0 invites a hot loop).
    pub fn retry_after(&self, now: Timestamp) -> u64 {
        u64::try_from(self.reset - now.as_secs())
            .unwrap_or(0)
            .max(1)
    }
}

/// A counted request: where it stands in its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The configured limit.
    pub limit: u32,
    /// Requests counted in this window, this one included.
    pub count: u64,
    /// The window.
    pub window: Window,
}

impl Standing {
    /// Whether this request is over the limit.
    pub fn exceeded(&self) -> bool {
        self.count > u64::from(self.limit)
    }

    /// Sets `X-RateLimit-Limit`, `-Remaining` and `-Reset` (unix seconds).
    pub fn apply(&self, headers: &mut HeaderMap) {
        let remaining = u64::from(self.limit).saturating_sub(self.count);
        let set = |headers: &mut HeaderMap, name: &'static str, value: HeaderValue| {
            headers.insert(HeaderName::from_static(name), value);
        };
        set(headers, "x-ratelimit-limit", HeaderValue::from(self.limit));
        set(
            headers,
            "x-ratelimit-remaining",
            HeaderValue::from(remaining),
        );
        set(
            headers,
            "x-ratelimit-reset",
            HeaderValue::from(self.window.reset),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_retry_after_is_at_least_one_second() {
        let w = Window::containing(Timestamp::from_millis(125_500), 60);
        assert_eq!(
            w,
            Window {
                start: 120,
                reset: 180
            }
        );
        assert_eq!(w.retry_after(Timestamp::from_millis(125_500)), 55);
        assert_eq!(w.retry_after(Timestamp::from_millis(179_999)), 1);
    }

    #[test]
    fn remaining_never_goes_below_zero() {
        let s = Standing {
            limit: 2,
            count: 5,
            window: Window {
                start: 0,
                reset: 60,
            },
        };
        assert!(s.exceeded());
        let mut h = HeaderMap::new();
        s.apply(&mut h);
        assert_eq!(h.get("x-ratelimit-remaining").unwrap(), "0");
    }
}
