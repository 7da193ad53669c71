//! Grading over the store: the current rubric (the built-in default until a supervisor
//! edits it), who may read an evaluation, submitting one (listening checked, score and grade
//! from the rubric version it was opened with, deduction ids assigned, the flag to the lead),
//! and the queues' service time limits.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::TimeZone;

use crate::config::Config;
use crate::domain::access::Viewer;
use crate::domain::audit::EvaluationState;
use crate::domain::grading::{self, Form, Outcome, Problem, Rubric};
use crate::domain::org::Role;
use crate::domain::queues::QueueLimits;
use crate::store::grading::{self as store, EvaluationRow, RubricRow, SaveError, Submission};
use crate::store::publication::{get_setting, put_setting};
use crate::store::{Db, listening};

/// The newest rubric version, adding the built-in default as version 1 on first use.
///
/// When the newest version is a built-in (no author) other than today's, it is the built-in
/// of an earlier release that nobody edited: today's built-in becomes the next version (the
/// evaluations opened on the old one keep it). A supervisor's own rubric is never replaced.
pub async fn current_rubric(db: &Db, now_ms: i64) -> anyhow::Result<(RubricRow, Rubric)> {
    let builtin = grading::default_rubric();
    let after = match store::current_rubric(db).await? {
        Some(row) => {
            let rubric = parse_rubric(&row)?;
            if row.created_by_id.is_some() || rubric == builtin {
                return Ok((row, rubric));
            }
            row.version
        }
        None => 0,
    };
    let spec = serde_json::to_string(&builtin)?;
    // Only after that version: two servers upgrading at once add it once.
    store::insert_rubric(db, &spec, None, now_ms, Some(after)).await?;
    let row = store::current_rubric(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the default rubric was not stored"))?;
    let rubric = parse_rubric(&row)?;
    Ok((row, rubric))
}

/// Stored rubrics were validated when written; a row that does not parse is a server fault.
pub fn parse_rubric(row: &RubricRow) -> anyhow::Result<Rubric> {
    serde_json::from_str(&row.spec)
        .map_err(|e| anyhow::anyhow!("rubric version {} does not parse: {e}", row.version))
}

/// Rubric versions never change once stored, so each is read and parsed once per process
/// (every save and submission needs its evaluation's version).
#[derive(Default)]
pub struct Rubrics(RwLock<HashMap<i64, Arc<Rubric>>>);

impl Rubrics {
    pub async fn get(&self, db: &Db, rubric_id: i64) -> anyhow::Result<Arc<Rubric>> {
        if let Some(r) = self.read().get(&rubric_id) {
            return Ok(r.clone());
        }
        let row = store::get_rubric(db, rubric_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("rubric {rubric_id} is missing"))?;
        let rubric = Arc::new(parse_rubric(&row)?);
        self.write().insert(rubric_id, rubric.clone());
        Ok(rubric)
    }

    // A panic while holding the lock cannot leave the map half-written (inserts are
    // atomic), so a poisoned lock is still safe to use.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<i64, Arc<Rubric>>> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<i64, Arc<Rubric>>> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The form of an evaluation as stored (always written by us from a parsed `Form`), with
/// its deduction ids (derived for forms stored before ids existed).
pub fn form_of(e: &EvaluationRow) -> anyhow::Result<Form> {
    serde_json::from_str::<Form>(&e.form)
        .map(Form::with_derived_ids)
        .map_err(|err| anyhow::anyhow!("evaluation {} form does not parse: {err}", e.id))
}

/// What a client sent as the evaluation's form, with server-side deduction ids: those of
/// the stored form's deductions it sends back are kept, the others are fresh.
pub fn incoming_form(e: &EvaluationRow, mut form: Form) -> anyhow::Result<Form> {
    form.assign_ids(&form_of(e)?);
    Ok(form)
}

/// The name of the setting holding `QueueLimits`.
const QUEUES_SETTING: &str = "queues";

/// The queues' service time limits: the supervisor's, or none.
pub async fn queue_limits(db: &Db) -> anyhow::Result<QueueLimits> {
    match get_setting(db, QUEUES_SETTING).await? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("stored queue limits do not parse: {e}")),
        None => Ok(QueueLimits::default()),
    }
}

