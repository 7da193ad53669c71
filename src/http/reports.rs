//! Reports as tables, each as JSON (for the pages and their charts), CSV or XLSX:
//! `GET /api/reports/{name}?month=YYYY-MM&format=json|csv|xlsx&lang=en|zh-CN`.
//!
//! - `payroll`: agent, month, service-quality score, pay, overall score, level (what payroll
//!   needs), with the evaluation count and the score's interval;
//! - `teams`: team comparison (agents, mean service quality, mean overall, pay, levels);
//! - `grades`: the grade distribution per team;
//! - `deductions`: which deduction items cost the most points, per team;
//! - `leads`: the leads' assessments (missing spot-checks, penalty, team points);
//! - `graders`: grader consistency from calibration (Krippendorff's alpha per group);
//! - `sampling`: the month's sampling plans, per grader: drawn, graded, remaining, overdue;
//! - `trend` (with `agent=`): one agent's last 12 months.
//!
//! Each person sees the rows within their scope: supervisors the center, team leads their
//! team, agents themselves.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::auth::CurrentUser;
use super::extract::{Path, Query};
use super::scores::{parse_month, score_scope};
use crate::app::AppState;
use crate::domain::grading::{Form, Grade};
use crate::domain::month::Month;
use crate::domain::org::Role;
use crate::error::{AppError, AppResult};
use crate::export::{Cell, Lang, Table, col};
use crate::store::scoring as store;
use crate::store::users::User;

pub fn router() -> Router<AppState> {
    Router::new().route("/reports/{name}", get(report))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    month: Option<String>,
    agent: Option<String>,
    format: Option<String>,
    lang: Option<String>,
}

async fn report(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(name): Path<String>,
    Query(q): Query<ReportQuery>,
) -> AppResult<Response> {
    let lang = match q.lang.as_deref() {
        Some("zh-CN" | "zh") => Lang::Zh,
        _ => Lang::En,
    };
    let month = || -> AppResult<Month> {
        parse_month(q.month.as_deref().ok_or_else(|| {
            // The document cannot say "required unless graders or trend": a missing month
            // fits it, so it is a 422 like every rule beyond the document.
            AppError::unprocessable("invalid_query", "month=YYYY-MM is required")
        })?)
    };
    let table = match name.as_str() {
        "payroll" => payroll(&state, &user, month()?, lang).await?,
        "teams" => teams(&state, &user, month()?).await?,
        "grades" => grades(&state, &user, month()?).await?,
        "deductions" => deductions(&state, &user, month()?, lang).await?,
        "leads" => leads(&state, &user, month()?).await?,
        "graders" => graders(&state, &user, lang).await?,
        "sampling" => sampling(&state, &user, month()?).await?,
        "trend" => {
            trend(
                &state,
                &user,
                q.agent.as_deref().unwrap_or(""),
                q.month.as_deref(),
                lang,
            )
            .await?
        }
        _ => return Err(AppError::not_found("report")),
    };
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(axum::Json(table).into_response()),
        "csv" => Ok(download(
            table.to_csv(lang)?,
            "text/csv; charset=utf-8",
            &format!("{}.csv", table.name),
        )),
        "xlsx" => Ok(download(
            table.to_xlsx(lang)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &format!("{}.xlsx", table.name),
        )),
        other => Err(AppError::bad_request(
            "invalid_query",
            format!("format is json, csv or xlsx, not {other:?}"),
        )),
    }
}

