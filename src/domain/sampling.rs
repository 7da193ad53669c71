//! Sampling rules: what a plan says, the weeks of its month, each week's share of an agent's
//! quota, the key that orders calls, and how shortfalls move between weeks. No I/O: the
//! draw (`crate::sampling`) feeds these with calls read from the store.
//!
//! Why keys and not `random()`: each call's key is HMAC-SHA256(seed, call id), and an
//! agent's share of a week is the calls with the smallest keys. With a seed nobody chose (it
//! comes from the OS generator when the plan is created) and is committed to by its hash, the
//! sample is fixed by the eligible calls alone; after publication anyone holding the seed and
//! the eligible call ids can recompute it.

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::call::Direction;
use super::month::{Month, local_midnight_ms};
use super::said::Said;

pub const DEFAULT_MIN_DURATION_S: u32 = 30;
pub const DEFAULT_GRACE_HOURS: u32 = 24;
pub const DEFAULT_GRADING_DAYS: u32 = 7;
pub const DEFAULT_NEW_HIRE_DAYS: u32 = 90;
pub const DEFAULT_FOCUS_MULTIPLIER: u32 = 2;
/// A pulled call (complaint) is due this many days after it was pulled.
pub const PULL_DUE_DAYS: i64 = 2;
/// Each spot-check a team lead misses costs the lead half a point (in hundredths).
pub const LEAD_PENALTY_CENTI_PER_MISSING: i64 = 50;
/// The domain's two standing plans.
pub const QA_PLAN_NAME: &str = "QA monthly evaluation";
pub const QA_PLAN_N: u32 = 10;
pub const LEAD_PLAN_NAME: &str = "Team-lead spot-check";
pub const LEAD_PLAN_N: u32 = 60;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Graders {
    /// QA inspectors, each sample to whoever has the least open work.
    Inspectors,
    /// Each agent's own team lead.
    TeamLead,
}