/// Stores validated limits (the caller validated them).
pub async fn set_queue_limits(
    db: &Db,
    limits: &QueueLimits,
    by: i64,
    now_ms: i64,
) -> anyhow::Result<()> {
    let text = serde_json::to_string(limits)?;
    put_setting(db, QUEUES_SETTING, &text, by, now_ms).await?;
    Ok(())
}

/// The month (`YYYY-MM`, center time) a call belongs to.
pub fn month_of(started_at_ms: i64, tz: chrono_tz::Tz) -> String {
    tz.timestamp_millis_opt(started_at_ms)
        .single()
        .map(|t| t.format("%Y-%m").to_string())
        .unwrap_or_default()
}

/// Who may read an evaluation. Its grader always; a supervisor always (drafts included);
/// nobody else sees a draft. Submitted ones: team leads of the agent's team (they review
/// flags and coach), the appeal panel (appeals), the agent once the month is published
/// (before that, grades are drafts for the agent too). Inspectors see their own gradings
/// only; calibration gradings are read through their session, which keeps them blind; a
/// blind re-grade for an appeal is for its grader, supervisors and the panel.
///
/// `blind`: the viewer has a blind task on the call (`store::blind`). Then they see nobody
/// else's evaluation or draft of it, supervisors included, until they have submitted.
pub fn may_read(viewer: &Viewer, e: &EvaluationRow, published: bool, blind: bool) -> bool {
    if e.grader_id == viewer.user_id {
        return true;
    }
    if blind {
        return false;
    }
    if viewer.role == Role::Supervisor {
        return true;
    }
    if !e.submitted() || e.calibration_id.is_some() {
        return false;
    }
    // A blind re-grade is evidence for the panel, not one of the agent's results.
    if e.regrade_for.is_some() {
        return viewer.role == Role::Panel;
    }
    match viewer.role {
        Role::TeamLead => viewer.can_see_agent(e.agent_id, e.team_id),
        Role::Panel => true,
        Role::Agent => e.agent_id == viewer.user_id && published,
        Role::Inspector | Role::Supervisor => false,
    }
}

/// Whether an evaluation is one of the agent's results: of a sample or a pull, not a
/// calibration exercise nor a blind re-grade (evidence for an appeal). Only results are
/// shut out of a published month.
pub fn is_result(e: &EvaluationRow) -> bool {
    e.assignment_id.is_some() && e.regrade_for.is_none()
}

/// How much of the call the grader has heard.
pub struct Listened {
    pub listened_ms: i64,
    pub duration_ms: i64,
    pub share: f64,
    pub required: f64,
}

impl Listened {
    pub fn enough(&self) -> bool {
        // A hair of tolerance: a player's last interval can end a few ms before the end.
        self.share + 1e-9 >= self.required
    }

    pub fn missing_message(&self) -> String {
        let missing_ms =
            ((self.required * self.duration_ms as f64).ceil() as i64 - self.listened_ms).max(0);
        format!(
            "you have listened to {:.0}% of this call; {:.0}% is required before submitting \
             ({} more to hear)",
            (self.share * 100.0).floor(),
            self.required * 100.0,
            clock_text(missing_ms)
        )
    }
}

fn clock_text(ms: i64) -> String {
    let secs = (ms + 999) / 1000;
    format!("{}:{:02}", secs / 60, secs % 60)
}

pub async fn listened(db: &Db, e: &EvaluationRow, required: f64) -> anyhow::Result<Listened> {
    let coverage = listening::coverage(db, e.recording_id, e.grader_id).await?;
    Ok(Listened {
        listened_ms: coverage.listened_ms,
        duration_ms: e.duration_ms,
        share: coverage.fraction(e.duration_ms),
        required,
    })
}