fn download(bytes: Vec<u8>, content_type: &'static str, file: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The month's newest scores within the caller's scope.
async fn current_scores(
    state: &AppState,
    user: &User,
    month: Month,
) -> AppResult<Vec<store::AgentScoreRow>> {
    let scope = score_scope(user)?;
    match store::runs(&state.db, &month.to_string()).await?.first() {
        Some(run) => Ok(store::agent_scores(&state.db, run.id, scope).await?),
        None => Ok(Vec::new()),
    }
}

/// A level as the reader of the file says it; a month not complete has none.
fn level_cell(level: Option<&str>, lang: Lang) -> Cell {
    match (level, level.and_then(crate::domain::scoring::Level::parse)) {
        (None, _) if lang == Lang::Zh => "未完成".into(),
        (None, _) => "incomplete".into(),
        (Some(_), Some(l)) if lang == Lang::Zh => l.name_zh().into(),
        (Some(level), _) => level.into(),
    }
}

/// The overall score only once every part of it is in; blank while incomplete (the level
/// column says so and the missing column says what is missing).
fn overall_cell(s: &store::AgentScore) -> Cell {
    s.complete.then_some(s.overall).into()
}

/// The parts of the overall score that had no value (component codes, `service_quality`).
fn missing_cell(s: &store::AgentScore) -> Cell {
    let detail: serde_json::Value = serde_json::from_str(&s.detail).unwrap_or_default();
    let missing: Vec<&str> = detail["missing"]
        .as_array()
        .map(|m| m.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    missing.join(", ").into()
}

async fn payroll(state: &AppState, user: &User, month: Month, lang: Lang) -> AppResult<Table> {
    let rows = current_scores(state, user, month).await?;
    Ok(Table {
        name: format!("payroll-{month}"),
        columns: vec![
            col("agent", "Agent", "坐席"),
            col("name", "Name", "姓名"),
            col("team", "Team", "班组"),
            col("month", "Month", "月份"),
            col("evaluations", "Evaluations counted", "计入的评估数"),
            col("uncounted", "Evaluations not counted", "未计入的评估数"),
            col("service_quality", "Service-quality score", "服务质量得分"),
            col("interval_low", "95% interval low", "95%区间下限"),
            col("interval_high", "95% interval high", "95%区间上限"),
            col("pay", "Service-assessment pay", "服务考核奖金"),
            col("overall", "Overall score", "综合得分"),
            col("level", "Level", "级别"),
            col("missing", "Missing components", "缺少的组成部分"),
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.agent.clone().into(),
                    r.agent_name.clone().into(),
                    r.team.clone().into(),
                    r.month.clone().into(),
                    r.score.evaluations.into(),
                    r.score.uncounted.into(),
                    r.score.sq_score.into(),
                    r.score.sq_low.into(),
                    r.score.sq_high.into(),
                    r.score.pay.into(),
                    overall_cell(&r.score),
                    level_cell(r.score.level.as_deref(), lang),
                    missing_cell(&r.score),
                ]
            })
            .collect(),
    })
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| (xs.iter().sum::<f64>() / xs.len() as f64 * 100.0).round() / 100.0)
}

async fn teams(state: &AppState, user: &User, month: Month) -> AppResult<Table> {
    let rows = current_scores(state, user, month).await?;
    #[derive(Default)]
    struct Acc {
        agents: i64,
        sq: Vec<f64>,
        overall: Vec<f64>,
        pay: i64,
        levels: BTreeMap<String, i64>,
    }
    let mut by_team: BTreeMap<String, Acc> = BTreeMap::new();
    for r in &rows {
        let acc = by_team
            .entry(r.team.clone().unwrap_or_default())
            .or_default();
        acc.agents += 1;
        acc.sq.extend(r.score.sq_score);
        if r.score.complete {
            acc.overall.push(r.score.overall);
        }
        acc.pay += r.score.pay;
        let level = r.score.level.as_deref().unwrap_or("incomplete");
        *acc.levels.entry(level.to_string()).or_default() += 1;
    }
    Ok(Table {
        name: format!("teams-{month}"),
        columns: vec![
            col("team", "Team", "班组"),
            col("agents", "Agents", "坐席数"),
            col(
                "service_quality",
                "Mean service quality",
                "平均服务质量得分",
            ),
            col(
                "overall",
                "Mean overall score (complete months)",
                "平均综合得分（已完整）",
            ),
            col("pay", "Total pay", "奖金合计"),
            col("star", "Star", "星级"),
            col("level_1", "Level 1", "一级"),
            col("level_2", "Level 2", "二级"),
            col("ordinary", "Ordinary", "普通"),
            col("incomplete", "Incomplete", "未完成"),
        ],
        rows: by_team
            .iter()
            .map(|(team, a)| {
                let level = |l: &str| Cell::from(a.levels.get(l).copied().unwrap_or(0));
                vec![
                    team.clone().into(),
                    a.agents.into(),
                    mean(&a.sq).into(),
                    mean(&a.overall).into(),
                    a.pay.into(),
                    level("star"),
                    level("one"),
                    level("two"),
                    level("ordinary"),
                    level("incomplete"),
                ]
            })
            .collect(),
    })
}

