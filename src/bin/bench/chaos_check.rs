//! What `bench chaos` checks after each restart of the killed server, reading the database
//! and the blob folder directly:
//! - every acknowledged upload is stored with the bytes that were sent (sha256 and size);
//! - no uploaded recording's row lacks its bytes, acknowledged or not;
//! - every acknowledged submit, appeal and decision is there as it was answered;
//! - every evaluation is the replay of its revisions (drafts have none);
//! - on SQLite, `PRAGMA integrity_check` and `PRAGMA foreign_key_check` find nothing.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use callgrade::blobs::{BlobStore, LocalBlobs};
use callgrade::domain::audit::{EvaluationState, Step, replay};
use callgrade::domain::grading::Form;
use callgrade::store::{Backend, Db};
use sha2::{Digest, Sha256};
use sqlx::Row;

pub struct AckedUpload {
    pub call_id: String,
    pub sha256: String,
    pub size: u64,
}

pub struct AckedSubmit {
    pub evaluation_id: i64,
    pub score: Option<i64>,
    pub grade: Option<String>,
}

pub struct AckedAppeal {
    pub appeal_id: i64,
    pub evaluation_id: i64,
}

pub struct AckedDecision {
    pub appeal_id: i64,
    pub outcome: String,
}

/// Every write a client was told had landed.
#[derive(Default)]
pub struct Ledger {
    pub uploads: Vec<AckedUpload>,
    pub submits: Vec<AckedSubmit>,
    pub appeals: Vec<AckedAppeal>,
    pub decisions: Vec<AckedDecision>,
}

impl Ledger {
    pub fn append(&mut self, other: Ledger) {
        self.uploads.extend(other.uploads);
        self.submits.extend(other.submits);
        self.appeals.extend(other.appeals);
        self.decisions.extend(other.decisions);
    }
}

#[derive(Default)]
pub struct Findings {
    /// Acknowledged writes missing or different.
    pub lost: Vec<String>,
    /// Stored data that contradicts itself (a row without its bytes, a broken trail).
    pub inconsistent: Vec<String>,
    pub integrity_checks: u64,
    pub integrity_failures: u64,
}

impl Findings {
    pub fn is_clean(&self) -> bool {
        self.lost.is_empty() && self.inconsistent.is_empty() && self.integrity_failures == 0
    }

    pub fn merge(&mut self, other: Findings) {
        self.lost.extend(other.lost);
        self.inconsistent.extend(other.inconsistent);
        self.integrity_checks += other.integrity_checks;
        self.integrity_failures += other.integrity_failures;
    }

    pub fn summary(&self) -> String {
        format!(
            "{} lost, {} inconsistent, {} integrity failures",
            self.lost.len(),
            self.inconsistent.len(),
            self.integrity_failures
        )
    }

    pub fn integrity_text(&self) -> String {
        if self.integrity_checks == 0 {
            "not run (PostgreSQL)".into()
        } else {
            format!(
                "{} of {} ok",
                self.integrity_checks - self.integrity_failures,
                self.integrity_checks
            )
        }
    }
}

/// Checks across rounds. A blob's bytes are hashed once; later rounds check that it is
/// still there with its size (a stat), which is what a later crash or sweep could change.
#[derive(Default)]
pub struct Checker {
    hashed: HashSet<String>,
}

impl Checker {
    /// Opens the store as the next server would (the killed one's state, recovered) and
    /// closes it again, so the next kill hits a database nobody else holds open.
    pub async fn verify(
        &mut self,
        data_dir: &Path,
        url: Option<&str>,
        ledger: &Ledger,
    ) -> anyhow::Result<Findings> {
        let db = Db::open(url, data_dir).await?;
        let blobs = LocalBlobs::open(data_dir)?;
        let mut found = Findings::default();
        let checked = async {
            self.recordings(&db, &blobs, ledger, &mut found).await?;
            evaluations(&db, ledger, &mut found).await?;
            appeals(&db, ledger, &mut found).await?;
            if db.backend == Backend::Sqlite {
                integrity(&db, &mut found).await?;
            }
            anyhow::Ok(())
        }
        .await;
        db.close().await;
        checked?;
        Ok(found)
    }

