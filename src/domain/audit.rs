//! The audit trail of an evaluation and the changes that write to it.
//!
//! Every change to a submitted evaluation (its submission, an override, an appeal decision, a
//! correction after the month is locked) is a revision holding the state before and after.
//! The evaluation row is only a cache of the last revision's state: replaying the revisions
//! must give it back, and a revision whose "before" does not match the state the previous one
//! left means the trail was broken.

use serde::{Deserialize, Serialize};

use super::grading::{self, Deduction, Form, Grade, Problem, Rubric};

/// What a revision records of an evaluation: everything that decides its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationState {
    pub status: String,
    pub form: Form,
    pub score: Option<i64>,
    pub grade: Option<String>,
    pub computed_grade: Option<String>,
    pub override_reason: Option<String>,
}

impl EvaluationState {
    /// The state with its form's deduction ids derived where it has none (states stored
    /// before ids existed); a no-op on states written since. Every read of a stored state
    /// goes through this, so old and new revisions compare alike.
    pub fn normalized(self) -> EvaluationState {
        EvaluationState {
            form: self.form.with_derived_ids(),
            ..self
        }
    }

    /// Whether two states give the same result, whatever the deductions' ids.
    fn same_result(&self, other: &EvaluationState) -> bool {
        let strip = |s: &EvaluationState| {
            let mut s = s.clone();
            s.form.next_deduction_id = 0;
            for d in &mut s.form.deductions {
                d.id = None;
            }
            s
        };
        strip(self) == strip(other)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevisionKind {
    /// The grader's submission.
    Submit,
    /// A supervisor's change before the month is locked.
    Override,
    /// The appeal panel's decision.
    AppealDecision,
    /// A change after the month is locked: visible to the agent, recomputes scores.
    Correction,
}

impl RevisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RevisionKind::Submit => "submit",
            RevisionKind::Override => "override",
            RevisionKind::AppealDecision => "appeal_decision",
            RevisionKind::Correction => "correction",
        }
    }
}

/// One step of the trail as replay needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub seq: i64,
    pub old: Option<EvaluationState>,
    pub new: EvaluationState,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("revision {seq} follows revision {previous}: the sequence has a gap")]
    Gap { previous: i64, seq: i64 },
    #[error("revision {seq} starts from a state the previous revision did not leave")]
    Broken { seq: i64 },
}

/// The state the revisions lead to (`None` for an evaluation never submitted). States are
/// compared with their derived deduction ids, as they are read everywhere else.
pub fn replay(steps: &[Step]) -> Result<Option<EvaluationState>, ReplayError> {
    let mut state: Option<EvaluationState> = None;
    let mut previous = 0;
    for step in steps {
        if step.seq != previous + 1 {
            return Err(ReplayError::Gap {
                previous,
                seq: step.seq,
            });
        }
        if step.old.clone().map(EvaluationState::normalized) != state {
            return Err(ReplayError::Broken { seq: step.seq });
        }
        state = Some(step.new.clone().normalized());
        previous = step.seq;
    }
    Ok(state)
}

/// How the panel decides an appeal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The grading stands.
    Upheld,
    /// The grade changes (and, if the panel says so, the deductions with it).
    Overturned,
    /// The deductions change; the grade follows from them.
    Amended,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Upheld => "upheld",
            Decision::Overturned => "overturned",
            Decision::Amended => "amended",
        }
    }
}

/// A change someone asks for: a new grade, new deductions, or both, always with a reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    pub grade: Option<Grade>,
    pub deductions: Option<Vec<Deduction>>,
    pub reason: String,
}

fn problem(field: &str, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
        message_zh: None,
    }
}

