//! Several nodes on one PostgreSQL database (run when `AGENTSEND_TEST_DATABASE_URL` is set;
//! the run's summary says so otherwise): work queued on one node is done once, by either;
//! wake-ups and the event stream cross nodes; rate limits and Idempotency-Keys are shared; a
//! node that dies holding work has it taken over when its lease runs out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use agentsend::domain::{AccountId, InboxId, MessageId, ThreadId, Timestamp};
use agentsend::webhooks::Event;
use agentsend::webhooks::events::MessageSent;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend::postgres;
use crate::helpers::{TestApp, eventually, json};
use crate::receiver::{Receiver, Reply};

/// Two nodes on one fresh database; `None` (the test checks nothing) without PostgreSQL.
async fn two_nodes(configure: impl FnOnce(&mut agentsend::Config)) -> Option<(TestApp, TestApp)> {
    if !postgres() {
        return None;
    }
    let a = TestApp::spawn_with(configure).await;
    let b = a.second_node().await;
    Some((a, b))
}

/// An event to deliver, told apart by its subject.
fn event(subject: &str) -> Event {
    Event::MessageSent(MessageSent {
        message_id: MessageId::new(),
        inbox_id: InboxId::new(),
        thread_id: ThreadId::new(),
        to: vec!["someone@example.com".to_owned()],
        cc: vec![],
        bcc: vec![],
        subject: subject.to_owned(),
        sent_at: Timestamp::from_millis(0),
    })
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

#[tokio::test]
async fn a_send_queued_on_one_node_is_delivered_once_while_both_work() {
    let Some((a, b)) = two_nodes(|_| {}).await else {
        return;
    };
    let alice = a.create_inbox(json!({"address": "alice"})).await;
    let bob = b.create_inbox(json!({"address": "bob"})).await;
    let mut sent = Vec::new();
    for n in 0..20 {
        let node = if n % 2 == 0 { &a } else { &b };
        let (status, m) = json(
            node.post(
                &format!("/inboxes/{}/messages", id(&alice)),
                &json!({"to": ["bob@agentsend.localhost"], "subject": format!("n{n}"), "text": "hi"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{m}");
        sent.push(id(&m).to_owned());
    }
    // Both nodes' workers at it at once, besides their own background workers.
    let (x, y) = tokio::join!(a.sender.drain(), b.sender.drain());
    x.unwrap();
    y.unwrap();
    a.settle_sends().await;
    b.settle_sends().await;
    let received = eventually("every send delivered", || async {
        let (_, list) = json(
            b.get(&format!("/inboxes/{}/messages?limit=100", id(&bob)))
                .await,
        )
        .await;
        (list["total"] == 20).then_some(list)
    })
    .await;
    let subjects: Vec<&str> = received["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    let distinct: BTreeSet<&str> = subjects.iter().copied().collect();
    assert_eq!(subjects.len(), 20);
    assert_eq!(distinct.len(), 20, "each send delivered once: {subjects:?}");
    for m in &sent {
        let (_, message) = json(a.get(&format!("/messages/{m}")).await).await;
        assert_eq!(message["status"], "delivered", "{message}");
    }
}

#[tokio::test]
async fn a_thousand_webhook_deliveries_spread_over_two_nodes_arrive_once_each() {
    let Some((a, b)) = two_nodes(|_| {}).await else {
        return;
    };
    let receiver = Receiver::start(Reply::Status(200, "")).await;
    // Ten webhooks (each has a cap on its deliveries under way, across nodes) ...
    let mut hooks = Vec::new();
    for _ in 0..10 {
        let (_, hook) = json(a.post("/webhooks", &json!({"url": receiver.url})).await).await;
        hooks.push(hook);
    }
    let account: AccountId = a.account_id.parse().unwrap();
    let now = a.now();
    // ... and a hundred events written at once on node A: a thousand deliveries.
    a.state
        .store
        .write(move |tx| {
            for n in 0..100 {
                agentsend::events::emit(tx, account, &event(&format!("n{n}")), now)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let (x, y) = tokio::join!(a.worker.drain(), b.worker.drain());
    x.unwrap();
    y.unwrap();
    a.settle_webhooks().await;
    b.settle_webhooks().await;
    let got = receiver.wait_for(1000).await;
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for r in &got {
        *per_id.entry(r.header("webhook-id").to_owned()).or_default() += 1;
    }
    assert_eq!(got.len(), 1000, "no delivery twice");
    assert_eq!(per_id.len(), 1000);
    assert!(per_id.values().all(|&n| n == 1));
    // Who claimed each delivery (a node's claims are in its start's id).
    let by_node = |node: &TestApp| -> i64 {
        a.sql()
            .query_row(
                "SELECT count(*) FROM webhook_deliveries WHERE claimed_by = ?1",
                [node.state.boot.as_str()],
                |r| r.get(0),
            )
            .unwrap()
    };
    let (by_a, by_b) = (by_node(&a), by_node(&b));
    assert_eq!(by_a + by_b, 1000);
    assert!(
        by_a > 0 && by_b > 0,
        "both nodes delivered: {by_a} and {by_b}"
    );
    for hook in &hooks {
        let (_, log) = json(
            b.get(&format!("/webhooks/{}/deliveries?limit=1", id(hook)))
                .await,
        )
        .await;
        assert_eq!(log["total"], 100);
    }
}

#[tokio::test]
async fn an_event_on_one_node_reaches_a_waiter_on_the_other_at_once() {
    let Some((a, b)) = two_nodes(|_| {}).await else {
        return;
    };
    let inbox = a.create_inbox(json!({"address": "waits"})).await;
    // A long wait on node B for the next message in the inbox...
    let waiter = {
        let request = b.request(
            Method::GET,
            &format!("/inboxes/{}/messages/wait?timeout=20", id(&inbox)),
        );
        tokio::spawn(async move { request.send().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...answered by mail that node A stores.
    let started = std::time::Instant::now();
    let (code, _) = crate::smtp_client::send_mail(
        a.smtp,
        "sender@example.com",
        &["waits@agentsend.localhost"],
        b"From: sender@example.com\r\nSubject: across\r\n\r\nhello\r\n",
    )
    .await;
    assert_eq!(code, 250);
    let res = waiter.await.unwrap();
    let waited = started.elapsed();
    let (status, body) = json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subject"], "across", "{body}");
    assert!(
        waited < Duration::from_secs(5),
        "woken by the other node's commit, not by a timeout: {waited:?}"
    );
}

#[tokio::test]
async fn the_rate_limit_counts_requests_on_every_node() {
    let Some((a, b)) = two_nodes(|c| c.limits.rate_limit = 6).await else {
        return;
    };
    for n in 0..6 {
        let node = if n % 2 == 0 { &a } else { &b };
        assert_eq!(node.get("/inboxes").await.status(), StatusCode::OK, "{n}");
    }
    assert_eq!(
        a.get("/inboxes").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        b.get("/inboxes").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn an_idempotent_post_retried_on_the_other_node_is_replayed() {
    let Some((a, b)) = two_nodes(|_| {}).await else {
        return;
    };
    let post = |node: &TestApp| {
        node.request(Method::POST, "/inboxes")
            .header("Idempotency-Key", "create-once")
            .json(&json!({"address": "once"}))
            .send()
    };
    let first = post(&a).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let (_, created) = json(first).await;
    let retry = post(&b).await.unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers().get("idempotent-replayed").unwrap(), "true");
    let (_, replayed) = json(retry).await;
    assert_eq!(replayed, created);
    let (_, list) = json(b.get("/inboxes").await).await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn work_claimed_by_a_node_that_died_is_taken_over_after_its_lease_and_done_once() {
    let Some((mut a, b)) = two_nodes(|_| {}).await else {
        return;
    };
    let receiver = Receiver::start(Reply::Status(200, "")).await;
    a.post("/webhooks", &json!({"url": receiver.url})).await;
    // Node A queues and claims a delivery in one transaction, as its worker would, then dies
    // before attempting it.
    let account: AccountId = a.account_id.parse().unwrap();
    let now = a.now();
    let boot = a.state.boot.clone();
    let claimed = a
        .state
        .store
        .write(move |tx| {
            agentsend::events::emit(tx, account, &event("orphan"), now)?;
            let limits = agentsend::store::webhooks::ClaimLimits {
                max: 10,
                per_webhook: 10,
                lease: agentsend::store::jobs::Lease {
                    until: now.plus(Duration::from_secs(60)),
                    holder: boot,
                },
            };
            agentsend::store::webhooks::claim_due(tx, now, limits)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    a.shutdown().await;
    // Node B leaves it alone while the lease holds (a live node's claim looks the same)...
    assert_eq!(b.worker.run_once().await.unwrap(), 0, "still leased");
    assert!(receiver.received().is_empty());
    // ...and takes it over once the lease has run out.
    a.advance(Duration::from_secs(61));
    b.settle_webhooks().await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("webhook-id"), claimed[0].id.to_string());
}

#[tokio::test]
async fn the_janitor_makes_its_pass_on_one_node_at_a_time() {
    let Some((a, b)) = two_nodes(|_| {}).await else {
        return;
    };
    // While node A makes its pass, node B's turn is refused (its work never starts)...
    let during = a
        .state
        .store
        .one_node_at_a_time(async {
            b.state
                .store
                .one_node_at_a_time(async { "B's pass" })
                .await
                .unwrap()
        })
        .await
        .unwrap();
    assert_eq!(during, Some(None));
    // ...and given once A's is over; the server's own pass runs the same way.
    let after = b.state.store.one_node_at_a_time(async { "B's pass" }).await;
    assert_eq!(after.unwrap(), Some("B's pass"));
    let pass = b
        .state
        .store
        .one_node_at_a_time(agentsend::jobs::janitor_tick(&b.state))
        .await
        .unwrap();
    assert!(pass.unwrap().is_ok());
    // A pass cut short (its task dropped mid-pass) gives the turn back as well.
    let cut = tokio::time::timeout(
        Duration::from_secs(2),
        a.state
            .store
            .one_node_at_a_time(std::future::pending::<()>()),
    )
    .await;
    assert!(cut.is_err(), "the pass never ends");
    eventually("the turn to be given back", || async {
        b.state.store.one_node_at_a_time(async {}).await.unwrap()
    })
    .await;
}
