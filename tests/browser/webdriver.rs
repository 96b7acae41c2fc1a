//! A minimal W3C WebDriver client over reqwest, for the browser tests and the UI benchmark:
//! starts its own `chromedriver --port=0` (killed on drop) and one headless Chromium session
//! (deleted on drop) with a temporary profile.
//!
//! Paths: `AGENTSEND_CHROMIUM` and `AGENTSEND_CHROMEDRIVER` when set, else `chromium` and
//! `chromedriver` on `PATH` ([`chromium`], [`chromedriver`]).
//!
//! Every call returns [`Result`]; an [`Error`] carries WebDriver's error code and message.
//! [`Driver::wait_for`] and [`Driver::wait_until`] panic on timeout, naming what they waited for.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

/// Special keys for [`Driver::keys`] and [`Element::send_keys`] (WebDriver's code points).
pub mod key {
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const TAB: &str = "\u{E004}";
    pub const BACKSPACE: &str = "\u{E003}";
    pub const ARROW_UP: &str = "\u{E013}";
    pub const ARROW_DOWN: &str = "\u{E015}";
    /// Modifiers stay pressed until the end of the [`super::Driver::keys`] call.
    pub const SHIFT: &str = "\u{E008}";
    pub const CONTROL: &str = "\u{E009}";
    pub const ALT: &str = "\u{E00A}";
    pub const META: &str = "\u{E03D}";
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long [`Driver::wait_for`] and [`Driver::wait_until`] wait.
pub const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// A failed WebDriver call (or chromedriver not starting).
#[derive(Debug)]
pub struct Error {
    /// The call, e.g. `POST /element`.
    pub call: String,
    /// WebDriver's error code (`no such element`, `javascript error`…), or `transport`.
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WebDriver {}: {}: {}",
            self.call, self.error, self.message
        )
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

fn fail(call: &str, error: &str, message: impl ToString) -> Error {
    Error {
        call: call.to_owned(),
        error: error.to_owned(),
        message: message.to_string(),
    }
}

/// `$var` when set, else `name`'s first match on `PATH` (else `name`, which will not run).
fn tool_path(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| PathBuf::from(name))
}

/// The browser: `AGENTSEND_CHROMIUM`, else `chromium` on `PATH`.
pub fn chromium() -> PathBuf {
    tool_path("AGENTSEND_CHROMIUM", "chromium")
}

/// The driver: `AGENTSEND_CHROMEDRIVER`, else `chromedriver` on `PATH`.
pub fn chromedriver() -> PathBuf {
    tool_path("AGENTSEND_CHROMEDRIVER", "chromedriver")
}

/// The HTTP side of one session: every call goes to `{url}{path}`.
struct Session {
    http: reqwest::Client,
    url: String,
}

impl Session {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let what = format!("{method} {}", if path.is_empty() { "/" } else { path });
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if method == Method::POST {
            req = req.json(&body.unwrap_or_else(|| json!({})));
        }
        let res = req.send().await.map_err(|e| fail(&what, "transport", e))?;
        let ok = res.status().is_success();
        let mut v: Value = res.json().await.map_err(|e| fail(&what, "transport", e))?;
        let value = v["value"].take();
        if ok {
            Ok(value)
        } else {
            let code = value["error"].as_str().unwrap_or("unknown error");
            Err(fail(&what, code, value["message"].as_str().unwrap_or("")))
        }
    }
}

/// Browser window size and extra Chromium arguments.
#[derive(Debug, Clone)]
pub struct Options {
    pub width: u32,
    pub height: u32,
    pub args: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 900,
            args: Vec::new(),
        }
    }
}

/// chromedriver and one headless Chromium session.
pub struct Driver {
    session: Arc<Session>,
    port: u16,
    id: String,
    child: Child,
    open: bool,
    _profile: tempfile::TempDir,
}

