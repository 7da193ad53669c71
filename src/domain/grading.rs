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

/// A form may list at most this many deductions.
pub const MAX_DEDUCTIONS: usize = 100;
/// Longest note, comment or override reason, in characters.
pub const MAX_TEXT: usize = 4000;
/// Most occurrences of one item in one deduction.
pub const MAX_OCCURRENCES: u32 = 50;
/// Most items in one rubric.
pub const MAX_ITEMS: usize = 200;
/// Longest item code.
pub const MAX_CODE_LEN: usize = 40;
/// Points of one occurrence of an item.
pub const ITEM_POINTS: std::ops::RangeInclusive<u32> = 1..=100;

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

/// What a grade means, shown to graders next to the grade buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeCriteria {
    pub grade: Grade,
    pub label_en: String,
    pub label_zh: String,
    pub criteria_en: String,
    pub criteria_zh: String,
}

/// One deduction item of the checklist (质检评分标准), deducted per occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RubricItem {
    /// Stable id, `[a-z0-9_]{1,40}`, unique in the rubric: forms refer to items by it, so
    /// renaming an item keeps old evaluations meaningful.
    pub code: String,
    pub name_en: String,
    pub name_zh: String,
    /// Per occurrence, 1 to 100.
    pub points: u32,
    /// Forces the grade to severe whatever the score.
    #[serde(default)]
    pub critical: bool,
    /// Deducted twice when this occurrence caused a customer complaint (hanging up first).
    #[serde(default)]
    pub doubles_on_complaint: bool,
}

/// Lower bounds of the score bands; below `poor` is severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bands {
    pub excellent: u32,
    pub good: u32,
    pub fair: u32,
    pub poor: u32,
}

impl Default for Bands {
    /// 90–100 excellent, 80–89 good, 70–79 fair, 60–69 poor, below 60 severe.
    fn default() -> Self {
        Bands {
            excellent: 90,
            good: 80,
            fair: 70,
            poor: 60,
        }
    }
}

impl Bands {
    pub fn grade_of(&self, score: u32) -> Grade {
        if score >= self.excellent {
            Grade::Excellent
        } else if score >= self.good {
            Grade::Good
        } else if score >= self.fair {
            Grade::Fair
        } else if score >= self.poor {
            Grade::Poor
        } else {
            Grade::Severe
        }
    }
}

/// The supervisor's rubric: what each grade means, the deduction items, the score bands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rubric {
    /// Exactly the five grades, one each.
    pub grades: Vec<GradeCriteria>,
    pub items: Vec<RubricItem>,
    pub bands: Bands,
}

impl Rubric {
    /// Checks the rubric; the message names the first problem and is shown to the
    /// supervisor as is.
    pub fn validate(&self) -> Result<(), String> {
        for grade in Grade::ALL {
            match self.grades.iter().filter(|c| c.grade == grade).count() {
                0 => return Err(format!("grade {} is missing", grade.as_str())),
                1 => {}
                _ => return Err(format!("grade {} is listed twice", grade.as_str())),
            }
        }
        for c in &self.grades {
            let texts = [
                ("label_en", &c.label_en),
                ("label_zh", &c.label_zh),
                ("criteria_en", &c.criteria_en),
                ("criteria_zh", &c.criteria_zh),
            ];
            if let Some((field, _)) = texts.iter().find(|(_, t)| t.trim().is_empty()) {
                return Err(format!("grade {}: {field} is empty", c.grade.as_str()));
            }
        }
        if self.items.is_empty() {
            return Err("the rubric has no deduction items".into());
        }
        if self.items.len() > MAX_ITEMS {
            return Err(format!(
                "the rubric has {} items; at most {MAX_ITEMS} are allowed",
                self.items.len()
            ));
        }
        let mut codes = BTreeSet::new();
        for item in &self.items {
            if !valid_code(&item.code) {
                return Err(format!(
                    "item code {:?} must be 1 to {MAX_CODE_LEN} characters of a-z, 0-9 and _",
                    item.code
                ));
            }
            if !codes.insert(item.code.as_str()) {
                return Err(format!("item code {:?} is used twice", item.code));
            }
            if !ITEM_POINTS.contains(&item.points) {
                return Err(format!(
                    "item {}: points must be between {} and {}",
                    item.code,
                    ITEM_POINTS.start(),
                    ITEM_POINTS.end()
                ));
            }
            if item.name_en.trim().is_empty() || item.name_zh.trim().is_empty() {
                return Err(format!(
                    "item {}: name_en and name_zh must not be empty",
                    item.code
                ));
            }
        }
        let b = &self.bands;
        if !(b.excellent <= 100 && b.excellent > b.good && b.good > b.fair && b.fair > b.poor)
            || b.poor < 1
        {
            return Err(format!(
                "score bands must be strictly decreasing within 1 to 100 \
                 (excellent > good > fair > poor); got {}/{}/{}/{}",
                b.excellent, b.good, b.fair, b.poor
            ));
        }
        Ok(())
    }

