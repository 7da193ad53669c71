//! Grading rules: the five grades, the rubric of deduction items, what an evaluation form
//! scores, what a draft and a submission must satisfy, and how graders compare in a
//! calibration session. No I/O: the store keeps rubrics and forms as JSON, the handlers call
//! these to check and score them.
//!
//! A score is 100 minus the form's deductions (never below 0); the grade defaults to the
//! score's band, a critical item forces severe, and a grader may choose another grade only
//! with a written reason (domain.md, "How a grade and a score relate").

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use super::calibration::{
    Deviation, Grading, ItemSpread, SessionReport, krippendorff_alpha_ordinal, session_report,
};
pub use super::rubric::{
    Bands, GradeCriteria, ITEM_POINTS, MAX_CODE_LEN, MAX_ITEMS, Rubric, RubricItem, default_rubric,
};

/// A form may list at most this many deductions.
pub const MAX_DEDUCTIONS: usize = 100;
/// Longest note, comment or override reason, in characters.
pub const MAX_TEXT: usize = 4000;
/// Most occurrences of one item in one deduction.
pub const MAX_OCCURRENCES: u32 = 50;

/// The five grades of 服务质量评判标准, declared best to worst so that `Ord` puts the
/// better grade first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    Excellent,
    Good,
    Fair,
    Poor,
    Severe,
}

impl Grade {
    pub const ALL: [Grade; 5] = [
        Grade::Excellent,
        Grade::Good,
        Grade::Fair,
        Grade::Poor,
        Grade::Severe,
    ];

    /// The name stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Excellent => "excellent",
            Grade::Good => "good",
            Grade::Fair => "fair",
            Grade::Poor => "poor",
            Grade::Severe => "severe",
        }
    }

    pub fn parse(s: &str) -> Option<Grade> {
        Grade::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// The handbook's one-character name (优/良/中/差/劣), for Chinese texts.
    pub fn zh(self) -> &'static str {
        match self {
            Grade::Excellent => "优",
            Grade::Good => "良",
            Grade::Fair => "中",
            Grade::Poor => "差",
            Grade::Severe => "劣",
        }
    }

    /// Excellent 0 to severe 4: the distance between ranks is how many grades apart two
    /// gradings are (a higher rank is a worse grade).
    pub fn rank(self) -> u8 {
        match self {
            Grade::Excellent => 0,
            Grade::Good => 1,
            Grade::Fair => 2,
            Grade::Poor => 3,
            Grade::Severe => 4,
        }
    }

    /// Poor and severe calls are flagged to the team lead for review and coaching.
    pub fn needs_review(self) -> bool {
        matches!(self, Grade::Poor | Grade::Severe)
    }
}

/// An evaluation form as a grader fills it in. Drafts may be incomplete, so every field has
/// a default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Form {
    pub deductions: Vec<Deduction>,
    /// Item codes marked not applicable for this call.
    pub not_applicable: Vec<String>,
    /// The grader's chosen grade; `None` takes the computed one.
    pub grade: Option<Grade>,
    pub override_reason: Option<String>,
    pub comment: Option<String>,
    /// The id the next new deduction gets. Ids are never reused within an evaluation, so
    /// the id of a removed deduction stays removed (an appeal naming it cannot come to name
    /// another). Kept by the server; whatever a client sends here is ignored.
    pub next_deduction_id: u32,
}

impl Form {
    /// The lowest id no deduction of this form has had: the stored counter, or past the
    /// highest id present (for forms stored before the counter existed).
    fn next_free_id(&self) -> u32 {
        let past_max = self
            .deductions
            .iter()
            .filter_map(|d| d.id)
            .max()
            .map_or(1, |m| m.saturating_add(1));
        self.next_deduction_id.max(past_max).max(1)
    }

