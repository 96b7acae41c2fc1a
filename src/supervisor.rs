//! Every long-running part of the server (the HTTP and SMTP listeners, the workers, the
//! janitor, the database writer) runs as a named task under one supervisor. None of them is
//! meant to end before shutdown: when one does (an error, a panic), the supervisor logs which
//! and why, `/health` reports it as down (`503`), and the server shuts down and exits
//! non-zero so that its service manager restarts it whole, rather than serving on without it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::task::{AbortHandle, JoinSet};

/// Which components run and which are down, shared with the health and readiness checks.
#[derive(Debug, Default)]
pub struct Components {
    down: Mutex<BTreeMap<&'static str, String>>,
    started: Mutex<Vec<&'static str>>,
}

impl Components {
    /// A new, shared registry: everything up.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Records that `name` stopped, and why.
    pub fn mark_down(&self, name: &'static str, why: String) {
        if let Ok(mut down) = self.down.lock() {
            down.insert(name, why);
        }
    }

    /// The components that stopped, by name.
    pub fn down(&self) -> Vec<&'static str> {
        self.down
            .lock()
            .map(|d| d.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Records that `name` has been started.
    fn mark_started(&self, name: &'static str) {
        if let Ok(mut started) = self.started.lock()
            && !started.contains(&name)
        {
            started.push(name);
        }
    }

    /// Every component started so far, in start order, each with whether it still runs.
    pub fn statuses(&self) -> Vec<(&'static str, bool)> {
        let down = self.down();
        self.started
            .lock()
            .map(|s| s.iter().map(|n| (*n, !down.contains(n))).collect())
            .unwrap_or_default()
    }
}

/// How a supervised task ended.
pub type Ended = (&'static str, anyhow::Result<()>);

/// The running tasks.
pub struct Supervisor {
    tasks: JoinSet<Ended>,
    names: Vec<(tokio::task::Id, &'static str)>,
    handles: Handles,
    components: Arc<Components>,
}

/// Abort handles of the running tasks by name: a way for tests to make a component die as a
/// crash would, and see what the server does about it.
#[derive(Clone, Default)]
pub struct Handles(Arc<Mutex<BTreeMap<&'static str, AbortHandle>>>);

impl Handles {
    /// Stops the task `name` abruptly, as a panic would; `false` if no such task runs.
    pub fn abort(&self, name: &str) -> bool {
        let handle = self.0.lock().ok().and_then(|h| h.get(name).cloned());
        handle.map(|h| h.abort()).is_some()
    }

    /// Whether `name` has been started.
    pub fn started(&self, name: &str) -> bool {
        self.0.lock().is_ok_and(|h| h.contains_key(name))
    }
}

impl Supervisor {
    /// A supervisor reporting to `components` and publishing its tasks in `handles`.
    pub fn new(components: Arc<Components>, handles: Handles) -> Self {
        Self {
            tasks: JoinSet::new(),
            names: Vec::new(),
            handles,
            components,
        }
    }

    /// Starts `task` as the component `name`.
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.components.mark_started(name);
        let handle = self.tasks.spawn(async move { (name, task.await) });
        self.names.push((handle.id(), name));
        if let Ok(mut handles) = self.handles.0.lock() {
            handles.insert(name, handle);
        }
    }

    /// Waits for the next task to end (`None` when none is left). A task that panicked or was
    /// aborted ends with an error naming it.
    pub async fn next(&mut self) -> Option<Ended> {
        let joined = self.tasks.join_next_with_id().await?;
        Some(match joined {
            Ok((_, ended)) => ended,
            Err(e) => {
                let name = self
                    .names
                    .iter()
                    .find(|(id, _)| *id == e.id())
                    .map_or("a task", |(_, name)| *name);
                let why = if e.is_panic() {
                    "panicked"
                } else {
                    "was aborted"
                };
                (name, Err(anyhow::anyhow!("the task {why}")))
            }
        })
    }

    /// Marks a component that ended before shutdown as down, with the reason logged.
    pub fn report_early_end(&self, (name, result): &Ended) {
        let why = match result {
            Ok(()) => "it stopped without an error".to_owned(),
            Err(e) => format!("{e:#}"),
        };
        log::error!(
            "{name} stopped unexpectedly ({why}); shutting down so that the server can be \
             restarted whole"
        );
        self.components.mark_down(name, why);
    }
}
