//! Time as the server sees it: unix milliseconds, formatted as ISO 8601 UTC with milliseconds,
//! read from an injectable clock so that tests can move time forward instead of sleeping.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// A point in time: milliseconds since the unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const MS_PER_DAY: i64 = 86_400_000;

impl Timestamp {
    /// From unix milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Unix milliseconds.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole unix seconds (rounded down).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Days since the epoch in UTC: the unit of the daily send counters, which reset at 00:00 UTC.
    pub const fn utc_day(self) -> i64 {
        self.0.div_euclid(MS_PER_DAY)
    }

    /// RFC 5322 date-time in UTC, e.g. `Sun, 29 Nov 2026 07:30:00 +0000` (for `Received` and
    /// `Date` headers).
    pub fn to_rfc5322(self) -> String {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let days = self.0.div_euclid(MS_PER_DAY);
        let secs = self.0.rem_euclid(MS_PER_DAY) / 1000;
        let (y, m, d) = civil_from_days(days);
        // 1970-01-01 was a Thursday.
        let weekday = DAYS[days.rem_euclid(7) as usize];
        let month = MONTHS[(m as usize).saturating_sub(1).min(11)];
        format!(
            "{weekday}, {d} {month} {y:04} {:02}:{:02}:{:02} +0000",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }

    /// Reads an RFC 3339 date-time (`2026-12-01T09:30:00Z`, any offset) or a date
    /// (`2026-12-01`, midnight UTC).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        use time::format_description::well_known::Rfc3339;
        let at = match time::OffsetDateTime::parse(s, &Rfc3339) {
            Ok(at) => at,
            Err(_) => {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                time::Date::parse(s, &format).ok()?.midnight().assume_utc()
            }
        };
        i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
            .ok()
            .map(Self)
    }

    /// This instant moved forward by `d` (saturating).
    pub fn plus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// This instant moved back by `d` (saturating).
    pub fn minus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(ms))
    }
}

/// ISO 8601 in UTC with milliseconds, e.g. `2026-04-16T10:23:00.000Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let secs = ms_of_day / 1000;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            ms_of_day % 1000
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod parse_tests {
    use super::Timestamp;

    #[test]
    fn rfc3339_and_dates_are_read() {
        assert_eq!(
            Timestamp::parse_rfc3339("2026-12-01T00:00:01Z").map(Timestamp::as_millis),
            Some(1_796_083_201_000)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-12-01T01:00:01+01:00"),
            Timestamp::parse_rfc3339("2026-12-01T00:00:01Z")
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-12-01").map(Timestamp::as_millis),
            Some(1_796_083_200_000)
        );
        for bad in ["", "yesterday", "2026-13-01", "2026-12-01T25:00:00Z"] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }
}

/// Howard Hinnant's `civil_from_days`: proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Where the server reads the current time from.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }
}

/// A clock that only moves when told to; for tests of windows and expiry.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.as_millis()))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_iso_8601_utc_with_milliseconds() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_776_335_000_123).to_string(),
            "2026-04-16T10:23:20.123Z"
        );
        // A leap day and the last millisecond of a year.
        assert_eq!(
            Timestamp(951_782_400_000).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp(1_735_689_599_999).to_string(),
            "2024-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn rfc5322_dates_have_the_right_weekday() {
        assert_eq!(Timestamp(0).to_rfc5322(), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            Timestamp(1_795_937_400_000).to_rfc5322(),
            "Sun, 29 Nov 2026 07:30:00 +0000"
        );
    }

    #[test]
    fn utc_day_changes_at_midnight() {
        let before = Timestamp(1_735_689_599_999);
        let after = Timestamp(1_735_689_600_000);
        assert_eq!(after.utc_day(), before.utc_day() + 1);
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(Timestamp(1000));
        assert_eq!(clock.now(), Timestamp(1000));
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now(), Timestamp(3000));
    }
}
