//! Fixed-window request counters, kept in the database so a restart does not reset them.

use rusqlite::params;

use super::{Failure, Tx};

/// Counts one request against `bucket` in the window starting at `window_start` (unix
/// seconds) and returns the count so far, this request included. A bucket whose stored
/// window is older starts again at 1. One statement, so concurrent requests never lose counts.
pub fn hit(tx: &Tx<'_>, bucket: &str, window_start: i64) -> Result<u64, Failure> {
    // In an upsert's SET, column names refer to the row as it was before the update, so the
    // CASE compares against the stored window.
    let count: i64 = tx
        .sql()
        .prepare_cached(
            "INSERT INTO rate_limit_windows (bucket, window_start, count) VALUES (?1, ?2, 1)
             ON CONFLICT (bucket) DO UPDATE SET
                 count = CASE WHEN rate_limit_windows.window_start = excluded.window_start
                     THEN rate_limit_windows.count + 1 ELSE 1 END,
                 window_start = excluded.window_start
             RETURNING count",
        )?
        .query_row(params![bucket, window_start], |r| r.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Drops counters of windows that started before `before` (unix seconds), and provisioning
/// counters of windows that started before `provisioning_before`.
pub fn purge(tx: &Tx<'_>, before: i64, provisioning_before: i64) -> Result<usize, Failure> {
    Ok(tx.sql().execute(
        &format!(
            "DELETE FROM rate_limit_windows
             WHERE window_start < CASE WHEN bucket LIKE '{PROVISIONING}%' THEN CAST(?2 AS BIGINT) ELSE CAST(?1 AS BIGINT) END"
        ),
        [before, provisioning_before],
    )?)
}

/// Prefix of the buckets of sandbox provisioning calls.
const PROVISIONING: &str = "provision:";

/// The bucket of sandbox provisioning calls from `ip` (its window is its own, longer one); an
/// IPv6 client is counted by its /64, which one host can usually draw addresses from freely.
pub fn provisioning_bucket(ip: &str) -> String {
    let client = match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => ip.to_owned(),
    };
    format!("{PROVISIONING}{client}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioning_counts_ipv6_clients_by_their_slash_64() {
        assert_eq!(provisioning_bucket("203.0.113.7"), "provision:203.0.113.7");
        assert_eq!(
            provisioning_bucket("2001:db8:1:2:aaaa::1"),
            provisioning_bucket("2001:db8:1:2:bbbb:cccc:dddd:eeee")
        );
        assert_eq!(
            provisioning_bucket("2001:db8:1:2::9"),
            "provision:2001:db8:1:2::/64"
        );
        assert_ne!(
            provisioning_bucket("2001:db8:1:2::1"),
            provisioning_bucket("2001:db8:1:3::1")
        );
        assert_eq!(
            provisioning_bucket("::ffff:1.2.3.4"),
            "provision:::ffff:1.2.3.4"
        );
        assert_eq!(provisioning_bucket("unknown"), "provision:unknown");
    }
}
