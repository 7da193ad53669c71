//! Publishing a month over the store: the supervisor's policy, the deadlines it gives, the
//! notices that go with each event (in the app, and to the webhook when one is set), and
//! the periodic check for overdue appeals and missing acknowledgements.

use chrono::TimeZone;
use serde_json::{Value, json};

use crate::config::Config;
use crate::domain::publication::{self, Period, Policy};
use crate::store::notifications as notices;
use crate::store::publication::{self as store, NewPublication};
use crate::store::{Db, Tx, appeals};

const POLICY_SETTING: &str = "publication";

/// The policy in force: the supervisor's, or the defaults.
pub async fn policy(db: &Db) -> anyhow::Result<Policy> {
    match store::get_setting(db, POLICY_SETTING).await? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| anyhow::anyhow!("stored publication policy does not parse: {e}")),
        None => Ok(Policy::default()),
    }
}

pub async fn set_policy(db: &Db, p: &Policy, by: i64, now_ms: i64) -> anyhow::Result<()> {
    store::put_setting(db, POLICY_SETTING, &serde_json::to_string(p)?, by, now_ms).await?;
    Ok(())
}

/// The instant a period that starts at `start_ms` ends, counted in the center's local time.
pub fn deadline_ms(start_ms: i64, period: Period, policy: &Policy, tz: chrono_tz::Tz) -> i64 {
    let Some(start) = tz.timestamp_millis_opt(start_ms).single() else {
        return start_ms;
    };
    let end = publication::deadline(start.naive_local(), period, &policy.calendar());
    match tz.from_local_datetime(&end) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.timestamp_millis()
        }
        // A local time skipped by a clock change: the instant it would have been in UTC
        // offset terms is close enough, and never earlier than intended by more than the jump.
        chrono::LocalResult::None => tz.from_utc_datetime(&end).timestamp_millis(),
    }
}

/// A notice for the app and the webhook: the event, texts in both languages, where it
/// leads in the web app, and its details.
pub struct Notice {
    pub kind: &'static str,
    pub en: String,
    pub zh: String,
    pub link: String,
    pub details: Value,
}

impl Notice {
    fn payload(&self) -> Value {
        json!({
            "text_en": self.en,
            "text_zh": self.zh,
            "link": self.link,
            "details": self.details,
        })
    }
}

/// Writes a notice for `users` (and the webhook event) in the event's transaction.
pub async fn send(
    tx: &mut Tx,
    config: &Config,
    users: &[i64],
    notice: &Notice,
    dedupe_key: &str,
    now_ms: i64,
) -> anyhow::Result<()> {
    let payload = notice.payload();
    notices::notify(
        tx,
        users,
        notice.kind,
        &payload.to_string(),
        dedupe_key,
        now_ms,
    )
    .await?;
    if config.webhook_url.is_some() {
        let event = json!({
            "event": notice.kind,
            "at_ms": now_ms,
            "recipients": users.len(),
            "text_en": notice.en,
            "text_zh": notice.zh,
            "details": notice.details,
        });
        notices::enqueue_webhook(tx, notice.kind, &event.to_string(), dedupe_key, now_ms).await?;
    }
    Ok(())
}

