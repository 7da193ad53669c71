//! Pulls: a call put into a grader's queue by hand (a complaint, a hunch, an appeal's blind
//! re-grade), with the notice that tells the grader, in one transaction.

use serde_json::json;

use crate::config::Config;
use crate::publication::{Notice, local_text, send};
use crate::store::Db;
use crate::store::sampling::{self as store, NewPull, PullError};

/// Queues `p` for its grader and, when someone else pulled it, tells the grader why and by
/// when. Returns the assignment's id.
pub async fn pull(
    db: &Db,
    config: &Config,
    p: &NewPull<'_>,
    call_id: &str,
    by_name: &str,
) -> Result<i64, PullError> {
    let (mut tx, id) = store::insert_pull(db, p).await?;
    if p.grader_id != p.created_by {
        let due = local_text(p.due_at_ms, config.time_zone);
        let notice = Notice {
            kind: "pull_assigned",
            en: format!(
                "{by_name} put call {call_id} in your queue, due {due}. Why: {}",
                p.reason
            ),
            zh: format!(
                "{by_name}将通话 {call_id} 加入了您的待评队列，请在{due}前完成。原因：{}",
                p.reason
            ),
            link: "#/queue".into(),
            details: json!({ "assignment_id": id, "call_id": call_id }),
        };
        send(
            &mut tx,
            config,
            &[p.grader_id],
            &notice,
            &format!("pull:{id}"),
            p.now_ms,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}
