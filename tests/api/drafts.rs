//! Drafts: writing them, scheduled sends that go at their time (also across a restart) and
//! exactly once, cancelling, and drafts a person must approve (by key or on the command line).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::attachments::{file, upload};
use crate::cli::{run, stdout};
use crate::helpers::{TestApp, assert_error, json};

const HOUR: Duration = Duration::from_secs(3600);

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// Two inboxes of the default account: mail from the first to the second is delivered here.
async fn alice_and_bob(app: &TestApp) -> (Value, Value) {
    let alice = app.create_inbox(json!({"address": "alice"})).await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    (alice, bob)
}

/// A complete draft's content, to bob.
fn to_bob(bob: &Value, subject: &str) -> Value {
    json!({"to": [bob["address"]], "subject": subject, "bodyText": "Hello Bob"})
}

/// `sendAt` that far from the server's now.
fn at(app: &TestApp, from_now: Duration) -> String {
    app.now().plus(from_now).to_string()
}

async fn create_as(app: &TestApp, key: &str, inbox: &Value, body: Value) -> Value {
    let (status, draft) = json(
        app.request_as(key, Method::POST, &format!("/inboxes/{}/drafts", id(inbox)))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    draft
}

async fn create(app: &TestApp, inbox: &Value, body: Value) -> Value {
    create_as(app, &app.key, inbox, body).await
}

async fn draft(app: &TestApp, draft: &Value) -> Value {
    let (status, d) = json(app.get(&format!("/drafts/{}", id(draft))).await).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    d
}

async fn patch(app: &TestApp, key: &str, draft: &Value, body: Value) -> reqwest::Response {
    app.request_as(
        key,
        Method::PATCH,
        &format!(
            "/inboxes/{}/drafts/{}",
            draft["inboxId"].as_str().unwrap(),
            id(draft)
        ),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

async fn post_as(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    app.request_as(key, Method::POST, path)
        .send()
        .await
        .unwrap()
}

/// The messages an inbox holds.
async fn messages_of(app: &TestApp, inbox: &Value) -> Vec<Value> {
    let (_, page) = json(
        app.get(&format!("/inboxes/{}/messages?limit=100", id(inbox)))
            .await,
    )
    .await;
    page["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_draft_is_written_listed_read_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    // Unfinished: no recipient yet.
    let first = create(&app, &alice, json!({"subject": "Plans", "bodyText": "..."})).await;
    assert_eq!(first["status"], "draft");
    assert_eq!(first["to"], json!([]));
    assert_eq!(first["inboxId"], alice["id"]);
    assert_eq!(first["requiresApproval"], false);
    assert!(first["sendAt"].is_null() && first["messageId"].is_null());
    let second = create(&app, &alice, to_bob(&bob, "Second")).await;

    let (status, list) = json(app.get(&format!("/inboxes/{}/drafts", id(&alice))).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 2);
    assert_eq!(list["data"][0]["id"], second["id"], "newest first");
    let (_, one) = json(
        app.get(&format!("/inboxes/{}/drafts?limit=1", id(&alice)))
            .await,
    )
    .await;
    assert!(one["nextCursor"].is_string());

    let path = format!("/inboxes/{}/drafts/{}", id(&alice), id(&first));
    let (status, got) = json(app.get(&path).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, draft(&app, &first).await);
    // Another inbox's path does not find it.
    let res = app
        .get(&format!("/inboxes/{}/drafts/{}", id(&bob), id(&first)))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "DRAFT_NOT_FOUND").await;

    let (status, changed) = json(
        patch(
            &app,
            &app.key,
            &first,
            json!({"to": ["ada@example.com"], "bodyText": null}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["to"], json!(["ada@example.com"]));
    assert_eq!(changed["subject"], "Plans");
    assert!(changed["bodyText"].is_null());

    // Each field follows the rule of a send.
    let res = patch(&app, &app.key, &first, json!({"to": ["not an address"]})).await;
    let body = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert!(body["error"]["details"]["to"].is_array(), "{body}");

    let res = app.delete(&path).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.get(&format!("/drafts/{}", id(&first))).await;
    assert_error(res, StatusCode::NOT_FOUND, "DRAFT_NOT_FOUND").await;

    // Another account sees none of them.
    let (_, other) = app.other_account().await;
    let res = app
        .request_as(&other, Method::GET, &format!("/drafts/{}", id(&second)))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "DRAFT_NOT_FOUND").await;
    let res = post_as(&app, &other, &format!("/drafts/{}/send", id(&second))).await;
    assert_error(res, StatusCode::NOT_FOUND, "DRAFT_NOT_FOUND").await;
}

#[tokio::test]
async fn send_at_in_the_past_or_more_than_30_days_ahead_or_on_an_unfinished_draft_is_a_400() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let path = format!("/inboxes/{}/drafts", id(&alice));
    for send_at in [
        app.now().minus(HOUR).to_string(),
        at(&app, Duration::from_secs(31 * 86_400)),
        "next tuesday".to_owned(),
    ] {
        let mut body = to_bob(&bob, "Hi");
        body["sendAt"] = json!(send_at);
        let res = app.post(&path, &body).await;
        let body = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
        assert!(body["error"]["details"]["sendAt"].is_array(), "{body}");
    }
    let res = app
        .post(
            &path,
            &json!({"subject": "No one yet", "sendAt": at(&app, HOUR)}),
        )
        .await;
    let body = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert!(body["error"]["details"]["to"].is_array(), "{body}");
    let (_, list) = json(app.get(&path).await).await;
    assert_eq!(list["total"], 0, "nothing was stored");
}

#[tokio::test]
async fn a_scheduled_draft_is_sent_at_its_time_and_not_before() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let mut body = to_bob(&bob, "Later");
    body["sendAt"] = json!(at(&app, HOUR));
    let d = create(&app, &alice, body).await;
    assert_eq!(d["status"], "scheduled");

    app.advance(HOUR - Duration::from_secs(1));
    app.settle_drafts().await;
    assert_eq!(draft(&app, &d).await["status"], "scheduled");
    assert!(messages_of(&app, &bob).await.is_empty());

    app.advance(Duration::from_secs(2));
    app.settle_drafts().await;
    let sent = draft(&app, &d).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    let message_id = sent["messageId"].as_str().unwrap();
    let outbound = messages_of(&app, &alice).await;
    assert_eq!(outbound.len(), 1);
    assert_eq!(outbound[0]["id"], message_id);
    assert_eq!(outbound[0]["subject"], "Later");
    let received = messages_of(&app, &bob).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["subject"], "Later");

    // A sent draft is final.
    let res = patch(&app, &app.key, &d, json!({"subject": "Again"})).await;
    assert_error(res, StatusCode::CONFLICT, "DRAFT_ALREADY_SENT").await;
    let res = post_as(&app, &app.key, &format!("/drafts/{}/send", id(&d))).await;
    assert_error(res, StatusCode::CONFLICT, "DRAFT_ALREADY_SENT").await;
}

#[tokio::test]
async fn a_scheduled_send_survives_a_restart_and_goes_exactly_once() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let mut body = to_bob(&bob, "Across a restart");
    body["sendAt"] = json!(at(&app, HOUR));
    let d = create(&app, &alice, body).await;

    let app = app.restart().await;
    assert_eq!(draft(&app, &d).await["status"], "scheduled");
    app.advance(HOUR + Duration::from_secs(1));
    app.settle_drafts().await;
    assert_eq!(draft(&app, &d).await["status"], "sent");
    // Nothing is left to send it again, before or after another restart.
    let app = app.restart().await;
    app.advance(HOUR);
    app.settle_drafts().await;
    assert_eq!(messages_of(&app, &alice).await.len(), 1);
    let received = messages_of(&app, &bob).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["subject"], "Across a restart");
}

