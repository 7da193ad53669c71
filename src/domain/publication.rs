//! Publication of a month's results and the deadlines that follow it: the appeal window,
//! the panel's answer and the agents' acknowledgement, each counted in calendar or working
//! days. The working-day calendar knows public holidays that fall on weekdays and the
//! make-up working days on weekends that China's official calendar pairs with them.
//!
//! Everything here works on local (center time) date-times; the caller converts instants.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

/// How a period is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayUnit {
    CalendarDays,
    WorkingDays,
}

/// A length of time after an event, e.g. 2 calendar days or 5 working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub amount: u32,
    pub unit: DayUnit,
}

/// Which days people work: Monday to Friday, minus holidays, plus make-up working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    pub holidays: BTreeSet<NaiveDate>,
    pub extra_workdays: BTreeSet<NaiveDate>,
}

impl WorkCalendar {
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.extra_workdays.contains(&day) {
            return true;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }
}

/// When a period that starts at `start` (local time) ends.
///
/// Calendar days: the same time of day `amount` days later (2 days from Monday 10:00 is
/// Wednesday 10:00), so a window is exactly as long as it says.
///
/// Working days: the same time of day on the `amount`-th working day after the start, each
/// non-working day skipped (2 working days from Friday 10:00 is Tuesday 10:00). A period
/// that starts on a non-working day starts at the next working day's midnight, so nobody
/// loses time to a weekend: 1 working day from Saturday 10:00 ends Tuesday 00:00.
pub fn deadline(start: NaiveDateTime, period: Period, calendar: &WorkCalendar) -> NaiveDateTime {
    match period.unit {
        DayUnit::CalendarDays => start
            .checked_add_days(Days::new(u64::from(period.amount)))
            .unwrap_or(NaiveDateTime::MAX),
        DayUnit::WorkingDays => {
            let mut at = start;
            if !calendar.is_working_day(at.date()) {
                let mut day = at.date();
                while !calendar.is_working_day(day) {
                    day = day.succ_opt().unwrap_or(NaiveDate::MAX);
                }
                at = day.and_time(NaiveTime::MIN);
            }
            let mut day = at.date();
            let mut left = period.amount;
            while left > 0 {
                day = match day.succ_opt() {
                    Some(d) => d,
                    None => return NaiveDateTime::MAX,
                };
                if calendar.is_working_day(day) {
                    left -= 1;
                }
            }
            day.and_time(at.time())
        }
    }
}

/// The supervisor's settings for publication, with the defaults of the handbooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Agents appeal within this of publication (default 2 calendar days).
    pub appeal_window: Period,
    /// The panel answers an appeal within this of its filing (default 2 calendar days).
    pub panel_deadline: Period,
    /// Agents sign off their month within this of publication (default 5 working days).
    pub acknowledge_within: Period,
    /// Appeals one agent may file for one month (decided ones count too).
    pub max_appeals_per_month: u32,
    /// Weekdays nobody works (public holidays).
    #[serde(default)]
    pub holidays: BTreeSet<NaiveDate>,
    /// Weekend days everybody works (make-up days).
    #[serde(default)]
    pub extra_workdays: BTreeSet<NaiveDate>,
    /// Whether an evaluation whose appeal was decided may be appealed again (inside the
    /// window and the monthly limit). Off by default: the panel's decision is final.
    #[serde(default)]
    pub allow_reappeal: bool,
}

pub const DEFAULT_MAX_APPEALS_PER_MONTH: u32 = 3;
/// Longest period a supervisor can set; more is surely a typo (a year-long window).
pub const MAX_PERIOD_DAYS: u32 = 90;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            appeal_window: Period {
                amount: 2,
                unit: DayUnit::CalendarDays,
            },
            panel_deadline: Period {
                amount: 2,
                unit: DayUnit::CalendarDays,
            },
            acknowledge_within: Period {
                amount: 5,
                unit: DayUnit::WorkingDays,
            },
            max_appeals_per_month: DEFAULT_MAX_APPEALS_PER_MONTH,
            holidays: BTreeSet::new(),
            extra_workdays: BTreeSet::new(),
            allow_reappeal: false,
        }
    }
}