    /// The form with an id on every deduction. Forms and revisions stored before ids
    /// existed have none: each deduction without one gets the next free id in order (so an
    /// old form's deductions are 1, 2, 3…). Deterministic, so every read of the same stored
    /// form derives the same ids, and a no-op on any form written since.
    pub fn with_derived_ids(mut self) -> Form {
        let mut next = self.next_free_id();
        for d in &mut self.deductions {
            if d.id.is_none() {
                d.id = Some(next);
                next = next.saturating_add(1);
            }
        }
        self.next_deduction_id = next;
        self
    }

    /// Gives the deductions of a form a client sent their server-side ids, against the
    /// form as it stood (`previous`). A deduction keeps the id it came with when `previous`
    /// has a deduction of the same item with that id (and only the first one claiming it:
    /// a copy is a new deduction); every other one gets a fresh id, never used before in
    /// this evaluation.
    pub fn assign_ids(&mut self, previous: &Form) {
        let previous = previous.clone().with_derived_ids();
        // `previous`'s counter: the client's own counter and ids are not trusted to be fresh.
        let mut next = previous.next_free_id();
        let mut claimed = BTreeSet::new();
        for d in &mut self.deductions {
            let known = d.id.filter(|id| {
                previous
                    .deductions
                    .iter()
                    .any(|p| p.id == Some(*id) && p.item == d.item)
                    && claimed.insert(*id)
            });
            d.id = Some(known.unwrap_or_else(|| {
                let id = next;
                next = next.saturating_add(1);
                id
            }));
        }
        self.next_deduction_id = next;
    }

    /// The deduction with this id, if the form still has it.
    pub fn deduction(&self, id: u32) -> Option<&Deduction> {
        self.deductions.iter().find(|d| d.id == Some(id))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deduction {
    /// Stable within its evaluation and assigned by the server (`Form::assign_ids`), kept
    /// across amendments: appeals name the deductions they dispute by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    pub item: String,
    /// At least 1.
    pub occurrences: u32,
    /// Where in the call it happened: the evidence the agent will hear.
    #[serde(default)]
    pub times_ms: Vec<i64>,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub caused_complaint: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Sum of points × occurrences, doubled where the item doubles on a complaint and this
    /// one caused one.
    pub deducted: u32,
    /// 100 − deducted, never below 0.
    pub score: u32,
    /// The band of the score.
    pub band_grade: Grade,
    /// The worst of the band and every ceiling the form reaches (a critical item is a
    /// ceiling of severe).
    pub computed_grade: Grade,
    /// The grader's grade, or the computed one. An override may go above a ceiling: the
    /// criteria bind, and an override with its written reason is the audited exception.
    pub grade: Grade,
    pub overridden: bool,
    pub critical: bool,
    /// Every ceiling the form reaches, worst first, then in rubric order.
    pub ceilings: Vec<Cap>,
    /// The items whose ceiling set the computed grade below the score's band (what the
    /// grading form shows as "capped by"); empty when the band decides.
    pub capped_by: Vec<String>,
}

/// A ceiling the form reaches: `occurrences` of `item` cap the grade at `grade`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cap {
    pub item: String,
    pub occurrences: u32,
    pub grade: Grade,
}

/// One thing wrong with a form; `field` is a path such as `deductions[2].times_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
    /// The message in Chinese, where the rule words it (the app shows it in zh-CN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_zh: Option<String>,
}

impl Problem {
    /// The same problem, also said in Chinese.
    pub fn zh(mut self, text: impl Into<String>) -> Problem {
        self.message_zh = Some(text.into());
        self
    }
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
        message_zh: None,
    }
}