    pub fn item(&self, code: &str) -> Option<&RubricItem> {
        self.items.iter().find(|i| i.code == code)
    }
}

fn valid_code(code: &str) -> bool {
    (1..=MAX_CODE_LEN).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The rubric of domain.md: the five grades of 服务质量评判标准 and the deduction items of
/// 质检评分标准, plus two critical items for the conduct that makes a call severe.
pub fn default_rubric() -> Rubric {
    let grade = |grade, label_en: &str, label_zh: &str, criteria_en: &str, criteria_zh: &str| {
        GradeCriteria {
            grade,
            label_en: label_en.into(),
            label_zh: label_zh.into(),
            criteria_en: criteria_en.into(),
            criteria_zh: criteria_zh.into(),
        }
    };
    let item = |code: &str, name_en: &str, name_zh: &str, points| RubricItem {
        code: code.into(),
        name_en: name_en.into(),
        name_zh: name_zh.into(),
        points,
        critical: false,
        doubles_on_complaint: false,
    };
    Rubric {
        grades: vec![
            grade(
                Grade::Excellent,
                "Excellent",
                "优",
                "Conscientious; warm, pleasant tone; moderate speed; clear voice; concise \
                 standard wording; service phrases used 100%; proficient and adaptable; guides \
                 the customer correctly; enthusiastic, patient, thorough; no errors; handled \
                 within the service time limit.",
                "工作认真负责；语气亲切热情，语速适中，声音清晰；用语规范、简洁，服务用语使用率\
                 100%；业务熟练，应变能力强，能正确引导客户；服务热情、耐心、周到；无差错；\
                 在服务时限内办结。",
            ),
            grade(
                Grade::Good,
                "Good",
                "良",
                "Conscientious; amiable tone; clear voice; standard wording; service phrases \
                 used 100%; proficient and adaptable; correct guidance; patient; no errors; \
                 within the service time limit.",
                "工作认真负责；语气和蔼，声音清晰；用语规范，服务用语使用率100%；业务熟练，\
                 应变能力强，引导正确；服务耐心；无差错；在服务时限内办结。",
            ),
            grade(
                Grade::Fair,
                "Fair",
                "中",
                "Conscientious; ordinary tone; wording basically standard; missed one service \
                 phrase; fairly proficient but not adaptable; service not thorough; corrected \
                 own error promptly; within the service time limit.",
                "工作认真；语气一般；用语基本规范，漏用一次服务用语；业务较熟练，但应变能力\
                 不足；服务不够周到；出现差错能及时纠正；在服务时限内办结。",
            ),
            grade(
                Grade::Poor,
                "Poor",
                "差",
                "Unacceptable attitude; answers beside the question; does not take \
                 first-contact responsibility; makes errors; missed two or more service \
                 phrases; exceeded the service time limit.",
                "服务态度差；答非所问；未落实首问负责制；出现差错；漏用两次及以上服务用语；\
                 超出服务时限。",
            ),
            grade(
                Grade::Severe,
                "Severe",
                "劣",
                "Serious violation while working (chatting, not answering, side-talk audible \
                 to the customer); blunt or rude attitude.",
                "工作中有严重违规行为（闲聊、不接听电话、出现话外音被客户听到）；态度生硬、\
                 粗暴。",
            ),
        ],
        items: vec![
            item(
                "commanding_tone",
                "Commanding or impatient tone",
                "语气命令式或不耐烦",
                10,
            ),
            item(
                "staff_id_refused",
                "Refuses or misstates staff ID when asked",
                "客户询问时拒报或错报工号",
                10,
            ),
            item(
                "misleading_explanation",
                "Misleading or incomplete explanation causing a dispute",
                "解释误导或不完整，引起纠纷",
                10,
            ),
            item(
                "service_not_entered",
                "Failed to enter a requested service",
                "未按客户要求录入或受理业务",
                10,
            ),
            item(
                "wrong_customer_data",
                "Wrong customer data",
                "客户资料录入错误",
                10,
            ),
            item(
                "blaming_departments",
                "Blaming other departments",
                "指责、埋怨其他部门",
                10,
            ),
            RubricItem {
                doubles_on_complaint: true,
                ..item(
                    "hung_up_first",
                    "Hanging up first or chatting with a neighbour during a call \
                     (doubled if it caused a complaint)",
                    "先于客户挂机或通话中与旁人交谈（引起投诉的加倍扣分）",
                    6,
                )
            },
            item(
                "no_service_phrases",
                "Not using standard service phrases",
                "未使用规范服务用语",
                2,
            ),
            item("shirking", "Shirking", "推诿、敷衍客户", 5),
            item(
                "no_busy_apology",
                "No apology phrase when busy",
                "忙时未使用致歉用语",
                5,
            ),
            item("forbidden_phrase", "Forbidden phrase", "使用服务忌语", 8),
            item("not_mandarin", "Not speaking Mandarin", "未使用普通话", 3),
            // The severe criteria as items, so that a grader who hears them records the
            // evidence like any other deduction and the grade follows.
            RubricItem {
                critical: true,
                ..item(
                    "rude_attitude",
                    "Rude or blunt to the customer",
                    "对客户态度生硬、粗暴",
                    20,
                )
            },
            RubricItem {
                critical: true,
                ..item(
                    "side_talk",
                    "Chatting or side-talk audible to the customer, or not answering",
                    "工作中闲聊、不接听，或话外音被客户听到",
                    20,
                )
            },
        ],
        bands: Bands::default(),
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deduction {
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
    /// The band, or severe when a critical item was deducted.
    pub computed_grade: Grade,
    /// The grader's grade, or the computed one.
    pub grade: Grade,
    pub overridden: bool,
    pub critical: bool,
}

/// One thing wrong with a form; `field` is a path such as `deductions[2].times_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
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
        out.push(problem(
            "deductions",
            format!(
                "{} deductions; at most {MAX_DEDUCTIONS} are allowed",
                form.deductions.len()
            ),
        ));
    }
    for (i, d) in form.deductions.iter().enumerate() {
        let at = |field: &str| format!("deductions[{i}].{field}");
        if rubric.item(&d.item).is_none() {
            out.push(problem(
                at("item"),
                format!("{:?} is not an item of the rubric", d.item),
            ));
        } else if form.not_applicable.contains(&d.item) {
            out.push(problem(
                at("item"),
                format!(
                    "{} is marked not applicable for this call and cannot be deducted",
                    d.item
                ),
            ));
        }
        if !(1..=MAX_OCCURRENCES).contains(&d.occurrences) {
            out.push(problem(
                at("occurrences"),
                format!("occurrences must be between 1 and {MAX_OCCURRENCES}"),
            ));
        }
        if let Some(&t) = d.times_ms.iter().find(|&&t| t < 0 || t > duration_ms) {
            out.push(problem(
                at("times_ms"),
                format!("time {t} ms is outside the call (0 to {duration_ms} ms)"),
            ));
        }
        if d.times_ms.len() > d.occurrences as usize {
            out.push(problem(
                at("times_ms"),
                format!(
                    "{} times given for {} occurrences",
                    d.times_ms.len(),
                    d.occurrences
                ),
            ));
        }
        if d.note.chars().count() > MAX_TEXT {
            out.push(too_long(at("note")));
        }
    }
    let mut seen = BTreeSet::new();
    for (j, code) in form.not_applicable.iter().enumerate() {
        let field = format!("not_applicable[{j}]");
        if rubric.item(code).is_none() {
            out.push(problem(
                field,
                format!("{code:?} is not an item of the rubric"),
            ));
        } else if !seen.insert(code.as_str()) {
            out.push(problem(field, format!("{code} is listed twice")));
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
    problem(field, format!("at most {MAX_TEXT} characters"))
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
    let computed_grade = if critical { Grade::Severe } else { band_grade };
    let grade = form.grade.unwrap_or(computed_grade);
    Outcome {
        deducted,
        score,
        band_grade,
        computed_grade,
        grade,
        overridden: grade != computed_grade,
        critical,
    }
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
            problems.push(problem(
                format!("deductions[{i}].times_ms"),
                "mark at least one time in the call where this happened",
            ));
        }
    }
    let result = outcome(rubric, form);
    let has_reason = form
        .override_reason
        .as_ref()
        .is_some_and(|r| !r.trim().is_empty());
    if result.overridden && !has_reason {
        problems.push(problem(
            "override_reason",
            format!(
                "grade {} differs from the computed grade {}: give the reason",
                result.grade.as_str(),
                result.computed_grade.as_str()
            ),
        ));
    }
    if problems.is_empty() {
        Ok(result)
    } else {
        Err(problems)
    }
}

/// One grader's blind grading of a calibration call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grading {
    pub grader_id: i64,
    pub expert: bool,
    pub score: u32,
    pub grade: Grade,
    /// (item code, occurrences) deducted.
    pub items: Vec<(String, u32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionReport {
    pub gradings: usize,
    /// "expert" or "consensus".
    pub reference: String,
    pub reference_score: f64,
    pub reference_grade: Grade,
    /// How many gave each grade, all five listed best to worst.
    pub grades: Vec<(Grade, usize)>,
    pub score_min: u32,
    pub score_max: u32,
    pub score_mean: f64,
    /// Population standard deviation (the graders are the whole group, not a sample).
    pub score_sd: f64,
    /// Every item anybody deducted, sorted by code.
    pub items: Vec<ItemSpread>,
    /// One per grader other than the expert, in input order.
    pub deviations: Vec<Deviation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemSpread {
    pub item: String,
    /// How many graders deducted it.
    pub graders: usize,
    /// Out of how many gradings.
    pub of: usize,
    /// Among the graders who deducted it.
    pub min_occurrences: u32,
    pub max_occurrences: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deviation {
    pub grader_id: i64,
    /// Score − reference score.
    pub score_diff: f64,
    /// Rank − reference rank: positive is harsher.
    pub grade_steps: i32,
    /// Reference items this grader did not deduct, sorted.
    pub items_missed: Vec<String>,
    /// Items this grader deducted that the reference did not, sorted.
    pub items_extra: Vec<String>,
}

/// How the graders of one calibration call agree, and how far each is from the reference.
///
/// The reference is the expert when one graded (the first one flagged, if several are: the
/// others count as ordinary graders). Without one it is the consensus: the median score
/// (mean of the two middle scores for an even count), the median grade (for an even count
/// the better of the two middle grades, giving the agent the benefit of the doubt), and the
/// items deducted by a strict majority of graders.
pub fn session_report(gradings: &[Grading]) -> Option<SessionReport> {
    if gradings.is_empty() {
        return None;
    }
    let of = gradings.len();
    let expert = gradings.iter().position(|g| g.expert);
    let deducted: Vec<BTreeMap<&str, u32>> = gradings.iter().map(deducted_items).collect();

    let mut spread: BTreeMap<&str, ItemSpread> = BTreeMap::new();
    for items in &deducted {
        for (&code, &n) in items {
            let s = spread.entry(code).or_insert_with(|| ItemSpread {
                item: code.to_string(),
                graders: 0,
                of,
                min_occurrences: n,
                max_occurrences: n,
            });
            s.graders += 1;
            s.min_occurrences = s.min_occurrences.min(n);
            s.max_occurrences = s.max_occurrences.max(n);
        }
    }

    let (reference, reference_score, reference_grade, reference_items) = match expert {
        Some(i) => (
            "expert",
            f64::from(gradings[i].score),
            gradings[i].grade,
            deducted[i].keys().copied().collect::<BTreeSet<&str>>(),
        ),
        None => {
            let mut scores: Vec<u32> = gradings.iter().map(|g| g.score).collect();
            scores.sort_unstable();
            let mut grades: Vec<Grade> = gradings.iter().map(|g| g.grade).collect();
            grades.sort_unstable();
            let majority = spread
                .values()
                .filter(|s| s.graders * 2 > of)
                .map(|s| s.item.as_str())
                .collect();
            ("consensus", median(&scores), grades[(of - 1) / 2], majority)
        }
    };

    let scores: Vec<f64> = gradings.iter().map(|g| f64::from(g.score)).collect();
    let mean = scores.iter().sum::<f64>() / of as f64;
    let variance = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / of as f64;

    let deviations = gradings
        .iter()
        .zip(&deducted)
        .enumerate()
        .filter(|&(i, _)| Some(i) != expert)
        .map(|(_, (g, items))| Deviation {
            grader_id: g.grader_id,
            score_diff: f64::from(g.score) - reference_score,
            grade_steps: i32::from(g.grade.rank()) - i32::from(reference_grade.rank()),
            items_missed: reference_items
                .iter()
                .filter(|c| !items.contains_key(*c))
                .map(|c| c.to_string())
                .collect(),
            items_extra: items
                .keys()
                .filter(|c| !reference_items.contains(*c))
                .map(|c| c.to_string())
                .collect(),
        })
        .collect();

    Some(SessionReport {
        gradings: of,
        reference: reference.to_string(),
        reference_score,
        reference_grade,
        grades: Grade::ALL
            .iter()
            .map(|&grade| (grade, gradings.iter().filter(|g| g.grade == grade).count()))
            .collect(),
        score_min: gradings.iter().map(|g| g.score).min().unwrap_or(0),
        score_max: gradings.iter().map(|g| g.score).max().unwrap_or(0),
        score_mean: mean,
        score_sd: variance.sqrt(),
        items: spread.into_values().collect(),
        deviations,
    })
}

/// A grading's items with their occurrences added up per code; items with no occurrences
/// were not deducted.
fn deducted_items(g: &Grading) -> BTreeMap<&str, u32> {
    let mut out: BTreeMap<&str, u32> = BTreeMap::new();
    for (code, n) in &g.items {
        if *n > 0 {
            let total = out.entry(code.as_str()).or_insert(0);
            *total = total.saturating_add(*n);
        }
    }
    out
}

/// Median of sorted values: the middle one, or the mean of the two middle ones.
fn median(sorted: &[u32]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => (f64::from(sorted[(n - 1) / 2]) + f64::from(sorted[n / 2])) / 2.0,
    }
}

/// Krippendorff's alpha for ordinal data over units (one list of grades per calibration
/// session; units with fewer than two grades are not pairable and are ignored). `None` when
/// there are fewer than two pairable values in total or no disagreement is possible
/// (expected disagreement 0: every pairable value is the same grade).
///
/// As in Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": the coincidence
/// matrix o_ck = Σ_u (pairs c–k in unit u) / (m_u − 1), marginals n_c = Σ_k o_ck and
/// n = Σ_c n_c, the ordinal metric δ²_ck = (Σ_{g=c..k} n_g − (n_c + n_k)/2)², and
/// α = 1 − (n − 1) · Σ o_ck δ²_ck / Σ n_c n_k δ²_ck.
pub fn krippendorff_alpha_ordinal(units: &[Vec<Grade>]) -> Option<f64> {
    const K: usize = Grade::ALL.len();
    let mut o = [[0.0f64; K]; K];
    for unit in units {
        let m = unit.len();
        if m < 2 {
            continue;
        }
        let mut counts = [0usize; K];
        for g in unit {
            counts[usize::from(g.rank())] += 1;
        }
        let weight = 1.0 / (m - 1) as f64;
        for c in 0..K {
            for k in 0..K {
                // Ordered pairs of distinct coders: a value is never paired with itself.
                let pairs = if c == k {
                    counts[c] * counts[c].saturating_sub(1)
                } else {
                    counts[c] * counts[k]
                };
                o[c][k] += pairs as f64 * weight;
            }
        }
    }
    let n_c: [f64; K] = std::array::from_fn(|c| o[c].iter().sum());
    let n: f64 = n_c.iter().sum();
    if n < 2.0 {
        return None;
    }
    let delta2 = |c: usize, k: usize| {
        let (lo, hi) = (c.min(k), c.max(k));
        let between: f64 = n_c[lo..=hi].iter().sum();
        (between - (n_c[lo] + n_c[hi]) / 2.0).powi(2)
    };
    let mut observed = 0.0;
    let mut expected = 0.0;
    for c in 0..K {
        for k in 0..K {
            observed += o[c][k] * delta2(c, k);
            expected += n_c[c] * n_c[k] * delta2(c, k);
        }
    }
    if expected <= 0.0 {
        return None;
    }
    Some(1.0 - (n - 1.0) * observed / expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ded(item: &str, occurrences: u32, times_ms: &[i64]) -> Deduction {
        Deduction {
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
    fn default_rubric_validates_and_carries_every_domain_item() {
        let r = default_rubric();
        assert_eq!(r.validate(), Ok(()));
        assert_eq!(
            r.grades.iter().map(|c| c.grade).collect::<Vec<_>>(),
            Grade::ALL
        );
        assert_eq!(
            r.grades
                .iter()
                .map(|c| c.label_zh.as_str())
                .collect::<Vec<_>>(),
            ["优", "良", "中", "差", "劣"]
        );
        // domain.md, "Checklist deductions".
        let expected = [
            ("commanding_tone", 10),
            ("staff_id_refused", 10),
            ("misleading_explanation", 10),
            ("service_not_entered", 10),
            ("wrong_customer_data", 10),
            ("blaming_departments", 10),
            ("hung_up_first", 6),
            ("no_service_phrases", 2),
            ("shirking", 5),
            ("no_busy_apology", 5),
            ("forbidden_phrase", 8),
            ("not_mandarin", 3),
        ];
        for (code, points) in expected {
            let item = r.item(code).expect(code);
            assert_eq!(item.points, points, "{code}");
            assert!(!item.critical, "{code}");
            assert_eq!(item.doubles_on_complaint, code == "hung_up_first", "{code}");
        }
        let critical: Vec<&str> = r
            .items
            .iter()
            .filter(|i| i.critical)
            .map(|i| i.code.as_str())
            .collect();
        assert_eq!(critical, ["rude_attitude", "side_talk"]);
        assert_eq!(r.items.len(), expected.len() + critical.len());
        assert_eq!(r.bands, Bands::default());
        assert!(r.item("nope").is_none());
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
    fn bands_follow_the_handbook() {
        let b = Bands::default();
        let cases = [
            (100, Grade::Excellent),
            (90, Grade::Excellent),
            (89, Grade::Good),
            (80, Grade::Good),
            (79, Grade::Fair),
            (70, Grade::Fair),
            (69, Grade::Poor),
            (60, Grade::Poor),
            (59, Grade::Severe),
            (0, Grade::Severe),
        ];
        for (score, grade) in cases {
            assert_eq!(b.grade_of(score), grade, "{score}");
        }
    }

    #[test]
    fn validate_names_the_first_problem() {
        let mut r = default_rubric();
        r.items[1].code = r.items[0].code.clone();
        assert!(r.validate().expect_err("duplicate").contains("used twice"));

        let mut r = default_rubric();
        r.items[0].code = "Bad-Code".into();
        assert!(r.validate().is_err());
        r.items[0].code = "a".repeat(41);
        assert!(r.validate().is_err());

        let mut r = default_rubric();
        r.grades.retain(|c| c.grade != Grade::Fair);
        assert_eq!(r.validate(), Err("grade fair is missing".to_string()));

        let mut r = default_rubric();
        r.grades[4].grade = Grade::Poor;
        assert!(r.validate().is_err());

        let mut r = default_rubric();
        r.grades[2].criteria_zh = "  ".into();
        assert_eq!(
            r.validate(),
            Err("grade fair: criteria_zh is empty".to_string())
        );

        for bands in [
            (90, 90, 70, 60),
            (90, 80, 85, 60),
            (101, 80, 70, 60),
            (4, 3, 2, 0),
        ] {
            let mut r = default_rubric();
            r.bands = Bands {
                excellent: bands.0,
                good: bands.1,
                fair: bands.2,
                poor: bands.3,
            };
            assert!(r.validate().is_err(), "{bands:?}");
        }
        let mut r = default_rubric();
        r.bands = Bands {
            excellent: 4,
            good: 3,
            fair: 2,
            poor: 1,
        };
        assert_eq!(r.validate(), Ok(()));

        let mut r = default_rubric();
        r.items[0].points = 0;
        assert!(r.validate().is_err());
        r.items[0].points = 101;
        assert!(r.validate().is_err());

        let mut r = default_rubric();
        r.items[0].name_zh = String::new();
        assert!(r.validate().is_err());

        let mut r = default_rubric();
        r.items.clear();
        assert!(r.validate().is_err());

        let mut r = default_rubric();
        r.items = (0..=MAX_ITEMS)
            .map(|i| RubricItem {
                code: format!("item_{i}"),
                ..r.items[0].clone()
            })
            .collect();
        assert!(r.validate().expect_err("too many").contains("at most 200"));
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
        assert_eq!((o.deducted, o.score, o.grade), (11, 89, Grade::Good));

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

    fn grading(id: i64, expert: bool, score: u32, grade: Grade, items: &[(&str, u32)]) -> Grading {
        Grading {
            grader_id: id,
            expert,
            score,
            grade,
            items: items.iter().map(|&(c, n)| (c.to_string(), n)).collect(),
        }
    }

    #[test]
    fn session_report_against_the_expert() {
        let gs = [
            grading(
                1,
                false,
                88,
                Grade::Good,
                &[("shirking", 1), ("not_mandarin", 1)],
            ),
            grading(
                9,
                true,
                85,
                Grade::Good,
                &[("shirking", 1), ("hung_up_first", 1)],
            ),
            grading(
                2,
                false,
                70,
                Grade::Fair,
                &[("shirking", 2), ("hung_up_first", 3)],
            ),
        ];
        let rep = session_report(&gs).expect("a report");
        assert_eq!(rep.gradings, 3);
        assert_eq!(rep.reference, "expert");
        assert_eq!(rep.reference_score, 85.0);
        assert_eq!(rep.reference_grade, Grade::Good);
        assert_eq!(
            rep.grades,
            [
                (Grade::Excellent, 0),
                (Grade::Good, 2),
                (Grade::Fair, 1),
                (Grade::Poor, 0),
                (Grade::Severe, 0)
            ]
        );
        assert_eq!((rep.score_min, rep.score_max), (70, 88));
        assert!((rep.score_mean - 81.0).abs() < 1e-9);
        // Population SD of 88, 85, 70: sqrt((49 + 16 + 121) / 3) = sqrt(62).
        assert!((rep.score_sd - 62f64.sqrt()).abs() < 1e-9);
        assert_eq!(
            rep.items,
            [
                ItemSpread {
                    item: "hung_up_first".into(),
                    graders: 2,
                    of: 3,
                    min_occurrences: 1,
                    max_occurrences: 3
                },
                ItemSpread {
                    item: "not_mandarin".into(),
                    graders: 1,
                    of: 3,
                    min_occurrences: 1,
                    max_occurrences: 1
                },
                ItemSpread {
                    item: "shirking".into(),
                    graders: 3,
                    of: 3,
                    min_occurrences: 1,
                    max_occurrences: 2
                },
            ]
        );
        assert_eq!(
            rep.deviations,
            [
                Deviation {
                    grader_id: 1,
                    score_diff: 3.0,
                    grade_steps: 0,
                    items_missed: vec!["hung_up_first".into()],
                    items_extra: vec!["not_mandarin".into()],
                },
                Deviation {
                    grader_id: 2,
                    score_diff: -15.0,
                    grade_steps: 1,
                    items_missed: vec![],
                    items_extra: vec![],
                },
            ]
        );
    }

    #[test]
    fn session_report_without_expert_uses_the_consensus() {
        let gs = [
            grading(1, false, 95, Grade::Excellent, &[("not_mandarin", 1)]),
            grading(
                2,
                false,
                80,
                Grade::Good,
                &[("shirking", 1), ("no_service_phrases", 0)],
            ),
            grading(
                3,
                false,
                76,
                Grade::Fair,
                &[("shirking", 1), ("not_mandarin", 1)],
            ),
            grading(4, false, 60, Grade::Poor, &[("shirking", 4)]),
        ];
        let rep = session_report(&gs).expect("a report");
        assert_eq!(rep.reference, "consensus");
        // Median of 60, 76, 80, 95 is (76 + 80) / 2; the two middle grades are good and
        // fair, and the better one is taken.
        assert_eq!(rep.reference_score, 78.0);
        assert_eq!(rep.reference_grade, Grade::Good);
        assert_eq!(rep.deviations.len(), 4);
        // shirking is deducted by 3 of 4 (a majority); not_mandarin by 2 of 4 (not one).
        let d = &rep.deviations;
        assert_eq!((d[0].score_diff, d[0].grade_steps), (17.0, -1));
        assert_eq!(d[0].items_missed, ["shirking"]);
        assert_eq!(d[0].items_extra, ["not_mandarin"]);
        assert_eq!((d[3].score_diff, d[3].grade_steps), (-18.0, 2));
        assert!(d[3].items_missed.is_empty() && d[3].items_extra.is_empty());
        // Zero occurrences is not a deduction.
        assert!(rep.items.iter().all(|s| s.item != "no_service_phrases"));

        let one = session_report(&gs[..1]).expect("one grading");
        assert_eq!(
            (one.reference_score, one.reference_grade),
            (95.0, Grade::Excellent)
        );
        assert_eq!(one.score_sd, 0.0);
        assert_eq!(one.deviations[0].score_diff, 0.0);

        // Odd count: the middle grade; only the first of two experts is the reference.
        let gs = [
            grading(1, true, 90, Grade::Excellent, &[]),
            grading(2, true, 50, Grade::Severe, &[]),
        ];
        let rep = session_report(&gs).expect("a report");
        assert_eq!(rep.reference_grade, Grade::Excellent);
        assert_eq!(rep.deviations.len(), 1);
        assert_eq!(rep.deviations[0].grade_steps, 4);

        assert_eq!(session_report(&[]), None);
    }

    /// Maps the values 1–5 of Krippendorff's examples onto the grades, order kept.
    fn grades(values: &[u8]) -> Vec<Grade> {
        values
            .iter()
            .map(|&v| Grade::ALL[usize::from(v) - 1])
            .collect()
    }

    #[test]
    fn alpha_is_one_for_perfect_agreement() {
        let units = [
            grades(&[1, 1, 1]),
            grades(&[3, 3]),
            grades(&[5, 5, 5, 5]),
            grades(&[2]),
        ];
        let a = krippendorff_alpha_ordinal(&units).expect("defined");
        assert!((a - 1.0).abs() < 1e-12, "{a}");
    }

    #[test]
    fn alpha_matches_krippendorffs_published_example() {
        // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
        // 4 observers, 12 units, values 1–5, missing data. Published: nominal α = .743,
        // ordinal α = .815. Unit 12 has a single value and is not pairable.
        let units = [
            grades(&[1, 1, 1]),
            grades(&[2, 2, 3, 2]),
            grades(&[3, 3, 3, 3]),
            grades(&[3, 3, 3, 3]),
            grades(&[2, 2, 2, 2]),
            grades(&[1, 2, 3, 4]),
            grades(&[4, 4, 4, 4]),
            grades(&[1, 1, 2, 1]),
            grades(&[2, 2, 2, 2]),
            grades(&[5, 5, 5]),
            grades(&[1, 1]),
            grades(&[3]),
        ];
        // By hand. Coincidences (unit 6 gives 1/3 to each pair, units 2 and 8 give 1/3 per
        // ordered pair with the odd value out):
        //        1     2     3     4    5  | n_c
        //   1    7    4/3   1/3   1/3   0  |  9
        //   2   4/3   10    4/3   1/3   0  | 13
        //   3   1/3   4/3    8    1/3   0  | 10
        //   4   1/3   1/3   1/3    4    0  |  5
        //   5    0     0     0     0    3  |  3      n = 40
        // Ordinal δ² (e.g. δ²_12 = (9 + 13 − 11)² = 121, δ²_13 = (9 + 13 + 10 − 9.5)² = 506.25):
        //   δ²_12 = 121, δ²_13 = 506.25, δ²_14 = 900, δ²_15 = 1156, δ²_23 = 132.25,
        //   δ²_24 = 361, δ²_25 = 529, δ²_34 = 56.25, δ²_35 = 132.25, δ²_45 = 16.
        // Σ o δ² = 2 · (4/3·121 + 1/3·506.25 + 1/3·900 + 4/3·132.25 + 1/3·361 + 1/3·56.25)
        //        = 2 · 945.5 = 1891.
        // Σ n_c n_k δ² = 2 · (9·13·121 + 9·10·506.25 + 9·5·900 + 9·3·1156 + 13·10·132.25
        //        + 13·5·361 + 13·3·529 + 10·5·56.25 + 10·3·132.25 + 5·3·16) = 399480.
        // α = 1 − 39 · 1891 / 399480 = 1 − 73749 / 399480 = 0.815387…
        let a = krippendorff_alpha_ordinal(&units).expect("defined");
        assert!((a - (1.0 - 73_749.0 / 399_480.0)).abs() < 1e-12, "{a}");
        assert!((a - 0.815).abs() < 0.0005, "{a}");
    }

    #[test]
    fn alpha_is_near_zero_when_agreement_is_chance() {
        // Every ordered pair of grades once, as a unit of two: the coincidences are exactly
        // what chance predicts (o_ck = 2 everywhere, n_c = 10, n = 50), so
        // α = 1 − 49 · 2 / (10 · 10) = 0.02 (the small-sample correction keeps it off 0).
        let units: Vec<Vec<Grade>> = Grade::ALL
            .iter()
            .flat_map(|&a| Grade::ALL.iter().map(move |&b| vec![a, b]))
            .collect();
        let a = krippendorff_alpha_ordinal(&units).expect("defined");
        assert!((a - 0.02).abs() < 1e-12, "{a}");

        // Systematic disagreement is worse than chance.
        let units = [grades(&[1, 5]), grades(&[5, 1]), grades(&[1, 5])];
        let a = krippendorff_alpha_ordinal(&units).expect("defined");
        assert!(a < 0.0, "{a}");
    }

    #[test]
    fn alpha_is_undefined_without_pairs_or_variation() {
        assert_eq!(krippendorff_alpha_ordinal(&[]), None);
        assert_eq!(
            krippendorff_alpha_ordinal(&[grades(&[1]), grades(&[5])]),
            None
        );
        assert_eq!(krippendorff_alpha_ordinal(&[vec![]]), None);
        // Everybody always says good: no disagreement is possible.
        assert_eq!(
            krippendorff_alpha_ordinal(&[grades(&[2, 2, 2]), grades(&[2, 2])]),
            None
        );
    }
}
