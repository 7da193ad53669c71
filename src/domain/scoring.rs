//! Scoring rules: an agent's monthly service-quality score and how sure we can be of it, the
//! monthly service-assessment pay, the overall monthly score built from components, the
//! levels (星级 / 一级 / 二级 / 普通), and the team lead's assessment. No I/O: the caller
//! reads published evaluations, imported components and the configuration, and passes them
//! in (domain.md, "Money and points from grades" and "The service-quality component and the
//! overall score").
//!
//! Every number of those sections is a default of [`ScoringConfig`], not a constant of the
//! code: centers weight things differently, and the supervisor edits the weights.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::grading::Grade;
use super::sampling::LEAD_PENALTY_CENTI_PER_MISSING;

/// Longest component code, as for rubric item codes.
const MAX_CODE_LEN: usize = 40;

/// Everything the scoring rules take from the supervisor. `Default` is domain.md's numbers,
/// and a stored configuration that lacks a field takes the default for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScoringConfig {
    /// Percent of the overall monthly score that is service quality, 0–100. The team
    /// formula uses the same weight: domain.md gives it as the team version of this 30 %.
    pub service_quality_weight: f64,
    pub pay: PayConfig,
    /// The imported components (CSV), in display order.
    pub components: Vec<ComponentDef>,
    pub levels: LevelConfig,
    /// Points a team lead loses per missing spot-check.
    pub lead_penalty_per_missing: f64,
}

impl Default for ScoringConfig {
    /// Service quality 30 %, the pay of domain.md, its seven imported components, levels at
    /// 95 / 85 / 70 with runs of three, 0.5 points per missing spot-check.
    fn default() -> Self {
        ScoringConfig {
            service_quality_weight: 30.0,
            pay: PayConfig::default(),
            components: default_components(),
            levels: LevelConfig::default(),
            // The sampler records the same penalty; one number keeps the two in step.
            lead_penalty_per_missing: LEAD_PENALTY_CENTI_PER_MISSING as f64 / 100.0,
        }
    }
}

impl ScoringConfig {
    /// Checks the configuration; the message names the first problem and is shown to the
    /// supervisor as is. The functions below never panic on a configuration that fails
    /// this, but their results would mean little.
    pub fn validate(&self) -> Result<(), String> {
        let w = self.service_quality_weight;
        if !(0.0..=100.0).contains(&w) {
            return Err(format!(
                "the service-quality weight must be between 0 and 100; got {w}"
            ));
        }
        if self.components.is_empty() && w < 100.0 {
            return Err(
                "without imported components the service-quality weight must be 100 \
                 (nothing else could fill the rest of the score)"
                    .into(),
            );
        }
        self.pay.validate()?;
        let mut codes = BTreeSet::new();
        for c in &self.components {
            let bad_rule = c.rule.is_some_and(|r| {
                !(r.lower.is_finite() && r.upper.is_finite() && r.lower < r.upper)
            });
            let problem = if !valid_code(&c.code) {
                "the code must be 1 to 40 characters of a-z, 0-9 and _"
            } else if !codes.insert(c.code.as_str()) {
                "the code is used twice"
            } else if c.name_en.trim().is_empty() || c.name_zh.trim().is_empty() {
                "name_en and name_zh must not be empty"
            } else if !(c.max_points.is_finite() && c.max_points > 0.0) {
                "max_points must be above 0"
            } else if bad_rule {
                "the rule's lower threshold must be below its upper one"
            } else if c.cap.is_some_and(|cap| !(cap.is_finite() && cap >= 0.0)) {
                "cap must be 0 or more"
            } else {
                continue;
            };
            return Err(format!("component {:?}: {problem}", c.code));
        }
        let l = &self.levels;
        if !(0.0 <= l.two && l.two < l.one && l.one <= l.star && l.star <= 100.0) {
            return Err(format!(
                "level thresholds must satisfy 0 ≤ level 2 < level 1 ≤ star ≤ 100; \
                 got {}/{}/{}",
                l.star, l.one, l.two
            ));
        }
        if l.star_run == 0 || l.demote_run == 0 {
            return Err("the star and demotion runs must be at least one month".into());
        }
        let lp = self.lead_penalty_per_missing;
        if !(lp.is_finite() && lp >= 0.0) {
            return Err(format!(
                "the penalty per missing spot-check must be 0 or more; got {lp}"
            ));
        }
        Ok(())
    }

    /// The weight as a fraction of 1, kept within 0–1 so that a bad value cannot push a
    /// score past 100.
    fn weight_fraction(&self) -> f64 {
        clamp_score(self.service_quality_weight) / 100.0
    }
}

fn valid_code(code: &str) -> bool {
    (1..=MAX_CODE_LEN).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A score as a number in 0–100; NaN (which `"NaN".parse::<f64>()` accepts from a CSV)
/// counts as 0.
fn clamp_score(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 100.0) }
}