/// Structure checks a draft must pass (anything a save could never fix later is refused):
/// unknown item codes, an item both deducted and N/A, occurrences 0 or > MAX_OCCURRENCES, a
/// time < 0 or > duration_ms, more times than occurrences, too many deductions, texts longer
/// than MAX_TEXT chars, unknown N/A codes, duplicate N/A codes.
///
/// The same item may be deducted in several rows (separate incidents with their own notes);
/// the outcome adds them up.
pub fn check_draft(rubric: &Rubric, form: &Form, duration_ms: i64) -> Vec<Problem> {
    let mut out = Vec::new();
    if form.deductions.len() > MAX_DEDUCTIONS {
        out.push(
            problem(
                "deductions",
                format!(
                    "{} deductions; at most {MAX_DEDUCTIONS} are allowed",
                    form.deductions.len()
                ),
            )
            .zh(format!(
                "共 {} 条扣分，最多允许 {MAX_DEDUCTIONS} 条",
                form.deductions.len()
            )),
        );
    }
    for (i, d) in form.deductions.iter().enumerate() {
        let at = |field: &str| format!("deductions[{i}].{field}");
        if rubric.item(&d.item).is_none() {
            out.push(
                problem(
                    at("item"),
                    format!("{:?} is not an item of the rubric", d.item),
                )
                .zh(format!("“{}”不是评分表中的项目", d.item)),
            );
        } else if form.not_applicable.contains(&d.item) {
            out.push(
                problem(
                    at("item"),
                    format!(
                        "{} is marked not applicable for this call and cannot be deducted",
                        d.item
                    ),
                )
                .zh(format!("“{}”已标为本通话不适用，不能扣分", d.item)),
            );
        }
        if !(1..=MAX_OCCURRENCES).contains(&d.occurrences) {
            out.push(
                problem(
                    at("occurrences"),
                    format!("occurrences must be between 1 and {MAX_OCCURRENCES}"),
                )
                .zh(format!("次数须在 1 到 {MAX_OCCURRENCES} 之间")),
            );
        }
        if let Some(&t) = d.times_ms.iter().find(|&&t| t < 0 || t > duration_ms) {
            out.push(
                problem(
                    at("times_ms"),
                    format!("time {t} ms is outside the call (0 to {duration_ms} ms)"),
                )
                .zh(format!(
                    "时间 {t} 毫秒不在通话范围内（0 到 {duration_ms} 毫秒）"
                )),
            );
        }
        if d.times_ms.len() > d.occurrences as usize {
            out.push(
                problem(
                    at("times_ms"),
                    format!(
                        "{} times given for {} occurrences",
                        d.times_ms.len(),
                        d.occurrences
                    ),
                )
                .zh(format!(
                    "标记了 {} 个时间点，但只有 {} 次",
                    d.times_ms.len(),
                    d.occurrences
                )),
            );
        }
        if d.note.chars().count() > MAX_TEXT {
            out.push(too_long(at("note")));
        }
    }
    let mut seen = BTreeSet::new();
    for (j, code) in form.not_applicable.iter().enumerate() {
        let field = format!("not_applicable[{j}]");
        if rubric.item(code).is_none() {
            out.push(
                problem(field, format!("{code:?} is not an item of the rubric"))
                    .zh(format!("“{code}”不是评分表中的项目")),
            );
        } else if !seen.insert(code.as_str()) {
            out.push(
                problem(field, format!("{code} is listed twice")).zh(format!("“{code}”重复列出")),
            );
        }
    }
    for (field, text) in [
        ("override_reason", &form.override_reason),
        ("comment", &form.comment),
    ] {
        if text.as_ref().is_some_and(|t| t.chars().count() > MAX_TEXT) {
            out.push(too_long(field.to_string()));
        }
    }
    out
}

fn too_long(field: String) -> Problem {
    problem(field, format!("at most {MAX_TEXT} characters")).zh(format!("最多 {MAX_TEXT} 个字符"))
}