impl Graders {
    pub fn as_str(self) -> &'static str {
        match self {
            Graders::Inspectors => "inspectors",
            Graders::TeamLead => "team_lead",
        }
    }
    pub fn parse(s: &str) -> Result<Graders, String> {
        match s {
            "inspectors" => Ok(Graders::Inspectors),
            "team_lead" => Ok(Graders::TeamLead),
            other => Err(format!("graders {other:?} must be inspectors or team_lead")),
        }
    }

    /// The handbook's default: the QA inspectors' monthly evaluation sets pay; a team
    /// lead's spot-check is the lead's monitoring work.
    pub fn count_by_default(self) -> bool {
        self == Graders::Inspectors
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Population {
    /// A struct variant, not a unit one: serde lets a unit variant of an internally tagged
    /// enum ignore extra fields, and `{"kind": "all", "teams": [...]}` must be refused.
    All {},
    Teams {
        teams: Vec<String>,
    },
    Agents {
        agents: Vec<String>,
    },
}

impl Default for Population {
    fn default() -> Self {
        Population::All {}
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filters {
    pub min_duration_s: u32,
    pub max_duration_s: Option<u32>,
    pub direction: Option<Direction>,
    /// Empty: every queue.
    pub queues: Vec<String>,
    pub skip_damaged: bool,
}

impl Default for Filters {
    fn default() -> Self {
        Filters {
            min_duration_s: DEFAULT_MIN_DURATION_S,
            max_duration_s: None,
            direction: None,
            queues: Vec::new(),
            skip_damaged: true,
        }
    }
}

/// Focus monitoring (重点监听): new hires and agents with problems last month get
/// `multiplier` × N calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FocusRule {
    /// Agents hired on or after the month's first day minus this many days.
    pub new_hire_days: u32,
    /// Agents with problems in the previous month: a complaint (a call pulled as a
    /// complaint); poor or severe grades join this rule once evaluations are recorded.
    pub problem_agents: bool,
    pub multiplier: u32,
}

impl Default for FocusRule {
    fn default() -> Self {
        FocusRule {
            new_hire_days: DEFAULT_NEW_HIRE_DAYS,
            problem_agents: true,
            multiplier: DEFAULT_FOCUS_MULTIPLIER,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FocusReason {
    NewHire,
    Problem,
}

impl FocusReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FocusReason::NewHire => "new_hire",
            FocusReason::Problem => "problem",
        }
    }
}

fn default_focus() -> Option<FocusRule> {
    Some(FocusRule::default())
}
fn default_grace_hours() -> u32 {
    DEFAULT_GRACE_HOURS
}
fn default_grading_days() -> u32 {
    DEFAULT_GRADING_DAYS
}

/// A plan as a supervisor writes it (the body of `POST /api/plans`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// Left out of a preview (which stores nothing); a plan is refused without one.
    #[serde(default)]
    pub name: String,
    pub month: String,
    pub per_agent: u32,
    pub graders: Graders,
    #[serde(default)]
    pub population: Population,
    #[serde(default)]
    pub filters: Filters,
    /// Missing: the default rule; `null`: no focus monitoring.
    #[serde(default = "default_focus")]
    pub focus: Option<FocusRule>,
    /// Late uploads: a week freezes this long after it ends.
    #[serde(default = "default_grace_hours")]
    pub grace_hours: u32,
    /// A frozen week's samples are due this many days after it froze.
    #[serde(default = "default_grading_days")]
    pub grading_days: u32,
    /// Whether the plan's evaluations feed the agents' service-quality score and pay.
    /// Missing: the handbook's default for its graders (QA inspectors' monthly evaluation
    /// counts; a team lead's spot-check is the lead's monitoring work and does not).
    #[serde(default)]
    pub counts: Option<bool>,
}

impl PlanSpec {
    pub fn default_qa(month: Month) -> PlanSpec {
        Self::standard(QA_PLAN_NAME, month, QA_PLAN_N, Graders::Inspectors)
    }

    pub fn default_lead(month: Month) -> PlanSpec {
        Self::standard(LEAD_PLAN_NAME, month, LEAD_PLAN_N, Graders::TeamLead)
    }

    fn standard(name: &str, month: Month, n: u32, graders: Graders) -> PlanSpec {
        PlanSpec {
            name: name.to_string(),
            month: month.to_string(),
            per_agent: n,
            graders,
            population: Population::All {},
            filters: Filters::default(),
            focus: default_focus(),
            grace_hours: DEFAULT_GRACE_HOURS,
            grading_days: DEFAULT_GRADING_DAYS,
            counts: Some(graders.count_by_default()),
        }
    }

    /// Whether the plan's evaluations count towards score and pay.
    pub fn counts(&self) -> bool {
        self.counts
            .unwrap_or_else(|| self.graders.count_by_default())
    }

    /// Checks the plan and returns its month. Messages are shown to the supervisor as is.
    pub fn validate(&mut self) -> Result<Month, Said> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 100 {
            return Err(Said::new(
                "name must be 1 to 100 characters",
                "计划名称须为 1 到 100 个字符",
            ));
        }
        let month: Month = self.month.parse().map_err(|e: String| {
            Said::new(
                e,
                format!("月份“{}”无效，请使用“年-月”（YYYY-MM）格式", self.month),
            )
        })?;
        self.counts = Some(self.counts());
        if !(1..=1000).contains(&self.per_agent) {
            return Err(Said::new(
                "per_agent must be between 1 and 1000",
                "每位坐席的抽样数须在 1 到 1000 之间",
            ));
        }
        match &mut self.population {
            Population::All {} => {}
            Population::Teams { teams: names } | Population::Agents { agents: names } => {
                for n in names.iter_mut() {
                    *n = n.trim().to_string();
                }
                names.sort();
                names.dedup();
                names.retain(|n| !n.is_empty());
                if names.is_empty() {
                    return Err(Said::new(
                        "the population lists no teams or agents",
                        "抽样范围没有列出任何团队或坐席",
                    ));
                }
            }
        }
        let f = &mut self.filters;
        if f.min_duration_s > 8 * 3600 {
            return Err(Said::new(
                "min_duration_s is longer than any call",
                "最短通话时长超过了任何通话的长度",
            ));
        }
        if f.max_duration_s.is_some_and(|max| max < f.min_duration_s) {
            return Err(Said::new(
                "max_duration_s must not be below min_duration_s",
                "最长通话时长不能小于最短通话时长",
            ));
        }
        for q in f.queues.iter_mut() {
            *q = q.trim().to_string();
        }
        f.queues.retain(|q| !q.is_empty());
        f.queues.sort();
        f.queues.dedup();
        if let Some(focus) = &self.focus
            && (!(1..=10).contains(&focus.multiplier) || focus.new_hire_days > 3650)
        {
            return Err(Said::new(
                "focus multiplier must be 1 to 10 and new_hire_days at most 3650",
                "重点关注倍数须为 1 到 10，新员工天数最多 3650",
            ));
        }
        if self.grace_hours > 14 * 24 {
            return Err(Said::new(
                "grace_hours must be at most two weeks (336)",
                "宽限时间最多两周（336 小时）",
            ));
        }
        if !(1..=60).contains(&self.grading_days) {
            return Err(Said::new(
                "grading_days must be 1 to 60",
                "评分期限须为 1 到 60 天",
            ));
        }
        Ok(month)
    }

    pub fn grace_ms(&self) -> i64 {
        i64::from(self.grace_hours) * HOUR_MS
    }

    pub fn grading_ms(&self) -> i64 {
        i64::from(self.grading_days) * DAY_MS
    }
}

