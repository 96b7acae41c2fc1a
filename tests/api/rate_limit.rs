use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, assert_error};

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn headers_count_down_then_429_with_retry_after_and_counters_survive_a_restart() {
    let app = TestApp::spawn_with(|c| c.limits.rate_limit = 3).await;
    let mut reset = String::new();
    for remaining in ["2", "1", "0"] {
        let res = app.get("/inboxes").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, "x-ratelimit-limit"), "3");
        assert_eq!(header(&res, "x-ratelimit-remaining"), remaining);
        reset = header(&res, "x-ratelimit-reset");
    }
    let now = app.now().as_secs();
    let reset_at: i64 = reset.parse().unwrap();
    assert!(reset_at > now && reset_at <= now + 60);

    let res = app.get("/inboxes").await;
    let retry_after: i64 = header(&res, "retry-after").parse().unwrap();
    assert_eq!(retry_after, reset_at - now);
    assert_eq!(header(&res, "x-ratelimit-remaining"), "0");
    let err = assert_error(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED").await;
    assert_eq!(
        err["error"]["message"],
        format!("Rate limit exceeded. Try again in {retry_after} seconds.")
    );

    let app = app.restart().await;
    let res = app.get("/inboxes").await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED").await;

    app.advance(Duration::from_secs(u64::try_from(retry_after).unwrap()));
    let res = app.get("/inboxes").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "x-ratelimit-remaining"), "2");
}

#[tokio::test]
async fn accounts_and_anonymous_clients_have_separate_buckets() {
    let app = TestApp::spawn_with(|c| c.limits.rate_limit = 2).await;
    let (_, other) = app.other_account().await;
    for _ in 0..2 {
        assert_eq!(app.get("/account").await.status(), StatusCode::OK);
    }
    assert_error(
        app.get("/account").await,
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMIT_EXCEEDED",
    )
    .await;
    let res = app
        .request_as(&other, Method::GET, "/account")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "x-ratelimit-remaining"), "1");
    // Unauthenticated requests (and requests with a bad key) count against the client IP.
    let res = app.anonymous(Method::GET, "/health").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "x-ratelimit-remaining"), "1");
    let res = app
        .request_as(
            "ask_0000000000000000000000000000000000000000",
            Method::GET,
            "/inboxes",
        )
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let res = app.anonymous(Method::GET, "/health").send().await.unwrap();
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED").await;
}

#[tokio::test]
async fn a_limit_of_zero_turns_limiting_off() {
    let app = TestApp::spawn_with(|c| c.limits.rate_limit = 0).await;
    for _ in 0..150 {
        let res = app.get("/account").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get("x-ratelimit-limit").is_none());
    }
}

#[tokio::test]
async fn the_janitor_drops_counters_of_finished_windows() {
    let app = TestApp::spawn_with(|c| c.limits.rate_limit = 10).await;
    app.get("/account").await;
    app.anonymous(Method::GET, "/health").send().await.unwrap();
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.rate_limit_windows, 0, "current windows are kept");
    app.advance(Duration::from_secs(61));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.rate_limit_windows, 2);
}
