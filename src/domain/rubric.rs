//! The rubric a supervisor edits: what each grade means, the deduction items (with their
//! grade ceilings and count rules), the score bands, their validation, and the built-in
//! default from domain.md. Rubrics are stored as JSON, one immutable row per version.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::grading::{Grade, Problem};

/// Most items in one rubric.
pub const MAX_ITEMS: usize = 200;
/// Longest item code.
pub const MAX_CODE_LEN: usize = 40;
/// Points of one occurrence of an item.
pub const ITEM_POINTS: std::ops::RangeInclusive<u32> = 1..=100;

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
    /// The handbook's criteria beside the points (服务质量评判标准): from `at_least`
    /// occurrences of this item in a form (its deductions added up) the grade is at most
    /// `grade`. Thresholds increase and each later one caps at a worse grade, e.g. a missed
    /// service phrase: 1 → fair, 2 → poor. Empty: the item only costs points.
    #[serde(default)]
    pub ceilings: Vec<Ceiling>,
}

/// "From `at_least` occurrences, at most `grade`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ceiling {
    pub at_least: u32,
    pub grade: Grade,
}

impl RubricItem {
    /// The ceiling that `occurrences` of this item reach: the last threshold met (the
    /// worst, since later thresholds cap lower). A critical item is a ceiling of severe at
    /// its first occurrence.
    pub fn ceiling_for(&self, occurrences: u32) -> Option<Grade> {
        if occurrences == 0 {
            return None;
        }
        if self.critical {
            return Some(Grade::Severe);
        }
        self.ceilings
            .iter()
            .filter(|c| occurrences >= c.at_least)
            .map(|c| c.grade)
            .max()
    }
}

/// Most ceilings of one item.
pub const MAX_CEILINGS: usize = 4;
/// Highest threshold of a ceiling: more occurrences than one form can hold mean nothing.
pub const MAX_THRESHOLD: u32 = 1000;

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

fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
        message_zh: None,
    }
}

