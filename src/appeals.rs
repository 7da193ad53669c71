//! Appeals and every later change of a submitted evaluation, over the store: filing inside
//! the window, the panel's decision, blind re-grades, supervisors' overrides and post-lock
//! corrections. Each change is one transaction: the evaluation's new state, its revision and
//! the notice to the people concerned.

use axum::http::StatusCode;
use serde_json::json;

use crate::config::Config;
use crate::domain::audit::{self, Change, Decision, EvaluationState, RevisionKind};
use crate::domain::grading::{Form, Problem, Rubric};
use crate::domain::publication::{self as rules, MonthStatus, Policy};
use crate::error::{AppError, AppResult};
use crate::grading::form_of;
use crate::http::time;
use crate::publication::{Notice, deadline_ms, local_text, send};
use crate::store::Db;
use crate::store::appeals::{
    self as store, AppealRow, FileError, NewAppeal, NewRevision, StateUpdate,
};
use crate::store::grading::EvaluationRow;
use crate::store::publication::{self as months, AgentMonth};

/// Where the evaluation's month stands for its agent: not published (`None`), or its
/// publication's status.
pub fn month_status(m: &AgentMonth, now_ms: i64) -> (MonthStatus, Option<i64>) {
    rules::status(
        now_ms,
        m.appeal_closes_at_ms,
        u64::try_from(m.open_appeals).unwrap_or(0),
        m.last_decision_ms,
    )
}

/// The state of a submitted evaluation, as a revision records it.
pub fn state_of(e: &EvaluationRow) -> AppResult<EvaluationState> {
    Ok(EvaluationState {
        status: e.status.clone(),
        form: form_of(e)?,
        score: e.score,
        grade: e.grade.clone(),
        computed_grade: e.computed_grade.clone(),
        override_reason: e.override_reason.clone(),
    })
}

pub fn problems_error(problems: &[Problem]) -> AppError {
    AppError::problems("invalid_change", problems)
}

fn conflict() -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        "changed_meanwhile",
        "the evaluation was changed by someone else meanwhile; reload it and try again",
    )
}

fn policy_of(m: &AgentMonth) -> Policy {
    // Written by us at publication; an unreadable one falls back to the defaults.
    serde_json::from_str(&m.policy).unwrap_or_default()
}

/// The deductions an appeal disputes, as a client names them.
pub enum Disputed {
    /// By their stable ids.
    Ids(Vec<u32>),
    /// By their positions in the form as the agent saw it (older clients): turned into the
    /// ids of the deductions at those positions when filing, so the appeal keeps naming the
    /// same ones after an amendment.
    Indexes(Vec<usize>),
}