/// An instant for a notice's text (center time, to the minute).
pub fn local_text(ms: i64, tz: chrono_tz::Tz) -> String {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

pub struct Published {
    pub publication_id: i64,
    pub agents: usize,
}

/// Publishes `month` for the agents of `teams` (all agents when `None`) not published yet,
/// with deadlines from the policy in force, and tells each agent.
pub async fn publish(
    db: &Db,
    config: &Config,
    month: crate::domain::month::Month,
    teams: Option<(&[i64], &[String])>,
    by: i64,
    now_ms: i64,
) -> anyhow::Result<Option<Published>> {
    let tz = config.time_zone;
    let policy = policy(db).await?;
    let closes = deadline_ms(now_ms, policy.appeal_window, &policy, tz);
    let ack_due = deadline_ms(now_ms, policy.acknowledge_within, &policy, tz);
    let month_text = month.to_string();
    let team_names = teams
        .map(|(_, names)| serde_json::to_string(names))
        .transpose()?;
    let policy_json = serde_json::to_string(&policy)?;
    let mut tx = db.begin_write().await?;
    let Some((id, agents)) = store::insert_publication(
        &mut tx,
        &NewPublication {
            month: &month_text,
            range_ms: month.range_ms(tz),
            teams: team_names.as_deref(),
            team_ids: teams.map(|(ids, _)| ids),
            by,
            now_ms,
            appeal_closes_at_ms: closes,
            acknowledge_due_at_ms: ack_due,
            policy: &policy_json,
        },
    )
    .await?
    else {
        tx.rollback().await?;
        return Ok(None);
    };
    let to_acknowledge: Vec<i64> = agents.iter().filter(|a| a.1).map(|a| a.0).collect();
    let without_result: Vec<i64> = agents.iter().filter(|a| !a.1).map(|a| a.0).collect();
    let notice = Notice {
        kind: "published",
        en: format!(
            "Your results for {month_text} are published. Please acknowledge them by {}; \
             appeals close {}.",
            local_text(ack_due, tz),
            local_text(closes, tz)
        ),
        zh: format!(
            "您{month_text}的考核结果已公布。请在{}前确认；申诉截止时间为{}。",
            local_text(ack_due, tz),
            local_text(closes, tz)
        ),
        link: format!("#/results/{month_text}"),
        details: json!({ "month": month_text, "publication_id": id, "acknowledge": true }),
    };
    if !to_acknowledge.is_empty() {
        send(
            &mut tx,
            config,
            &to_acknowledge,
            &notice,
            &format!("published:{id}"),
            now_ms,
        )
        .await?;
    }
    // An agent without a counting evaluation has no result to sign off, but may still see
    // the month's other evaluations (spot-checks, pulls) and appeal one.
    let notice = Notice {
        kind: "published",
        en: format!(
            "Your month {month_text} is published. No evaluation of it counts towards your \
             score and pay, so there is nothing to acknowledge; appeals close {}.",
            local_text(closes, tz)
        ),
        zh: format!(
            "您{month_text}的考核已公布。本月没有计入得分和奖金的评估，无需确认；申诉截止时间为{}。",
            local_text(closes, tz)
        ),
        link: format!("#/results/{month_text}"),
        details: json!({ "month": month_text, "publication_id": id, "acknowledge": false }),
    };
    if !without_result.is_empty() {
        send(
            &mut tx,
            config,
            &without_result,
            &notice,
            &format!("published:{id}:nothing_to_acknowledge"),
            now_ms,
        )
        .await?;
    }
    crate::scoring::request(
        &mut tx,
        &month_text,
        crate::scoring::Cause::Published,
        &format!("publication #{id}"),
        Some(by),
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Published {
        publication_id: id,
        agents: agents.len(),
    }))
}

/// How far back the deadline check looks for unfinished queue items.
const UNFINISHED_LOOKBACK_MS: i64 = 7 * 86_400_000;

/// Tells the panel and the supervisors about appeals past their deadline, team leads about
/// agents who have not acknowledged by theirs, and the supervisors about coaching and queue
/// items left undone past their due time. Each is told once; safe to run at any time.
pub async fn check_deadlines(db: &Db, config: &Config, now_ms: i64) -> anyhow::Result<usize> {
    let supervisors = appeals::users_with_role(db, "supervisor").await?;
    let mut panel = appeals::users_with_role(db, "panel").await?;
    panel.extend(&supervisors);
    let mut tx = db.begin_write().await?;
    let mut sent = 0;
    for (appeal_id, call_id) in appeals::take_overdue(&mut tx, now_ms).await? {
        let notice = Notice {
            kind: "appeal_overdue",
            en: format!("Appeal #{appeal_id} (call {call_id}) is past its deadline."),
            zh: format!("申诉 #{appeal_id}（通话 {call_id}）已超过答复期限。"),
            link: format!("#/appeals/{appeal_id}"),
            details: json!({ "appeal_id": appeal_id, "call_id": call_id }),
        };
        send(
            &mut tx,
            config,
            &panel,
            &notice,
            &format!("appeal_overdue:{appeal_id}"),
            now_ms,
        )
        .await?;
        sent += 1;
    }
    for (publication_id, month, missing) in
        store::take_missing_acknowledgements(&mut tx, now_ms).await?
    {
        // One notice per lead, naming their agents.
        let mut by_lead: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
        for (lead, _agent, name) in missing {
            by_lead.entry(lead).or_default().push(name);
        }
        for (lead, names) in by_lead {
            let notice = Notice {
                kind: "acknowledgements_missing",
                en: format!(
                    "{} of your agents have not acknowledged {month}: {}.",
                    names.len(),
                    names.join(", ")
                ),
                zh: format!(
                    "您的团队有{}名坐席尚未确认{month}的考核结果：{}。",
                    names.len(),
                    names.join("、")
                ),
                link: format!("#/months/{month}/acknowledgements"),
                details: json!({ "month": month, "publication_id": publication_id, "agents": names }),
            };
            send(
                &mut tx,
                config,
                &[lead],
                &notice,
                &format!("ack_missing:{publication_id}"),
                now_ms,
            )
            .await?;
            sent += 1;
        }
    }
    sent += tell_overdue_work(&mut tx, config, &supervisors, now_ms).await?;
    tx.commit().await?;
    Ok(sent)
}