/// One week of a plan's month: `[start_ms, end_ms)`; it freezes at `deadline_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stratum {
    pub index: u32,
    pub start_ms: i64,
    pub end_ms: i64,
    pub deadline_ms: i64,
    pub days: u32,
}

/// The four weeks of a month: days 1–7, 8–14, 15–21 and 22 to the end (7 to 10 days), in the
/// center's time zone. Fixed-length weeks from the 1st rather than calendar weeks, so no
/// month starts or ends with a one-day "week" that would get no calls at all.
pub fn strata(month: Month, tz: Tz, grace_ms: i64) -> Vec<Stratum> {
    let first = month.first_day();
    let next = month.next().first_day();
    let starts = [1u32, 8, 15, 22];
    (0..starts.len())
        .map(|i| {
            let start_day = first.with_day(starts[i]).unwrap_or(first);
            let end_day = match starts.get(i + 1) {
                Some(&d) => first.with_day(d).unwrap_or(next),
                None => next,
            };
            let start_ms = local_midnight_ms(start_day, tz);
            let end_ms = local_midnight_ms(end_day, tz);
            Stratum {
                index: i as u32,
                start_ms,
                end_ms,
                deadline_ms: end_ms + grace_ms,
                days: days_between(start_day, end_day),
            }
        })
        .collect()
}

fn days_between(a: NaiveDate, b: NaiveDate) -> u32 {
    u32::try_from((b - a).num_days()).unwrap_or(0)
}

/// Splits `target` calls over weeks in proportion to their days (largest remainder);
/// remainders that tie go to the longer week, then the earlier one.
pub fn quotas(target: u32, days: &[u32]) -> Vec<u32> {
    let total: u64 = days.iter().map(|&d| u64::from(d)).sum();
    if total == 0 {
        return vec![0; days.len()];
    }
    let exact: Vec<(u64, u64)> = days
        .iter()
        .map(|&d| {
            let num = u64::from(target) * u64::from(d);
            (num / total, num % total)
        })
        .collect();
    let mut out: Vec<u32> = exact.iter().map(|&(q, _)| q as u32).collect();
    let given: u32 = out.iter().sum();
    let mut order: Vec<usize> = (0..days.len()).collect();
    order.sort_by(|&a, &b| {
        exact[b]
            .1
            .cmp(&exact[a].1)
            .then(days[b].cmp(&days[a]))
            .then(a.cmp(&b))
    });
    for &i in order.iter().take((target - given) as usize) {
        out[i] += 1;
    }
    out
}

/// How many calls an agent must get in this plan, and why it is more than N.
pub fn agent_target(
    per_agent: u32,
    focus: Option<&FocusRule>,
    month: Month,
    hire_date: Option<NaiveDate>,
    had_problem_last_month: bool,
) -> (u32, Option<FocusReason>) {
    let Some(rule) = focus else {
        return (per_agent, None);
    };
    let new_since = month.first_day() - chrono::Days::new(u64::from(rule.new_hire_days));
    let reason = if hire_date.is_some_and(|d| d >= new_since) {
        Some(FocusReason::NewHire)
    } else if rule.problem_agents && had_problem_last_month {
        Some(FocusReason::Problem)
    } else {
        None
    };
    match reason {
        Some(r) => (per_agent * rule.multiplier, Some(r)),
        None => (per_agent, None),
    }
}

pub type Seed = [u8; 32];
pub type Key = [u8; 32];