impl Rubric {
    /// Checks the rubric: every problem, each with the field it is about (`grades[2]`,
    /// `items[3].ceilings[1].at_least`, `bands`), shown to the supervisor beside it.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut out = Vec::new();
        for grade in Grade::ALL {
            match self.grades.iter().filter(|c| c.grade == grade).count() {
                0 => out.push(
                    problem("grades", format!("grade {} is missing", grade.as_str()))
                        .zh(format!("缺少评级“{}”", grade.zh())),
                ),
                1 => {}
                _ => out.push(
                    problem(
                        "grades",
                        format!("grade {} is listed twice", grade.as_str()),
                    )
                    .zh(format!("评级“{}”重复列出", grade.zh())),
                ),
            }
        }
        for (i, c) in self.grades.iter().enumerate() {
            let texts = [
                ("label_en", &c.label_en),
                ("label_zh", &c.label_zh),
                ("criteria_en", &c.criteria_en),
                ("criteria_zh", &c.criteria_zh),
            ];
            for (field, _) in texts.iter().filter(|(_, t)| t.trim().is_empty()) {
                out.push(
                    problem(
                        format!("grades[{i}].{field}"),
                        format!("grade {}: {field} is empty", c.grade.as_str()),
                    )
                    .zh(format!(
                        "评级“{}”：{} 为空",
                        c.grade.zh(),
                        field_zh(field)
                    )),
                );
            }
        }
        if self.items.is_empty() {
            out.push(problem("items", "the rubric has no deduction items").zh("评分表没有扣分项"));
        }
        if self.items.len() > MAX_ITEMS {
            out.push(
                problem(
                    "items",
                    format!(
                        "the rubric has {} items; at most {MAX_ITEMS} are allowed",
                        self.items.len()
                    ),
                )
                .zh(format!(
                    "评分表有 {} 项，最多允许 {MAX_ITEMS} 项",
                    self.items.len()
                )),
            );
        }
        let mut codes = BTreeSet::new();
        for (i, item) in self.items.iter().enumerate() {
            let at = |field: &str| format!("items[{i}].{field}");
            if !valid_code(&item.code) {
                out.push(problem(
                    at("code"),
                    format!(
                        "item code {:?} must be 1 to {MAX_CODE_LEN} characters of a-z, 0-9 and _",
                        item.code
                    ),
                )
                .zh(format!(
                    "项目代码“{}”须为 1 到 {MAX_CODE_LEN} 个字符，只能用 a-z、0-9 和 _",
                    item.code
                )));
            } else if !codes.insert(item.code.as_str()) {
                out.push(
                    problem(
                        at("code"),
                        format!("item code {:?} is used twice", item.code),
                    )
                    .zh(format!("项目代码“{}”重复使用", item.code)),
                );
            }
            if !ITEM_POINTS.contains(&item.points) {
                out.push(
                    problem(
                        at("points"),
                        format!(
                            "item {}: points must be between {} and {}",
                            item.code,
                            ITEM_POINTS.start(),
                            ITEM_POINTS.end()
                        ),
                    )
                    .zh(format!(
                        "项目 {}：分值须在 {} 到 {} 之间",
                        item.code,
                        ITEM_POINTS.start(),
                        ITEM_POINTS.end()
                    )),
                );
            }
            for (field, text) in [("name_en", &item.name_en), ("name_zh", &item.name_zh)] {
                if text.trim().is_empty() {
                    out.push(
                        problem(
                            at(field),
                            format!("item {}: {field} must not be empty", item.code),
                        )
                        .zh(format!(
                            "项目 {}：{} 不能为空",
                            item.code,
                            field_zh(field)
                        )),
                    );
                }
            }
            check_ceilings(item, i, &mut out);
        }
        let b = &self.bands;
        if !(b.excellent <= 100 && b.excellent > b.good && b.good > b.fair && b.fair > b.poor)
            || b.poor < 1
        {
            out.push(
                problem(
                    "bands",
                    format!(
                        "score bands must be strictly decreasing within 1 to 100 \
                     (excellent > good > fair > poor); got {}/{}/{}/{}",
                        b.excellent, b.good, b.fair, b.poor
                    ),
                )
                .zh(format!(
                    "分数段须在 1 到 100 之间严格递减（优 > 良 > 中 > 差），现为 {}/{}/{}/{}",
                    b.excellent, b.good, b.fair, b.poor
                )),
            );
        }
        if out.is_empty() { Ok(()) } else { Err(out) }
    }

    pub fn item(&self, code: &str) -> Option<&RubricItem> {
        self.items.iter().find(|i| i.code == code)
    }
}