impl Policy {
    pub fn calendar(&self) -> WorkCalendar {
        WorkCalendar {
            holidays: self.holidays.clone(),
            extra_workdays: self.extra_workdays.clone(),
        }
    }

    /// What is wrong with it, in words a supervisor can act on.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("appeal_window", self.appeal_window),
            ("panel_deadline", self.panel_deadline),
            ("acknowledge_within", self.acknowledge_within),
        ] {
            if p.amount == 0 || p.amount > MAX_PERIOD_DAYS {
                return Err(format!("{name}: between 1 and {MAX_PERIOD_DAYS} days"));
            }
        }
        if self.max_appeals_per_month == 0 || self.max_appeals_per_month > 100 {
            return Err("max_appeals_per_month: between 1 and 100".into());
        }
        if let Some(day) = self.holidays.intersection(&self.extra_workdays).next() {
            return Err(format!("{day} is both a holiday and an extra working day"));
        }
        Ok(())
    }
}

/// Where a published month stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MonthStatus {
    /// Agents may still appeal.
    Published,
    /// The window has closed; some appeals wait for the panel.
    WindowClosed,
    /// The window has closed and every appeal is decided: later changes are corrections.
    Locked,
}

impl MonthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MonthStatus::Published => "published",
            MonthStatus::WindowClosed => "window_closed",
            MonthStatus::Locked => "locked",
        }
    }
}

/// The window is `[published, closes)`: at the closing instant it is already closed.
pub fn appeal_open(now_ms: i64, closes_at_ms: i64) -> bool {
    now_ms < closes_at_ms
}

