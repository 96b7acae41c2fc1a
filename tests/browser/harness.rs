//! What the browser tests share: one headless Chromium at a time ([`browser`]), screenshots
//! ([`shot`]), accessibility checks with axe-core ([`axe_check`], [`assert_accessible`]) and a
//! tiny page server for testing the harness itself ([`serve_pages`]).

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex, MutexGuard};

use crate::helpers::{have_tool, tool_found};
use crate::webdriver::{self, Driver, Options};

/// Browsers take turns: a test holds this while its browser lives.
static TURN: Mutex<()> = Mutex::const_new(());

/// A headless Chromium for one test, the only one running; derefs to its [`Driver`].
pub struct Browser {
    pub driver: Driver,
    _turn: MutexGuard<'static, ()>,
}

impl Deref for Browser {
    type Target = Driver;
    fn deref(&self) -> &Driver {
        &self.driver
    }
}

/// A 1280×900 headless Chromium once the previous test's has closed, or `None` (the test
/// returns) when chromium or chromedriver is missing: see [`have_browser`].
pub async fn browser() -> Option<Browser> {
    browser_with(Options::default()).await
}

/// [`browser`] with another window size or extra Chromium arguments.
pub async fn browser_with(options: Options) -> Option<Browser> {
    if !have_browser() {
        return None;
    }
    let turn = TURN.lock().await;
    let driver = Driver::start_with(options)
        .await
        .unwrap_or_else(|e| panic!("headless Chromium does not start: {e}"));
    Some(Browser {
        driver,
        _turn: turn,
    })
}

/// Whether chromium and chromedriver run (`AGENTSEND_CHROMIUM`, `AGENTSEND_CHROMEDRIVER`, else
/// on `PATH`): the tool policy of `helpers::have_tool`, with its note printed once per run.
pub fn have_browser() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let chromium = webdriver::chromium().display().to_string();
        let driver = webdriver::chromedriver().display().to_string();
        let probe = if tool_found(&[&chromium, "--version"]) {
            [driver, "--version".to_owned()]
        } else {
            [chromium, "--version".to_owned()]
        };
        let probe: Vec<&str> = probe.iter().map(String::as_str).collect();
        have_tool("chromium and chromedriver (the browser suite)", &probe)
    })
}

/// Cargo's target directory (this executable is `<target>/<profile>/deps/<name>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_owned()
}

/// `$AGENTSEND_SCREENSHOTS`, else `<target>/ui-screenshots` (created).
pub fn screenshots_dir() -> PathBuf {
    let dir = std::env::var_os("AGENTSEND_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("ui-screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves the page as `<screenshots dir>/<name>.png` and returns the path.
pub async fn shot(driver: &Driver, name: &str) -> PathBuf {
    let path = screenshots_dir().join(format!("{name}.png"));
    driver.screenshot(&path).await.unwrap();
    path
}

/// A serious or critical accessibility violation axe-core found.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The rule, e.g. `color-contrast`, `image-alt`.
    pub id: String,
    /// `serious` or `critical`.
    pub impact: String,
    pub help: String,
    /// CSS selectors of the offending nodes.
    pub targets: Vec<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let more = match self.targets.len() {
            n if n > 5 => format!(" and {} more", n - 5),
            _ => String::new(),
        };
        let first: Vec<&str> = self.targets.iter().take(5).map(String::as_str).collect();
        write!(
            f,
            "{} ({}): {} at {}{more}",
            self.id,
            self.impact,
            self.help,
            first.join(", ")
        )
    }
}

/// axe.min.js: `$AGENTSEND_AXE_JS` (exported by `.ci/run`), else where `.ci/run` installs it,
/// `<target>/ui-tools/node_modules/axe-core/axe.min.js`.
pub fn axe_path() -> PathBuf {
    std::env::var_os("AGENTSEND_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("ui-tools/node_modules/axe-core/axe.min.js"))
}

/// Runs axe-core on the current page (not inside its frames: a message's HTML is the sender's)
/// and returns the serious and critical violations. The script is injected through WebDriver,
/// which the page's CSP does not govern. Without axe-core this is empty, after a note (a
/// failure with `AGENTSEND_TEST_TOOLS=required`).
pub async fn axe_check(driver: &Driver) -> Vec<Violation> {
    let path = axe_path();
    let path_str = path.display().to_string();
    if !have_tool("axe-core (AGENTSEND_AXE_JS)", &["test", "-f", &path_str]) {
        return Vec::new();
    }
    let loaded = driver
        .execute("return typeof window.axe", &[])
        .await
        .unwrap();
    if loaded != "object" {
        let source = std::fs::read_to_string(&path).unwrap();
        let loaded = driver
            .execute(&format!("{source}\n;return typeof window.axe;"), &[])
            .await
            .unwrap();
        assert_eq!(loaded, "object", "axe-core did not load from {path_str}");
    }
    let script = "const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations'], iframes: false}).then(
          r => done(r.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        targets: v.nodes.map(n => String(n.target))}))),
          e => done({error: String(e)}));";
    let result = driver.execute_async(script, &[]).await.unwrap();
    assert!(result.get("error").is_none(), "axe.run failed: {result}");
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    result
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Violation {
            id: text(v, "id"),
            impact: text(v, "impact"),
            help: text(v, "help"),
            targets: v["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap_or_default().to_owned())
                .collect(),
        })
        .collect()
}

/// Fails, listing them, when axe-core finds serious or critical violations on the page.
pub async fn assert_accessible(driver: &Driver, page: &str) {
    let found = axe_check(driver).await;
    assert!(
        found.is_empty(),
        "axe-core: {} serious or critical violations on {page}:\n  {}",
        found.len(),
        found
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

/// Fixed pages served on 127.0.0.1:0 (stopped on drop).
pub struct Pages {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Pages {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves each `(path, content type, body)` with the header `Content-Security-Policy: csp`
/// (any other path is 404), one request per connection.
pub async fn serve_pages(csp: &str, pages: &[(&str, &str, &str)]) -> Pages {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let pages: Vec<(String, String, String)> = pages
        .iter()
        .map(|(p, t, b)| ((*p).to_owned(), (*t).to_owned(), (*b).to_owned()))
        .collect();
    let csp = csp.to_owned();
    let task = tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (pages, csp) = (pages.clone(), csp.clone());
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request);
                let path = head.split(' ').nth(1).unwrap_or("/");
                let (status, kind, body) = match pages.iter().find(|(p, ..)| p == path) {
                    Some((_, kind, body)) => ("200 OK", kind.as_str(), body.as_str()),
                    None => ("404 Not Found", "text/plain", "not found"),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                     Content-Security-Policy: {csp}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
            });
        }
    });
    Pages { base, task }
}