/// The ids of the disputed deductions of `form`, sorted and without repeats; every one must
/// be a deduction the form has.
fn disputed_ids(form: &Form, disputed: &Disputed) -> AppResult<Vec<u32>> {
    let mut ids = match disputed {
        Disputed::Ids(ids) => {
            if let Some(bad) = ids.iter().find(|&&id| form.deduction(id).is_none()) {
                return Err(AppError::unprocessable(
                    "invalid_appeal",
                    format!("deduction #{bad} is not one of this evaluation's deductions"),
                )
                .zh(format!("扣分项 #{bad} 不属于该评估")));
            }
            ids.clone()
        }
        Disputed::Indexes(indexes) => {
            let mut ids = Vec::with_capacity(indexes.len());
            for &i in indexes {
                match form.deductions.get(i).and_then(|d| d.id) {
                    Some(id) => ids.push(id),
                    None => {
                        return Err(AppError::unprocessable(
                            "invalid_appeal",
                            format!(
                                "deduction {i} does not exist (this evaluation has {})",
                                form.deductions.len()
                            ),
                        ));
                    }
                }
            }
            ids
        }
    };
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Files the agent's appeal of their evaluation `e` (already checked to be theirs).
pub async fn file(
    db: &Db,
    config: &Config,
    e: &EvaluationRow,
    disputed: &Disputed,
    reason: &str,
    now_ms: i64,
) -> AppResult<i64> {
    let tz = config.time_zone;
    let month = months::agent_month_of_call(db, e.agent_id, e.started_at_ms)
        .await?
        .filter(|_| e.submitted() && e.regrade_for.is_none() && e.calibration_id.is_none())
        .ok_or_else(|| AppError::not_found("evaluation"))?;
    if !rules::appeal_open(now_ms, month.appeal_closes_at_ms) {
        return Err(AppError::unprocessable(
            "appeal_window_closed",
            format!(
                "the appeal window for {} closed at {}",
                month.month,
                local_text(month.appeal_closes_at_ms, tz)
            ),
        )
        .with("closed_at", json!(time(month.appeal_closes_at_ms, tz))));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::unprocessable(
            "invalid_appeal",
            "write why you disagree: the panel reads it",
        )
        .zh("请写明您不同意的理由：领导小组会阅读"));
    }
    if reason.chars().count() > 4000 {
        return Err(AppError::unprocessable(
            "invalid_appeal",
            "the reason is at most 4000 characters",
        )
        .zh("理由最多 4000 个字符"));
    }
    let picked = disputed_ids(&form_of(e)?, disputed)?;
    let policy = policy_of(&month);
    if !policy.allow_reappeal
        && store::of_evaluation(db, e.id)
            .await?
            .iter()
            .any(|a| a.status == "decided")
    {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "appeal_decided",
            "the panel has decided an appeal of this evaluation already; its decision is final",
        ));
    }
    let due = deadline_ms(now_ms, policy.panel_deadline, &policy, tz);
    let picked_json = serde_json::to_string(&picked).map_err(anyhow::Error::from)?;
    let panel = store::users_with_role(db, "panel").await?;
    let mut tx = db.begin_write().await?;
    let id = store::insert(
        &mut tx,
        &NewAppeal {
            evaluation_id: e.id,
            agent_id: e.agent_id,
            month: &month.month,
            publication_id: month.publication_id,
            deductions: &picked_json,
            reason,
            now_ms,
            due_at_ms: due,
            max_per_month: i64::from(policy.max_appeals_per_month),
        },
    )
    .await
    .map_err(|err| match err {
        FileError::AlreadyOpen => AppError::new(
            StatusCode::CONFLICT,
            "appeal_open",
            "this evaluation already has an open appeal; wait for the panel's decision",
        ),
        FileError::Limit => AppError::unprocessable(
            "appeal_limit",
            format!(
                "you have used all {} appeals allowed for {}",
                policy.max_appeals_per_month, month.month
            ),
        ),
        FileError::Db(e) => e.into(),
    })?;
    let notice = Notice {
        kind: "appeal_filed",
        en: format!(
            "New appeal #{id} from {} on call {}; answer by {}.",
            e.agent_name,
            e.call_id,
            local_text(due, tz)
        ),
        zh: format!(
            "{}对通话 {} 提出申诉（#{id}），请在{}前答复。",
            e.agent_name,
            e.call_id,
            local_text(due, tz)
        ),
        link: format!("#/appeals/{id}"),
        details: json!({ "appeal_id": id, "evaluation_id": e.id, "call_id": e.call_id, "month": month.month }),
    };
    send(
        &mut tx,
        config,
        &panel,
        &notice,
        &format!("appeal_filed:{id}"),
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Asks `regrader_id` for a blind re-grade of an appeal's call and tells them the call and
/// when it is due, never the original grade (the re-grade is blind). False when the appeal
/// is decided or has a re-grader already.
pub async fn request_regrade(
    db: &Db,
    config: &Config,
    appeal_id: i64,
    call_id: &str,
    regrader_id: i64,
    by: i64,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let Some((mut tx, assignment_id, due)) =
        store::request_regrade(db, appeal_id, regrader_id, by, now_ms).await?
    else {
        return Ok(false);
    };
    let due = local_text(due, config.time_zone);
    let notice = Notice {
        kind: "regrade_requested",
        en: format!(
            "The appeal panel asks you to grade call {call_id} blind (appeal #{appeal_id}), \
             due {due}."
        ),
        zh: format!(
            "申诉领导小组请您对通话 {call_id} 进行盲评（申诉 #{appeal_id}），请在{due}前完成。"
        ),
        link: "#/queue".into(),
        details: json!({ "appeal_id": appeal_id, "assignment_id": assignment_id, "call_id": call_id }),
    };
    let key = format!("regrade:{appeal_id}");
    send(&mut tx, config, &[regrader_id], &notice, &key, now_ms).await?;
    tx.commit().await?;
    Ok(true)
}

/// What the panel sends.
pub struct DecisionInput {
    pub outcome: Decision,
    pub reason: String,
    pub change: Option<Change>,
}

impl DecisionInput {
    pub fn parse(
        outcome: Decision,
        grade: Option<crate::domain::grading::Grade>,
        deductions: Option<Vec<crate::domain::grading::Deduction>>,
        reason: &str,
    ) -> AppResult<DecisionInput> {
        let change = audit::decision_change(outcome, grade, deductions, reason)
            .map_err(|p| problems_error(&p))?;
        Ok(DecisionInput {
            outcome,
            reason: reason.trim().to_string(),
            change,
        })
    }
}

fn outcome_zh(d: Decision) -> &'static str {
    match d {
        Decision::Upheld => "维持原评",
        Decision::Overturned => "改判",
        Decision::Amended => "调整扣分",
    }
}

