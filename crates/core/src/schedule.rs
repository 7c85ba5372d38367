//! When a task runs: Nexus's `FrequencyXO` (manual, once, hourly, daily, weekly, monthly, or a
//! Quartz cron expression) and the next run time it gives.
//!
//! The scheduler looks for due tasks once a minute ([`crate::tasks::INTERVAL`]), so a
//! schedule finer than a minute runs once a minute.

use chrono::{DateTime, Datelike, Duration as ChronoDuration, FixedOffset, TimeZone, Timelike};
use serde::{Deserialize, Serialize};

/// `next_run_ms` of a task that never runs by itself (manual, or a `once` that has run). A
/// number rather than NULL: a node of an older release reads NULL as "due now".
pub const NEVER: i64 = i64::MAX;

/// Nexus's `FrequencyXO`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frequency {
    /// manual, once, hourly, daily, weekly, monthly or cron.
    pub schedule: String,
    /// When the schedule begins, in Unix seconds (milliseconds are accepted too). Not for
    /// manual or cron; the time of day of daily, weekly and monthly runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<i64>,
    /// The client's UTC offset (`-05:00`): the zone of `startDate`'s day and of cron fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone_offset: Option<String>,
    /// Days of the week (1 = Sunday … 7 = Saturday) or of the month (1–31, 999 = the last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recurring_days: Vec<i32>,
    /// A Quartz cron expression: seconds minutes hours day-of-month month day-of-week [year].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_expression: Option<String>,
}

/// A frequency that cannot work; the message names the field.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

impl Frequency {
    /// A cron schedule in UTC.
    pub fn cron(expr: &str) -> Self {
        Self {
            schedule: "cron".into(),
            cron_expression: Some(expr.into()),
            ..Self::default()
        }
    }

