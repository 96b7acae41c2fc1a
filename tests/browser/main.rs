#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic is how a test fails"
)]

//! Browser tests: the real server in-process (`helpers::TestApp`, port 0, its own temporary
//! SQLite file) driven by headless Chromium over WebDriver (`webdriver`, our own small client).
//!
//! One browser at a time: every test starts its own chromedriver and Chromium (about half a
//! second, a fresh profile, so no state leaks between tests) through `harness::browser()`,
//! which waits for the previous test's browser to close. Tests still run on the harness's
//! threads; only the browser part is serialised.
//!
//! Tools: chromium and chromedriver (`AGENTSEND_CHROMIUM`, `AGENTSEND_CHROMEDRIVER`, else on
//! `PATH`), axe-core (`AGENTSEND_AXE_JS`). Without them plain `cargo test` passes and says
//! what it did not run; `.ci/run` installs them and sets `AGENTSEND_TEST_TOOLS=required`.
//! Screenshots go to `$AGENTSEND_SCREENSHOTS`, else `<target>/ui-screenshots/`.
//!
//!     cargo test --test browser

#[allow(dead_code)]
#[path = "../api/backend.rs"]
mod backend;
#[allow(dead_code)]
#[path = "../api/dns.rs"]
mod dns;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/smtp_client.rs"]
mod smtp_client;

#[allow(dead_code)]
mod harness;
#[allow(dead_code)]
mod webdriver;

mod selftest;
mod smoke;
mod ui;