/// The supervisors' notices of coaching and grading left undone past their due time.
async fn tell_overdue_work(
    tx: &mut Tx,
    config: &Config,
    supervisors: &[i64],
    now_ms: i64,
) -> anyhow::Result<usize> {
    let tz = config.time_zone;
    let mut sent = 0;
    for f in notices::take_overdue_coaching(tx, now_ms).await? {
        let due = local_text(f.due_at_ms, tz);
        let notice = Notice {
            kind: "coaching_overdue",
            en: format!(
                "Coaching of {} on call {} was due {due} and is not recorded.",
                f.agent_name, f.call_id
            ),
            zh: format!(
                "{}的通话 {} 应在{due}前完成辅导，至今未记录。",
                f.agent_name, f.call_id
            ),
            link: format!("#/flags/{}", f.flag_id),
            details: json!({ "flag_id": f.flag_id, "call_id": f.call_id }),
        };
        let key = format!("coaching_overdue:{}", f.flag_id);
        send(tx, config, supervisors, &notice, &key, now_ms).await?;
        sent += 1;
    }
    let since = now_ms - UNFINISHED_LOOKBACK_MS;
    for w in notices::take_unfinished_work(tx, now_ms, since).await? {
        let total: i64 = w.by_grader.iter().map(|g| g.1).sum();
        let due = local_text(w.due_at_ms, tz);
        let list = |unassigned: &str, sep: &str| {
            w.by_grader
                .iter()
                .map(|(name, n)| format!("{} {n}", name.as_deref().unwrap_or(unassigned)))
                .collect::<Vec<_>>()
                .join(sep)
        };
        let (plan_en, plan_zh) = match &w.plan_name {
            Some(name) => (format!("plan “{name}”"), format!("计划“{name}”")),
            None => ("pulled calls".to_string(), "调取的通话".to_string()),
        };
        let notice = Notice {
            kind: "work_overdue",
            en: if total == 1 {
                format!(
                    "1 evaluation of {plan_en} was due {due} and is unfinished: {}.",
                    list("unassigned", ", ")
                )
            } else {
                format!(
                    "{total} evaluations of {plan_en} were due {due} and are unfinished: {}.",
                    list("unassigned", ", ")
                )
            },
            zh: format!(
                "{plan_zh}有{total}条评估应在{due}前完成，尚未完成：{}。",
                list("未分配", "、")
            ),
            link: w
                .plan_id
                .map_or_else(|| "#/plans".to_string(), |id| format!("#/plans/{id}")),
            details: json!({ "plan_id": w.plan_id, "due_at_ms": w.due_at_ms, "unfinished": total }),
        };
        let key = format!(
            "work_overdue:{}:{}",
            w.plan_id.map_or("pulls".to_string(), |id| id.to_string()),
            w.due_at_ms
        );
        send(tx, config, supervisors, &notice, &key, now_ms).await?;
        sent += 1;
    }
    Ok(sent)
}

/// Longest wait between two delivery attempts of one event.
const MAX_RETRY_MS: i64 = 3_600_000;

/// Posts due webhook events, oldest first; a failed one is retried later with a growing
/// pause (1 s, 2 s, 4 s, ... up to an hour). Safe on every node at once: each event is
/// claimed before it is posted. Returns how many this call delivered.
pub async fn deliver_webhooks(
    db: &Db,
    config: &Config,
    client: &reqwest::Client,
) -> anyhow::Result<usize> {
    let Some(url) = config.webhook_url.as_deref() else {
        return Ok(0);
    };
    let mut delivered = 0;
    for item in notices::due_webhooks(db, config.clock.now_ms(), 100).await? {
        // Every node delivers; each event is posted by the one that claims it.
        if !notices::claim_webhook(db, item.id, config.clock.now_ms()).await? {
            continue;
        }
        let sent = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Callgrade-Event", &item.event)
            // The same id on a retry: a receiver that saw it already can ignore it.
            .header("X-Callgrade-Delivery", item.id.to_string())
            .body(item.payload.clone())
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await;
        let outcome = match sent {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(format!("the receiver answered {}", resp.status())),
            Err(e) => Err(format!("could not post: {e}")),
        };
        let now = config.clock.now_ms();
        let pause = (1_000i64 << item.attempts.clamp(0, 20)).min(MAX_RETRY_MS);
        if outcome.is_ok() {
            delivered += 1;
        } else if let Err(e) = &outcome {
            tracing::warn!(
                event = item.event,
                id = item.id,
                error = e,
                "webhook delivery failed"
            );
        }
        let outcome = outcome.as_ref().map(|_| ()).map_err(String::as_str);
        notices::webhook_attempted(db, item.id, outcome, now, now + pause).await?;
    }
    Ok(delivered)
}