/// Mean of the finite values, or `None` when there are none.
fn finite_mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// An agent's monthly service-quality score and how precise it is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServiceQuality {
    /// Mean of the month's evaluation scores: the service-quality score.
    pub mean: f64,
    pub count: usize,
    /// Sample standard deviation (n − 1): the evaluations are a sample of the agent's calls,
    /// not all of them. `None` with a single score.
    pub std_dev: Option<f64>,
    /// t × s / √n, before clamping: how far the true mean may plausibly be from `mean`.
    pub half_width: Option<f64>,
    /// The 95 % interval `mean ± half_width`, clamped to 0–100 (so it may be lopsided near
    /// the ends). `None` with a single score.
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// The month's service-quality score from its published evaluation scores, with a 95 %
/// confidence interval for it (Student's t, n − 1 degrees of freedom). `None` without
/// evaluations. Scores above 100 cannot come from an evaluation and count as 100.
///
/// Why the interval: the score rests on only about 10 evaluated calls a month, and 10 calls
/// say little. An agent whose calls score 70 to 95 (a spread of about 8 points) gets an
/// interval of roughly ±5.5 points around the mean: a month at 84 is consistent with a true
/// level anywhere from about 78.5 to 89.5, so a few points between two agents, or between
/// two months, may be chance. The interval shows that next to the score.
///
/// With one score there is no spread to measure, so the interval is unknown (`None`), not
/// a zero-width one that would claim certainty.
pub fn service_quality(scores: &[u32]) -> Option<ServiceQuality> {
    let values: Vec<f64> = scores.iter().map(|&s| f64::from(s.min(100))).collect();
    let n = values.len();
    let mean = finite_mean(values.iter().copied())?;
    let mut out = ServiceQuality {
        mean,
        count: n,
        std_dev: None,
        half_width: None,
        low: None,
        high: None,
    };
    if let Some(t) = t_975(n - 1) {
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std_dev = variance.sqrt();
        let half_width = t * std_dev / (n as f64).sqrt();
        out.std_dev = Some(std_dev);
        out.half_width = Some(half_width);
        out.low = Some(clamp_score(mean - half_width));
        out.high = Some(clamp_score(mean + half_width));
    }
    Some(out)
}

/// Student's t at 97.5 % (two-sided 95 %) for 1 to 30 degrees of freedom.
const T_975: [f64; 30] = [
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010,
    2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687,
    2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
];
/// The larger rows of printed tables.
const T_975_LARGE: [(usize, f64); 3] = [(40, 2.0211), (60, 2.0003), (120, 1.9799)];
/// The normal quantile: t's limit as the degrees of freedom grow.
const Z_975: f64 = 1.9600;

/// The t critical value for `df` degrees of freedom; `None` for 0. Past 30 it is
/// interpolated linearly in 1/df between the rows around it, the usual way to read such
/// tables (t is very nearly linear in 1/df; the error is below 0.001), and past 120
/// towards 1.96 at 1/df = 0.
fn t_975(df: usize) -> Option<f64> {
    match df {
        0 => None,
        1..=30 => Some(T_975[df - 1]),
        _ => {
            let x = 1.0 / df as f64;
            let rows = T_975_LARGE
                .into_iter()
                .map(|(d, t)| (1.0 / d as f64, t))
                .chain([(0.0, Z_975)]);
            let mut prev = (1.0 / 30.0, T_975[29]);
            for (xd, t) in rows {
                if x >= xd {
                    return Some(prev.1 + (t - prev.1) * (prev.0 - x) / (prev.0 - xd));
                }
                prev = (xd, t);
            }
            Some(Z_975) // not reached: the last row is at 1/df = 0
        }
    }
}

/// A customer's praise of an agent, which adds to the month's pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Commendation {
    Phone,
    Written,
    Media,
}

impl Commendation {
    pub const ALL: [Commendation; 3] = [
        Commendation::Phone,
        Commendation::Written,
        Commendation::Media,
    ];

    /// The name stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Commendation::Phone => "phone",
            Commendation::Written => "written",
            Commendation::Media => "media",
        }
    }

    pub fn parse(s: &str) -> Option<Commendation> {
        Commendation::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Money per evaluation and per commendation, in currency units. Severe has no amount: one
/// severe cancels the month's pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PayConfig {
    pub excellent: i64,
    pub good: i64,
    pub fair: i64,
    pub poor: i64,
    pub phone: i64,
    pub written: i64,
    pub media: i64,
}

impl Default for PayConfig {
    /// Excellent +50, good +30, fair 0, poor −10; phone +10, written +50, media +100.
    fn default() -> Self {
        PayConfig {
            excellent: 50,
            good: 30,
            fair: 0,
            poor: -10,
            phone: 10,
            written: 50,
            media: 100,
        }
    }
}

/// The largest amount, up or down, one evaluation or one commendation may move a month's
/// pay. The handbook's amounts are tens; a thousand leaves room for other centers' scales
/// while refusing a slip of the keyboard (−100 000 for a poor call).
pub const PAY_LIMIT: i64 = 1_000;

impl PayConfig {
    /// Checks the amounts; the message names the first problem and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        let grades = [
            ("excellent", self.excellent),
            ("good", self.good),
            ("fair", self.fair),
            ("poor", self.poor),
        ];
        for (name, amount) in grades {
            if !(-PAY_LIMIT..=PAY_LIMIT).contains(&amount) {
                return Err(format!(
                    "the pay for a {name} evaluation must be between -{PAY_LIMIT} and \
                     {PAY_LIMIT}; got {amount}"
                ));
            }
        }
        // A better grade never pays less than a worse one.
        for pair in grades.windows(2) {
            if let [(better, b), (worse, w)] = pair
                && b < w
            {
                return Err(format!(
                    "a {better} evaluation must pay at least as much as a {worse} one \
                     ({b} < {w})"
                ));
            }
        }
        for (name, amount) in [
            ("phone", self.phone),
            ("written", self.written),
            ("media", self.media),
        ] {
            if !(0..=PAY_LIMIT).contains(&amount) {
                return Err(format!(
                    "the pay for a {name} commendation must be between 0 and {PAY_LIMIT}; \
                     got {amount}"
                ));
            }
        }
        Ok(())
    }

    /// What one evaluation of this grade pays; `None` for severe.
    pub fn per_grade(&self, grade: Grade) -> Option<i64> {
        match grade {
            Grade::Excellent => Some(self.excellent),
            Grade::Good => Some(self.good),
            Grade::Fair => Some(self.fair),
            Grade::Poor => Some(self.poor),
            Grade::Severe => None,
        }
    }

    pub fn per_commendation(&self, c: Commendation) -> i64 {
        match c {
            Commendation::Phone => self.phone,
            Commendation::Written => self.written,
            Commendation::Media => self.media,
        }
    }
}

