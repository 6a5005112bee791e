//! `cron:` lines as fugit reads them, evaluated with croner.
//!
//! fugit (resque-scheduler's parser) takes 5 fields, or 6 with seconds first, names
//! (`mon`, `jan`), ranges, steps, `L`, `#n`, the `@` shorthands, and an optional trailing
//! time zone (`30 6 * * 1 Europe/Stockholm`); when day-of-month and day-of-week are both
//! restricted a day matching either fires (classic cron). Without a zone the scheduler's
//! local zone applies. croner implements the same grammar; this file adds the zone and the
//! two shorthands croner lacks (`@midnight`, `@noon`).

use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::{Error, Result};

/// A parsed cron line.
#[derive(Debug, Clone)]
pub struct Cron {
    source: String,
    cron: croner::Cron,
    zone: Option<TimeZone>,
}

impl PartialEq for Cron {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Cron {
    /// Parses a cron line; the error names what is wrong with it.
    ///
    /// ```
    /// use resque_protocol::schedule::Cron;
    /// assert!(Cron::parse("0 3 * * * UTC").is_ok());
    /// assert!(Cron::parse("25 * * * * *").is_ok()); // seconds first
    /// assert!(Cron::parse("0 0 L * *").is_ok());
    /// assert!(Cron::parse("0 9 * * mon#2 Europe/Stockholm").is_ok());
    /// assert!(Cron::parse("0 3 * *").is_err());
    /// ```
    pub fn parse(line: &str) -> Result<Self> {
        let bad = |why: String| Error::Schedule(format!("bad cron line {line:?}: {why}"));
        let mut fields: Vec<&str> = line.split_whitespace().collect();
        let mut zone = None;
        if let Some(last) = fields.last()
            && fields.len() > 1
            && looks_like_zone(last)
        {
            zone = Some(
                TimeZone::get(last).map_err(|e| bad(format!("unknown time zone {last}: {e}")))?,
            );
            fields.pop();
        }
        let pattern = match fields.as_slice() {
            [one] if one.eq_ignore_ascii_case("@midnight") => "0 0 * * *".to_owned(),
            [one] if one.eq_ignore_ascii_case("@noon") => "0 12 * * *".to_owned(),
            [one] if one.starts_with('@') => (*one).to_owned(),
            f if f.len() == 5 || f.len() == 6 => f.join(" "),
            f => return Err(bad(format!("expected 5 or 6 fields, found {}", f.len()))),
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(&pattern)
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            source: line.trim().to_owned(),
            cron,
            zone,
        })
    }

    /// The line as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The zone named in the line, if any.
    pub fn zone(&self) -> Option<&TimeZone> {
        self.zone.as_ref()
    }

    /// The first fire strictly after `after`, in the line's zone or else `local`; `None`
    /// when the line never matches again.
    pub fn next_after(&self, after: Timestamp, local: &TimeZone) -> Option<Timestamp> {
        let zone = self.zone.clone().unwrap_or_else(|| local.clone());
        let start = after.to_zoned(zone);
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|z| z.timestamp())
    }
}

/// Whether the last field of a cron line is a time zone rather than a day-of-week field:
/// zones are `Area/City`, `UTC`, `GMT` and similar, never digits or cron punctuation.
fn looks_like_zone(field: &str) -> bool {
    field.contains('/')
        && field
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        || matches!(
            field.to_ascii_uppercase().as_str(),
            "UTC" | "GMT" | "Z" | "ZULU"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn next_fires() -> Result<()> {
        let utc = TimeZone::UTC;
        let daily = Cron::parse("0 3 * * *")?;
        assert_eq!(
            daily.next_after(at("2026-12-01T07:00:00Z"), &utc),
            Some(at("2026-12-02T03:00:00Z"))
        );
        let seconds = Cron::parse("25 * * * * *")?;
        assert_eq!(
            seconds.next_after(at("2026-12-01T07:08:17Z"), &utc),
            Some(at("2026-12-01T07:08:25Z"))
        );
        // In its own zone: 06:30 in Stockholm is 05:30 UTC in winter.
        let zoned = Cron::parse("30 6 * * * Europe/Stockholm")?;
        assert_eq!(
            zoned.next_after(at("2026-12-01T07:00:00Z"), &utc),
            Some(at("2026-12-02T05:30:00Z"))
        );
        let last = Cron::parse("0 0 L * *")?;
        assert_eq!(
            last.next_after(at("2026-02-03T00:00:00Z"), &utc),
            Some(at("2026-02-28T00:00:00Z"))
        );
        // The second Monday of the month.
        let nth = Cron::parse("0 9 * * mon#2")?;
        assert_eq!(
            nth.next_after(at("2026-12-01T00:00:00Z"), &utc),
            Some(at("2026-12-14T09:00:00Z"))
        );
        // Day of month OR day of week, as classic cron.
        let either = Cron::parse("0 0 13 * fri")?;
        assert_eq!(
            either.next_after(at("2026-12-01T00:00:00Z"), &utc),
            Some(at("2026-12-04T00:00:00Z"))
        );
        let noon = Cron::parse("@noon")?;
        assert_eq!(
            noon.next_after(at("2026-12-01T13:00:00Z"), &utc),
            Some(at("2026-12-02T12:00:00Z"))
        );
        assert!(
            Cron::parse("@daily")?
                .next_after(at("2026-12-01T13:00:00Z"), &utc)
                .is_some()
        );
        Ok(())
    }

    #[test]
    fn errors_name_the_line() {
        for bad in [
            "",
            "* * *",
            "61 * * * *",
            "0 3 * * * Mars/Olympus",
            "x * * * *",
        ] {
            let e = Cron::parse(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("bad cron line"), "{bad:?}: {e}");
        }
    }
}