impl Driver {
    /// A 1280×900 headless Chromium.
    pub async fn start() -> Result<Self> {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Result<Self> {
        // reqwest is built without a default TLS provider; plain HTTP needs one chosen too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (mut child, port) = Self::start_driver()?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| fail("client", "transport", e))?;
        let base = format!("http://127.0.0.1:{port}");
        let ready = async {
            let deadline = Instant::now() + WAIT;
            loop {
                let status = http.get(format!("{base}/status")).send().await;
                if let Ok(res) = status
                    && let Ok(v) = res.json::<Value>().await
                    && v["value"]["ready"] == true
                {
                    return Ok(());
                }
                if Instant::now() > deadline {
                    return Err(fail("GET /status", "timeout", "chromedriver is not ready"));
                }
                tokio::time::sleep(POLL).await;
            }
        };
        if let Err(e) = ready.await {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        let profile = tempfile::tempdir().map_err(|e| fail("profile", "io", e))?;
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={},{}", options.width, options.height),
        ];
        args.extend(options.args);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium(), "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let new = Session {
            http: http.clone(),
            url: format!("{base}/session"),
        };
        let created = match new.call(Method::POST, "", Some(caps)).await {
            Ok(v) => v,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let id = created["sessionId"].as_str().unwrap_or_default().to_owned();
        Ok(Self {
            session: Arc::new(Session {
                http,
                url: format!("{base}/session/{id}"),
            }),
            port,
            id,
            child,
            open: true,
            _profile: profile,
        })
    }

    /// Starts `chromedriver --port=0` and reads the port it chose from its first lines.
    fn start_driver() -> Result<(Child, u16)> {
        let mut child = Command::new(chromedriver())
            .args(["--port=0", "--log-level=WARNING"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail("spawn chromedriver", "io", e))?;
        let Some(stdout) = child.stdout.take() else {
            return Err(fail("spawn chromedriver", "io", "no stdout"));
        };
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the port, then drains the pipe so that chromedriver never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if let Some(rest) = line.split("successfully on port ").nth(1) {
                    let _ = tx.send(rest.trim_end_matches('.').parse::<u16>().ok());
                }
            }
        });
        match rx.recv_timeout(WAIT) {
            Ok(Some(port)) => Ok((child, port)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(fail("spawn chromedriver", "io", "no port announced"))
            }
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        self.session.call(method, path, body).await
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.call(Method::POST, "/url", Some(json!({"url": url})))
            .await
            .map(drop)
    }

    pub async fn current_url(&self) -> Result<String> {
        let v = self.call(Method::GET, "/url", None).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    pub async fn title(&self) -> Result<String> {
        let v = self.call(Method::GET, "/title", None).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    pub async fn back(&self) -> Result<()> {
        self.call(Method::POST, "/back", None).await.map(drop)
    }

    pub async fn refresh(&self) -> Result<()> {
        self.call(Method::POST, "/refresh", None).await.map(drop)
    }

    /// The first element matching `css` (`no such element` when none does).
    pub async fn find(&self, css: &str) -> Result<Element> {
        let v = self
            .call(Method::POST, "/element", Some(by_css(css)))
            .await?;
        Element::from_json(&self.session, &v).ok_or_else(|| fail("POST /element", "bad", &v))
    }

    /// Every element matching `css`, in document order.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let v = self
            .call(Method::POST, "/elements", Some(by_css(css)))
            .await?;
        Ok(elements(&self.session, &v))
    }

    /// Waits (up to [`WAIT`]) until an element matching `css` is present and displayed.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_for_within(css, WAIT).await
    }