/// One agent's service-assessment pay for one month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pay {
    /// From the grades of the month's published evaluations.
    pub evaluations: i64,
    pub commendations: i64,
    pub total: i64,
    /// A severe grade cancelled the month: every amount above is 0.
    pub cancelled_by_severe: bool,
}

/// The month's service-assessment pay: each evaluation's amount by grade plus each
/// commendation's amount.
///
/// Any severe evaluation cancels the month's *whole* service-assessment pay, commendations
/// included: domain.md lists commendations under that pay and says a severe "cancels that
/// month's whole service-assessment pay". So a month with a severe pays 0 even when it
/// would otherwise have been negative; the amounts are reported as 0, not as what they
/// would have been, so that `total` is always `evaluations + commendations`.
///
/// Nothing floors the pay at 0 otherwise: poor evaluations take money away, and a month of
/// only poor evaluations pays less than nothing (and less than a severe month).
pub fn pay(grades: &[Grade], commendations: &[Commendation], cfg: &ScoringConfig) -> Pay {
    if grades.contains(&Grade::Severe) {
        return Pay {
            evaluations: 0,
            commendations: 0,
            total: 0,
            cancelled_by_severe: true,
        };
    }
    // Saturating: the amounts come from a configuration, and a bad one must not panic.
    let evaluations = grades
        .iter()
        .filter_map(|&g| cfg.pay.per_grade(g))
        .fold(0i64, i64::saturating_add);
    let commendations = commendations
        .iter()
        .map(|&c| cfg.pay.per_commendation(c))
        .fold(0i64, i64::saturating_add);
    Pay {
        evaluations,
        commendations,
        total: evaluations.saturating_add(commendations),
        cancelled_by_severe: false,
    }
}

/// Full marks at or above `upper`, nothing at or below `lower`, linear in between (domain.md:
/// "e.g. ≥90 full, <70 zero").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearRule {
    pub lower: f64,
    pub upper: f64,
}

impl LinearRule {
    /// The share of full marks, 0–1, for a raw value; NaN gets nothing.
    pub fn fraction(&self, raw: f64) -> f64 {
        if raw.is_nan() {
            0.0
        } else if raw >= self.upper {
            1.0
        } else if raw <= self.lower {
            0.0
        } else {
            // lower < raw < upper here, so the divisor is positive.
            (raw - self.lower) / (self.upper - self.lower)
        }
    }
}

/// One imported component of the overall monthly score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentDef {
    /// `[a-z0-9_]{1,40}`, unique: the CSV column and what stored results refer to.
    pub code: String,
    pub name_en: String,
    pub name_zh: String,
    /// Full marks on the component's own scale.
    pub max_points: f64,
    /// How a raw value becomes points; `None` when the import already carries points.
    #[serde(default)]
    pub rule: Option<LinearRule>,
    /// Most points the component can give; `None` is `max_points`. Above `max_points` it
    /// allows imported bonus points (a rule never gives more than `max_points`).
    #[serde(default)]
    pub cap: Option<f64>,
}

/// The imported components of domain.md, all imported as points (no rule): business exam
/// 30, customer satisfaction 10, daily checks 20, peer review 2, etiquette 8, overall ability
/// 10, call volume 12. For call volume the source system gives 8 for exactly meeting the
/// quota; a center that imports the percent of quota instead can say so with a rule such as
/// `{ lower: 0, upper: 150 }`, which gives 8 at 100 % and 12 at 150 %.
pub fn default_components() -> Vec<ComponentDef> {
    let c = |code: &str, name_en: &str, name_zh: &str, max_points| ComponentDef {
        code: code.into(),
        name_en: name_en.into(),
        name_zh: name_zh.into(),
        max_points,
        rule: None,
        cap: None,
    };
    vec![
        c("business_exam", "Business exam", "业务考试", 30.0),
        c(
            "customer_satisfaction",
            "Customer satisfaction",
            "客户满意度",
            10.0,
        ),
        c("daily_checks", "Daily checks", "日常检查", 20.0),
        c("peer_review", "Peer review", "互评", 2.0),
        c("etiquette", "Etiquette", "礼仪", 8.0),
        c("overall_ability", "Overall ability", "综合能力", 10.0),
        c("call_volume", "Call volume", "话务量", 12.0),
    ]
}

/// A component's points for a raw value: through its rule if it has one (else the value is
/// already points), then kept within 0 and the cap. NaN gets 0.
pub fn component_points(def: &ComponentDef, raw: f64) -> f64 {
    if raw.is_nan() {
        return 0.0;
    }
    let points = match def.rule {
        Some(rule) => rule.fraction(raw) * def.max_points,
        None => raw,
    };
    // min then max, not clamp: a bad cap (negative, NaN) must not panic.
    points.min(def.cap.unwrap_or(def.max_points)).max(0.0)
}

