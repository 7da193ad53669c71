//! Scores: the worked pay example end to end, recomputation (and its versions) after
//! publication and after an overturned appeal, component imports (API and CLI) through the
//! linear rule, commendations, who sees whose scores, and exports whose XLSX holds the same
//! numbers as their CSV.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::counting::{WORKED_EXAMPLE, drawn_month, form_for, qa_graded};
use crate::grading::{graded, spawn};
use crate::helpers::{TestApp, TestDb, code, get_json};
use crate::sampling::{at, post};

both_backends!(
    the_worked_pay_example_and_a_severe_month,
    an_overturned_appeal_recomputes_pay_and_level,
    components_import_through_the_linear_rule,
    exports_hold_the_same_numbers_in_csv_and_xlsx,
);

async fn grade_calls(
    app: &TestApp,
    agent: &'static str,
    prefix: &str,
    grades: &[&str],
) -> Vec<i64> {
    let mut ids = Vec::new();
    for (i, g) in grades.iter().enumerate() {
        let e = graded(app, &format!("{prefix}-{i}"), agent, "insp", form_for(g)).await;
        assert_eq!(e["outcome"]["grade"], *g, "{e}");
        ids.push(e["id"].as_i64().unwrap());
    }
    ids
}

async fn publish(app: &TestApp) {
    let sup = app.login("sup").await;
    let (status, body) = post(&sup, app.url("/api/months/2026-11/publish"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

pub async fn scores_of(app: &TestApp, user: &str) -> Value {
    let client = app.login(user).await;
    let (status, body) = get_json(&client, &app.url("/api/months/2026-11/scores")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub fn row<'a>(scores: &'a Value, agent: &str) -> &'a Value {
    scores["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent"]["username"] == agent)
        .unwrap_or_else(|| panic!("no row for {agent} in {scores}"))
}

async fn the_worked_pay_example_and_a_severe_month(db: TestDb) {
    let app = spawn(db).await;
    // The month's QA evaluation: ten calls per agent sampled by the QA plan (the team-lead
    // plan samples them too, for the leads' spot-checks, which are not pay).
    drawn_month(&app, &["agent-a1", "agent-b1"]).await;
    // 3 excellent, 4 good, 2 fair, 1 poor: 3×50 + 4×30 + 0 − 10 = 260.
    let grades = WORKED_EXAMPLE;
    qa_graded(&app, "agent-a1", &grades).await;
    // The same ten and a severe complaint call the supervisor decided counts: the month
    // pays nothing.
    qa_graded(&app, "agent-b1", &grades).await;
    grade_calls(&app, "agent-b1", "S", &["severe"]).await;
    // The leads' spot-checks are left undone: publishing closes them.
    let sup = app.login("sup").await;
    let (status, body) = post(
        &sup,
        app.url("/api/months/2026-11/publish"),
        json!({ "confirm": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let scores = scores_of(&app, "sup").await;
    assert_eq!(scores["cause"], "published");
    let a1 = row(&scores, "agent-a1");
    assert_eq!(a1["evaluations"], 10);
    assert_eq!(a1["pay"], 260);
    assert_eq!(a1["pay_cancelled_by_severe"], false);
    // Scores 100×3, 80×4, 70×2, 60: mean 82; its interval is wide with ten calls.
    assert_eq!(a1["service_quality"], 82.0);
    let (lo, hi) = (
        a1["interval"]["low"].as_f64().unwrap(),
        a1["interval"]["high"].as_f64().unwrap(),
    );
    assert!(lo < 82.0 && hi > 82.0 && hi - lo > 10.0, "{lo}..{hi}");
    let b1 = row(&scores, "agent-b1");
    assert_eq!(b1["pay"], 0);
    assert_eq!(b1["pay_cancelled_by_severe"], true);
    // Without the imported components there is no overall score yet, only what service
    // quality at 30 % adds up to, and no level.
    assert_eq!(a1["complete"], false);
    assert_eq!(a1["overall"], Value::Null);
    assert_eq!(a1["overall_so_far"], 24.6);
    assert_eq!(a1["level"], Value::Null);
    assert!(
        a1["missing"]
            .as_array()
            .unwrap()
            .contains(&json!("business_exam"))
    );
    // An agent without evaluations is scored too (nothing to pay, nothing missing hidden).
    let a2 = row(&scores, "agent-a2");
    assert_eq!(a2["evaluations"], 0);
    assert_eq!(a2["service_quality"], Value::Null);

    // Who sees what: the agent themselves, the team's lead, not inspectors.
    let mine = scores_of(&app, "agent-a1").await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let lead = scores_of(&app, "lead-a").await;
    assert_eq!(lead["items"].as_array().unwrap().len(), 2);
    assert_eq!(lead["leads"].as_array().unwrap().len(), 1);
    assert!(lead["leads"][0]["team_service_quality_points"].is_number());
    let insp = app.login("insp").await;
    let (status, _) = get_json(&insp, &app.url("/api/months/2026-11/scores")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let agent = app.login("agent-a1").await;
    let (status, _) = get_json(&agent, &app.url("/api/agents/agent-b1/scores")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, trend) =
        get_json(&agent, &app.url("/api/agents/agent-a1/scores?to=2026-11")).await;
    assert_eq!(status, StatusCode::OK, "{trend}");
    assert_eq!(trend["items"].as_array().unwrap().len(), 1);
    assert_eq!(trend["yearly_score"], Value::Null, "no complete month yet");

    // A commendation adds to the pay (not for the severe month) and makes a new version.
    for (who, kind) in [("agent-a1", "written"), ("agent-b1", "media")] {
        let (status, body) = post(
            &sup,
            app.url("/api/commendations"),
            json!({ "agent": who, "month": "2026-11", "kind": kind, "note": "customer letter" }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let scores = scores_of(&app, "sup").await;
    assert_eq!(row(&scores, "agent-a1")["pay"], 310);
    assert_eq!(row(&scores, "agent-b1")["pay"], 0);
    assert_eq!(scores["versions"], 3);
}

async fn an_overturned_appeal_recomputes_pay_and_level(db: TestDb) {
    let app = spawn(db).await;
    // Service quality is the whole overall score here, so the level follows it.
    let sup = app.login("sup").await;
    let mut cfg = get_json(&sup, &app.url("/api/settings/scoring")).await.1;
    cfg["service_quality_weight"] = json!(100.0);
    cfg["components"] = json!([]);
    let resp = sup
        .put(app.url("/api/settings/scoring"))
        .json(&cfg)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let lead = app.login("lead-a").await;
    let resp = lead
        .put(app.url("/api/settings/scoring"))
        .json(&cfg)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let ids = grade_calls(&app, "agent-a1", "O", &["poor"]).await;
    app.config.clock.set(at("2026-12-01 09:00"));
    publish(&app).await;
    let before = scores_of(&app, "sup").await;
    let a1 = row(&before, "agent-a1");
    assert_eq!(a1["pay"], -10);
    assert_eq!(a1["overall"], 60.0);
    assert_eq!(a1["level"], "ordinary");

    let agent = app.login("agent-a1").await;
    let (status, appeal) = post(
        &agent,
        app.url(&format!("/api/evaluations/{}/appeals", ids[0])),
        json!({ "reason": "the customer was shouting, not me" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{appeal}");
    let panel = app.login("panel").await;
    let (status, body) = post(
        &panel,
        app.url(&format!("/api/appeals/{}/decision", appeal["id"])),
        json!({ "outcome": "overturned", "grade": "good", "deductions": [],
                "reason": "the raised voice is the customer's" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = scores_of(&app, "sup").await;
    assert_eq!(after["cause"], "appeal_decided");
    let a1 = row(&after, "agent-a1");
    assert_eq!(a1["pay"], 30, "good pays 30");
    assert_eq!(a1["overall"], 100.0);
    assert_eq!(a1["level"], "one", "≥ 95 in a first month is level 1");
    let (_, runs) = get_json(&sup, &app.url("/api/months/2026-11/scores/runs")).await;
    let causes: Vec<&str> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cause"].as_str().unwrap())
        .collect();
    assert_eq!(causes, ["appeal_decided", "published"]);
}

async fn components_import_through_the_linear_rule(db: TestDb) {
    let app = spawn(db).await;
    let sup = app.login("sup").await;
    // Satisfaction as a percentage: full 10 points at 90 % or more, nothing at 70 % or less.
    let mut cfg = get_json(&sup, &app.url("/api/settings/scoring")).await.1;
    for c in cfg["components"].as_array_mut().unwrap() {
        if c["code"] == "customer_satisfaction" {
            c["rule"] = json!({ "lower": 70.0, "upper": 90.0 });
        }
    }
    let resp = sup
        .put(app.url("/api/settings/scoring"))
        .json(&cfg)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    grade_calls(&app, "agent-a1", "C", &["excellent"]).await;
    app.config.clock.set(at("2026-12-01 09:00"));
    publish(&app).await;

    // A bad line refuses the whole file, naming each problem.
    let bad = "agent,month,component,points\nagent-a1,2026-11,business_exam,28\nnobody,2026-13,volume,x\n";
    let resp = sup
        .post(app.url("/api/components/import"))
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code(&body), "invalid_import");
    assert_eq!(body["errors"].as_array().unwrap().len(), 1);
    assert!(body["errors"][0].as_str().unwrap().starts_with("line 3"));
    let scores = scores_of(&app, "sup").await;
    assert_eq!(
        scores["versions"], 1,
        "nothing imported, nothing recomputed"
    );

    let good = "agent,month,component,points\n\
                agent-a1,2026-11,customer_satisfaction,80\n\
                agent-a2,2026-11,customer_satisfaction,95\n\
                agent-b1,2026-11,customer_satisfaction,70\n\
                agent-a1,2026-11,business_exam,30\n";
    let resp = sup
        .post(app.url("/api/components/import"))
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["imported"], 4);
    assert_eq!(body["recomputed"], json!(["2026-11"]));
    let scores = scores_of(&app, "sup").await;
    assert_eq!(scores["cause"], "components_imported");
    let points = |agent: &str, code: &str| {
        row(&scores, agent)["detail"]["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == code)
            .unwrap()["points"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(
        points("agent-a1", "customer_satisfaction"),
        5.0,
        "80 % is half way"
    );
    assert_eq!(points("agent-a2", "customer_satisfaction"), 10.0);
    assert_eq!(points("agent-b1", "customer_satisfaction"), 0.0);
    assert_eq!(points("agent-a1", "business_exam"), 30.0);
    // So far: 30 % of 100 plus (30 + 5) of the components' 92 points scaled to 70; five
    // components are still missing, so there is no overall score yet.
    assert_eq!(row(&scores, "agent-a1")["overall"], Value::Null);
    let overall = row(&scores, "agent-a1")["overall_so_far"].as_f64().unwrap();
    assert!(
        (overall - (30.0 + 35.0 * 70.0 / 92.0)).abs() < 0.01,
        "{overall}"
    );

    // The same import from the command line, with a changed value.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("components.csv");
    std::fs::write(
        &file,
        "agent,month,component,points\nagent-b1,2026-11,customer_satisfaction,90\n",
    )
    .unwrap();
    app.config.clock.advance(1_000);
    let (ok, stdout, stderr) = crate::cli::callgrade(
        &app,
        &["components", "import", file.to_str().unwrap()],
        None,
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("imported 1"), "{stdout}");
    let after = scores_of(&app, "sup").await;
    let satisfaction = row(&after, "agent-b1")["detail"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "customer_satisfaction")
        .unwrap()["points"]
        .clone();
    assert_eq!(satisfaction, 10.0);
    assert_eq!(after["versions"], 3);
}

async fn exports_hold_the_same_numbers_in_csv_and_xlsx(db: TestDb) {
    use calamine::{Reader, Xlsx};

    let app = spawn(db).await;
    grade_calls(&app, "agent-a1", "X", &["good", "poor"]).await;
    grade_calls(&app, "agent-b1", "Y", &["excellent"]).await;
    app.config.clock.set(at("2026-12-01 09:00"));
    publish(&app).await;
    let sup = app.login("sup").await;
    for report in ["payroll", "teams", "grades", "deductions", "leads"] {
        let url = |format: &str| {
            app.url(&format!(
                "/api/reports/{report}?month=2026-11&format={format}"
            ))
        };
        let csv_resp = sup.get(url("csv")).send().await.unwrap();
        assert_eq!(csv_resp.status(), StatusCode::OK, "{report}");
        assert!(
            csv_resp.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains(".csv")
        );
        let csv_text = csv_resp.text().await.unwrap();
        let xlsx = sup
            .get(url("xlsx"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let mut book = Xlsx::new(std::io::Cursor::new(xlsx.to_vec())).expect("the XLSX opens");
        let sheet = book.worksheet_range_at(0).unwrap().unwrap();
        let mut csv_rows = csv::Reader::from_reader(csv_text.as_bytes());
        let header: Vec<String> = csv_rows
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        let xlsx_rows: Vec<Vec<String>> = sheet
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        assert_eq!(xlsx_rows[0], header, "{report}");
        let records: Vec<csv::StringRecord> = csv_rows.records().map(Result::unwrap).collect();
        assert_eq!(records.len() + 1, xlsx_rows.len(), "{report}");
        assert!(!records.is_empty(), "{report} has rows");
        for (r, record) in records.iter().enumerate() {
            for (c, value) in record.iter().enumerate() {
                let cell = &sheet.rows().nth(r + 1).unwrap()[c];
                match value.parse::<f64>() {
                    Ok(x) => assert_eq!(
                        match cell {
                            calamine::Data::Float(f) => Some(*f),
                            calamine::Data::Int(i) => Some(*i as f64),
                            _ => None,
                        },
                        Some(x),
                        "{report} r{r} c{c}"
                    ),
                    Err(_) => assert_eq!(cell.to_string(), value, "{report} r{r} c{c}"),
                }
            }
        }
    }
    // The payroll sheet has what payroll needs, in Chinese on request.
    let (_, payroll) = get_json(&sup, &app.url("/api/reports/payroll?month=2026-11")).await;
    let keys: Vec<&str> = payroll["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    for k in [
        "agent",
        "month",
        "service_quality",
        "pay",
        "overall",
        "level",
    ] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    let zh = sup
        .get(app.url("/api/reports/payroll?month=2026-11&format=csv&lang=zh-CN"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        zh.starts_with("\u{feff}坐席,"),
        "a BOM for Excel, then Chinese headings: {zh}"
    );
    // A lead's export holds their team only; inspectors get none.
    let lead = app.login("lead-a").await;
    let (_, theirs) = get_json(&lead, &app.url("/api/reports/payroll?month=2026-11")).await;
    assert!(
        theirs["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r[2] == "team-a")
    );
    let insp = app.login("insp").await;
    let (status, _) = get_json(&insp, &app.url("/api/reports/payroll?month=2026-11")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Group names read in the report's language, never as internal codes.
    for (lang, want) in [
        ("en", ["Everybody", "QA inspectors", "Team leads"]),
        ("zh-CN", ["全体", "质检员", "班长"]),
    ] {
        let url = app.url(&format!("/api/reports/graders?lang={lang}"));
        let (status, graders) = get_json(&sup, &url).await;
        assert_eq!(status, StatusCode::OK, "{graders}");
        let groups: Vec<&str> = graders["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[0].as_str().unwrap())
            .collect();
        assert_eq!(groups, want, "{lang}");
    }
}
