//! Appeals name the deductions they dispute by the deductions' stable ids: ids are assigned by
//! the server and kept across amendments, so after the panel removes another deduction the
//! appeal still names the one the agent disputed, to the agent and to the panel alike; old
//! index lists are converted (at filing, and by migration 0014 for stored appeals).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::grading::{deduction, graded, spawn};
use crate::helpers::{TestApp, TestDb, code, get_json};
use crate::sampling::{at, post};

both_backends!(
    an_appeal_still_names_its_deduction_after_the_panel_removes_another,
    a_removed_disputed_deduction_shows_as_removed,
    deduction_ids_are_assigned_by_the_server,
    indexes_are_converted_at_filing_and_by_the_migration,
);

/// Two deductions: commanding tone (10) at 0:05, then a forbidden phrase (8) at 0:20.
async fn two_deductions(app: &TestApp, call_id: &str) -> Value {
    let form = json!({ "deductions": [
        deduction("commanding_tone", &[5_000]),
        deduction("forbidden_phrase", &[20_000]),
    ] });
    graded(app, call_id, "agent-a1", "insp", form).await
}

async fn publish(app: &TestApp) {
    app.config.clock.set(at("2026-12-01 09:00"));
    let sup = app.login("sup").await;
    let (status, body) = post(
        &sup,
        app.url("/api/months/2026-11/publish"),
        json!({ "confirm": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn file(app: &TestApp, evaluation: &Value, body: Value) -> (StatusCode, Value) {
    let agent = app.login("agent-a1").await;
    let mut body = body;
    body["reason"] = json!("那句话不是忌语 / that was not a forbidden phrase");
    post(
        &agent,
        app.url(&format!("/api/evaluations/{}/appeals", evaluation["id"])),
        body,
    )
    .await
}

fn ids(form: &Value) -> Vec<i64> {
    form["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect()
}

async fn an_appeal_still_names_its_deduction_after_the_panel_removes_another(db: TestDb) {
    let app = spawn(db).await;
    let e = two_deductions(&app, "A-1").await;
    assert_eq!(ids(&e["form"]), [1, 2], "{e}");
    let disputed = e["form"]["deductions"][1].clone();
    assert_eq!(disputed["item"], "forbidden_phrase");
    publish(&app).await;

    // The agent disputes the second deduction, by its id.
    let (status, filed) = file(&app, &e, json!({ "deduction_ids": [2] })).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["deduction_ids"], json!([2]));
    assert_eq!(filed["disputed"][0]["status"], "present");
    assert_eq!(
        filed["disputed"][0]["deduction"]["item"],
        "forbidden_phrase"
    );
    assert_eq!(
        filed["deductions"],
        json!([1]),
        "its position, for older clients"
    );

    // The panel amends: the first deduction goes (the tone was fine), the disputed one stays
    // (sent back with its id), and a new one is added.
    let panel = app.login("panel").await;
    let appeal = filed["id"].as_i64().unwrap();
    let (status, decided) = post(
        &panel,
        app.url(&format!("/api/appeals/{appeal}/decision")),
        json!({
            "outcome": "amended",
            "reason": "the tone was fine; the phrase stands",
            "deductions": [disputed, deduction("not_mandarin", &[40_000])],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{decided}");

    let check = |view: &Value, who: &str| {
        assert_eq!(view["deduction_ids"], json!([2]), "{who}: {view}");
        let d = &view["disputed"][0];
        assert_eq!(d["id"], 2, "{who}");
        assert_eq!(d["status"], "present", "{who}");
        assert_eq!(d["index"], 0, "{who}: now the first");
        assert_eq!(d["deduction"]["item"], "forbidden_phrase", "{who}");
        assert_eq!(d["deduction"]["times_ms"], json!([20_000]), "{who}");
    };
    let url = app.url(&format!("/api/appeals/{appeal}"));
    let (status, by_panel) = get_json(&panel, &url).await;
    assert_eq!(status, StatusCode::OK);
    check(&by_panel, "panel");
    let agent = app.login("agent-a1").await;
    let (status, by_agent) = get_json(&agent, &url).await;
    assert_eq!(status, StatusCode::OK, "{by_agent}");
    check(&by_agent, "agent");
    // And through the evaluation the agent reads on their results page.
    let (_, ev) = get_json(&agent, &app.url(&format!("/api/evaluations/{}", e["id"]))).await;
    check(&ev["appeals"][0], "agent's evaluation");
    assert_eq!(ids(&ev["form"]), [2, 3], "the new deduction has a fresh id");
    assert_eq!(ev["form"]["deductions"][1]["item"], "not_mandarin");
    assert_eq!(by_agent["evaluation"]["outcome"]["score"], 100 - 8 - 3);
}

async fn a_removed_disputed_deduction_shows_as_removed(db: TestDb) {
    let app = spawn(db).await;
    let e = two_deductions(&app, "A-2").await;
    publish(&app).await;
    let (status, filed) = file(&app, &e, json!({ "deduction_ids": [1] })).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let panel = app.login("panel").await;
    let appeal = filed["id"].as_i64().unwrap();
    // The panel keeps only the second deduction.
    let kept = e["form"]["deductions"][1].clone();
    let (status, body) = post(
        &panel,
        app.url(&format!("/api/appeals/{appeal}/decision")),
        json!({ "outcome": "amended", "reason": "the tone was fine", "deductions": [kept] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let agent = app.login("agent-a1").await;
    for client in [&panel, &agent] {
        let (_, view) = get_json(client, &app.url(&format!("/api/appeals/{appeal}"))).await;
        let d = &view["disputed"][0];
        assert_eq!(d["id"], 1, "{view}");
        assert_eq!(d["status"], "removed");
        assert_eq!(d["index"], Value::Null);
        // What it was, from the decision's revision, not whatever is first now.
        assert_eq!(d["deduction"]["item"], "commanding_tone");
        assert_eq!(view["deductions"], json!([]));
    }
}

async fn deduction_ids_are_assigned_by_the_server(db: TestDb) {
    let app = spawn(db).await;
    let (_, assignment) = crate::grading::pulled(&app, "A-3", "agent-a1", "insp").await;
    let insp = app.login("insp").await;
    let e = crate::grading::open(&app, &insp, assignment).await;
    let url = app.url(&format!("/api/evaluations/{}", e["id"]));
    let save = |form: Value, revision: Value| {
        let insp = insp.clone();
        let url = url.clone();
        async move {
            let resp = insp
                .put(url)
                .json(&json!({ "form": form, "revision": revision }))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            resp.json::<Value>().await.unwrap()
        }
    };
    // Ids the client makes up (and a duplicate) are not trusted.
    let mut a = deduction("shirking", &[1_000]);
    a["id"] = json!(40);
    let mut b = deduction("not_mandarin", &[2_000]);
    b["id"] = json!(40);
    let saved = save(
        json!({ "deductions": [a, b], "next_deduction_id": 1 }),
        e["revision"].clone(),
    )
    .await;
    assert_eq!(ids(&saved["form"]), [1, 2], "{saved}");
    // The second removed, then a new one: it does not get 2 back.
    let first = saved["form"]["deductions"][0].clone();
    let saved = save(json!({ "deductions": [first] }), saved["revision"].clone()).await;
    assert_eq!(ids(&saved["form"]), [1]);
    let first = saved["form"]["deductions"][0].clone();
    let saved = save(
        json!({ "deductions": [first, deduction("forbidden_phrase", &[3_000])] }),
        saved["revision"].clone(),
    )
    .await;
    assert_eq!(ids(&saved["form"]), [1, 3]);
    // An unknown id when filing is refused.
    let e = two_deductions(&app, "A-4").await;
    publish(&app).await;
    let (status, body) = file(&app, &e, json!({ "deduction_ids": [9] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "invalid_appeal");
    let (status, body) = file(&app, &e, json!({ "deduction_ids": [1], "deductions": [0] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

async fn indexes_are_converted_at_filing_and_by_the_migration(db: TestDb) {
    let app = spawn(db).await;
    let e = two_deductions(&app, "A-5").await;
    publish(&app).await;
    // An older client names the second deduction by its position.
    let (status, filed) = file(&app, &e, json!({ "deductions": [1] })).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["deduction_ids"], json!([2]));
    let (status, body) = file(&app, &e, json!({ "deductions": [5] })).await;
    assert_ne!(status, StatusCode::CREATED, "{body}");

    // A row stored before ids existed held indexes; migration 0014 turns them into the
    // derived ids (position + 1). Its statement, run again on such a row:
    let pool = &app.state.db.pool;
    sqlx::query("UPDATE appeals SET deductions = '[0,1]' WHERE id = $1")
        .bind(filed["id"].as_i64().unwrap())
        .execute(pool)
        .await
        .unwrap();
    let migration = match app.state.db.backend {
        callgrade::store::Backend::Sqlite => {
            include_str!("../../migrations/sqlite/0014_appeal_deduction_ids.sql")
        }
        callgrade::store::Backend::Postgres => {
            include_str!("../../migrations/postgres/0014_appeal_deduction_ids.sql")
        }
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(migration.to_string()))
        .execute(pool)
        .await
        .unwrap();
    let panel = app.login("panel").await;
    let (_, view) = get_json(&panel, &app.url(&format!("/api/appeals/{}", filed["id"]))).await;
    assert_eq!(view["deduction_ids"], json!([1, 2]), "{view}");
    assert_eq!(view["disputed"][1]["deduction"]["item"], "forbidden_phrase");
}