/// Decides an open appeal: the decision, the evaluation's new state with its revision (when
/// it changes anything) and the notice to the agent, all or nothing.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    db: &Db,
    config: &Config,
    appeal: &AppealRow,
    e: &EvaluationRow,
    rubric: &Rubric,
    input: &DecisionInput,
    by: i64,
    now_ms: i64,
) -> AppResult<()> {
    let decided = || {
        AppError::new(
            StatusCode::CONFLICT,
            "appeal_decided",
            format!("appeal #{} is decided already", appeal.id),
        )
    };
    if appeal.status != "open" {
        return Err(decided());
    }
    let current = state_of(e)?;
    let next = match &input.change {
        Some(change) => Some(
            audit::apply(rubric, &current, change, e.duration_ms)
                .map_err(|p| problems_error(&p))?,
        ),
        None => None,
    };
    let mut tx = db.begin_write().await?;
    if !store::decide(
        &mut tx,
        appeal.id,
        input.outcome.as_str(),
        &input.reason,
        by,
        now_ms,
    )
    .await?
    {
        return Err(decided());
    }
    if let Some(next) = &next {
        write_change(
            &mut tx,
            e,
            &current,
            next,
            RevisionKind::AppealDecision,
            Some(appeal.id),
            &input.reason,
            by,
            now_ms,
        )
        .await?;
    }
    let new_grade = next
        .as_ref()
        .and_then(|n| n.grade.clone())
        .or(current.grade.clone());
    let notice = Notice {
        kind: "appeal_decided",
        en: format!(
            "Your appeal on call {} was {} (grade: {}). The panel's reason: {}",
            e.call_id,
            input.outcome.as_str(),
            new_grade.as_deref().unwrap_or("-"),
            input.reason
        ),
        zh: format!(
            "您对通话 {} 的申诉已处理：{}。评级：{}。理由：{}",
            e.call_id,
            outcome_zh(input.outcome),
            new_grade.as_deref().map_or("-", grade_zh),
            input.reason
        ),
        link: format!("#/results/{}/{}", appeal.month, e.id),
        details: json!({
            "appeal_id": appeal.id, "evaluation_id": e.id, "outcome": input.outcome.as_str(),
            "grade": new_grade, "month": appeal.month,
        }),
    };
    send(
        &mut tx,
        config,
        &[e.agent_id],
        &notice,
        &format!("appeal_decided:{}", appeal.id),
        now_ms,
    )
    .await?;
    // The grader learns when the panel changed their evaluation (not when it upheld it).
    if next.is_some() && e.grader_id != e.agent_id {
        let old_grade = current.grade.as_deref().unwrap_or("-");
        let new_grade = new_grade.as_deref().unwrap_or("-");
        let notice = Notice {
            kind: "evaluation_changed_by_appeal",
            en: format!(
                "The panel {} your evaluation of call {} ({}) on appeal: {old_grade} → {new_grade}. \
                 Reason: {}",
                input.outcome.as_str(),
                e.call_id,
                e.agent_name,
                input.reason
            ),
            zh: format!(
                "领导小组对您评估的通话 {}（{}）作出申诉处理：{}，评级 {} → {}。理由：{}",
                e.call_id,
                e.agent_name,
                outcome_zh(input.outcome),
                grade_zh(old_grade),
                grade_zh(new_grade),
                input.reason
            ),
            link: format!("#/evaluations/{}/history", e.id),
            details: json!({
                "appeal_id": appeal.id, "evaluation_id": e.id, "call_id": e.call_id,
                "outcome": input.outcome.as_str(), "old_grade": old_grade, "new_grade": new_grade,
            }),
        };
        send(
            &mut tx,
            config,
            &[e.grader_id],
            &notice,
            &format!("appeal_changed:{}", appeal.id),
            now_ms,
        )
        .await?;
    }
    crate::scoring::request(
        &mut tx,
        &appeal.month,
        crate::scoring::Cause::AppealDecided,
        &format!("appeal #{} {}", appeal.id, input.outcome.as_str()),
        Some(by),
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn grade_zh(g: &str) -> &'static str {
    crate::domain::grading::Grade::parse(g).map_or("-", crate::domain::grading::Grade::zh)
}

/// Writes a new state of `e` and its revision in `tx`; a concurrent change is a conflict.
#[allow(clippy::too_many_arguments)]
async fn write_change(
    tx: &mut crate::store::Tx,
    e: &EvaluationRow,
    current: &EvaluationState,
    next: &EvaluationState,
    kind: RevisionKind,
    appeal_id: Option<i64>,
    reason: &str,
    by: i64,
    now_ms: i64,
) -> AppResult<()> {
    let form = serde_json::to_string(&next.form).map_err(anyhow::Error::from)?;
    let updated = store::update_state(
        tx,
        &StateUpdate {
            id: e.id,
            expected_revision: e.revision,
            form: &form,
            score: next.score,
            grade: next.grade.as_deref(),
            computed_grade: next.computed_grade.as_deref(),
            override_reason: next.override_reason.as_deref(),
            now_ms,
        },
    )
    .await?;
    if !updated {
        return Err(conflict());
    }
    let old = serde_json::to_string(current).map_err(anyhow::Error::from)?;
    let new = serde_json::to_string(next).map_err(anyhow::Error::from)?;
    store::insert_revision(
        tx,
        &NewRevision {
            evaluation_id: e.id,
            kind: kind.as_str(),
            post_lock: kind == RevisionKind::Correction,
            appeal_id,
            actor_id: by,
            at_ms: now_ms,
            reason: Some(reason),
            old_value: Some(&old),
            new_value: &new,
        },
    )
    .await
    .map_err(|err| {
        if crate::store::is_unique_violation(&err) {
            conflict()
        } else {
            err.into()
        }
    })?;
    // A changed score or grade is not what the agent signed off: they are asked again.
    if current.score != next.score || current.grade != next.grade {
        months::set_aside_acknowledgement(tx, e.agent_id, e.started_at_ms, now_ms).await?;
    }
    Ok(())
}

/// A supervisor's change of a submitted evaluation: an override before the month is locked,
/// a post-lock correction after (which the agent is told about). Returns the kind written.
pub async fn correct(
    db: &Db,
    config: &Config,
    e: &EvaluationRow,
    rubric: &Rubric,
    change: &Change,
    by: i64,
    now_ms: i64,
) -> AppResult<RevisionKind> {
    if !e.submitted() || e.calibration_id.is_some() {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "not_submitted",
            "only a submitted evaluation of a call is revised; a draft is its grader's to edit",
        ));
    }
    let current = state_of(e)?;
    let next =
        audit::apply(rubric, &current, change, e.duration_ms).map_err(|p| problems_error(&p))?;
    let month = months::agent_month_of_call(db, e.agent_id, e.started_at_ms).await?;
    let locked = month
        .as_ref()
        .is_some_and(|m| month_status(m, now_ms).0 == MonthStatus::Locked);
    let kind = if locked {
        RevisionKind::Correction
    } else {
        RevisionKind::Override
    };
    let months_published = month.clone();
    let mut tx = db.begin_write().await?;
    write_change(
        &mut tx,
        e,
        &current,
        &next,
        kind,
        None,
        &change.reason,
        by,
        now_ms,
    )
    .await?;
    // Once published, the agent hears of any change to their result.
    if let Some(m) = month.filter(|_| e.regrade_for.is_none()) {
        let notice = Notice {
            kind: "evaluation_corrected",
            en: format!(
                "The evaluation of your call {} was changed{} (grade: {}, score: {}). Reason: {}",
                e.call_id,
                if locked {
                    " after the month was locked"
                } else {
                    ""
                },
                next.grade.as_deref().unwrap_or("-"),
                next.score.map_or("-".into(), |s| s.to_string()),
                change.reason.trim()
            ),
            zh: format!(
                "您的通话 {} 的评分已{}更正（评级：{}，得分：{}）。理由：{}",
                e.call_id,
                if locked { "在月度锁定后" } else { "" },
                next.grade.as_deref().map_or("-", grade_zh),
                next.score.map_or("-".into(), |s| s.to_string()),
                change.reason.trim()
            ),
            link: format!("#/results/{}/{}", m.month, e.id),
            details: json!({ "evaluation_id": e.id, "post_lock": locked, "month": m.month }),
        };
        send(
            &mut tx,
            config,
            &[e.agent_id],
            &notice,
            &format!("corrected:{}:{}", e.id, e.revision + 1),
            now_ms,
        )
        .await?;
    }
    // Scores of a published month follow any change of its evaluations.
    if let Some(m) = months_published.as_ref() {
        crate::scoring::request(
            &mut tx,
            &m.month,
            crate::scoring::Cause::Correction,
            &format!("evaluation #{} {}", e.id, kind.as_str()),
            Some(by),
            now_ms,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(kind)
}
