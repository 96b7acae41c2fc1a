//! The real binary as a child process: started on port 0, read from its output, stopped with
//! SIGTERM or killed with SIGKILL (a crash, as a power cut or the OOM killer would).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary, run in `cwd` with a clean environment.
pub fn agentsend(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentsend"));
    cmd.current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

/// The API key in a line of output.
pub fn find_key(text: &str) -> String {
    let start = text.find("ask_").expect("a key is printed");
    text[start..start + 44].to_owned()
}

/// Reads lines of a child's stream on a thread, so the test can wait with a timeout.
fn lines_of(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (up to 30 s) for a line containing `needle`.
pub fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no line with {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    }
}

/// `serve` on port 0 (HTTP and SMTP), rate limiting off, with extra environment variables.
pub fn start_server_with(
    dir: &Path,
    env: &[(&str, &str)],
) -> (Child, mpsc::Receiver<String>, mpsc::Receiver<String>) {
    let mut child = agentsend(dir)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--smtp-listen",
            "127.0.0.1:0",
            "--rate-limit",
            "0",
        ])
        .env("AGENTSEND_LOG_LEVEL", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    (child, out, err)
}

/// `serve` on port 0 with the defaults.
pub fn start_server(dir: &Path) -> (Child, mpsc::Receiver<String>, mpsc::Receiver<String>) {
    start_server_with(dir, &[])
}

/// SIGTERM, then waits (up to 30 s) for a clean exit.
pub fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!("the server did not stop within 30 s of SIGTERM");
}

/// A running server process.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Its stdout lines (the first start prints the key there).
    pub out: mpsc::Receiver<String>,
    /// Its log lines after start-up.
    pub err: mpsc::Receiver<String>,
    /// Its log lines up to "listening on".
    pub startup_log: Vec<String>,
}

impl Server {
    /// Starts `serve` on the database in `dir` and waits until it listens.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let (child, out, err) = start_server_with(dir, env);
        let mut startup_log = Vec::new();
        let listening = loop {
            let line = err
                .recv_timeout(Duration::from_secs(30))
                .expect("the server starts listening");
            if line.contains("listening on http://") {
                break line;
            }
            startup_log.push(line);
        };
        // "... listening on http://127.0.0.1:P and smtp://127.0.0.1:Q (database ...)"
        let base = listening
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap()
            .to_owned();
        Self {
            child,
            base,
            out,
            err,
            startup_log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The API key printed on the first start.
    pub fn first_key(&self) -> String {
        find_key(&wait_for(&self.out, "ask_"))
    }

    /// SIGKILL: the process dies at once, wherever it is.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and a clean exit.
    pub fn stop(mut self) {
        terminate(&mut self.child);
    }

    /// SIGTERM and a clean exit; then the log lines not read yet, joined.
    pub fn stop_and_read_log(mut self) -> String {
        terminate(&mut self.child);
        self.err.try_iter().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