async fn grades(state: &AppState, user: &User, month: Month) -> AppResult<Table> {
    let scope = score_scope(user)?;
    let forms = store::month_forms(&state.db, &month.to_string(), scope).await?;
    let mut by_team: BTreeMap<String, [i64; 5]> = BTreeMap::new();
    for (team, _, _, grade) in &forms {
        if let Some(g) = grade.as_deref().and_then(Grade::parse) {
            by_team.entry(team.clone().unwrap_or_default()).or_default()[usize::from(g.rank())] +=
                1;
        }
    }
    Ok(Table {
        name: format!("grades-{month}"),
        columns: vec![
            col("team", "Team", "班组"),
            col("excellent", "Excellent", "优"),
            col("good", "Good", "良"),
            col("fair", "Fair", "中"),
            col("poor", "Poor", "差"),
            col("severe", "Severe", "劣"),
            col("total", "Total", "合计"),
        ],
        rows: by_team
            .iter()
            .map(|(team, counts)| {
                let mut row: Vec<Cell> = vec![team.clone().into()];
                row.extend(counts.iter().map(|&n| Cell::from(n)));
                row.push(counts.iter().sum::<i64>().into());
                row
            })
            .collect(),
    })
}

/// Points lost per team and deduction item, most costly first within each team.
async fn deductions(state: &AppState, user: &User, month: Month, lang: Lang) -> AppResult<Table> {
    let scope = score_scope(user)?;
    let forms = store::month_forms(&state.db, &month.to_string(), scope).await?;
    // (team, item) -> (label, occurrences, points)
    let mut acc: BTreeMap<(String, String), (String, i64, i64)> = BTreeMap::new();
    for (team, rubric_id, form, _) in &forms {
        let rubric = state.rubrics.get(&state.db, *rubric_id).await?;
        let Ok(form) = serde_json::from_str::<Form>(form) else {
            continue;
        };
        for d in &form.deductions {
            let Some(item) = rubric.item(&d.item) else {
                continue;
            };
            let factor = if item.doubles_on_complaint && d.caused_complaint {
                2
            } else {
                1
            };
            let label = if lang == Lang::Zh {
                item.name_zh.clone()
            } else {
                item.name_en.clone()
            };
            let entry = acc
                .entry((team.clone().unwrap_or_default(), d.item.clone()))
                .or_insert((label, 0, 0));
            entry.1 += i64::from(d.occurrences);
            entry.2 += i64::from(item.points) * i64::from(d.occurrences) * factor;
        }
    }
    let mut rows: Vec<_> = acc.into_iter().collect();
    rows.sort_by(|a, b| {
        a.0.0
            .cmp(&b.0.0)
            .then(b.1.2.cmp(&a.1.2))
            .then(a.0.1.cmp(&b.0.1))
    });
    Ok(Table {
        name: format!("deductions-{month}"),
        columns: vec![
            col("team", "Team", "班组"),
            col("item", "Item", "扣分项代码"),
            col("label", "Deduction item", "扣分项"),
            col("occurrences", "Occurrences", "次数"),
            col("points", "Points lost", "扣分合计"),
        ],
        rows: rows
            .into_iter()
            .map(|((team, item), (label, n, points))| {
                vec![
                    team.into(),
                    item.into(),
                    label.into(),
                    n.into(),
                    points.into(),
                ]
            })
            .collect(),
    })
}

async fn leads(state: &AppState, user: &User, month: Month) -> AppResult<Table> {
    let only = match user.role {
        Role::Supervisor => None,
        Role::TeamLead => Some(user.id),
        _ => {
            return Err(AppError::forbidden(
                "the leads' assessments are for supervisors and the leads",
            ));
        }
    };
    let rows = match store::runs(&state.db, &month.to_string()).await?.first() {
        Some(run) => store::lead_scores(&state.db, run.id, only).await?,
        None => Vec::new(),
    };
    Ok(Table {
        name: format!("leads-{month}"),
        columns: vec![
            col("lead", "Team lead", "班长"),
            col("name", "Name", "姓名"),
            col("team", "Team", "班组"),
            col("missing", "Missing spot-checks", "缺少抽检数"),
            col("penalty", "Penalty points", "扣分"),
            col(
                "team_points",
                "Team service-quality points",
                "班组服务质量分",
            ),
        ],
        rows: rows
            .iter()
            .map(|l| {
                vec![
                    l.lead.clone().into(),
                    l.lead_name.clone().into(),
                    l.team.clone().into(),
                    l.score.missing.into(),
                    l.score.penalty.into(),
                    l.score.team_sq_points.into(),
                ]
            })
            .collect(),
    })
}