pub enum SubmitError {
    NotListened(Listened),
    Invalid(Vec<Problem>),
    Save(SaveError),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for SubmitError {
    fn from(e: anyhow::Error) -> Self {
        SubmitError::Internal(e)
    }
}

impl From<sqlx::Error> for SubmitError {
    fn from(e: sqlx::Error) -> Self {
        SubmitError::Internal(e.into())
    }
}

impl From<serde_json::Error> for SubmitError {
    fn from(e: serde_json::Error) -> Self {
        SubmitError::Internal(e.into())
    }
}

/// Submits an evaluation with `form` (the client's latest with its ids assigned by
/// `incoming_form`, or the saved draft). The score and grade are computed here from the
/// evaluation's own rubric version, never taken from the client. Returns the evaluation as
/// stored, its outcome and the grader's listening.
pub async fn submit(
    db: &Db,
    config: &Config,
    e: &EvaluationRow,
    rubric: &Rubric,
    form: &Form,
    expected_revision: Option<i64>,
    now_ms: i64,
) -> Result<(EvaluationRow, Outcome, Listened), SubmitError> {
    let outcome =
        grading::check_submit(rubric, form, e.duration_ms).map_err(SubmitError::Invalid)?;
    let heard = listened(db, e, config.listen_required).await?;
    if !heard.enough() {
        return Err(SubmitError::NotListened(heard));
    }
    let form_json = serde_json::to_string(form)?;
    let reason = form
        .override_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| outcome.overridden && !r.is_empty());
    let state = serde_json::to_string(&EvaluationState {
        status: "submitted".into(),
        form: form.clone(),
        score: Some(i64::from(outcome.score)),
        grade: Some(outcome.grade.as_str().into()),
        computed_grade: Some(outcome.computed_grade.as_str().into()),
        override_reason: reason.map(str::to_string),
    })?;
    // Calibration gradings are exercises and re-grades evidence for an appeal: they flag
    // nobody.
    let flag_due_at_ms =
        (e.assignment_id.is_some() && e.regrade_for.is_none() && outcome.grade.needs_review())
            .then(|| now_ms + i64::from(config.flag_overdue_days) * 86_400_000);
    let (mut tx, flag_id) = store::submit(
        db,
        &Submission {
            id: e.id,
            form: &form_json,
            expected_revision,
            score: i64::from(outcome.score),
            grade: outcome.grade.as_str(),
            computed_grade: outcome.computed_grade.as_str(),
            override_reason: reason,
            assignment_id: e.assignment_id,
            flag_due_at_ms,
            agent_id: e.agent_id,
            result_started_at_ms: is_result(e).then_some(e.started_at_ms),
            grader_id: e.grader_id,
            state: &state,
            now_ms,
        },
    )
    .await
    .map_err(SubmitError::Save)?;
    if let Some(flag_id) = flag_id {
        tell_leads_of_flag(&mut tx, config, e, flag_id, outcome.grade, now_ms).await?;
    }
    tx.commit().await?;
    // The row as now stored, without reading it back.
    let stored = EvaluationRow {
        status: "submitted".into(),
        form: form_json,
        score: Some(i64::from(outcome.score)),
        grade: Some(outcome.grade.as_str().into()),
        computed_grade: Some(outcome.computed_grade.as_str().into()),
        override_reason: reason.map(str::to_string),
        revision: e.revision + 1,
        updated_at_ms: now_ms,
        submitted_at_ms: Some(now_ms),
        ..e.clone()
    };
    Ok((stored, outcome, heard))
}

/// Tells the agent's team lead that a call of theirs came out poor or severe and waits for
/// coaching, in the submission's transaction.
async fn tell_leads_of_flag(
    tx: &mut crate::store::Tx,
    config: &Config,
    e: &EvaluationRow,
    flag_id: i64,
    grade: grading::Grade,
    now_ms: i64,
) -> anyhow::Result<()> {
    let leads = crate::store::notifications::team_leads_of(tx, e.agent_id).await?;
    if leads.is_empty() {
        return Ok(());
    }
    let (en, zh) = (grade.as_str(), grade.zh());
    let notice = crate::publication::Notice {
        kind: "flag_raised",
        en: format!(
            "Call {} of {} was graded {en} by {}: coach the agent and record the outcome.",
            e.call_id, e.agent_name, e.grader_name
        ),
        zh: format!(
            "{}的通话 {} 被{}评为“{zh}”，请辅导该坐席并记录结果。",
            e.agent_name, e.call_id, e.grader_name
        ),
        link: format!("#/flags/{flag_id}"),
        details: serde_json::json!({
            "flag_id": flag_id, "evaluation_id": e.id, "call_id": e.call_id,
            "agent": e.agent, "grade": en,
        }),
    };
    crate::publication::send(
        tx,
        config,
        &leads,
        &notice,
        &format!("flag:{flag_id}"),
        now_ms,
    )
    .await
}

/// The calendar day (center time) of an instant.
pub fn local_date(ms: i64, tz: chrono_tz::Tz) -> chrono::NaiveDate {
    tz.timestamp_millis_opt(ms)
        .single()
        .map_or(chrono::NaiveDate::MIN, |t| t.date_naive())
}