/// The state after `change`, scored by the evaluation's own rubric version. New deductions
/// replace the old ones and must meet the submission rules (each with its time in the call);
/// those that come with the id of a current deduction keep it, the others get fresh ids
/// (`Form::assign_ids`). A grade different from what the deductions compute is an override
/// and carries the change's reason, as a grader's override does.
pub fn apply(
    rubric: &Rubric,
    current: &EvaluationState,
    change: &Change,
    duration_ms: i64,
) -> Result<EvaluationState, Vec<Problem>> {
    if change.reason.trim().is_empty() {
        return Err(vec![
            problem("reason", "give the reason for the change").zh("请说明修改的理由"),
        ]);
    }
    let current = &current.clone().normalized();
    let mut form = current.form.clone();
    if let Some(deductions) = &change.deductions {
        form.deductions = deductions.clone();
        form.assign_ids(&current.form);
        // A grade chosen against the old deductions means nothing for the new ones.
        form.grade = None;
        form.override_reason = None;
    }
    if let Some(grade) = change.grade {
        let computed = grading::outcome(
            rubric,
            &Form {
                grade: None,
                ..form.clone()
            },
        );
        if grade == computed.computed_grade {
            form.grade = None;
            form.override_reason = None;
        } else {
            form.grade = Some(grade);
            form.override_reason = Some(change.reason.trim().to_string());
        }
    }
    let outcome = grading::check_submit(rubric, &form, duration_ms)?;
    let next = EvaluationState {
        status: "submitted".into(),
        score: Some(i64::from(outcome.score)),
        grade: Some(outcome.grade.as_str().into()),
        computed_grade: Some(outcome.computed_grade.as_str().into()),
        override_reason: form.override_reason.clone().filter(|_| outcome.overridden),
        form,
    };
    if next.same_result(current) {
        return Err(vec![
            problem(
                "change",
                "this leaves the grade, the score and the deductions as they are",
            )
            .zh("这样评级、得分和扣分都没有变化"),
        ]);
    }
    Ok(next)
}

