//! A calendar month (`YYYY-MM`) in the contact center's time zone.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=12).contains(&month) && (1970..=9999).contains(&year))
            .then_some(Month { year, month })
    }

    /// The following month; 9999-12 stays itself, as `prev` keeps 1970-01: a month outside
    /// 1970..=9999 could not be parsed back, so ranges ending there are cut short instead.
    pub fn next(self) -> Month {
        if self.year == 9999 && self.month == 12 {
            self
        } else if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Month {
        if self.year == 1970 && self.month == 1 {
            self
        } else if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The month containing this instant, as seen in `tz`.
    pub fn containing(ms: i64, tz: Tz) -> Month {
        let local = tz.timestamp_millis_opt(ms).single().map(|t| t.date_naive());
        let d = local.unwrap_or(NaiveDate::MIN);
        use chrono::Datelike;
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    /// `[start, end)` in milliseconds since the epoch: local midnight of the 1st to local
    /// midnight of the next month's 1st.
    pub fn range_ms(self, tz: Tz) -> (i64, i64) {
        (
            local_midnight_ms(self.first_day(), tz),
            local_midnight_ms(self.next().first_day(), tz),
        )
    }
}

pub fn local_midnight_ms(day: NaiveDate, tz: Tz) -> i64 {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A zone may skip midnight (DST starting at 00:00): take the earliest valid instant.
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.timestamp_millis()
        }
        chrono::LocalResult::None => tz.from_utc_datetime(&naive).timestamp_millis(),
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("month {s:?} is not of the form YYYY-MM");
        // Exact, no trimming: the API document's pattern admits no spaces, and a padded month
        // in a query is more likely a broken client than a meant month.
        let (y, m) = s.split_once('-').ok_or_else(err)?;
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if y.len() != 4 || m.len() != 2 || !digits(y) || !digits(m) {
            return Err(err());
        }
        let year = y.parse().map_err(|_| err())?;
        let month = m.parse().map_err(|_| err())?;
        Month::new(year, month).ok_or_else(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let m: Month = "2026-11".parse().expect("valid");
        assert_eq!(m.to_string(), "2026-11");
        assert_eq!(m.next().to_string(), "2026-12");
        assert_eq!(
            "2026-12".parse::<Month>().map(Month::next),
            Ok(Month::new(2027, 1).expect("valid"))
        );
        assert_eq!(Month::new(2027, 1).map(Month::prev), Month::new(2026, 12));
        for bad in [
            "2026-13",
            "2026-1",
            "26-01",
            "2026/01",
            "",
            "abcd-ef",
            " 2026-11",
            "2026-11\r",
            "2026-+1",
        ] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
    }

    #[test]
    fn stepping_stays_within_the_months_that_parse() {
        let first = Month::new(1970, 1).expect("valid");
        let last = Month::new(9999, 12).expect("valid");
        assert_eq!(first.prev(), first);
        assert_eq!(last.next(), last);
        assert_eq!(first.next().prev(), first);
    }

    #[test]
    fn range_is_in_the_center_time_zone() {
        let m: Month = "2026-11".parse().expect("valid");
        let (start, end) = m.range_ms(chrono_tz::Asia::Shanghai);
        // 2026-11-01T00:00+08:00 is 2026-10-31T16:00Z.
        assert_eq!(start, 1_793_462_400_000);
        assert_eq!(end - start, 30 * 86_400_000);
        assert_eq!(Month::containing(start, chrono_tz::Asia::Shanghai), m);
        assert_eq!(
            Month::containing(start - 1, chrono_tz::Asia::Shanghai),
            m.prev()
        );
    }
}