    async fn recordings(
        &mut self,
        db: &Db,
        blobs: &LocalBlobs,
        ledger: &Ledger,
        found: &mut Findings,
    ) -> anyhow::Result<()> {
        let rows = sqlx::query(
            "SELECT call_id, sha256, size_bytes, blob_key FROM recordings \
             WHERE call_id LIKE 'CHAOS-UP-%'",
        )
        .fetch_all(&db.pool)
        .await?;
        let mut stored: HashMap<String, (String, i64)> = HashMap::new();
        for r in rows {
            let call_id: String = r.try_get("call_id")?;
            let sha: String = r.try_get("sha256")?;
            let size: i64 = r.try_get("size_bytes")?;
            let key: String = r.try_get("blob_key")?;
            match self.bytes_problem(blobs, &key, &sha, size) {
                Ok(None) => {}
                Ok(Some(problem)) => found
                    .inconsistent
                    .push(format!("recording {call_id}: {problem}")),
                Err(e) => found.inconsistent.push(format!("recording {call_id}: {e}")),
            }
            stored.insert(call_id, (sha, size));
        }
        for up in &ledger.uploads {
            match stored.get(&up.call_id) {
                None => found
                    .lost
                    .push(format!("upload {} was acknowledged; no row", up.call_id)),
                Some((sha, size)) if *sha != up.sha256 || *size != up.size as i64 => {
                    found.lost.push(format!(
                        "upload {} is stored as {sha} ({size} bytes), not what was sent",
                        up.call_id
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Whether a row's bytes are missing or differ from what the row says.
    fn bytes_problem(
        &mut self,
        blobs: &LocalBlobs,
        key: &str,
        sha: &str,
        size: i64,
    ) -> anyhow::Result<Option<String>> {
        let path = blobs.path(key)?;
        let Ok(meta) = std::fs::metadata(&path) else {
            return Ok(Some(format!("the row's bytes ({key}) are missing")));
        };
        if meta.len() as i64 != size {
            return Ok(Some(format!(
                "{} bytes stored, the row says {size}",
                meta.len()
            )));
        }
        if self.hashed.contains(key) {
            return Ok(None);
        }
        let actual = hex::encode(Sha256::digest(std::fs::read(&path)?));
        if actual != sha {
            return Ok(Some(format!("bytes hash to {actual}, the row says {sha}")));
        }
        self.hashed.insert(key.to_string());
        Ok(None)
    }
}

fn state(json: &str) -> anyhow::Result<EvaluationState> {
    Ok(serde_json::from_str::<EvaluationState>(json)?)
}

async fn evaluations(db: &Db, ledger: &Ledger, found: &mut Findings) -> anyhow::Result<()> {
    let mut trails: HashMap<i64, Vec<(Step, String)>> = HashMap::new();
    let rows = sqlx::query(
        "SELECT evaluation_id, seq, kind, old_value, new_value FROM evaluation_revisions \
         ORDER BY evaluation_id, seq",
    )
    .fetch_all(&db.pool)
    .await?;
    for r in rows {
        let old: Option<String> = r.try_get("old_value")?;
        let step = Step {
            seq: r.try_get("seq")?,
            old: old.as_deref().map(state).transpose()?,
            new: state(&r.try_get::<String, _>("new_value")?)?,
        };
        trails
            .entry(r.try_get("evaluation_id")?)
            .or_default()
            .push((step, r.try_get("kind")?));
    }
    let rows = sqlx::query(
        "SELECT id, status, form, score, grade, computed_grade, override_reason FROM evaluations",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut statuses: HashMap<i64, String> = HashMap::new();
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let status: String = r.try_get("status")?;
        let row = (status != "draft")
            .then(|| -> anyhow::Result<EvaluationState> {
                Ok(EvaluationState {
                    status: status.clone(),
                    form: serde_json::from_str::<Form>(&r.try_get::<String, _>("form")?)?,
                    score: r.try_get("score")?,
                    grade: r.try_get("grade")?,
                    computed_grade: r.try_get("computed_grade")?,
                    override_reason: r.try_get("override_reason")?,
                }
                .normalized())
            })
            .transpose()?;
        let steps: Vec<Step> = trails
            .get(&id)
            .map(|t| t.iter().map(|(s, _)| s.clone()).collect())
            .unwrap_or_default();
        match replay(&steps) {
            Ok(replayed) if replayed == row => {}
            Ok(_) => found.inconsistent.push(format!(
                "evaluation {id} ({status}) is not the replay of its {} revisions",
                steps.len()
            )),
            Err(e) => found.inconsistent.push(format!("evaluation {id}: {e}")),
        }
        statuses.insert(id, status);
    }
    for s in &ledger.submits {
        let first = trails.get(&s.evaluation_id).and_then(|t| t.first());
        let landed = statuses.get(&s.evaluation_id).map(String::as_str) == Some("submitted")
            && first.is_some_and(|(step, kind)| {
                kind == "submit" && step.new.score == s.score && step.new.grade == s.grade
            });
        if !landed {
            found.lost.push(format!(
                "the submit of evaluation {} was acknowledged ({:?}, {:?}); it is not there",
                s.evaluation_id, s.score, s.grade
            ));
        }
    }
    Ok(())
}

async fn appeals(db: &Db, ledger: &Ledger, found: &mut Findings) -> anyhow::Result<()> {
    let rows = sqlx::query("SELECT id, evaluation_id, status, decision FROM appeals")
        .fetch_all(&db.pool)
        .await?;
    let mut stored: HashMap<i64, (i64, String, Option<String>)> = HashMap::new();
    for r in rows {
        stored.insert(
            r.try_get("id")?,
            (
                r.try_get("evaluation_id")?,
                r.try_get("status")?,
                r.try_get("decision")?,
            ),
        );
    }
    let decided_in_trail: HashSet<i64> = sqlx::query(
        "SELECT appeal_id FROM evaluation_revisions \
         WHERE kind = 'appeal_decision' AND appeal_id IS NOT NULL",
    )
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| r.try_get::<i64, _>(0))
    .collect::<Result<_, _>>()?;
    for a in &ledger.appeals {
        if stored.get(&a.appeal_id).map(|s| s.0) != Some(a.evaluation_id) {
            found.lost.push(format!(
                "appeal #{} of evaluation {} was acknowledged; it is not there",
                a.appeal_id, a.evaluation_id
            ));
        }
    }
    for d in &ledger.decisions {
        let decided = stored
            .get(&d.appeal_id)
            .is_some_and(|(_, status, decision)| {
                status == "decided" && decision.as_deref() == Some(d.outcome.as_str())
            });
        let changed = d.outcome == "upheld" || decided_in_trail.contains(&d.appeal_id);
        if !decided || !changed {
            found.lost.push(format!(
                "the decision ({}) of appeal #{} was acknowledged; it is not there",
                d.outcome, d.appeal_id
            ));
        }
    }
    Ok(())
}

async fn integrity(db: &Db, found: &mut Findings) -> anyhow::Result<()> {
    found.integrity_checks += 1;
    let rows = sqlx::query("PRAGMA integrity_check")
        .fetch_all(&db.pool)
        .await?;
    let answers: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    let dangling = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&db.pool)
        .await?
        .len();
    if answers != ["ok"] || dangling > 0 {
        found.integrity_failures += 1;
        found.inconsistent.push(format!(
            "integrity check: {}; {dangling} rows with dangling references",
            answers.join("; ")
        ));
    }
    Ok(())
}