    pub async fn wait_for_within(&self, css: &str, timeout: Duration) -> Element {
        let deadline = Instant::now() + timeout;
        loop {
            let mut last = String::from("no element matches");
            match self.find(css).await {
                Ok(el) => match el.is_displayed().await {
                    Ok(true) => return el,
                    Ok(false) => last = "present but not displayed".to_owned(),
                    Err(e) => last = e.to_string(),
                },
                Err(e) if e.error == "no such element" => {}
                Err(e) => last = e.to_string(),
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for `{css}` to be displayed ({last})"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits (up to [`WAIT`]) until the JavaScript expression `expr` is truthy; returns its value.
    pub async fn wait_until(&self, what: &str, expr: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        let script = format!("return ({expr});");
        loop {
            let v = self.execute(&script, &[]).await;
            if let Ok(v) = &v
                && truthy(v)
            {
                return v.clone();
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {WAIT:?} waiting for {what} (`{expr}` was {v:?})"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `script` as a function body with `arguments` = `args` (elements may be passed as
    /// `json!(element)`); returns what it returns. Not subject to the page's CSP.
    pub async fn execute(&self, script: &str, args: &[Value]) -> Result<Value> {
        let body = json!({"script": script, "args": args});
        self.call(Method::POST, "/execute/sync", Some(body)).await
    }

    /// As [`Self::execute`], but the result is what the script passes to its last argument,
    /// the callback `arguments[arguments.length - 1]` (within 30 s).
    pub async fn execute_async(&self, script: &str, args: &[Value]) -> Result<Value> {
        let body = json!({"script": script, "args": args});
        self.call(Method::POST, "/execute/async", Some(body)).await
    }

    /// Types `keys` to the focused element (or the document) with key actions; modifiers
    /// ([`key::SHIFT`], [`key::CONTROL`]…) stay pressed until the end, then are released.
    pub async fn keys(&self, keys: &str) -> Result<()> {
        let modifiers = [key::SHIFT, key::CONTROL, key::ALT, key::META];
        let (mut actions, mut held) = (Vec::new(), Vec::new());
        for c in keys.chars().map(String::from) {
            actions.push(json!({"type": "keyDown", "value": c}));
            if modifiers.contains(&c.as_str()) {
                held.push(c);
            } else {
                actions.push(json!({"type": "keyUp", "value": c}));
            }
        }
        for c in held.into_iter().rev() {
            actions.push(json!({"type": "keyUp", "value": c}));
        }
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.call(Method::POST, "/actions", Some(body)).await?;
        self.call(Method::DELETE, "/actions", None).await.map(drop)
    }

    /// The page as PNG bytes.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>> {
        let v = self.call(Method::GET, "/screenshot", None).await?;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| fail("GET /screenshot", "base64", e))
    }

    /// Saves the page as a PNG file.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let png = self.screenshot_png().await?;
        std::fs::write(path, png).map_err(|e| fail("screenshot", "io", e))
    }

    /// Resizes the window (the outer size; headless has no browser chrome around the page).
    pub async fn set_window_rect(&self, width: u32, height: u32) -> Result<()> {
        let body = json!({"width": width, "height": height});
        self.call(Method::POST, "/window/rect", Some(body))
            .await
            .map(drop)
    }

    /// Further calls act in `frame` (an `<iframe>` element) until [`Self::switch_to_parent`].
    pub async fn switch_to_frame(&self, frame: &Element) -> Result<()> {
        let body = json!({"id": frame});
        self.call(Method::POST, "/frame", Some(body))
            .await
            .map(drop)
    }

    pub async fn switch_to_parent(&self) -> Result<()> {
        self.call(Method::POST, "/frame/parent", None)
            .await
            .map(drop)
    }

    /// Back to the top-level document.
    pub async fn switch_to_top(&self) -> Result<()> {
        let body = json!({"id": null});
        self.call(Method::POST, "/frame", Some(body))
            .await
            .map(drop)
    }

    /// The browser console since the last call: `{level, message, timestamp}` entries.
    pub async fn browser_log(&self) -> Result<Vec<Value>> {
        let body = json!({"type": "browser"});
        let v = self.call(Method::POST, "/se/log", Some(body)).await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// How long [`Self::execute_async`] waits for its callback (30 s unless set).
    pub async fn set_script_timeout(&self, timeout: Duration) -> Result<()> {
        let body = json!({"script": timeout.as_millis() as u64});
        self.call(Method::POST, "/timeouts", Some(body))
            .await
            .map(drop)
    }

    /// A Chrome DevTools Protocol command (`Network.clearBrowserCache`…), through
    /// chromedriver's own endpoint.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Result<Value> {
        let body = json!({"cmd": cmd, "params": params});
        self.call(Method::POST, "/goog/cdp/execute", Some(body))
            .await
    }

    /// An element returned by [`Self::execute`].
    pub fn element(&self, v: &Value) -> Option<Element> {
        Element::from_json(&self.session, v)
    }

    /// Deletes the session (closing Chromium) now rather than on drop.
    pub async fn quit(mut self) -> Result<()> {
        self.open = false;
        self.call(Method::DELETE, "", None).await.map(drop)
    }
}

impl Drop for Driver {
    /// Deletes the session with a blocking request (no runtime is needed in a drop), which
    /// closes Chromium, then kills chromedriver.
    fn drop(&mut self) {
        if self.open
            && let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port))
        {
            let _ = s.set_read_timeout(Some(WAIT));
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n",
                self.id, self.port
            );
            let _ = s.read_to_end(&mut Vec::new());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// JavaScript's truthiness of a returned value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn by_css(css: &str) -> Value {
    json!({"using": "css selector", "value": css})
}

fn elements(session: &Arc<Session>, v: &Value) -> Vec<Element> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Element::from_json(session, e))
        .collect()
}

