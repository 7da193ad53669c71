//! Service time limits per queue (domain.md: "each business type has a service time limit").
//! Calls carry their queue's name in their metadata; a supervisor sets a limit per name. A
//! call longer than its queue's limit is a candidate for the rubric's over-time-limit item:
//! the grading form suggests it and the grader confirms it by deducting it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::grading::Problem;

/// Most queues with a limit.
pub const MAX_QUEUES: usize = 500;
/// Longest queue name, as calls may carry (`domain::call`).
pub const MAX_QUEUE_LEN: usize = 128;
/// A limit is between one second and a day.
pub const LIMIT_SECONDS: std::ops::RangeInclusive<u32> = 1..=86_400;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueLimit {
    /// The queue's name exactly as calls carry it (after trimming, as ingest stores it).
    pub queue: String,
    pub limit_seconds: u32,
}

/// The setting: one limit per queue; queues not listed have none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueLimits {
    pub queues: Vec<QueueLimit>,
}

/// What the grading form is told about a call's time limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeLimit {
    pub queue: String,
    pub limit_seconds: u32,
    /// The call ran longer than the limit.
    pub exceeded: bool,
    /// By how much (0 when within).
    pub over_ms: i64,
}

impl QueueLimits {
    /// Names trimmed (as ingest trims a call's queue), so " billing" means "billing".
    pub fn trimmed(mut self) -> QueueLimits {
        for q in &mut self.queues {
            q.queue = q.queue.trim().to_string();
        }
        self
    }

    /// Every problem, with its field (`queues[2].limit_seconds`).
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut out = Vec::new();
        let problem = |field: String, message: String, zh: String| Problem {
            field,
            message,
            message_zh: Some(zh),
        };
        if self.queues.len() > MAX_QUEUES {
            out.push(problem(
                "queues".into(),
                format!("at most {MAX_QUEUES} queues may have a limit"),
                format!("最多 {MAX_QUEUES} 个队列可以设置时限"),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, q) in self.queues.iter().enumerate() {
            let name = q.queue.trim();
            if name.is_empty() {
                out.push(problem(
                    format!("queues[{i}].queue"),
                    "the queue's name is empty".into(),
                    "队列名称为空".into(),
                ));
            } else if name.chars().count() > MAX_QUEUE_LEN {
                out.push(problem(
                    format!("queues[{i}].queue"),
                    format!("a queue's name is at most {MAX_QUEUE_LEN} characters"),
                    format!("队列名称最多 {MAX_QUEUE_LEN} 个字符"),
                ));
            } else if !seen.insert(name) {
                out.push(problem(
                    format!("queues[{i}].queue"),
                    format!("queue {name:?} is listed twice"),
                    format!("队列“{name}”重复列出"),
                ));
            }
            if !LIMIT_SECONDS.contains(&q.limit_seconds) {
                out.push(problem(
                    format!("queues[{i}].limit_seconds"),
                    format!(
                        "the limit is between {} and {} seconds, not {}",
                        LIMIT_SECONDS.start(),
                        LIMIT_SECONDS.end(),
                        q.limit_seconds
                    ),
                    format!(
                        "时限须在 {} 到 {} 秒之间，而不是 {}",
                        LIMIT_SECONDS.start(),
                        LIMIT_SECONDS.end(),
                        q.limit_seconds
                    ),
                ));
            }
        }
        if out.is_empty() { Ok(()) } else { Err(out) }
    }

    /// The limit of a call's queue, and whether a call of `duration_ms` exceeds it.
    pub fn time_limit(&self, queue: &str, duration_ms: i64) -> Option<TimeLimit> {
        let q = self.queues.iter().find(|q| q.queue == queue.trim())?;
        let over_ms = duration_ms - i64::from(q.limit_seconds) * 1000;
        Some(TimeLimit {
            queue: q.queue.clone(),
            limit_seconds: q.limit_seconds,
            exceeded: over_ms > 0,
            over_ms: over_ms.max(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(pairs: &[(&str, u32)]) -> QueueLimits {
        QueueLimits {
            queues: pairs
                .iter()
                .map(|&(queue, limit_seconds)| QueueLimit {
                    queue: queue.into(),
                    limit_seconds,
                })
                .collect(),
        }
    }

    #[test]
    fn a_call_over_its_queues_limit_exceeds_it() {
        let l = limits(&[("billing", 300), ("sales", 600)]);
        let t = l
            .time_limit("billing", 300_001)
            .expect("billing has a limit");
        assert!(t.exceeded);
        assert_eq!((t.limit_seconds, t.over_ms), (300, 1));
        // Exactly at the limit is within it.
        let t = l.time_limit("billing", 300_000).expect("limit");
        assert!(!t.exceeded);
        assert_eq!(t.over_ms, 0);
        assert!(l.time_limit("support", 10_000_000).is_none());
        assert!(
            l.time_limit("Billing", 10_000_000).is_none(),
            "names are exact"
        );
    }

    #[test]
    fn validation_names_each_bad_field() {
        assert_eq!(limits(&[("billing", 300)]).validate(), Ok(()));
        assert_eq!(QueueLimits::default().validate(), Ok(()));
        let bad = limits(&[
            ("billing", 0),
            (" ", 60),
            ("billing ", 60),
            ("sales", 86_401),
        ]);
        let fields: Vec<String> = bad
            .validate()
            .expect_err("invalid")
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            [
                "queues[0].limit_seconds",
                "queues[1].queue",
                "queues[2].queue",
                "queues[3].limit_seconds"
            ]
        );
        let long = limits(&[(&"q".repeat(MAX_QUEUE_LEN + 1), 60)]);
        assert!(long.validate().is_err());
        assert_eq!(
            limits(&[(" billing ", 60)]).trimmed().queues[0].queue,
            "billing"
        );
    }
}