/// A count rule must make sense as the handbook reads: thresholds from 1 upwards, strictly
/// increasing, each capping at a worse grade than the one before (a later rule that caps no
/// lower could never bind), never "at most excellent" (which caps nothing), and none on a
/// critical item (it forces severe already).
fn check_ceilings(item: &RubricItem, i: usize, out: &mut Vec<Problem>) {
    let at = |j: usize, field: &str| format!("items[{i}].ceilings[{j}].{field}");
    if item.ceilings.len() > MAX_CEILINGS {
        out.push(
            problem(
                format!("items[{i}].ceilings"),
                format!(
                    "item {}: at most {MAX_CEILINGS} ceilings are allowed",
                    item.code
                ),
            )
            .zh(format!(
                "项目 {}：最多允许 {MAX_CEILINGS} 条封顶规则",
                item.code
            )),
        );
    }
    if item.critical && !item.ceilings.is_empty() {
        out.push(
            problem(
                format!("items[{i}].ceilings"),
                format!(
                    "item {} is critical and forces severe: a ceiling adds nothing",
                    item.code
                ),
            )
            .zh(format!(
                "项目 {} 为严重项，直接判为“劣”：封顶规则没有作用",
                item.code
            )),
        );
    }
    for (j, c) in item.ceilings.iter().enumerate() {
        if !(1..=MAX_THRESHOLD).contains(&c.at_least) {
            out.push(
                problem(
                    at(j, "at_least"),
                    format!(
                        "item {}: a ceiling applies from 1 to {MAX_THRESHOLD} occurrences, not {}",
                        item.code, c.at_least
                    ),
                )
                .zh(format!(
                    "项目 {}：封顶规则的次数须在 1 到 {MAX_THRESHOLD} 之间，而不是 {}",
                    item.code, c.at_least
                )),
            );
        }
        if c.grade == Grade::Excellent {
            out.push(problem(
                at(j, "grade"),
                format!(
                    "item {}: \"at most excellent\" caps nothing; choose good, fair, poor or severe",
                    item.code
                ),
            )
            .zh(format!(
                "项目 {}：“最高为优”不封顶任何评级；请选择良、中、差或劣",
                item.code
            )));
        }
        if let Some(prev) = j.checked_sub(1).map(|k| item.ceilings[k]) {
            if c.at_least <= prev.at_least {
                out.push(
                    problem(
                        at(j, "at_least"),
                        format!(
                            "item {}: thresholds must increase ({} after {})",
                            item.code, c.at_least, prev.at_least
                        ),
                    )
                    .zh(format!(
                        "项目 {}：次数须递增（{} 在 {} 之后）",
                        item.code, c.at_least, prev.at_least
                    )),
                );
            }
            if c.grade <= prev.grade {
                out.push(
                    problem(
                        at(j, "grade"),
                        format!(
                            "item {}: from {} occurrences the grade must be capped lower than {} \
                         (the ceiling from {})",
                            item.code,
                            c.at_least,
                            prev.grade.as_str(),
                            prev.at_least
                        ),
                    )
                    .zh(format!(
                        "项目 {}：从 {} 次起封顶评级须低于“{}”（{} 次起的封顶）",
                        item.code,
                        c.at_least,
                        prev.grade.zh(),
                        prev.at_least
                    )),
                );
            }
        }
    }
}

/// A rubric text field's name in Chinese.
fn field_zh(field: &str) -> &'static str {
    match field {
        "label_en" => "英文名称",
        "label_zh" => "中文名称",
        "criteria_en" => "英文标准",
        "criteria_zh" => "中文标准",
        "name_en" => "英文名称",
        "name_zh" => "中文名称",
        _ => "字段",
    }
}

