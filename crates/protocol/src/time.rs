//! The time formats Ruby Resque writes, each in the zone Ruby uses for it.
//!
//! | value | Ruby | example |
//! |---|---|---|
//! | `failed_at`, `retried_at` | `Time.now.strftime("%Y/%m/%d %H:%M:%S %Z")`, local zone abbreviation | `2026/11/22 17:41:42 UTC` |
//! | `retried_at` (RedisMultiQueue) | `Time.now.strftime("%Y/%m/%d %H:%M:%S")` | `2026/11/22 17:41:45` |
//! | `worker:<id>:started` | `Time.now.to_s` | `2026-11-22 17:42:33 +0000` |
//! | heartbeat | `Time.at(redis TIME).iso8601`, local offset | `2026-11-22T17:42:33+00:00` |
//! | `run_at` | `Time.now.utc.iso8601` | `2026-11-22T17:42:37Z` |
//!
//! Functions take the instant and zone as arguments so callers (and tests) choose the
//! clock; [`now`] gives the current local time the way Ruby's `Time.now` does (the `TZ`
//! environment variable, else `/etc/localtime`).

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// The time zone type the functions here take (re-exported so callers need not name jiff).
pub type Tz = TimeZone;

/// The current time in the process's local zone.
pub fn now() -> Zoned {
    Zoned::now()
}

/// `failed_at` / `retried_at` of the Redis failure backend.
pub fn failed_at(now: &Zoned) -> String {
    now.strftime("%Y/%m/%d %H:%M:%S %Z").to_string()
}

/// `retried_at` as the RedisMultiQueue backend writes it (no zone).
pub fn retried_at_without_zone(now: &Zoned) -> String {
    now.strftime("%Y/%m/%d %H:%M:%S").to_string()
}

/// `worker:<id>:started`.
pub fn started(now: &Zoned) -> String {
    now.strftime("%Y-%m-%d %H:%M:%S %z").to_string()
}

/// A heartbeat value from Redis `TIME` seconds, shown in `tz` (the worker's local zone).
pub fn heartbeat(unix_seconds: i64, tz: &TimeZone) -> Option<String> {
    let ts = Timestamp::from_second(unix_seconds).ok()?;
    Some(
        ts.to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
    )
}

/// `run_at` of the `worker:<id>` payload.
pub fn run_at(now: Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses a heartbeat or `run_at` (ISO 8601 with an offset or `Z`).
pub fn parse_iso8601(s: &str) -> Option<Timestamp> {
    s.trim().parse().ok()
}

/// Parses a `started` value (`2026-11-22 17:42:33 +0000`).
pub fn parse_started(s: &str) -> Option<Timestamp> {
    jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", s.trim())
        .ok()?
        .to_timestamp()
        .ok()
}

/// Parses a `failed_at` / `retried_at` value. The zone abbreviation cannot be resolved in
/// general (`IST` is three zones), so the time is read as local time in `tz`.
pub fn parse_failed_at(s: &str, tz: &TimeZone) -> Option<Timestamp> {
    let s = s.trim();
    let dt_part = s.get(..19)?;
    let dt = jiff::civil::DateTime::strptime("%Y/%m/%d %H:%M:%S", dt_part).ok()?;
    if s[19..].trim() == "UTC" {
        return dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp());
    }
    dt.to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str, tz: &str) -> Zoned {
        let ts: Timestamp = s.parse().expect("valid timestamp");
        ts.to_zoned(TimeZone::get(tz).expect("zone in tzdb"))
    }

    #[test]
    fn formats_match_the_fixtures() {
        let t = at("2026-11-22T17:42:33Z", "UTC");
        assert_eq!(failed_at(&t), "2026/11/22 17:42:33 UTC");
        assert_eq!(retried_at_without_zone(&t), "2026/11/22 17:42:33");
        assert_eq!(started(&t), "2026-11-22 17:42:33 +0000");
        assert_eq!(run_at(t.timestamp()), "2026-11-22T17:42:33Z");
        assert_eq!(
            heartbeat(t.timestamp().as_second(), &TimeZone::UTC).as_deref(),
            Some("2026-11-22T17:42:33+00:00")
        );
    }

    #[test]
    fn local_zone_abbreviations_and_offsets() {
        let ny = at("2026-11-22T17:42:33Z", "America/New_York");
        assert_eq!(failed_at(&ny), "2026/11/22 12:42:33 EST");
        assert_eq!(started(&ny), "2026-11-22 12:42:33 -0500");
        let kolkata = TimeZone::get("Asia/Kolkata").expect("zone in tzdb");
        assert_eq!(
            heartbeat(0, &kolkata).as_deref(),
            Some("1970-01-01T05:30:00+05:30")
        );
        assert_eq!(
            failed_at(&at("2026-07-01T00:00:00Z", "Europe/Paris")),
            "2026/07/01 02:00:00 CEST"
        );
    }

    #[test]
    fn parsing_round_trips() {
        let t: Timestamp = "2026-11-22T17:42:33Z".parse().expect("valid");
        assert_eq!(parse_iso8601("2026-11-22T12:42:33-05:00"), Some(t));
        assert_eq!(parse_iso8601("2026-11-22T17:42:33Z"), Some(t));
        assert_eq!(parse_started("2026-11-22 12:42:33 -0500"), Some(t));
        assert_eq!(
            parse_failed_at("2026/11/22 17:42:33 UTC", &TimeZone::UTC),
            Some(t)
        );
        assert_eq!(parse_iso8601("yesterday"), None);
        assert_eq!(parse_started(""), None);
        assert_eq!(parse_failed_at("2026/1", &TimeZone::UTC), None);
    }
}