/// One component's share of an overall score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentScore {
    pub code: String,
    /// The imported value; `None` when the month has none.
    pub raw: Option<f64>,
    /// On the component's own scale (0 to its cap).
    pub points: f64,
    /// What it adds to the overall score: `points × Overall::scale`.
    pub weighted: f64,
}

/// An agent's overall monthly score and what it is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overall {
    /// Service-quality score × weight / 100.
    pub service_quality: f64,
    /// One per configured component, in configuration order.
    pub components: Vec<ComponentScore>,
    /// (100 − weight) / Σ max_points: turns component points into overall points.
    pub scale: f64,
    /// 0–100.
    pub total: f64,
    /// What had no value this month and counted 0: component codes, and `service_quality`
    /// when the agent had no evaluations.
    pub missing: Vec<String>,
    /// Given codes that are not configured, and repeats of a code (the first value counts).
    pub ignored: Vec<String>,
}

/// The overall monthly score: service quality at its weight (30 % by default) plus the
/// imported components, which share the rest (70 %).
///
/// Why scaled: domain.md's imported components add up to 92 points and service quality
/// takes 30 % on top, 122 in all. Clamping that to 100 would let the imported part alone
/// reach 92 and leave service quality nearly without effect, against its 30 % weight. So
/// the components keep their sizes relative to each other and are scaled to fill what the
/// weight leaves: each counts `points × (100 − weight) / Σ max_points` (business exam, 30 of
/// 92, is worth 22.8 overall points). A scheme whose components already add up to
/// `100 − weight` counts them as they are, and "50 % system measures + 50 % evaluation" is
/// a weight of 50. The total is kept within 0–100 in case caps above `max_points` push it
/// past.
///
/// A component without a value, and service quality without evaluations (`None`), count 0:
/// the month is scored on what is known, and `missing` says what was not, so the result can
/// be shown as incomplete rather than silently low.
pub fn overall(sq_score: Option<f64>, components: &[(&str, f64)], cfg: &ScoringConfig) -> Overall {
    let weight = cfg.weight_fraction();
    let max_sum: f64 = cfg.components.iter().map(|c| c.max_points.max(0.0)).sum();
    let scale = if max_sum > 0.0 {
        (1.0 - weight) * 100.0 / max_sum
    } else {
        0.0
    };

    let mut missing = Vec::new();
    let service_quality = match sq_score {
        Some(s) => clamp_score(s) * weight,
        None => {
            missing.push("service_quality".to_string());
            0.0
        }
    };

    let mut seen = BTreeSet::new();
    let ignored = components
        .iter()
        .filter(|(code, _)| !cfg.components.iter().any(|c| c.code == *code) || !seen.insert(*code))
        .map(|(code, _)| code.to_string())
        .collect();

    let scores: Vec<ComponentScore> = cfg
        .components
        .iter()
        .map(|def| {
            let raw = components
                .iter()
                .find(|(code, _)| *code == def.code)
                .map(|&(_, raw)| raw);
            if raw.is_none() {
                missing.push(def.code.clone());
            }
            let points = raw.map_or(0.0, |r| component_points(def, r));
            ComponentScore {
                code: def.code.clone(),
                raw,
                points,
                weighted: points * scale,
            }
        })
        .collect();

    let total = service_quality + scores.iter().map(|c| c.weighted).sum::<f64>();
    Overall {
        service_quality,
        components: scores,
        scale,
        total: clamp_score(total),
        missing,
        ignored,
    }
}

/// An agent's level for a month, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Star,
    One,
    Two,
    Ordinary,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Star, Level::One, Level::Two, Level::Ordinary];

    /// The name stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Star => "star",
            Level::One => "one",
            Level::Two => "two",
            Level::Ordinary => "ordinary",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Level::Star => "星级",
            Level::One => "一级",
            Level::Two => "二级",
            Level::Ordinary => "普通",
        }
    }
}

/// Thresholds on the overall monthly score, and the run lengths.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LevelConfig {
    pub star: f64,
    pub one: f64,
    pub two: f64,
    /// Consecutive months at or above `star` that make a star agent.
    pub star_run: u32,
    /// Consecutive level-2 months after which the agent is ordinary.
    pub demote_run: u32,
}

impl Default for LevelConfig {
    /// ≥95 three months running → star, ≥85 → level 1, ≥70 → level 2, three level-2
    /// months running → ordinary.
    fn default() -> Self {
        LevelConfig {
            star: 95.0,
            one: 85.0,
            two: 70.0,
            star_run: 3,
            demote_run: 3,
        }
    }
}

/// The level of each month, for overall scores of consecutive months in order (oldest
/// first). Each month's level depends on the months before it, so pass the whole run that
/// leads up to the months wanted, and a month without a score as NaN (it is ordinary and
/// breaks both runs) rather than leaving it out.
///
/// - At or above `star` (95): star when it is the third (`star_run`) or later such month in
///   a row, otherwise level 1 (the first two ≥95 months are level 1).
/// - At or above `one` (85): level 1.
/// - At or above `two` (70): level 2, except that the third (`demote_run`) consecutive
///   level-2 month is ordinary, and so is every further one: the run is of months scoring
///   in the level-2 band, and a demotion does not restart it. Only a month outside the
///   band (better or worse) ends it, so an agent demoted at 84, 84, 84 stays ordinary at 84
///   and gets level 2 back only after a month below 70 or at least 85.
/// - Below `two`: ordinary.
pub fn levels(monthly_scores: &[f64], cfg: &ScoringConfig) -> Vec<Level> {
    let c = &cfg.levels;
    let (mut star_run, mut two_run) = (0u32, 0u32);
    monthly_scores
        .iter()
        .map(|&score| {
            // NaN fails every comparison: an ordinary month that ends both runs.
            let starry = score >= c.star;
            let in_two = score >= c.two && score < c.one;
            star_run = if starry {
                star_run.saturating_add(1)
            } else {
                0
            };
            two_run = if in_two { two_run.saturating_add(1) } else { 0 };
            if starry && star_run >= c.star_run {
                Level::Star
            } else if score >= c.one {
                Level::One
            } else if in_two && two_run < c.demote_run {
                Level::Two
            } else {
                Level::Ordinary
            }
        })
        .collect()
}