fn valid_code(code: &str) -> bool {
    (1..=MAX_CODE_LEN).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The item the grading form suggests when a call ran longer than its queue's service time
/// limit (the grader confirms it by deducting it; nothing is deducted automatically).
pub const OVER_TIME_LIMIT: &str = "over_time_limit";

/// The built-in rubric (its second edition; the first, without ceilings and the last four
/// items, is still stored as version 1 where it was used): the five grades of 服务质量评判标准,
/// the deduction items of 质检评分标准, two critical items for the conduct that makes a call
/// severe, and the grade ceilings of 服务质量评判标准 (domain.md, "Grades are criteria, not only
/// score bands").
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
        ceilings: Vec::new(),
    };
    // "At most `grade` from the first occurrence", and a count rule of several thresholds.
    let capped = |item: RubricItem, grade| RubricItem {
        ceilings: vec![Ceiling { at_least: 1, grade }],
        ..item
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
            // 差: "makes errors".
            capped(
                item(
                    "misleading_explanation",
                    "Misleading or incomplete explanation causing a dispute",
                    "解释误导或不完整，引起纠纷",
                    10,
                ),
                Grade::Poor,
            ),
            item(
                "service_not_entered",
                "Failed to enter a requested service",
                "未按客户要求录入或受理业务",
                10,
            ),
            capped(
                item(
                    "wrong_customer_data",
                    "Wrong customer data",
                    "客户资料录入错误",
                    10,
                ),
                Grade::Poor,
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
            // 中: "missed one service phrase"; 差: "missed two or more".
            RubricItem {
                ceilings: vec![
                    Ceiling {
                        at_least: 1,
                        grade: Grade::Fair,
                    },
                    Ceiling {
                        at_least: 2,
                        grade: Grade::Poor,
                    },
                ],
                ..item(
                    "no_service_phrases",
                    "Not using standard service phrases",
                    "未使用规范服务用语",
                    2,
                )
            },
            item("shirking", "Shirking", "推诿、敷衍客户", 5),
            item(
                "no_busy_apology",
                "No apology phrase when busy",
                "忙时未使用致歉用语",
                5,
            ),
            item("forbidden_phrase", "Forbidden phrase", "使用服务忌语", 8),
            item("not_mandarin", "Not speaking Mandarin", "未使用普通话", 3),
            // The 差 criteria the checklist has no item for. 服务质量评判标准 names them without
            // points; each costs what the checklist charges for the nearest item it has: wrong
            // information and answering beside the question as a misleading explanation (10),
            // no first-contact responsibility as blaming other departments (10: both pass the
            // customer on), running over the time limit as shirking (5). The ceiling, not the
            // points, is what makes them poor.
            capped(
                item(
                    "wrong_information",
                    "Wrong information given to the customer",
                    "向客户提供错误信息",
                    10,
                ),
                Grade::Poor,
            ),
            capped(
                item(
                    "beside_the_question",
                    "Answering beside the question",
                    "答非所问",
                    10,
                ),
                Grade::Poor,
            ),
            capped(
                item(
                    "no_first_contact_responsibility",
                    "Did not take first-contact responsibility",
                    "未落实首问负责制",
                    10,
                ),
                Grade::Poor,
            ),
            capped(
                item(
                    OVER_TIME_LIMIT,
                    "Exceeded the queue's service time limit",
                    "超出服务时限",
                    5,
                ),
                Grade::Poor,
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // The 差 criteria the checklist lacks, added by the second edition.
        let added = [
            "wrong_information",
            "beside_the_question",
            "no_first_contact_responsibility",
            OVER_TIME_LIMIT,
        ];
        let critical: Vec<&str> = r
            .items
            .iter()
            .filter(|i| i.critical)
            .map(|i| i.code.as_str())
            .collect();
        assert_eq!(critical, ["rude_attitude", "side_talk"]);
        assert_eq!(r.items.len(), expected.len() + added.len() + critical.len());
        // domain.md, "Grades are criteria, not only score bands".
        let phrases = r.item("no_service_phrases").expect("phrases");
        assert_eq!(
            [1, 2, 7].map(|n| phrases.ceiling_for(n)),
            [Some(Grade::Fair), Some(Grade::Poor), Some(Grade::Poor)]
        );
        assert_eq!(phrases.ceiling_for(0), None);
        for code in added
            .into_iter()
            .chain(["wrong_customer_data", "misleading_explanation"])
        {
            assert_eq!(r.item(code).expect(code).ceiling_for(1), Some(Grade::Poor));
        }
        assert_eq!(r.item("shirking").expect("shirking").ceiling_for(3), None);
        assert_eq!(
            r.item("side_talk").expect("side talk").ceiling_for(1),
            Some(Grade::Severe)
        );
        assert_eq!(r.bands, Bands::default());
        assert!(r.item("nope").is_none());
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

    fn fields(r: &Rubric) -> Vec<String> {
        r.validate()
            .expect_err("invalid")
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    fn message(r: &Rubric) -> String {
        r.validate()
            .expect_err("invalid")
            .into_iter()
            .map(|p| p.message)
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn validate_names_each_problem_with_its_field() {
        let mut r = default_rubric();
        r.items[1].code = r.items[0].code.clone();
        assert!(message(&r).contains("used twice"));
        assert_eq!(fields(&r), ["items[1].code"]);

        let mut r = default_rubric();
        r.items[0].code = "Bad-Code".into();
        assert_eq!(fields(&r), ["items[0].code"]);
        r.items[0].code = "a".repeat(41);
        assert!(r.validate().is_err());

        let mut r = default_rubric();
        r.grades.retain(|c| c.grade != Grade::Fair);
        assert_eq!(message(&r), "grade fair is missing");

        let mut r = default_rubric();
        r.grades[4].grade = Grade::Poor;
        assert!(r.validate().is_err());

        let mut r = default_rubric();
        r.grades[2].criteria_zh = "  ".into();
        assert_eq!(message(&r), "grade fair: criteria_zh is empty");
        assert_eq!(fields(&r), ["grades[2].criteria_zh"]);

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
            assert_eq!(fields(&r), ["bands"], "{bands:?}");
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
        assert_eq!(fields(&r), ["items[0].points"]);
        r.items[0].points = 101;
        assert!(r.validate().is_err());

        let mut r = default_rubric();
        r.items[0].name_zh = String::new();
        assert_eq!(fields(&r), ["items[0].name_zh"]);

        let mut r = default_rubric();
        r.items.clear();
        assert_eq!(fields(&r), ["items"]);

        let mut r = default_rubric();
        r.items = (0..=MAX_ITEMS)
            .map(|i| RubricItem {
                code: format!("item_{i}"),
                ..r.items[0].clone()
            })
            .collect();
        assert!(message(&r).contains("at most 200"));

        // Several problems at once are all reported.
        let mut r = default_rubric();
        r.items[0].points = 0;
        r.items[2].name_en = " ".into();
        assert_eq!(fields(&r), ["items[0].points", "items[2].name_en"]);
    }

    #[test]
    fn count_rules_must_make_sense() {
        let rule = |pairs: &[(u32, Grade)]| {
            let mut r = default_rubric();
            r.items[0].ceilings = pairs
                .iter()
                .map(|&(at_least, grade)| Ceiling { at_least, grade })
                .collect();
            r
        };
        assert_eq!(
            rule(&[(1, Grade::Good), (3, Grade::Poor), (5, Grade::Severe)]).validate(),
            Ok(())
        );
        // Non-increasing thresholds.
        let r = rule(&[(2, Grade::Fair), (2, Grade::Poor)]);
        assert_eq!(fields(&r), ["items[0].ceilings[1].at_least"]);
        assert!(message(&r).contains("thresholds must increase"));
        let r = rule(&[(3, Grade::Fair), (1, Grade::Poor)]);
        assert_eq!(fields(&r), ["items[0].ceilings[1].at_least"]);
        // A later rule that caps no lower.
        let r = rule(&[(1, Grade::Poor), (2, Grade::Fair)]);
        assert_eq!(fields(&r), ["items[0].ceilings[1].grade"]);
        // "At most excellent", zero and absurd thresholds.
        assert_eq!(
            fields(&rule(&[(1, Grade::Excellent)])),
            ["items[0].ceilings[0].grade"]
        );
        assert_eq!(
            fields(&rule(&[(0, Grade::Fair)])),
            ["items[0].ceilings[0].at_least"]
        );
        assert_eq!(
            fields(&rule(&[(MAX_THRESHOLD + 1, Grade::Fair)])),
            ["items[0].ceilings[0].at_least"]
        );
        // Too many, and any on a critical item.
        let r = rule(&[
            (1, Grade::Good),
            (2, Grade::Fair),
            (3, Grade::Poor),
            (4, Grade::Severe),
            (5, Grade::Severe),
        ]);
        assert!(fields(&r).contains(&"items[0].ceilings".to_string()));
        let mut r = rule(&[(1, Grade::Poor)]);
        r.items[0].critical = true;
        assert_eq!(fields(&r), ["items[0].ceilings"]);
        // A ceiling that is not a grade does not even parse.
        let bad = r#"{"code":"x","name_en":"x","name_zh":"x","points":1,
            "ceilings":[{"at_least":1,"grade":"awful"}]}"#;
        assert!(serde_json::from_str::<RubricItem>(bad).is_err());
        // Rubrics stored before ceilings existed still parse, without any.
        let old = r#"{"code":"x","name_en":"x","name_zh":"x","points":1}"#;
        let item: RubricItem = serde_json::from_str(old).expect("old item");
        assert!(item.ceilings.is_empty());
    }
}