/// What the form scores so far. Deductions of unknown items are skipped (`check_draft`
/// reports them), so a draft always shows a score.
pub fn outcome(rubric: &Rubric, form: &Form) -> Outcome {
    // u64 and saturation: an unchecked draft may claim billions of occurrences.
    let mut deducted: u64 = 0;
    let mut critical = false;
    for d in &form.deductions {
        let Some(item) = rubric.item(&d.item) else {
            continue;
        };
        let factor = if item.doubles_on_complaint && d.caused_complaint {
            2
        } else {
            1
        };
        deducted =
            deducted.saturating_add(u64::from(item.points) * u64::from(d.occurrences) * factor);
        critical |= item.critical && d.occurrences > 0;
    }
    let deducted = u32::try_from(deducted).unwrap_or(u32::MAX);
    let score = 100u32.saturating_sub(deducted);
    let band_grade = rubric.bands.grade_of(score);
    let ceilings = ceilings(rubric, form);
    // `Grade` orders best first, so the lowest grade is the greatest.
    let computed_grade = ceilings
        .first()
        .map_or(band_grade, |c| c.grade.max(band_grade));
    let capped_by = ceilings
        .iter()
        .filter(|c| c.grade == computed_grade && computed_grade > band_grade)
        .map(|c| c.item.clone())
        .collect();
    let grade = form.grade.unwrap_or(computed_grade);
    Outcome {
        deducted,
        score,
        band_grade,
        computed_grade,
        grade,
        overridden: grade != computed_grade,
        critical,
        ceilings,
        capped_by,
    }
}

/// The ceilings the form reaches: each item's occurrences added up over the form (separate
/// rows of one item are separate incidents of it), worst first, then in rubric order.
fn ceilings(rubric: &Rubric, form: &Form) -> Vec<Cap> {
    let mut totals: BTreeMap<&str, u32> = BTreeMap::new();
    for d in &form.deductions {
        let total = totals.entry(d.item.as_str()).or_insert(0);
        *total = total.saturating_add(d.occurrences);
    }
    let mut caps: Vec<Cap> = rubric
        .items
        .iter()
        .filter_map(|item| {
            let occurrences = totals.get(item.code.as_str()).copied()?;
            Some(Cap {
                item: item.code.clone(),
                occurrences,
                grade: item.ceiling_for(occurrences)?,
            })
        })
        .collect();
    // Stable: rubric order among equal grades.
    caps.sort_by_key(|c| std::cmp::Reverse(c.grade));
    caps
}