/// A key from its 64 hex digits (either case), `None` for anything else. A table lookup per
/// digit: a plan's stored picks are read on every draw, and the general decoder spent a
/// third of that read (30 000 keys) on its per-digit checks.
pub fn key_from_hex(text: &str) -> Option<Key> {
    const INVALID: u8 = 0xff;
    const DIGITS: [u8; 256] = {
        let mut t = [INVALID; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            t[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    };
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    let mut bad = 0u8;
    for (byte, pair) in key.iter_mut().zip(digits.chunks_exact(2)) {
        let (hi, lo) = (DIGITS[pair[0] as usize], DIGITS[pair[1] as usize]);
        bad |= (hi | lo) & 0xf0;
        *byte = (hi << 4) | (lo & 0x0f);
    }
    (bad == 0).then_some(key)
}

pub fn new_seed() -> Seed {
    rand::random()
}

/// The commitment shown when the plan is created: SHA-256 of the seed's bytes, in hex.
pub fn seed_hash(seed: &Seed) -> String {
    hex::encode(Sha256::digest(seed))
}

pub fn parse_seed(hex_seed: &str) -> Result<Seed, String> {
    let bytes = hex::decode(hex_seed.trim()).map_err(|_| "the seed must be hex".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "the seed must be 32 bytes (64 hex digits)".to_string())
}

/// Keys calls for one plan. The HMAC state after the key is computed once and cloned per
/// call, which halves the work for the short messages call ids are.
#[derive(Clone)]
pub struct Keyer {
    mac: hmac::Hmac<Sha256>,
}

impl Keyer {
    pub fn new(seed: &Seed) -> Keyer {
        Keyer {
            mac: <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(seed)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
        }
    }

    /// HMAC-SHA256(seed, call id as UTF-8).
    pub fn key(&self, call_id: &str) -> Key {
        let mut mac = self.mac.clone();
        mac.update(call_id.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// One agent's week: `quota` of its own plus what earlier weeks could not supply
/// (`carry_in`). Takes as many of the smallest keys as there are, and passes the rest of the
/// wish on to the next week.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellTake {
    pub take: usize,
    pub carry_out: u32,
}

pub fn take_for_cell(quota: u32, carry_in: u32, eligible: usize) -> CellTake {
    let want = (quota + carry_in) as usize;
    let take = want.min(eligible);
    CellTake {
        take,
        carry_out: (want - take) as u32,
    }
}

/// Digest of one agent's eligible calls in a week: SHA-256 over `call_id\n` in key order.
pub fn agent_digest<'a>(call_ids_in_key_order: impl Iterator<Item = &'a str>) -> String {
    let mut h = Sha256::new();
    for id in call_ids_in_key_order {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Digest of a week's whole eligible set: SHA-256 over `username digest\n` for every agent of
/// the plan when the week froze, in username order (agents without calls included, with the
/// digest of nothing).
pub fn stratum_digest<'a>(agents_by_username: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut h = Sha256::new();
    for (username, digest) in agents_by_username {
        h.update(username.as_bytes());
        h.update(b" ");
        h.update(digest.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Whether a grader or agent keeps up: behind as soon as one frozen sample is past its due
/// time without a grade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    OnTrack,
    Behind,
}

pub fn pace(overdue: u64) -> Pace {
    if overdue > 0 {
        Pace::Behind
    } else {
        Pace::OnTrack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(s: &str) -> Month {
        s.parse().expect("valid month")
    }

    #[test]
    fn populations_read_and_write_their_kind_and_refuse_other_fields() {
        let all: Population = serde_json::from_str(r#"{"kind": "all"}"#).expect("all");
        assert_eq!(all, Population::All {});
        assert_eq!(
            serde_json::to_string(&all).expect("serializes"),
            r#"{"kind":"all"}"#
        );
        for bad in [
            r#"{"kind": "all", "teams": ["team-a"]}"#,
            r#"{"kind": "teams", "teams": ["team-a"], "agents": []}"#,
        ] {
            assert!(serde_json::from_str::<Population>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plans_count_towards_pay_as_the_handbook_says_unless_told() {
        assert!(PlanSpec::default_qa(month("2026-11")).counts());
        assert!(!PlanSpec::default_lead(month("2026-11")).counts());
        let mut spec: PlanSpec = serde_json::from_str(
            r#"{"name":"Trainer check","month":"2026-11","per_agent":5,"graders":"team_lead"}"#,
        )
        .expect("a plan");
        assert_eq!(spec.counts, None);
        spec.validate().expect("valid");
        assert_eq!(spec.counts, Some(false), "validation settles the default");
        let mut spec: PlanSpec = serde_json::from_str(
            r#"{"name":"Complaints","month":"2026-11","per_agent":5,"graders":"team_lead","counts":true}"#,
        )
        .expect("a plan");
        spec.validate().expect("valid");
        assert!(spec.counts());
    }

    #[test]
    fn four_weeks_cover_the_month_in_the_center_zone() {
        for m in ["2026-02", "2026-11", "2026-12", "2028-02"] {
            let m = month(m);
            let s = strata(m, chrono_tz::Asia::Shanghai, 3_600_000);
            let (start, end) = m.range_ms(chrono_tz::Asia::Shanghai);
            assert_eq!(s.len(), 4);
            assert_eq!(s[0].start_ms, start);
            assert_eq!(s[3].end_ms, end);
            for w in s.windows(2) {
                assert_eq!(w[0].end_ms, w[1].start_ms);
            }
            assert_eq!(s[..3].iter().map(|x| x.days).collect::<Vec<_>>(), [7, 7, 7]);
            assert_eq!(
                i64::from(s.iter().map(|x| x.days).sum::<u32>()) * DAY_MS,
                end - start
            );
            assert!(s.iter().all(|x| x.deadline_ms == x.end_ms + 3_600_000));
        }
        let feb = strata(month("2026-02"), chrono_tz::UTC, 0);
        assert_eq!(feb[3].days, 7);
        let dec = strata(month("2026-12"), chrono_tz::UTC, 0);
        assert_eq!(dec[3].days, 10);
    }

    #[test]
    fn quotas_follow_days_and_add_up() {
        assert_eq!(quotas(10, &[7, 7, 7, 10]), [3, 2, 2, 3]);
        assert_eq!(quotas(60, &[7, 7, 7, 10]), [14, 14, 13, 19]);
        assert_eq!(quotas(10, &[7, 7, 7, 9]), [3, 2, 2, 3]);
        assert_eq!(quotas(60, &[7, 7, 7, 9]), [14, 14, 14, 18]);
        assert_eq!(quotas(20, &[7, 7, 7, 7]), [5, 5, 5, 5]);
        assert_eq!(quotas(1, &[7, 7, 7, 10]), [0, 0, 0, 1]);
        assert_eq!(quotas(0, &[7, 7, 7, 10]), [0, 0, 0, 0]);
        assert_eq!(quotas(5, &[0, 0]), [0, 0]);
        for n in 0..200 {
            for days in [[7, 7, 7, 7], [7, 7, 7, 8], [7, 7, 7, 9], [7, 7, 7, 10]] {
                let q = quotas(n, &days);
                assert_eq!(q.iter().sum::<u32>(), n);
                // Never more than one call away from the exact share.
                for (qi, di) in q.iter().zip(days) {
                    let exact = f64::from(n) * f64::from(di) / f64::from(days.iter().sum::<u32>());
                    assert!((f64::from(*qi) - exact).abs() < 1.0, "{n} {days:?} {q:?}");
                }
            }
        }
    }

    #[test]
    fn focus_doubles_new_hires_and_problem_agents() {
        let m = month("2026-11");
        let rule = FocusRule::default();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        // 90 days before 2026-11-01 is 2026-08-03.
        assert_eq!(
            agent_target(10, Some(&rule), m, d("2026-08-03"), false),
            (20, Some(FocusReason::NewHire))
        );
        assert_eq!(
            agent_target(10, Some(&rule), m, d("2026-08-02"), false),
            (10, None)
        );
        assert_eq!(
            agent_target(10, Some(&rule), m, d("2026-11-20"), false),
            (20, Some(FocusReason::NewHire))
        );
        assert_eq!(
            agent_target(10, Some(&rule), m, d("2020-01-01"), true),
            (20, Some(FocusReason::Problem))
        );
        assert_eq!(agent_target(10, Some(&rule), m, None, false), (10, None));
        assert_eq!(agent_target(10, None, m, d("2026-11-20"), true), (10, None));
        let no_problems = FocusRule {
            problem_agents: false,
            multiplier: 3,
            ..FocusRule::default()
        };
        assert_eq!(
            agent_target(10, Some(&no_problems), m, None, true),
            (10, None)
        );
        assert_eq!(
            agent_target(10, Some(&no_problems), m, d("2026-10-01"), false),
            (30, Some(FocusReason::NewHire))
        );
    }

    #[test]
    fn keys_are_hmac_sha256_of_the_call_id() {
        // Python: hmac.new(bytes([7] * 32), b"C-1", hashlib.sha256).hexdigest()
        let keyer = Keyer::new(&[7u8; 32]);
        assert_eq!(
            hex::encode(keyer.key("C-1")),
            "887fbd3d399c4f80ba3bedba74e6d32c410cd3e8917360e214097a743c546acf"
        );
        assert_ne!(keyer.key("C-1"), keyer.key("C-2"));
        assert_ne!(Keyer::new(&[8u8; 32]).key("C-1"), keyer.key("C-1"));
    }

    #[test]
    fn keys_read_back_from_hex() {
        let key: Key = std::array::from_fn(|i| u8::try_from(i * 37 % 256).unwrap_or(0));
        assert_eq!(key_from_hex(&hex::encode(key)), Some(key));
        assert_eq!(key_from_hex(&hex::encode_upper(key)), Some(key));
        assert_eq!(key_from_hex(&hex::encode(key)[1..]), None);
        assert_eq!(key_from_hex(&format!("{}g", &hex::encode(key)[1..])), None);
        assert_eq!(key_from_hex(&format!("{}é", &hex::encode(key)[2..])), None);
    }

    #[test]
    fn seeds_round_trip_and_commit() {
        let seed = new_seed();
        assert_eq!(parse_seed(&hex::encode(seed)), Ok(seed));
        assert!(parse_seed("abcd").is_err());
        assert!(parse_seed("zz").is_err());
        assert_eq!(seed_hash(&seed).len(), 64);
        assert_ne!(seed_hash(&seed), hex::encode(seed));
    }

    #[test]
    fn shortfall_carries_forward() {
        assert_eq!(
            take_for_cell(3, 0, 10),
            CellTake {
                take: 3,
                carry_out: 0
            }
        );
        assert_eq!(
            take_for_cell(3, 0, 1),
            CellTake {
                take: 1,
                carry_out: 2
            }
        );
        assert_eq!(
            take_for_cell(2, 2, 10),
            CellTake {
                take: 4,
                carry_out: 0
            }
        );
        assert_eq!(
            take_for_cell(2, 2, 0),
            CellTake {
                take: 0,
                carry_out: 4
            }
        );
    }

    #[test]
    fn spec_validation_normalises_and_rejects() {
        let mut spec = PlanSpec::default_qa(month("2026-11"));
        assert_eq!(spec.validate(), Ok(month("2026-11")));
        let bad = |f: &dyn Fn(&mut PlanSpec)| {
            let mut s = PlanSpec::default_qa(month("2026-11"));
            f(&mut s);
            s.validate().is_err()
        };
        assert!(bad(&|s| s.name = "  ".into()));
        assert!(bad(&|s| s.month = "2026-13".into()));
        assert!(bad(&|s| s.per_agent = 0));
        assert!(bad(&|s| s.population = Population::Teams {
            teams: vec![" ".into()]
        }));
        assert!(bad(&|s| s.filters.max_duration_s = Some(10)));
        assert!(bad(&|s| s.focus = Some(FocusRule {
            multiplier: 0,
            ..FocusRule::default()
        })));
        assert!(bad(&|s| s.grace_hours = 1000));
        let mut s = PlanSpec::default_qa(month("2026-11"));
        s.population = Population::Agents {
            agents: vec![" b".into(), "a".into(), "b".into()],
        };
        s.filters.queues = vec![" sales ".into(), "".into()];
        assert!(s.validate().is_ok());
        assert_eq!(
            s.population,
            Population::Agents {
                agents: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(s.filters.queues, ["sales"]);
    }

    #[test]
    fn spec_json_defaults_and_null_focus() {
        let s: PlanSpec = serde_json::from_str(
            r#"{"name":"x","month":"2026-11","per_agent":5,"graders":"team_lead"}"#,
        )
        .expect("parses");
        assert_eq!(s.focus, Some(FocusRule::default()));
        assert_eq!(s.filters.min_duration_s, 30);
        assert!(s.filters.skip_damaged);
        assert_eq!(s.grace_hours, 24);
        let s: PlanSpec = serde_json::from_str(
            r#"{"name":"x","month":"2026-11","per_agent":5,"graders":"inspectors","focus":null,
                "population":{"kind":"teams","teams":["t"]}}"#,
        )
        .expect("parses");
        assert_eq!(s.focus, None);
        assert!(
            serde_json::from_str::<PlanSpec>(
                r#"{"name":"x","month":"2026-11","per_agent":5,"graders":"boss"}"#
            )
            .is_err()
        );
    }
}