/// An element of the page; `json!(element)` passes it to [`Driver::execute`].
#[derive(Clone)]
pub struct Element {
    session: Arc<Session>,
    id: String,
}

impl std::fmt::Debug for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Element({})", self.id)
    }
}

impl Serialize for Element {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        json!({ ELEMENT: self.id }).serialize(s)
    }
}

impl Element {
    fn from_json(session: &Arc<Session>, v: &Value) -> Option<Self> {
        Some(Self {
            session: session.clone(),
            id: v.get(ELEMENT)?.as_str()?.to_owned(),
        })
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let path = format!("/element/{}{path}", self.id);
        self.session.call(method, &path, body).await
    }

    async fn string(&self, path: &str) -> Result<String> {
        let v = self.call(Method::GET, path, None).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    pub async fn click(&self) -> Result<()> {
        self.call(Method::POST, "/click", None).await.map(drop)
    }

    /// Types `text` into the element; for `<input type=file>`, `text` is a file's absolute
    /// path (several separated by `\n`), which uploads it.
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        let body = json!({"text": text});
        self.call(Method::POST, "/value", Some(body))
            .await
            .map(drop)
    }

    pub async fn clear(&self) -> Result<()> {
        self.call(Method::POST, "/clear", None).await.map(drop)
    }

    /// The rendered text (as a user sees it).
    pub async fn text(&self) -> Result<String> {
        self.string("/text").await
    }

    /// An attribute as written in the HTML, `None` when absent.
    pub async fn attr(&self, name: &str) -> Result<Option<String>> {
        let v = self
            .call(Method::GET, &format!("/attribute/{name}"), None)
            .await?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// A DOM property (`value`, `checked`, `scrollTop`…).
    pub async fn property(&self, name: &str) -> Result<Value> {
        self.call(Method::GET, &format!("/property/{name}"), None)
            .await
    }

    pub async fn tag_name(&self) -> Result<String> {
        self.string("/name").await
    }

    pub async fn is_displayed(&self) -> Result<bool> {
        let v = self.call(Method::GET, "/displayed", None).await?;
        Ok(v == true)
    }

    pub async fn is_enabled(&self) -> Result<bool> {
        let v = self.call(Method::GET, "/enabled", None).await?;
        Ok(v == true)
    }

    /// The first descendant matching `css`.
    pub async fn find(&self, css: &str) -> Result<Element> {
        let v = self
            .call(Method::POST, "/element", Some(by_css(css)))
            .await?;
        Element::from_json(&self.session, &v).ok_or_else(|| fail("POST /element", "bad", &v))
    }

    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let v = self
            .call(Method::POST, "/elements", Some(by_css(css)))
            .await?;
        Ok(elements(&self.session, &v))
    }
}