    fn offset(&self) -> Result<FixedOffset, Invalid> {
        let Some(s) = self.time_zone_offset.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(FixedOffset::east_opt(0).expect("zero offset"));
        };
        let bad = || {
            invalid(
                "timeZoneOffset",
                format!("timeZoneOffset must look like -05:00, not {s:?}"),
            )
        };
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'+') => (1, &s[1..]),
            Some(b'-') => (-1, &s[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').ok_or_else(bad)?;
        let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
    }

    /// `startDate` in milliseconds: seconds as the document says, milliseconds as some clients
    /// send (no date of interest has fewer than 12 digits in milliseconds).
    fn start_ms(&self) -> Option<i64> {
        self.start_date.map(|s| {
            if s.abs() < 100_000_000_000 {
                s * 1000
            } else {
                s
            }
        })
    }

    fn start(&self) -> Result<DateTime<FixedOffset>, Invalid> {
        let ms = self.start_ms().ok_or_else(|| {
            invalid(
                "startDate",
                format!("a {} schedule needs startDate", self.schedule),
            )
        })?;
        let utc = DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| invalid("startDate", "startDate is out of range"))?;
        Ok(utc.with_timezone(&self.offset()?))
    }

    fn cron_parsed(&self) -> Result<croner::Cron, Invalid> {
        let expr = self
            .cron_expression
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| invalid("cronExpression", "a cron schedule needs cronExpression"))?;
        let fields: Vec<&str> = expr.split_whitespace().collect();
        // Quartz: six fields, or seven with a year; only "every year" is supported.
        let six = match fields.len() {
            6 => fields.join(" "),
            7 if matches!(fields[6], "*" | "?") => fields[..6].join(" "),
            7 => {
                return Err(invalid(
                    "cronExpression",
                    "cronExpression: a year field other than * is not supported",
                ));
            }
            n => {
                return Err(invalid(
                    "cronExpression",
                    format!(
                        "cronExpression needs 6 fields (seconds minutes hours day-of-month month day-of-week), not {n}"
                    ),
                ));
            }
        };
        croner::Cron::new(&six)
            .with_seconds_required()
            // Quartz numbers weekdays 1 (Sunday) to 7.
            .with_alternative_weekdays()
            .parse()
            .map_err(|e| invalid("cronExpression", format!("cronExpression: {e}")))
    }

    /// Refuses a frequency that cannot work.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.offset()?;
        match self.schedule.as_str() {
            "manual" => Ok(()),
            "once" | "hourly" | "daily" => self.start().map(|_| ()),
            "weekly" => {
                self.start()?;
                if self.recurring_days.is_empty()
                    || self.recurring_days.iter().any(|d| !(1..=7).contains(d))
                {
                    return Err(invalid(
                        "recurringDays",
                        "a weekly schedule needs recurringDays from 1 (Sunday) to 7 (Saturday)",
                    ));
                }
                Ok(())
            }
            "monthly" => {
                self.start()?;
                if self.recurring_days.is_empty()
                    || self
                        .recurring_days
                        .iter()
                        .any(|d| !(1..=31).contains(d) && *d != 999)
                {
                    return Err(invalid(
                        "recurringDays",
                        "a monthly schedule needs recurringDays from 1 to 31, or 999 for the last day",
                    ));
                }
                Ok(())
            }
            "cron" => {
                let c = self.cron_parsed()?;
                // An expression that never fires (31 February) is refused too.
                c.find_next_occurrence(&chrono::Utc::now().with_timezone(&self.offset()?), false)
                    .map(|_| ())
                    .map_err(|e| invalid("cronExpression", format!("cronExpression: {e}")))
            }
            other => Err(invalid(
                "schedule",
                format!(
                    "schedule must be manual, once, hourly, daily, weekly, monthly or cron, not {other:?}"
                ),
            )),
        }
    }

    /// The first run strictly after `after_ms`, [`NEVER`] when there is none.
    pub fn next_after(&self, after_ms: i64) -> i64 {
        self.next(after_ms).unwrap_or(NEVER)
    }

    fn next(&self, after_ms: i64) -> Option<i64> {
        let tz = self.offset().ok()?;
        let after = DateTime::from_timestamp_millis(after_ms)?.with_timezone(&tz);
        let every = |step: ChronoDuration| -> Option<i64> {
            let start = self.start().ok()?;
            if start > after {
                return Some(start.timestamp_millis());
            }
            let step_ms = step.num_milliseconds();
            let k = (after_ms - start.timestamp_millis()) / step_ms + 1;
            Some(start.timestamp_millis() + k * step_ms)
        };
        match self.schedule.as_str() {
            "once" => {
                let start = self.start().ok()?;
                (start > after).then(|| start.timestamp_millis())
            }
            "hourly" => every(ChronoDuration::hours(1)),
            "daily" => every(ChronoDuration::days(1)),
            "weekly" | "monthly" => {
                let start = self.start().ok()?;
                let time = start.time();
                let from = if start > after { start } else { after };
                // Look day by day: at most a little over a month ahead finds a match.
                let mut day = from.date_naive();
                for _ in 0..400 {
                    if self.day_matches(day) {
                        let at = tz.from_local_datetime(&day.and_time(time)).single()?;
                        if at > after && at >= start {
                            return Some(at.timestamp_millis());
                        }
                    }
                    day = day.succ_opt()?;
                }
                None
            }
            "cron" => {
                let c = self.cron_parsed().ok()?;
                c.find_next_occurrence(&after, false)
                    .ok()
                    .map(|t| t.timestamp_millis())
            }
            _ => None,
        }
    }

    fn day_matches(&self, day: chrono::NaiveDate) -> bool {
        if self.schedule == "weekly" {
            // chrono: Sunday = 0.
            let dow = day.weekday().num_days_from_sunday() as i32 + 1;
            return self.recurring_days.contains(&dow);
        }
        let last = day
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
            .and_then(|d| d.pred_opt())
            .map(|d| d.day());
        self.recurring_days
            .iter()
            .any(|d| *d as u32 == day.day() || (*d == 999 && Some(day.day()) == last))
    }

    /// The start as ISO 8601, for listing.
    pub fn start_iso(&self) -> Option<String> {
        self.start().ok().map(|s| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000{}",
                s.year(),
                s.month(),
                s.day(),
                s.hour(),
                s.minute(),
                s.second(),
                s.offset()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn quartz_cron() {
        let f = Frequency::cron("0 0 12 * * ?");
        f.validate().unwrap();
        assert_eq!(
            f.next_after(ms("2026-12-06T12:00:00Z")),
            ms("2026-12-07T12:00:00Z")
        );
        // Quartz weekday 2 is Monday; 2026-12-06 is a Sunday.
        let mon = Frequency::cron("0 30 1 ? * 2");
        assert_eq!(
            mon.next_after(ms("2026-12-06T00:00:00Z")),
            ms("2026-12-07T01:30:00Z")
        );
        let every_minute = Frequency::cron("0 * * * * ?");
        assert_eq!(
            every_minute.next_after(ms("2026-12-06T10:00:30Z")),
            ms("2026-12-06T10:01:00Z")
        );
        // Seven fields with any year; an offset moves the hours.
        let f = Frequency {
            time_zone_offset: Some("-05:00".into()),
            ..Frequency::cron("0 0 2 * * ? *")
        };
        assert_eq!(
            f.next_after(ms("2026-12-06T00:00:00Z")),
            ms("2026-12-06T07:00:00Z")
        );
        for bad in [
            "0 0 12 * *",
            "0 0 12 * * ? 2027",
            "x y z * * ?",
            "0 0 25 * * ?",
        ] {
            let e = Frequency::cron(bad).validate().unwrap_err();
            assert_eq!(e.field, "cronExpression", "{bad}");
        }
    }

    #[test]
    fn calendar_schedules() {
        let start = ms("2026-12-01T03:15:00Z") / 1000;
        let f = |schedule: &str, days: Vec<i32>| Frequency {
            schedule: schedule.into(),
            start_date: Some(start),
            recurring_days: days,
            ..Frequency::default()
        };
        let now = ms("2026-12-06T10:00:00Z");
        assert_eq!(
            f("daily", vec![]).next_after(now),
            ms("2026-12-07T03:15:00Z")
        );
        assert_eq!(
            f("hourly", vec![]).next_after(now),
            ms("2026-12-06T10:15:00Z")
        );
        // 2026-12-06 is a Sunday (1); Wednesday is 4.
        assert_eq!(
            f("weekly", vec![4]).next_after(now),
            ms("2026-12-09T03:15:00Z")
        );
        assert_eq!(
            f("monthly", vec![999]).next_after(now),
            ms("2026-12-31T03:15:00Z")
        );
        assert_eq!(
            f("monthly", vec![6]).next_after(now),
            ms("2027-01-06T03:15:00Z")
        );
        assert_eq!(f("once", vec![]).next_after(now), NEVER);
        assert_eq!(
            f("once", vec![]).next_after(ms("2026-11-01T00:00:00Z")),
            ms("2026-12-01T03:15:00Z")
        );
        assert_eq!(f("manual", vec![]).next_after(now), NEVER);
        // Milliseconds are read as such.
        let in_ms = Frequency {
            start_date: Some(start * 1000),
            ..f("daily", vec![])
        };
        assert_eq!(in_ms.next_after(now), ms("2026-12-07T03:15:00Z"));
        assert_eq!(
            f("weekly", vec![8]).validate().unwrap_err().field,
            "recurringDays"
        );
        assert_eq!(
            f("monthly", vec![]).validate().unwrap_err().field,
            "recurringDays"
        );
        assert_eq!(
            f("fortnightly", vec![]).validate().unwrap_err().field,
            "schedule"
        );
        let no_start = Frequency {
            schedule: "daily".into(),
            ..Frequency::default()
        };
        assert_eq!(no_start.validate().unwrap_err().field, "startDate");
        let bad_tz = Frequency {
            time_zone_offset: Some("EST".into()),
            ..f("daily", vec![])
        };
        assert_eq!(bad_tz.validate().unwrap_err().field, "timeZoneOffset");
    }
}