/// Submission: `check_draft`'s problems plus: every deduction has at least one time (the
/// evidence the agent will hear), and a grade different from the computed one needs a
/// non-blank override reason.
pub fn check_submit(
    rubric: &Rubric,
    form: &Form,
    duration_ms: i64,
) -> Result<Outcome, Vec<Problem>> {
    let mut problems = check_draft(rubric, form, duration_ms);
    for (i, d) in form.deductions.iter().enumerate() {
        if d.times_ms.is_empty() {
            problems.push(
                problem(
                    format!("deductions[{i}].times_ms"),
                    "mark at least one time in the call where this happened",
                )
                .zh("请至少标记一个发生该问题的通话时间点"),
            );
        }
    }
    let result = outcome(rubric, form);
    let has_reason = form
        .override_reason
        .as_ref()
        .is_some_and(|r| !r.trim().is_empty());
    if result.overridden && !has_reason {
        problems.push(
            problem(
                "override_reason",
                format!(
                    "grade {} differs from the computed grade {}: give the reason",
                    result.grade.as_str(),
                    result.computed_grade.as_str()
                ),
            )
            .zh(format!(
                "评级“{}”与计算出的评级“{}”不同：请说明理由",
                result.grade.zh(),
                result.computed_grade.zh()
            )),
        );
    }
    if problems.is_empty() {
        Ok(result)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ded(item: &str, occurrences: u32, times_ms: &[i64]) -> Deduction {
        Deduction {
            id: None,
            item: item.to_string(),
            occurrences,
            times_ms: times_ms.to_vec(),
            note: String::new(),
            caused_complaint: false,
        }
    }

    fn form(deductions: Vec<Deduction>) -> Form {
        Form {
            deductions,
            ..Form::default()
        }
    }

    fn fields(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn grades_round_trip_and_rank() {
        for (i, g) in Grade::ALL.into_iter().enumerate() {
            assert_eq!(Grade::parse(g.as_str()), Some(g));
            assert_eq!(usize::from(g.rank()), i);
            assert_eq!(
                serde_json::to_string(&g).expect("serializes"),
                format!("\"{}\"", g.as_str())
            );
        }
        assert_eq!(Grade::parse("Excellent"), None);
        assert!(Grade::Excellent < Grade::Severe);
        assert!(!Grade::Fair.needs_review());
        assert!(Grade::Poor.needs_review() && Grade::Severe.needs_review());
    }

    #[test]
    fn score_is_100_minus_deductions_never_below_zero() {
        let r = default_rubric();
        let o = outcome(&r, &Form::default());
        assert_eq!((o.deducted, o.score, o.grade), (0, 100, Grade::Excellent));
        assert!(!o.overridden && !o.critical);

        let o = outcome(
            &r,
            &form(vec![
                ded("no_service_phrases", 3, &[]),
                ded("shirking", 1, &[]),
            ]),
        );
        // 89 is good by the band; three missed service phrases cap it at poor.
        assert_eq!((o.deducted, o.score, o.band_grade), (11, 89, Grade::Good));
        assert_eq!(o.grade, Grade::Poor);

        let o = outcome(&r, &form(vec![ded("commanding_tone", 11, &[])]));
        assert_eq!((o.deducted, o.score, o.grade), (110, 0, Grade::Severe));

        let o = outcome(&r, &form(vec![ded("commanding_tone", u32::MAX, &[])]));
        assert_eq!(o.score, 0);

        // Unknown items are skipped so a draft always shows a score.
        let o = outcome(
            &r,
            &form(vec![ded("nope", 5, &[]), ded("not_mandarin", 1, &[])]),
        );
        assert_eq!(o.score, 97);
    }

    #[test]
    fn hanging_up_first_doubles_when_it_caused_a_complaint() {
        let r = default_rubric();
        let mut d = ded("hung_up_first", 1, &[1_000]);
        assert_eq!(outcome(&r, &form(vec![d.clone()])).deducted, 6);
        d.caused_complaint = true;
        assert_eq!(outcome(&r, &form(vec![d.clone()])).deducted, 12);
        d.occurrences = 2;
        assert_eq!(outcome(&r, &form(vec![d])).deducted, 24);
        // Other items do not double.
        let mut other = ded("shirking", 1, &[]);
        other.caused_complaint = true;
        assert_eq!(outcome(&r, &form(vec![other])).deducted, 5);
    }

    #[test]
    fn critical_item_forces_severe_at_any_score() {
        let mut r = default_rubric();
        r.items.push(RubricItem {
            code: "cheap_critical".into(),
            name_en: "Critical but cheap".into(),
            name_zh: "关键".into(),
            points: 2,
            critical: true,
            doubles_on_complaint: false,
            ceilings: Vec::new(),
        });
        let o = outcome(&r, &form(vec![ded("cheap_critical", 1, &[])]));
        assert_eq!(o.score, 98);
        assert_eq!(o.band_grade, Grade::Excellent);
        assert_eq!(o.computed_grade, Grade::Severe);
        assert_eq!(o.grade, Grade::Severe);
        assert!(o.critical && !o.overridden);

        let o = outcome(&default_rubric(), &form(vec![ded("side_talk", 1, &[])]));
        assert_eq!(
            (o.score, o.band_grade, o.grade),
            (80, Grade::Good, Grade::Severe)
        );
    }

    #[test]
    fn override_needs_a_reason_which_is_kept() {
        let r = default_rubric();
        let mut f = form(vec![ded("shirking", 1, &[5_000])]);
        f.grade = Some(Grade::Good);
        let problems = check_submit(&r, &f, 60_000).expect_err("no reason");
        assert_eq!(fields(&problems), ["override_reason"]);

        f.override_reason = Some("   ".into());
        assert!(check_submit(&r, &f, 60_000).is_err());

        f.override_reason = Some("customer was abusive; the agent stayed calm".into());
        let o = check_submit(&r, &f, 60_000).expect("reason given");
        assert_eq!(o.score, 95);
        assert_eq!(o.computed_grade, Grade::Excellent);
        assert_eq!(o.grade, Grade::Good);
        assert!(o.overridden);

        // Choosing the computed grade explicitly is not an override.
        f.grade = Some(Grade::Excellent);
        f.override_reason = None;
        let o = check_submit(&r, &f, 60_000).expect("same grade");
        assert!(!o.overridden);
    }

    #[test]
    fn not_applicable_item_cannot_be_deducted() {
        let r = default_rubric();
        let mut f = form(vec![ded("not_mandarin", 1, &[100])]);
        f.not_applicable = vec!["not_mandarin".into()];
        let problems = check_draft(&r, &f, 60_000);
        assert_eq!(fields(&problems), ["deductions[0].item"]);
        assert!(problems[0].message.contains("not applicable"));

        f.deductions.clear();
        assert!(check_draft(&r, &f, 60_000).is_empty());

        f.not_applicable = vec!["not_mandarin".into(), "nope".into(), "not_mandarin".into()];
        assert_eq!(
            fields(&check_draft(&r, &f, 60_000)),
            ["not_applicable[1]", "not_applicable[2]"]
        );
    }

    #[test]
    fn unknown_items_and_bad_occurrences_are_refused() {
        let r = default_rubric();
        let f = form(vec![
            ded("nope", 1, &[]),
            ded("shirking", 0, &[]),
            ded("shirking", MAX_OCCURRENCES + 1, &[]),
            ded("shirking", MAX_OCCURRENCES, &[]),
        ]);
        assert_eq!(
            fields(&check_draft(&r, &f, 60_000)),
            [
                "deductions[0].item",
                "deductions[1].occurrences",
                "deductions[2].occurrences"
            ]
        );
        let f = form(
            (0..=MAX_DEDUCTIONS)
                .map(|_| ded("shirking", 1, &[]))
                .collect(),
        );
        assert_eq!(fields(&check_draft(&r, &f, 60_000)), ["deductions"]);
    }

    #[test]
    fn times_must_lie_in_the_call_and_not_outnumber_occurrences() {
        let r = default_rubric();
        let f = form(vec![
            ded("shirking", 1, &[60_000]),
            ded("shirking", 1, &[60_001]),
            ded("shirking", 2, &[-1]),
            ded("shirking", 1, &[1, 2]),
        ]);
        assert_eq!(
            fields(&check_draft(&r, &f, 60_000)),
            [
                "deductions[1].times_ms",
                "deductions[2].times_ms",
                "deductions[3].times_ms"
            ]
        );
    }

    #[test]
    fn long_texts_are_refused() {
        let r = default_rubric();
        let mut d = ded("shirking", 1, &[]);
        d.note = "话".repeat(MAX_TEXT);
        let mut f = form(vec![d]);
        f.comment = Some("话".repeat(MAX_TEXT));
        assert!(check_draft(&r, &f, 60_000).is_empty());
        f.deductions[0].note.push('x');
        f.comment = Some("x".repeat(MAX_TEXT + 1));
        f.override_reason = Some("x".repeat(MAX_TEXT + 1));
        assert_eq!(
            fields(&check_draft(&r, &f, 60_000)),
            ["deductions[0].note", "override_reason", "comment"]
        );
    }

    #[test]
    fn submit_needs_a_time_for_every_deduction() {
        let r = default_rubric();
        let f = form(vec![
            ded("shirking", 1, &[]),
            ded("not_mandarin", 2, &[3_000]),
        ]);
        assert!(check_draft(&r, &f, 60_000).is_empty());
        let problems = check_submit(&r, &f, 60_000).expect_err("no evidence");
        assert_eq!(fields(&problems), ["deductions[0].times_ms"]);

        let f = form(vec![
            ded("shirking", 1, &[10]),
            ded("not_mandarin", 2, &[3_000]),
        ]);
        let o = check_submit(&r, &f, 60_000).expect("complete");
        assert_eq!((o.score, o.grade), (89, Grade::Good));
    }

    #[test]
    fn drafts_deserialize_with_defaults() {
        let f: Form =
            serde_json::from_str(r#"{"deductions":[{"item":"shirking","occurrences":1}]}"#)
                .expect("a draft");
        assert_eq!(f.deductions[0], ded("shirking", 1, &[]));
        assert_eq!(f.grade, None);
        let f: Form = serde_json::from_str(r#"{"grade":"poor"}"#).expect("a draft");
        assert_eq!(f.grade, Some(Grade::Poor));
        let r: Rubric =
            serde_json::from_str(&serde_json::to_string(&default_rubric()).expect("serializes"))
                .expect("round trip");
        assert_eq!(r, default_rubric());
    }

    #[test]
    fn ceilings_cap_the_band_and_name_the_item() {
        let r = default_rubric();
        // One missed service phrase: 98 is excellent by the band, fair by the handbook.
        let o = outcome(&r, &form(vec![ded("no_service_phrases", 1, &[1_000])]));
        assert_eq!((o.score, o.band_grade), (98, Grade::Excellent));
        assert_eq!((o.computed_grade, o.grade), (Grade::Fair, Grade::Fair));
        assert_eq!(o.capped_by, ["no_service_phrases"]);
        assert!(!o.critical && !o.overridden);

        // Two, in one row or in two: occurrences add up over the form.
        for f in [
            form(vec![ded("no_service_phrases", 2, &[])]),
            form(vec![
                ded("no_service_phrases", 1, &[]),
                ded("no_service_phrases", 1, &[]),
            ]),
        ] {
            let o = outcome(&r, &f);
            assert_eq!((o.score, o.grade), (96, Grade::Poor));
            assert_eq!(o.capped_by, ["no_service_phrases"]);
            assert_eq!(
                o.ceilings,
                [Cap {
                    item: "no_service_phrases".into(),
                    occurrences: 2,
                    grade: Grade::Poor
                }]
            );
        }

        // Answering beside the question: poor at 90.
        let o = outcome(&r, &form(vec![ded("beside_the_question", 1, &[])]));
        assert_eq!(
            (o.score, o.band_grade, o.grade),
            (90, Grade::Excellent, Grade::Poor)
        );
        assert_eq!(o.capped_by, ["beside_the_question"]);

        // Two items capping at the same grade are both named; a milder one is listed
        // among the ceilings but did not cap.
        let o = outcome(
            &r,
            &form(vec![
                ded("no_service_phrases", 1, &[]),
                ded("wrong_customer_data", 1, &[]),
                ded("beside_the_question", 1, &[]),
            ]),
        );
        assert_eq!(o.grade, Grade::Poor);
        assert_eq!(o.capped_by, ["wrong_customer_data", "beside_the_question"]);
        assert_eq!(
            o.ceilings.iter().map(|c| c.grade).collect::<Vec<_>>(),
            [Grade::Poor, Grade::Poor, Grade::Fair]
        );

        // A band already at or below the ceiling: the band decides, nothing capped.
        let o = outcome(
            &r,
            &form(vec![
                ded("no_service_phrases", 1, &[]),
                ded("commanding_tone", 4, &[]),
            ]),
        );
        assert_eq!((o.score, o.grade), (58, Grade::Severe));
        assert!(o.capped_by.is_empty());
        assert_eq!(o.ceilings.len(), 1);

        // A critical item is a ceiling of severe and names itself.
        let o = outcome(&r, &form(vec![ded("side_talk", 1, &[])]));
        assert_eq!(o.capped_by, ["side_talk"]);

        // Without ceilings the band decides as before.
        let o = outcome(&r, &form(vec![ded("shirking", 1, &[])]));
        assert_eq!((o.grade, o.capped_by.len()), (Grade::Excellent, 0));
    }

    #[test]
    fn an_override_may_pass_a_ceiling_with_a_reason() {
        let r = default_rubric();
        let mut f = form(vec![ded("no_service_phrases", 1, &[1_000])]);
        f.grade = Some(Grade::Excellent);
        let problems = check_submit(&r, &f, 60_000).expect_err("no reason");
        assert_eq!(fields(&problems), ["override_reason"]);
        f.override_reason = Some("the phrase was said; the line dropped it".into());
        let o = check_submit(&r, &f, 60_000).expect("reason given");
        assert_eq!((o.computed_grade, o.grade), (Grade::Fair, Grade::Excellent));
        assert!(o.overridden);
        // The cap is still shown beside the override.
        assert_eq!(o.capped_by, ["no_service_phrases"]);
    }

    fn ids(f: &Form) -> Vec<Option<u32>> {
        f.deductions.iter().map(|d| d.id).collect()
    }

    #[test]
    fn old_forms_get_derived_ids_deterministically() {
        let old: Form = serde_json::from_str(
            r#"{"deductions":[{"item":"shirking","occurrences":1},
                {"item":"not_mandarin","occurrences":2}]}"#,
        )
        .expect("an old form");
        assert_eq!(ids(&old), [None, None]);
        let derived = old.clone().with_derived_ids();
        assert_eq!(ids(&derived), [Some(1), Some(2)]);
        assert_eq!(derived.next_deduction_id, 3);
        assert_eq!(old.clone().with_derived_ids(), derived, "same every read");
        assert_eq!(
            derived.clone().with_derived_ids(),
            derived,
            "a no-op on ids"
        );
        // Ids survive a round trip through the stored JSON.
        let stored = serde_json::to_string(&derived).expect("serializes");
        let back: Form = serde_json::from_str(&stored).expect("parses");
        assert_eq!(back, derived);
    }

    #[test]
    fn assigned_ids_keep_known_deductions_and_never_reuse_ids() {
        let previous = form(vec![
            ded("shirking", 1, &[]),
            ded("not_mandarin", 1, &[]),
            ded("forbidden_phrase", 1, &[]),
        ])
        .with_derived_ids();
        assert_eq!(ids(&previous), [Some(1), Some(2), Some(3)]);

        // The first removed, the third edited, one added without an id, one claiming an id
        // that never existed, one copying an existing id, one keeping an id under another
        // item, and a forged counter.
        let with = |id: Option<u32>, item: &str, n: u32| Deduction {
            id,
            ..ded(item, n, &[])
        };
        let mut next = Form {
            deductions: vec![
                with(Some(2), "not_mandarin", 1),
                with(Some(3), "forbidden_phrase", 2),
                with(None, "shirking", 1),
                with(Some(77), "shirking", 1),
                with(Some(2), "not_mandarin", 1),
                with(Some(3), "shirking", 1),
            ],
            next_deduction_id: 1,
            ..Form::default()
        };
        next.assign_ids(&previous);
        assert_eq!(
            ids(&next),
            [Some(2), Some(3), Some(4), Some(5), Some(6), Some(7)]
        );
        assert_eq!(next.next_deduction_id, 8);
        assert_eq!(next.deduction(3).map(|d| d.occurrences), Some(2));
        assert!(next.deduction(1).is_none(), "the removed one stays removed");

        // Removing the newest and adding again does not bring its id back.
        let mut again = Form {
            deductions: vec![with(Some(2), "not_mandarin", 1), with(None, "shirking", 1)],
            ..Form::default()
        };
        again.assign_ids(&next);
        assert_eq!(ids(&again), [Some(2), Some(8)]);

        // Against an old form without ids, the derived ids are the known ones.
        let old = form(vec![ded("shirking", 1, &[]), ded("not_mandarin", 1, &[])]);
        let mut kept = Form {
            deductions: vec![with(Some(2), "not_mandarin", 1)],
            ..Form::default()
        };
        kept.assign_ids(&old);
        assert_eq!((ids(&kept), kept.next_deduction_id), (vec![Some(2)], 3));
    }
}