async fn trend(
    state: &AppState,
    user: &User,
    agent: &str,
    to: Option<&str>,
    lang: Lang,
) -> AppResult<Table> {
    score_scope(user)?;
    let agent = crate::store::users::find_agent(&state.db, agent)
        .await?
        .filter(|a| user.viewer().can_see_agent(a.id, a.team_id))
        .ok_or_else(|| AppError::not_found("agent"))?;
    let to = match to.filter(|t| !t.is_empty()) {
        Some(t) => parse_month(t)?,
        None => Month::containing(state.config.clock.now_ms(), state.config.time_zone),
    };
    let mut from = to;
    for _ in 1..crate::scoring::HISTORY_MONTHS {
        from = from.prev();
    }
    let rows = store::agent_trend(&state.db, agent.id, &from.to_string(), &to.to_string()).await?;
    Ok(Table {
        name: format!("trend-{}-{to}", agent.username),
        columns: vec![
            col("month", "Month", "月份"),
            col("evaluations", "Evaluations", "评估数"),
            col("service_quality", "Service-quality score", "服务质量得分"),
            col("interval_low", "95% interval low", "95%区间下限"),
            col("interval_high", "95% interval high", "95%区间上限"),
            col("overall", "Overall score", "综合得分"),
            col("level", "Level", "级别"),
            col("pay", "Service-assessment pay", "服务考核奖金"),
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.month.clone().into(),
                    r.score.evaluations.into(),
                    r.score.sq_score.into(),
                    r.score.sq_low.into(),
                    r.score.sq_high.into(),
                    overall_cell(&r.score),
                    level_cell(r.score.level.as_deref(), lang),
                    r.score.pay.into(),
                ]
            })
            .collect(),
    })
}

/// A calibration group's name in the report's language.
fn group_name(group: &str, lang: Lang) -> &str {
    match (group, lang) {
        ("all", Lang::Zh) => "全体",
        ("all", _) => "Everybody",
        ("inspectors", Lang::Zh) => "质检员",
        ("inspectors", _) => "QA inspectors",
        ("team_leads", Lang::Zh) => "班长",
        ("team_leads", _) => "Team leads",
        (other, _) => other,
    }
}

async fn graders(state: &AppState, user: &User, lang: Lang) -> AppResult<Table> {
    if user.role != Role::Supervisor {
        return Err(AppError::forbidden("grader consistency is for supervisors"));
    }
    let groups = super::calibrations::agreement_groups(&state.db).await?;
    Ok(Table {
        name: "grader-consistency".into(),
        columns: vec![
            col("group", "Graders", "评分人组"),
            col("sessions", "Calibration sessions", "校准次数"),
            col("gradings", "Gradings", "评分数"),
            col(
                "alpha",
                "Krippendorff's alpha (ordinal)",
                "克里彭多夫α（有序）",
            ),
        ],
        rows: groups
            .into_iter()
            .map(|(group, sessions, gradings, alpha)| {
                vec![
                    group_name(group, lang).into(),
                    i64::try_from(sessions).unwrap_or(i64::MAX).into(),
                    i64::try_from(gradings).unwrap_or(i64::MAX).into(),
                    alpha.map(|a| (a * 1000.0).round() / 1000.0).into(),
                ]
            })
            .collect(),
    })
}

async fn sampling(state: &AppState, user: &User, month: Month) -> AppResult<Table> {
    if !matches!(user.role, Role::Supervisor | Role::TeamLead) {
        return Err(AppError::forbidden(
            "sampling progress is for supervisors and team leads",
        ));
    }
    let now = state.config.clock.now_ms();
    let mut rows = Vec::new();
    for plan in crate::store::sampling::list_plans(&state.db, Some(&month.to_string())).await? {
        for (grader, name, drawn, graded, overdue) in
            crate::store::sampling::grader_progress(&state.db, plan.id, now).await?
        {
            // A lead sees their own line of each plan.
            if user.role == Role::TeamLead && grader.as_deref() != Some(user.username.as_str()) {
                continue;
            }
            rows.push(vec![
                plan.spec.name.clone().into(),
                grader.into(),
                name.into(),
                drawn.into(),
                graded.into(),
                (drawn - graded).into(),
                overdue.into(),
            ]);
        }
    }
    Ok(Table {
        name: format!("sampling-{month}"),
        columns: vec![
            col("plan", "Plan", "抽检计划"),
            col("grader", "Grader", "评分人"),
            col("name", "Name", "姓名"),
            col("drawn", "Drawn", "已抽取"),
            col("graded", "Graded", "已评分"),
            col("remaining", "Remaining", "剩余"),
            col("overdue", "Overdue", "逾期"),
        ],
        rows,
    })
}