/// What a decision asks of the evaluation: nothing for upheld; a different grade for
/// overturned; different deductions for amended.
pub fn decision_change(
    decision: Decision,
    grade: Option<Grade>,
    deductions: Option<Vec<Deduction>>,
    reason: &str,
) -> Result<Option<Change>, Vec<Problem>> {
    if reason.trim().is_empty() {
        return Err(vec![
            problem("reason", "the agent reads the panel's reason: write it")
                .zh("坐席会阅读领导小组的理由：请填写"),
        ]);
    }
    let change = Change {
        grade,
        deductions,
        reason: reason.trim().to_string(),
    };
    match decision {
        Decision::Upheld if change.grade.is_some() || change.deductions.is_some() => Err(vec![
            problem(
                "outcome",
                "an upheld grading changes nothing: send no grade or deductions",
            )
            .zh("维持原评不做任何修改：不要提交评级或扣分"),
        ]),
        Decision::Upheld => Ok(None),
        Decision::Overturned if change.grade.is_none() => Err(vec![
            problem("grade", "overturning needs the new grade").zh("改判需要选择新的评级"),
        ]),
        Decision::Amended if change.deductions.is_none() || change.grade.is_some() => Err(vec![
            problem(
                "deductions",
                "amending needs the new deductions (and no grade: it follows from them)",
            )
            .zh("调整扣分需要提交新的扣分（不提交评级：评级由扣分得出）"),
        ]),
        _ => Ok(Some(change)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::grading::default_rubric;

    const DURATION_MS: i64 = 120_000;

    fn ded(item: &str, occurrences: u32) -> Deduction {
        Deduction {
            id: None,
            item: item.into(),
            occurrences,
            times_ms: vec![1_000],
            note: String::new(),
            caused_complaint: false,
        }
    }

    fn submitted(deductions: Vec<Deduction>) -> EvaluationState {
        let rubric = default_rubric();
        let form = Form {
            deductions,
            ..Form::default()
        };
        let o = grading::outcome(&rubric, &form);
        EvaluationState {
            status: "submitted".into(),
            form,
            score: Some(i64::from(o.score)),
            grade: Some(o.grade.as_str().into()),
            computed_grade: Some(o.computed_grade.as_str().into()),
            override_reason: None,
        }
    }

    #[test]
    fn overturning_sets_the_grade_with_the_reason() {
        let rubric = default_rubric();
        let poor = submitted(vec![ded("commanding_tone", 4)]);
        assert_eq!(poor.grade.as_deref(), Some("poor"));
        let change = decision_change(
            Decision::Overturned,
            Some(Grade::Fair),
            None,
            " tone was fine ",
        )
        .expect("valid")
        .expect("a change");
        let next = apply(&rubric, &poor, &change, DURATION_MS).expect("applies");
        assert_eq!(next.grade.as_deref(), Some("fair"));
        assert_eq!(next.computed_grade.as_deref(), Some("poor"));
        assert_eq!(next.score, Some(60), "the deductions stand");
        assert_eq!(next.override_reason.as_deref(), Some("tone was fine"));
    }

    #[test]
    fn amending_recomputes_the_grade_from_the_deductions() {
        let rubric = default_rubric();
        let poor = submitted(vec![ded("commanding_tone", 4)]);
        let change = decision_change(
            Decision::Amended,
            None,
            Some(vec![ded("commanding_tone", 1)]),
            "three of the four were the customer's line noise",
        )
        .expect("valid")
        .expect("a change");
        let next = apply(&rubric, &poor, &change, DURATION_MS).expect("applies");
        assert_eq!(next.score, Some(90));
        assert_eq!(next.grade.as_deref(), Some("excellent"));
        assert_eq!(next.override_reason, None);
    }

    #[test]
    fn an_amendment_keeps_the_ids_of_the_deductions_it_keeps() {
        let rubric = default_rubric();
        // Stored before ids existed: its deductions are read as 1 and 2.
        let old = submitted(vec![ded("commanding_tone", 1), ded("shirking", 1)]);
        let second = old.clone().normalized().form.deductions[1].clone();
        assert_eq!(second.id, Some(2));
        // The panel removes the first and adds another.
        let change = Change {
            deductions: Some(vec![second.clone(), ded("not_mandarin", 1)]),
            reason: "the tone was fine".into(),
            grade: None,
        };
        let next = apply(&rubric, &old, &change, DURATION_MS).expect("applies");
        assert_eq!(next.form.deduction(2), Some(&second));
        assert_eq!(
            next.form.deduction(3).map(|d| d.item.as_str()),
            Some("not_mandarin")
        );
        assert!(next.form.deduction(1).is_none());
        // Sending the same deductions back without ids changes nothing but ids: refused.
        let same = Change {
            deductions: Some(vec![ded("commanding_tone", 1), ded("shirking", 1)]),
            reason: "r".into(),
            grade: None,
        };
        assert!(apply(&rubric, &old, &same, DURATION_MS).is_err());
        // Replay of the old revision and the new one gives the new state.
        let steps = [
            Step {
                seq: 1,
                old: None,
                new: old.clone(),
            },
            Step {
                seq: 2,
                old: Some(old.clone().normalized()),
                new: next.clone(),
            },
        ];
        assert_eq!(replay(&steps), Ok(Some(next)));
    }

    #[test]
    fn decisions_need_what_they_change_and_a_reason() {
        assert!(decision_change(Decision::Upheld, None, None, "").is_err());
        assert_eq!(
            decision_change(Decision::Upheld, None, None, "stands"),
            Ok(None)
        );
        assert!(decision_change(Decision::Upheld, Some(Grade::Good), None, "x").is_err());
        assert!(decision_change(Decision::Overturned, None, None, "x").is_err());
        assert!(decision_change(Decision::Amended, None, None, "x").is_err());
        assert!(decision_change(Decision::Amended, Some(Grade::Good), Some(vec![]), "x").is_err());
    }

    #[test]
    fn a_change_that_changes_nothing_is_refused() {
        let rubric = default_rubric();
        let poor = submitted(vec![ded("commanding_tone", 4)]);
        let same = Change {
            grade: Some(Grade::Poor),
            deductions: None,
            reason: "r".into(),
        };
        assert!(apply(&rubric, &poor, &same, DURATION_MS).is_err());
        // New deductions without evidence times are refused like at submission.
        let untimed = Change {
            deductions: Some(vec![Deduction {
                times_ms: vec![],
                ..ded("shirking", 1)
            }]),
            reason: "r".into(),
            grade: None,
        };
        assert!(apply(&rubric, &poor, &untimed, DURATION_MS).is_err());
    }

    #[test]
    fn replay_detects_gaps_and_broken_links() {
        let a = submitted(vec![]);
        let b = submitted(vec![ded("shirking", 1)]);
        let ok = vec![
            Step {
                seq: 1,
                old: None,
                new: a.clone(),
            },
            Step {
                seq: 2,
                old: Some(a.clone()),
                new: b.clone(),
            },
        ];
        assert_eq!(replay(&ok), Ok(Some(b.clone().normalized())));
        let gap = vec![
            ok[0].clone(),
            Step {
                seq: 3,
                ..ok[1].clone()
            },
        ];
        assert!(matches!(replay(&gap), Err(ReplayError::Gap { .. })));
        let broken = vec![
            ok[0].clone(),
            Step {
                seq: 2,
                old: Some(b.clone()),
                new: a,
            },
        ];
        assert_eq!(replay(&broken), Err(ReplayError::Broken { seq: 2 }));
        assert_eq!(replay(&[]), Ok(None));
    }

    fn arb_change() -> impl Strategy<Value = Change> {
        let items = [
            "commanding_tone",
            "shirking",
            "no_service_phrases",
            "rude_attitude",
        ];
        let deductions =
            proptest::collection::vec((0..items.len(), 1u32..4), 0..4).prop_map(move |ds| {
                ds.into_iter()
                    .map(|(i, n)| ded(items[i], n))
                    .collect::<Vec<_>>()
            });
        (
            proptest::option::of(0..Grade::ALL.len()),
            proptest::option::of(deductions),
        )
            .prop_map(|(g, d)| Change {
                grade: g.map(|i| Grade::ALL[i]),
                deductions: d,
                reason: "because".into(),
            })
    }

    proptest! {
        // Whatever sequence of changes is applied, recording each as (old, new) and replaying
        // the records gives the last state; and every state is consistent with its rubric.
        // The first state is stored as before deduction ids existed (none in its form);
        // some changes send a current deduction back with its id, which it keeps.
        #[test]
        fn replaying_the_recorded_changes_gives_the_current_state(
            changes in proptest::collection::vec((arb_change(), any::<bool>()), 0..12)
        ) {
            let rubric = default_rubric();
            let mut current = submitted(vec![ded("commanding_tone", 2), ded("shirking", 1)]);
            let mut steps = vec![Step { seq: 1, old: None, new: current.clone() }];
            for (change, keep) in &changes {
                let mut change = change.clone();
                let kept = current.clone().normalized().form.deductions.first().cloned();
                if let (true, Some(ds), Some(k)) = (*keep, change.deductions.as_mut(), &kept) {
                    ds.insert(0, k.clone());
                }
                if let Ok(next) = apply(&rubric, &current, &change, DURATION_MS) {
                    let o = grading::outcome(&rubric, &next.form);
                    prop_assert_eq!(next.score, Some(i64::from(o.score)));
                    prop_assert_eq!(next.grade.as_deref(), Some(o.grade.as_str()));
                    prop_assert_eq!(next.override_reason.is_some(), o.overridden);
                    let ids: Vec<u32> = next.form.deductions.iter().filter_map(|d| d.id).collect();
                    prop_assert_eq!(ids.len(), next.form.deductions.len());
                    prop_assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), ids.len());
                    prop_assert!(ids.iter().all(|&id| id < next.form.next_deduction_id));
                    if let (true, Some(_), Some(k)) = (*keep, &change.deductions, &kept) {
                        prop_assert_eq!(next.form.deduction(k.id.unwrap_or(0)), Some(k));
                    }
                    steps.push(Step {
                        seq: steps.len() as i64 + 1,
                        old: Some(current.clone()),
                        new: next.clone(),
                    });
                    current = next;
                }
            }
            prop_assert_eq!(replay(&steps), Ok(Some(current.normalized())));
        }
    }
}