/// The status of a publication at `now`, and since when it is locked. The lock is not a
/// stored event: it follows from the window's end and the last decision, so it cannot be
/// forgotten or set early.
pub fn status(
    now_ms: i64,
    closes_at_ms: i64,
    open_appeals: u64,
    last_decision_ms: Option<i64>,
) -> (MonthStatus, Option<i64>) {
    if appeal_open(now_ms, closes_at_ms) {
        (MonthStatus::Published, None)
    } else if open_appeals > 0 {
        (MonthStatus::WindowClosed, None)
    } else {
        let at = last_decision_ms.map_or(closes_at_ms, |d| d.max(closes_at_ms));
        (MonthStatus::Locked, Some(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("date-time")
    }

    fn working(amount: u32) -> Period {
        Period {
            amount,
            unit: DayUnit::WorkingDays,
        }
    }

    // China's 2026 National Day holiday (illustrative): Oct 1–7 off, with Sunday Sep 27 and
    // Saturday Oct 10 worked instead.
    fn national_day() -> WorkCalendar {
        WorkCalendar {
            holidays: [
                "2026-10-01",
                "2026-10-02",
                "2026-10-05",
                "2026-10-06",
                "2026-10-07",
            ]
            .into_iter()
            .map(d)
            .collect(),
            extra_workdays: ["2026-09-27", "2026-10-10"].into_iter().map(d).collect(),
        }
    }

    #[test]
    fn calendar_days_keep_the_time_of_day() {
        let p = Period {
            amount: 2,
            unit: DayUnit::CalendarDays,
        };
        let cal = WorkCalendar::default();
        assert_eq!(
            deadline(dt("2026-12-01 10:00"), p, &cal),
            dt("2026-12-03 10:00")
        );
        // Weekends count as calendar days.
        assert_eq!(
            deadline(dt("2026-12-04 10:00"), p, &cal),
            dt("2026-12-06 10:00")
        );
        // Month and year ends.
        assert_eq!(
            deadline(dt("2026-12-31 23:30"), p, &cal),
            dt("2027-01-02 23:30")
        );
    }

    #[test]
    fn working_days_skip_weekends() {
        let cal = WorkCalendar::default();
        // Monday + 5 working days = next Monday.
        assert_eq!(
            deadline(dt("2026-11-30 09:00"), working(5), &cal),
            dt("2026-12-07 09:00")
        );
        // Friday + 2 = Tuesday.
        assert_eq!(
            deadline(dt("2026-12-04 10:00"), working(2), &cal),
            dt("2026-12-08 10:00")
        );
        // Saturday: the count starts Monday 00:00, so 1 working day ends Tuesday 00:00.
        assert_eq!(
            deadline(dt("2026-12-05 10:00"), working(1), &cal),
            dt("2026-12-08 00:00")
        );
    }

    #[test]
    fn working_days_across_a_holiday_with_make_up_days() {
        let cal = national_day();
        assert!(cal.is_working_day(d("2026-09-27")), "make-up Sunday");
        assert!(!cal.is_working_day(d("2026-10-01")), "holiday Thursday");
        assert!(
            !cal.is_working_day(d("2026-10-03")),
            "weekend in the holiday"
        );
        assert!(cal.is_working_day(d("2026-10-10")), "make-up Saturday");
        // Published Wednesday Sep 30, 18:00: the next working days are Oct 8 (Thu), Oct 9
        // (Fri), Oct 10 (make-up Sat), Oct 12 (Mon), Oct 13 (Tue).
        assert_eq!(
            deadline(dt("2026-09-30 18:00"), working(2), &cal),
            dt("2026-10-09 18:00")
        );
        assert_eq!(
            deadline(dt("2026-09-30 18:00"), working(3), &cal),
            dt("2026-10-10 18:00")
        );
        assert_eq!(
            deadline(dt("2026-09-30 18:00"), working(5), &cal),
            dt("2026-10-13 18:00")
        );
        // Published on a make-up Sunday: that day is a working day, so the count starts then.
        assert_eq!(
            deadline(dt("2026-09-27 12:00"), working(1), &cal),
            dt("2026-09-28 12:00")
        );
        // Published during the holiday: the count starts on Oct 8 at midnight.
        assert_eq!(
            deadline(dt("2026-10-02 12:00"), working(1), &cal),
            dt("2026-10-09 00:00")
        );
    }

    #[test]
    fn window_edges() {
        let closes = 1_000_000;
        assert!(appeal_open(closes - 1_000, closes));
        assert!(!appeal_open(closes, closes));
        assert!(!appeal_open(closes + 1_000, closes));
    }

    #[test]
    fn lock_follows_the_window_and_the_last_decision() {
        let closes = 10_000;
        assert_eq!(
            status(9_999, closes, 0, None),
            (MonthStatus::Published, None)
        );
        assert_eq!(
            status(10_000, closes, 1, None),
            (MonthStatus::WindowClosed, None)
        );
        assert_eq!(
            status(10_000, closes, 0, None),
            (MonthStatus::Locked, Some(10_000))
        );
        // An appeal decided after the window: locked from the decision on.
        assert_eq!(
            status(20_000, closes, 0, Some(15_000)),
            (MonthStatus::Locked, Some(15_000))
        );
        // Decided inside the window: locked when the window closes.
        assert_eq!(
            status(20_000, closes, 0, Some(5_000)),
            (MonthStatus::Locked, Some(10_000))
        );
    }

    #[test]
    fn policy_defaults_and_validation() {
        let p = Policy::default();
        assert_eq!(p.appeal_window.amount, 2);
        assert_eq!(p.panel_deadline.amount, 2);
        assert_eq!(p.acknowledge_within, working(5));
        assert!(p.validate().is_ok());
        let mut bad = p.clone();
        bad.appeal_window.amount = 0;
        assert!(bad.validate().is_err());
        let mut both = p;
        both.holidays.insert(d("2026-10-01"));
        both.extra_workdays.insert(d("2026-10-01"));
        assert!(both.validate().unwrap_err().contains("2026-10-01"));
    }
}