/// The yearly score: the mean of the monthly overall scores given. `None` without any;
/// NaN months (no score) are left out rather than counted as 0.
pub fn yearly(monthly_scores: &[f64]) -> Option<f64> {
    finite_mean(monthly_scores.iter().copied())
}

/// Points a team lead loses for spot-checks not done by the end of the grading period.
pub fn lead_penalty(missing: u32, cfg: &ScoringConfig) -> f64 {
    f64::from(missing) * cfg.lead_penalty_per_missing
}

/// The team's service-quality points in the lead's assessment: the mean of the members'
/// service-quality scores × weight / 100. Pass only members who have a score this month;
/// `None` when none has. Each score is kept within 0–100 and NaN is left out.
pub fn team_points(member_scores: &[f64], cfg: &ScoringConfig) -> Option<f64> {
    let m = finite_mean(
        member_scores
            .iter()
            .filter(|s| !s.is_nan())
            .map(|&s| clamp_score(s)),
    )?;
    Some(m * cfg.weight_fraction())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn t_table_rows_and_interpolation() {
        assert_eq!(t_975(0), None);
        assert_eq!(t_975(1), Some(12.7062));
        assert_eq!(t_975(9), Some(2.2622));
        assert_eq!(t_975(30), Some(2.0423));
        assert_eq!(t_975(120), Some(1.9799));
        // Exact values to 4 places: t(35) = 2.0301, t(50) = 2.0086, t(240) = 1.9699.
        for (df, exact) in [(35, 2.0301), (50, 2.0086), (240, 1.9699), (1000, 1.9623)] {
            let t = t_975(df).unwrap();
            assert!((t - exact).abs() < 0.001, "df {df}: {t}");
        }
        let ts: Vec<f64> = (1..=2000).map(|df| t_975(df).unwrap()).collect();
        assert!(ts.windows(2).all(|w| w[0] > w[1]), "t falls as df grows");
        assert!(ts.iter().all(|&t| t > Z_975));
        assert!((t_975(usize::MAX).unwrap() - Z_975).abs() < 1e-12);
    }

    #[test]
    fn ten_calls_give_a_wide_interval() {
        let s = service_quality(&[92, 85, 78, 95, 70, 88, 90, 82, 76, 84]).unwrap();
        assert_eq!(s.count, 10);
        assert!(close(s.mean, 84.0));
        // Squared deviations add up to 538; s = sqrt(538 / 9).
        let sd = (538.0f64 / 9.0).sqrt();
        assert!(close(s.std_dev.unwrap(), sd));
        let hw = 2.2622 * sd / 10f64.sqrt();
        assert!(close(s.half_width.unwrap(), hw));
        assert!((hw - 5.531).abs() < 0.001, "{hw}");
        assert!(close(s.low.unwrap(), 84.0 - hw));
        assert!(close(s.high.unwrap(), 84.0 + hw));
    }

    #[test]
    fn service_quality_edges() {
        assert_eq!(service_quality(&[]), None);

        let one = service_quality(&[87]).unwrap();
        assert_eq!((one.mean, one.count), (87.0, 1));
        assert_eq!((one.std_dev, one.half_width), (None, None));
        assert_eq!((one.low, one.high), (None, None));

        let same = service_quality(&[80, 80, 80]).unwrap();
        assert_eq!(same.std_dev, Some(0.0));
        assert_eq!((same.low, same.high), (Some(80.0), Some(80.0)));

        // Two scores far apart: s = √800 and 80 ± 12.7062 × s / √2 = 80 ± 254.
        let wide = service_quality(&[100, 60]).unwrap();
        assert!(wide.half_width.unwrap() > 100.0);
        assert_eq!((wide.low, wide.high), (Some(0.0), Some(100.0)));

        // Near the top the interval is clamped on one side only.
        let top = service_quality(&[100, 100, 100, 98]).unwrap();
        assert_eq!(top.high, Some(100.0));
        assert!(top.low.unwrap() < top.mean);

        // Over 100 cannot be an evaluation score; it counts as 100.
        let over = service_quality(&[150, 90]).unwrap();
        assert!(close(over.mean, 95.0));
    }

    fn grades(excellent: usize, good: usize, fair: usize, poor: usize) -> Vec<Grade> {
        [
            (Grade::Excellent, excellent),
            (Grade::Good, good),
            (Grade::Fair, fair),
            (Grade::Poor, poor),
        ]
        .into_iter()
        .flat_map(|(g, n)| std::iter::repeat_n(g, n))
        .collect()
    }

    #[test]
    fn pay_worked_example_and_severe() {
        let cfg = ScoringConfig::default();
        let mut gs = grades(3, 4, 2, 1);
        let fields = |p: Pay| {
            (
                p.evaluations,
                p.commendations,
                p.total,
                p.cancelled_by_severe,
            )
        };
        // 3 × 50 + 4 × 30 + 2 × 0 − 10 = 260.
        assert_eq!(fields(pay(&gs, &[], &cfg)), (260, 0, 260, false));
        gs.push(Grade::Severe);
        assert_eq!(fields(pay(&gs, &[], &cfg)), (0, 0, 0, true));
    }

    #[test]
    fn commendations_add_unless_a_severe_cancels_the_month() {
        let cfg = ScoringConfig::default();
        let all = Commendation::ALL;
        let p = pay(&grades(1, 0, 0, 0), &all, &cfg);
        assert_eq!((p.evaluations, p.commendations, p.total), (50, 160, 210));

        let p = pay(&[Grade::Good, Grade::Severe], &all, &cfg);
        assert_eq!(
            (p.total, p.commendations, p.cancelled_by_severe),
            (0, 0, true)
        );

        // Commendations alone, no evaluations.
        assert_eq!(pay(&[], &[Commendation::Written], &cfg).total, 50);
        assert_eq!(pay(&[], &[], &cfg).total, 0);
    }

    #[test]
    fn pay_may_be_negative_and_follows_the_configuration() {
        let mut cfg = ScoringConfig::default();
        assert_eq!(pay(&grades(0, 0, 0, 10), &[], &cfg).total, -100);
        // A severe among them still pays 0, not −90.
        let mut gs = grades(0, 0, 0, 9);
        gs.push(Grade::Severe);
        assert_eq!(pay(&gs, &[], &cfg).total, 0);

        cfg.pay.fair = 5;
        cfg.pay.media = 200;
        let p = pay(&grades(0, 0, 2, 0), &[Commendation::Media], &cfg);
        assert_eq!((p.evaluations, p.commendations), (10, 200));

        cfg.pay.excellent = i64::MAX;
        assert_eq!(pay(&grades(3, 0, 0, 0), &[], &cfg).total, i64::MAX);
    }

    fn def(max_points: f64, rule: Option<(f64, f64)>, cap: Option<f64>) -> ComponentDef {
        ComponentDef {
            code: "x".into(),
            name_en: "X".into(),
            name_zh: "X".into(),
            max_points,
            rule: rule.map(|(lower, upper)| LinearRule { lower, upper }),
            cap,
        }
    }

    #[test]
    fn linear_rule_edges() {
        let d = def(10.0, Some((70.0, 90.0)), None);
        assert_eq!(component_points(&d, 69.99), 0.0);
        assert_eq!(component_points(&d, 70.0), 0.0);
        assert!(close(component_points(&d, 80.0), 5.0));
        assert!(close(component_points(&d, 75.0), 2.5));
        assert_eq!(component_points(&d, 90.0), 10.0);
        assert_eq!(component_points(&d, 120.0), 10.0);
        assert_eq!(component_points(&d, -5.0), 0.0);
        assert_eq!(component_points(&d, f64::NAN), 0.0);
        assert_eq!(component_points(&d, f64::INFINITY), 10.0);
        assert_eq!(component_points(&d, f64::NEG_INFINITY), 0.0);

        let capped = def(10.0, Some((70.0, 90.0)), Some(6.0));
        assert!(close(component_points(&capped, 80.0), 5.0));
        assert_eq!(component_points(&capped, 85.0), 6.0);
        assert_eq!(component_points(&capped, 95.0), 6.0);

        // A cap above max_points does not raise what a rule gives.
        let loose = def(10.0, Some((70.0, 90.0)), Some(15.0));
        assert_eq!(component_points(&loose, 100.0), 10.0);

        // A bad rule (lower ≥ upper) is a step at upper, without dividing by zero.
        let step = def(10.0, Some((90.0, 90.0)), None);
        assert_eq!(component_points(&step, 89.0), 0.0);
        assert_eq!(component_points(&step, 90.0), 10.0);
    }

    #[test]
    fn imported_points_are_kept_within_zero_and_the_cap() {
        let d = def(12.0, None, None);
        assert_eq!(component_points(&d, 8.0), 8.0);
        assert_eq!(component_points(&d, 13.0), 12.0);
        assert_eq!(component_points(&d, -1.0), 0.0);
        assert_eq!(component_points(&d, f64::NAN), 0.0);
        let bonus = def(12.0, None, Some(15.0));
        assert_eq!(component_points(&bonus, 14.0), 14.0);
        let bad = def(12.0, None, Some(-3.0));
        assert_eq!(component_points(&bad, 5.0), 0.0);
    }

    #[test]
    fn call_volume_as_percent_of_quota() {
        let d = ComponentDef {
            rule: Some(LinearRule {
                lower: 0.0,
                upper: 150.0,
            }),
            ..default_components()[6].clone()
        };
        assert_eq!(d.code, "call_volume");
        assert!(close(component_points(&d, 100.0), 8.0));
        assert_eq!(component_points(&d, 150.0), 12.0);
    }

    fn all_full(cfg: &ScoringConfig) -> Vec<(&str, f64)> {
        cfg.components
            .iter()
            .map(|c| (c.code.as_str(), c.max_points))
            .collect()
    }

    #[test]
    fn overall_weights_service_quality_and_scales_the_rest() {
        let cfg = ScoringConfig::default();
        let full = all_full(&cfg);
        let o = overall(Some(100.0), &full, &cfg);
        assert!(close(o.scale, 70.0 / 92.0));
        assert!(close(o.service_quality, 30.0));
        assert!(close(o.total, 100.0));
        assert!(o.missing.is_empty() && o.ignored.is_empty());

        let o = overall(Some(84.0), &full, &cfg);
        assert!(close(o.total, 84.0 * 0.3 + 70.0));
        let exam = &o.components[0];
        assert_eq!(
            (exam.code.as_str(), exam.raw),
            ("business_exam", Some(30.0))
        );
        assert!(close(exam.weighted, 30.0 * 70.0 / 92.0));

        // Half of every component and a service quality of 50: half the score.
        let half: Vec<(&str, f64)> = full.iter().map(|&(c, p)| (c, p / 2.0)).collect();
        assert!(close(overall(Some(50.0), &half, &cfg).total, 50.0));
    }

    #[test]
    fn missing_values_count_zero_and_are_listed() {
        let cfg = ScoringConfig::default();
        let o = overall(None, &[("business_exam", 30.0)], &cfg);
        assert_eq!(o.service_quality, 0.0);
        assert!(close(o.total, 30.0 * 70.0 / 92.0));
        assert_eq!(o.missing[0], "service_quality");
        assert_eq!(o.missing.len(), 7);
        assert!(!o.missing.iter().any(|m| m == "business_exam"));
        assert_eq!(o.components.len(), 7);
        assert_eq!(o.components[1].raw, None);
        assert_eq!(o.components[1].points, 0.0);

        let o = overall(None, &[], &cfg);
        assert_eq!(o.total, 0.0);
    }

    #[test]
    fn unknown_and_repeated_codes_are_ignored() {
        let cfg = ScoringConfig::default();
        let o = overall(
            Some(80.0),
            &[
                ("etiquette", 8.0),
                ("bonus", 50.0),
                ("etiquette", 0.0),
                ("etiquette", 4.0),
            ],
            &cfg,
        );
        assert_eq!(o.ignored, ["bonus", "etiquette", "etiquette"]);
        let etiquette = o.components.iter().find(|c| c.code == "etiquette").unwrap();
        assert_eq!(etiquette.points, 8.0);
    }

    #[test]
    fn overall_follows_other_schemes() {
        // "50 % system measures + 50 % evaluation": one system component, weight 50.
        let cfg = ScoringConfig {
            service_quality_weight: 50.0,
            components: vec![ComponentDef {
                code: "system".into(),
                ..def(100.0, Some((70.0, 90.0)), None)
            }],
            ..ScoringConfig::default()
        };
        assert!(cfg.validate().is_ok());
        let o = overall(Some(90.0), &[("system", 80.0)], &cfg);
        assert!(close(o.total, 45.0 + 25.0));

        // Components summing to 100 − weight count as they are; a bonus cap is clamped in
        // the total.
        let cfg = ScoringConfig {
            components: vec![ComponentDef {
                code: "rest".into(),
                ..def(70.0, None, Some(80.0))
            }],
            ..ScoringConfig::default()
        };
        let o = overall(Some(100.0), &[("rest", 60.0)], &cfg);
        assert!(close(o.scale, 1.0));
        assert!(close(o.total, 90.0));
        assert_eq!(overall(Some(100.0), &[("rest", 80.0)], &cfg).total, 100.0);

        // Service quality only.
        let cfg = ScoringConfig {
            service_quality_weight: 100.0,
            components: vec![],
            ..ScoringConfig::default()
        };
        assert!(cfg.validate().is_ok());
        assert!(close(overall(Some(77.0), &[], &cfg).total, 77.0));
    }

    fn lv(scores: &[f64]) -> Vec<Level> {
        levels(scores, &ScoringConfig::default())
    }

    #[test]
    fn star_needs_three_months_in_a_row() {
        use Level::*;
        assert_eq!(lv(&[95.0, 96.0, 97.0]), [One, One, Star]);
        assert_eq!(lv(&[95.0, 96.0, 97.0, 100.0]), [One, One, Star, Star]);
        assert_eq!(
            lv(&[96.0, 96.0, 94.9, 96.0, 96.0]),
            [One, One, One, One, One]
        );
        assert_eq!(
            lv(&[99.0, 99.0, 99.0, 90.0, 99.0]),
            [One, One, Star, One, One]
        );
        assert!(lv(&[]).is_empty());
    }

    #[test]
    fn three_level_two_months_demote() {
        use Level::*;
        assert_eq!(lv(&[84.0, 84.0, 84.0]), [Two, Two, Ordinary]);
        // The run goes on after the demotion.
        assert_eq!(
            lv(&[84.0, 70.0, 80.0, 75.0, 84.99]),
            [Two, Two, Ordinary, Ordinary, Ordinary]
        );
        // A month outside the band ends it, better or worse.
        assert_eq!(lv(&[84.0, 84.0, 85.0, 84.0]), [Two, Two, One, Two]);
        assert_eq!(
            lv(&[84.0, 84.0, 84.0, 60.0, 84.0]),
            [Two, Two, Ordinary, Ordinary, Two]
        );
    }

    #[test]
    fn level_boundaries() {
        use Level::*;
        assert_eq!(lv(&[95.0]), [One]);
        assert_eq!(lv(&[85.0]), [One]);
        assert_eq!(lv(&[84.99]), [Two]);
        assert_eq!(lv(&[70.0]), [Two]);
        assert_eq!(lv(&[69.99]), [Ordinary]);
        assert_eq!(lv(&[0.0]), [Ordinary]);
        // A month without a score is ordinary and breaks both runs.
        assert_eq!(lv(&[96.0, 96.0, f64::NAN, 96.0]), [One, One, Ordinary, One]);
        assert_eq!(lv(&[80.0, 80.0, f64::NAN, 80.0]), [Two, Two, Ordinary, Two]);
    }

    #[test]
    fn levels_follow_the_configuration() {
        use Level::*;
        let mut cfg = ScoringConfig {
            levels: LevelConfig {
                star: 90.0,
                one: 80.0,
                two: 60.0,
                star_run: 2,
                demote_run: 2,
            },
            ..ScoringConfig::default()
        };
        assert_eq!(
            levels(&[90.0, 92.0, 79.0, 60.0, 61.0], &cfg),
            [One, Star, Two, Ordinary, Ordinary]
        );
        cfg.levels.star_run = 1;
        assert_eq!(levels(&[90.0], &cfg), [Star]);
    }

    #[test]
    fn yearly_is_the_mean_of_the_months() {
        assert_eq!(yearly(&[]), None);
        assert!(close(yearly(&[90.0, 80.0, 85.0]).unwrap(), 85.0));
        assert!(close(yearly(&[90.0, f64::NAN, 80.0]).unwrap(), 85.0));
        assert_eq!(yearly(&[f64::NAN]), None);
    }

    #[test]
    fn team_lead_assessment() {
        let cfg = ScoringConfig::default();
        assert_eq!(lead_penalty(0, &cfg), 0.0);
        assert_eq!(lead_penalty(1, &cfg), 0.5);
        assert_eq!(lead_penalty(60, &cfg), 30.0);

        assert_eq!(team_points(&[], &cfg), None);
        // Mean 85 × 30 / 100.
        assert!(close(team_points(&[90.0, 80.0, 85.0], &cfg).unwrap(), 25.5));
        assert!(close(
            team_points(&[120.0, 80.0, f64::NAN], &cfg).unwrap(),
            27.0
        ));
    }

    #[test]
    fn default_configuration_is_valid_and_round_trips() {
        let cfg = ScoringConfig::default();
        assert_eq!(cfg.validate(), Ok(()));
        let sum: f64 = cfg.components.iter().map(|c| c.max_points).sum();
        assert_eq!(sum, 92.0);
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<ScoringConfig>(&json).unwrap(), cfg);

        // A stored configuration with one field takes the defaults for the rest.
        let partial: ScoringConfig =
            serde_json::from_str(r#"{"service_quality_weight":50,"pay":{"poor":-20}}"#).unwrap();
        assert_eq!(partial.service_quality_weight, 50.0);
        assert_eq!((partial.pay.poor, partial.pay.good), (-20, 30));
        assert_eq!(partial.components, default_components());
    }

    #[test]
    fn pay_amounts_are_kept_within_their_range_and_order() {
        let bad = |f: &dyn Fn(&mut PayConfig)| {
            let mut pay = PayConfig::default();
            f(&mut pay);
            pay.validate().expect_err("refused")
        };
        let message = bad(&|p| p.poor = -100_000);
        assert!(
            message.contains("poor") && message.contains("-1000") && message.contains("1000"),
            "{message}"
        );
        assert!(bad(&|p| p.excellent = 1_001).contains("excellent"));
        assert!(bad(&|p| p.good = 60).contains("at least as much"));
        assert!(bad(&|p| p.media = -1).contains("media"));
        // The edges themselves are fine, and so are equal amounts.
        let mut edge = PayConfig::default();
        edge.excellent = PAY_LIMIT;
        edge.poor = -PAY_LIMIT;
        edge.fair = edge.poor;
        edge.media = PAY_LIMIT;
        assert_eq!(edge.validate(), Ok(()));
        let mut cfg = ScoringConfig::default();
        cfg.pay.poor = -100_000;
        assert!(
            cfg.validate().is_err(),
            "the whole configuration checks its pay"
        );
    }

    #[test]
    fn bad_configurations_are_refused() {
        let bad = |f: &dyn Fn(&mut ScoringConfig)| {
            let mut cfg = ScoringConfig::default();
            f(&mut cfg);
            cfg.validate().expect_err("refused")
        };
        assert!(bad(&|c| c.service_quality_weight = 101.0).contains("weight"));
        assert!(bad(&|c| c.service_quality_weight = f64::NAN).contains("weight"));
        assert!(bad(&|c| c.components.clear()).contains("weight must be 100"));
        assert!(bad(&|c| c.components[1].code = "etiquette".into()).contains("twice"));
        assert!(bad(&|c| c.components[0].code = "Exam".into()).contains("a-z"));
        assert!(bad(&|c| c.components[0].name_zh = " ".into()).contains("name_zh"));
        assert!(bad(&|c| c.components[0].max_points = 0.0).contains("max_points"));
        assert!(
            bad(&|c| c.components[0].rule = Some(LinearRule {
                lower: 90.0,
                upper: 70.0
            }))
            .contains("lower threshold")
        );
        assert!(bad(&|c| c.components[0].cap = Some(-1.0)).contains("cap"));
        assert!(bad(&|c| c.levels.one = 96.0).contains("level thresholds"));
        assert!(bad(&|c| c.levels.two = 85.0).contains("level thresholds"));
        assert!(bad(&|c| c.levels.star_run = 0).contains("runs"));
        assert!(bad(&|c| c.lead_penalty_per_missing = -0.5).contains("spot-check"));
    }

    #[test]
    fn names_round_trip() {
        for c in Commendation::ALL {
            assert_eq!(Commendation::parse(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        for l in Level::ALL {
            assert_eq!(Level::parse(l.as_str()), Some(l));
            let json = serde_json::to_string(&l).unwrap();
            assert_eq!(json, format!("\"{}\"", l.as_str()));
        }
        assert_eq!(Level::Star.name_zh(), "星级");
        assert_eq!(Level::Ordinary.name_zh(), "普通");
        assert_eq!(Commendation::parse("email"), None);
    }
}