#[tokio::test]
async fn a_schedule_cancelled_by_patch_or_delete_never_sends() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let mut body = to_bob(&bob, "Cancelled");
    body["sendAt"] = json!(at(&app, HOUR));
    let patched = create(&app, &alice, body.clone()).await;
    let deleted = create(&app, &alice, body).await;

    let (status, d) = json(patch(&app, &app.key, &patched, json!({"sendAt": null})).await).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["status"], "draft");
    assert!(d["sendAt"].is_null());
    let res = app
        .delete(&format!("/inboxes/{}/drafts/{}", id(&alice), id(&deleted)))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    app.advance(2 * HOUR);
    app.settle_drafts().await;
    assert_eq!(draft(&app, &patched).await["status"], "draft");
    assert!(messages_of(&app, &alice).await.is_empty());
    assert!(messages_of(&app, &bob).await.is_empty());

    // A new time schedules it again.
    let (status, d) =
        json(patch(&app, &app.key, &patched, json!({"sendAt": at(&app, HOUR)})).await).await;
    assert_eq!(
        (status, d["status"].as_str()),
        (StatusCode::OK, Some("scheduled"))
    );
}

#[tokio::test]
async fn a_draft_that_needs_approval_is_sent_only_with_a_key_that_may_approve() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let agent = app.key_with_scopes(&["read", "send"]).await;
    let reviewer = app.key_with_scopes(&["read", "send", "approve"]).await;
    let mut body = to_bob(&bob, "Please review");
    body["requiresApproval"] = json!(true);
    let d = create_as(&app, &agent, &alice, body).await;
    assert_eq!(d["requiresApproval"], true);

    let send = format!("/drafts/{}/send", id(&d));
    let res = post_as(&app, &agent, &send).await;
    assert_error(res, StatusCode::FORBIDDEN, "APPROVAL_REQUIRED").await;
    // The agent cannot take the need away either.
    let res = patch(&app, &agent, &d, json!({"requiresApproval": false})).await;
    assert_error(res, StatusCode::FORBIDDEN, "APPROVAL_REQUIRED").await;
    let res = post_as(&app, &agent, &format!("/drafts/{}/approve", id(&d))).await;
    assert_error(res, StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE").await;
    assert!(messages_of(&app, &alice).await.is_empty());

    let (status, message) = json(post_as(&app, &reviewer, &send).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{message}");
    assert_eq!(message["status"], "queued");
    assert_eq!(message["subject"], "Please review");
    let sent = draft(&app, &d).await;
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["messageId"], message["id"]);
    assert!(
        sent["approvedAt"].is_string(),
        "the reviewer's send approved it"
    );
    app.settle_sends().await;
    assert_eq!(messages_of(&app, &bob).await.len(), 1);
    let res = patch(&app, &reviewer, &d, json!({"subject": "Edited"})).await;
    assert_error(res, StatusCode::CONFLICT, "DRAFT_ALREADY_SENT").await;
}

