//! The harness against the real server: a page it serves opens, renders, and is checked.

use std::time::Instant;

use crate::harness::{axe_check, browser, shot};
use crate::helpers::TestApp;

#[tokio::test]
async fn the_api_reference_opens_in_the_browser() {
    let started = Instant::now();
    let Some(b) = browser().await else { return };
    let browser_started = started.elapsed();
    let app = TestApp::spawn().await;
    let started = Instant::now();
    b.goto(&format!("{}/docs/", app.base)).await.unwrap();
    let title = b.wait_for("#swagger-ui .info .title").await;
    let loaded = started.elapsed();
    assert!(title.text().await.unwrap().contains("AgentSend"));
    shot(&b, "smoke-docs").await;
    // Swagger UI is a third party's page: its findings are printed, not asserted.
    let found = axe_check(&b).await;
    eprintln!(
        "smoke: browser started in {browser_started:?}, /docs/ displayed in {loaded:?}; axe-core: {} serious or critical{}",
        found.len(),
        found.iter().map(|v| format!("\n  {v}")).collect::<String>()
    );
}
