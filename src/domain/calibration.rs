//! Calibration: how the graders of one call agree (the session report against the expert
//! or the consensus) and Krippendorff's alpha for ordinal grades over many sessions.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::grading::Grade;

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