#[tokio::test]
async fn an_approved_scheduled_draft_goes_at_its_time_and_an_edit_takes_the_approval_away() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let agent = app.key_with_scopes(&["read", "send"]).await;
    let reviewer = app.key_with_scopes(&["read", "approve"]).await;
    let mut body = to_bob(&bob, "Scheduled for review");
    body["requiresApproval"] = json!(true);
    body["sendAt"] = json!(at(&app, HOUR));
    let approved = create_as(&app, &agent, &alice, body.clone()).await;
    let edited = create_as(&app, &agent, &alice, body.clone()).await;
    let never = create_as(&app, &agent, &alice, body).await;

    for d in [&approved, &edited] {
        let (status, a) =
            json(post_as(&app, &reviewer, &format!("/drafts/{}/approve", id(d))).await).await;
        assert_eq!(status, StatusCode::OK, "{a}");
        assert_eq!(a["status"], "scheduled");
        assert!(a["approvedAt"].is_string());
        assert_eq!(a["sendAt"], d["sendAt"], "still sent at its time");
    }
    // The reviewer approved other words.
    let (status, e) =
        json(patch(&app, &agent, &edited, json!({"bodyText": "Changed"})).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(e["approvedAt"].is_null(), "{e}");

    app.advance(HOUR - Duration::from_secs(1));
    app.settle_drafts().await;
    assert!(
        messages_of(&app, &bob).await.is_empty(),
        "not before its time"
    );
    app.advance(HOUR);
    app.settle_drafts().await;
    assert_eq!(draft(&app, &approved).await["status"], "sent");
    assert_eq!(draft(&app, &edited).await["status"], "scheduled");
    assert_eq!(draft(&app, &never).await["status"], "scheduled");
    assert_eq!(messages_of(&app, &bob).await.len(), 1);

    // Approved after its time has passed, it goes at once.
    let res = post_as(&app, &reviewer, &format!("/drafts/{}/approve", id(&never))).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.settle_drafts().await;
    assert_eq!(draft(&app, &never).await["status"], "sent");
    assert_eq!(messages_of(&app, &bob).await.len(), 2);
}

#[tokio::test]
async fn the_operator_approves_a_draft_on_the_command_line_and_the_server_sends_it() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let agent = app.key_with_scopes(&["read", "send"]).await;
    let mut body = to_bob(&bob, "Operator review");
    body["requiresApproval"] = json!(true);
    let d = create_as(&app, &agent, &alice, body).await;
    let (db, dir) = (app.db_arg(), app.dir());

    let listed = stdout(&run(
        &dir,
        &[
            "--db",
            &db,
            "drafts",
            "list",
            "--account",
            &app.account_id,
            "--pending",
        ],
    ));
    assert!(
        listed.contains(id(&d)) && listed.contains("pending"),
        "{listed}"
    );
    // The operator reads what the agent wrote, and approves that revision only.
    let shown = stdout(&run(&dir, &["--db", &db, "drafts", "show", id(&d)]));
    let revision = d["revision"].to_string();
    assert!(
        shown.contains(&format!("(revision {revision})"))
            && shown.contains(d["bodyText"].as_str().unwrap()),
        "{shown}"
    );
    let stale = (d["revision"].as_i64().unwrap() + 1).to_string();
    let refused = run(
        &dir,
        &[
            "--db",
            &db,
            "drafts",
            "approve",
            id(&d),
            "--revision",
            &stale,
        ],
    );
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("not the one reviewed"), "{why}");
    let out = stdout(&run(
        &dir,
        &[
            "--db",
            &db,
            "drafts",
            "approve",
            id(&d),
            "--revision",
            &revision,
        ],
    ));
    assert!(out.contains(id(&d)), "{out}");
    let approved = draft(&app, &d).await;
    assert_eq!(approved["approvedBy"], "operator");
    assert_eq!(approved["status"], "scheduled");

    // The command line's clock is the system's; the server's test clock catches up.
    app.advance(Duration::from_secs(60));
    app.settle_drafts().await;
    assert_eq!(draft(&app, &d).await["status"], "sent");
    assert_eq!(messages_of(&app, &bob).await.len(), 1);
    let listed = stdout(&run(
        &dir,
        &[
            "--db",
            &db,
            "drafts",
            "list",
            "--account",
            &app.account_id,
            "--pending",
        ],
    ));
    assert!(!listed.contains(id(&d)), "{listed}");
}

#[tokio::test]
async fn a_scheduled_send_refused_at_its_time_marks_the_draft_failed() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let mut body = to_bob(&bob, "Into the void");
    body["sendAt"] = json!(at(&app, HOUR));
    let d = create(&app, &alice, body).await;
    let res = app.delete(&format!("/inboxes/{}", id(&alice))).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.advance(2 * HOUR);
    app.settle_drafts().await;
    let failed = draft(&app, &d).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["errorMessage"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(messages_of(&app, &bob).await.is_empty());
}

#[tokio::test]
async fn a_key_without_send_cannot_write_or_send_a_draft() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let reader = app.key_with_scopes(&["read"]).await;
    let res = app
        .request_as(
            &reader,
            Method::POST,
            &format!("/inboxes/{}/drafts", id(&alice)),
        )
        .json(&to_bob(&bob, "Hi"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE").await;
    let d = create(&app, &alice, to_bob(&bob, "Hi")).await;
    let res = post_as(&app, &reader, &format!("/drafts/{}/send", id(&d))).await;
    assert_error(res, StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE").await;
    // The reader still reads it.
    let res = app
        .request_as(&reader, Method::GET, &format!("/drafts/{}", id(&d)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_upload_a_draft_names_outlives_the_upload_retention_and_goes_with_it() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let attachment = upload(&app, file("plan.txt", "text/plain", b"the plan")).await;
    let mut body = to_bob(&bob, "With the plan");
    body["attachmentIds"] = json!([attachment["id"]]);
    body["sendAt"] = json!(at(&app, Duration::from_secs(10 * 86_400)));
    let d = create(&app, &alice, body).await;
    assert_eq!(d["attachmentIds"], json!([attachment["id"]]));

    app.advance(Duration::from_secs(8 * 86_400));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.attachments, 0, "a scheduled draft still needs it");
    app.advance(Duration::from_secs(2 * 86_400));
    app.settle_drafts().await;
    assert_eq!(draft(&app, &d).await["status"], "sent");
    let received = messages_of(&app, &bob).await;
    assert_eq!(received[0]["attachments"][0]["filename"], "plan.txt");
}

#[tokio::test]
async fn an_approval_names_the_revision_reviewed_and_a_change_since_is_not_approved() {
    let app = TestApp::spawn().await;
    let (alice, bob) = alice_and_bob(&app).await;
    let agent = app.key_with_scopes(&["read", "send"]).await;
    let reviewer = app.key_with_scopes(&["read", "approve"]).await;
    let mut body = to_bob(&bob, "Reviewed words");
    body["requiresApproval"] = json!(true);
    let d = create_as(&app, &agent, &alice, body).await;
    let reviewed = d["revision"].as_i64().unwrap();
    let approve = |revision: Value| {
        app.request_as(
            &reviewer,
            Method::POST,
            &format!("/drafts/{}/approve", id(&d)),
        )
        .json(&json!({"revision": revision}))
        .send()
    };

    // The agent changes its words after the reviewer read them.
    let (status, changed) =
        json(patch(&app, &agent, &d, json!({"bodyText": "Other words"})).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(changed["revision"].as_i64().unwrap() > reviewed);
    let res = approve(json!(reviewed)).await.unwrap();
    assert_error(res, StatusCode::CONFLICT, "DRAFT_CHANGED").await;
    assert_eq!(draft(&app, &d).await["approvedAt"], Value::Null);
    app.settle_drafts().await;
    assert!(messages_of(&app, &bob).await.is_empty(), "nothing went");

    for bad in [json!("one"), json!(-1)] {
        let res = approve(bad).await.unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    }

    // Approving what is there now works.
    let (status, approved) = json(approve(changed["revision"].clone()).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert!(approved["approvedAt"].is_string());
    app.settle_drafts().await;
    assert_eq!(draft(&app, &d).await["status"], "sent");
    let sent = messages_of(&app, &bob).await;
    assert_eq!(sent.len(), 1);
}
