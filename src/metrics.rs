//! Prometheus metrics (`GET /metrics`, text exposition format). Counters and histograms are
//! recorded where things happen; queue depths, file sizes and process figures are read when
//! scraped. No label carries an id or an address: routes are templates (`/inboxes/{id}`),
//! SMTP refusals their reply codes, outcomes a fixed set, so the series stay few.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::store::WriterMetrics;
use crate::store::maintenance::QueueStats;

/// The server's metrics; cheap to clone. A disabled one records nothing.
#[derive(Clone)]
pub struct Metrics(Option<Arc<Inner>>);

struct Inner {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    smtp_sessions: IntCounter,
    smtp_messages: IntCounter,
    smtp_rejections: IntCounterVec,
    sends: IntCounterVec,
    webhook_deliveries: IntCounterVec,
    writer_queue: IntGauge,
    writer_batch: Histogram,
    jobs_queued: IntGaugeVec,
    jobs_oldest: IntGaugeVec,
    webhook_queue: IntGauge,
    webhook_oldest: IntGauge,
    subscribers: IntGauge,
    file_bytes: IntGaugeVec,
    memory_budget: IntGaugeVec,
    process_rss: IntGauge,
    process_fds: IntGauge,
}

/// What is read when the metrics are scraped.
/// How the size of the database is found.
#[derive(Debug, Clone, Copy)]
pub enum DatabaseSize<'a> {
    /// The SQLite file (and its write-ahead log beside it).
    File(&'a Path),
    /// Bytes PostgreSQL reports (`pg_database_size`).
    Reported(u64),
}

pub struct Snapshot<'a> {
    /// Background work waiting, by kind, and webhook deliveries.
    pub queues: QueueStats,
    /// Live event-stream subscribers (SSE, WebSocket, waits).
    pub subscribers: usize,
    /// Where the data lives: the database file (its size and its log's are read here), or
    /// the size PostgreSQL reports for its database.
    pub database: DatabaseSize<'a>,
    /// Bytes of the memory budget in use, and its size.
    pub memory: (usize, usize),
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.enabled())
            .finish()
    }
}

/// Registers `metric` (as made by its constructor) in `registry`.
fn registered<M>(registry: &Registry, metric: prometheus::Result<M>) -> anyhow::Result<M>
where
    M: prometheus::core::Collector + Clone + 'static,
{
    let fail = |e: prometheus::Error| anyhow::anyhow!("cannot set up the metrics: {e}");
    let metric = metric.map_err(fail)?;
    registry.register(Box::new(metric.clone())).map_err(fail)?;
    Ok(metric)
}

impl Metrics {
    /// Metrics that record nothing (`metrics.enabled = false`, or a command-line tool).
    pub fn disabled() -> Self {
        Self(None)
    }

    /// A fresh registry with every metric.
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new_custom(Some("agentsend".to_owned()), None)
            .map_err(|e| anyhow::anyhow!("cannot set up the metrics: {e}"))?;
        let r = &registry;
        let counter = |name: &str, help: &str| registered(r, IntCounter::new(name, help));
        let counters = |name: &str, help: &str, labels: &[&str]| {
            registered(r, IntCounterVec::new(Opts::new(name, help), labels))
        };
        let gauge = |name: &str, help: &str| registered(r, IntGauge::new(name, help));
        let gauges = |name: &str, help: &str, labels: &[&str]| {
            registered(r, IntGaugeVec::new(Opts::new(name, help), labels))
        };
        let build = gauges(
            "build_info",
            "The running build (always 1)",
            &["version", "revision"],
        )?;
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), env!("AGENTSEND_GIT_REV")])
            .set(1);
        let inner = Inner {
            http_requests: counters(
                "http_requests_total",
                "HTTP requests by route template, method and status",
                &["route", "method", "status"],
            )?,
            http_duration: registered(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "http_request_duration_seconds",
                        "HTTP request latency by route template and method",
                    )
                    .buckets(vec![
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        10.0,
                    ]),
                    &["route", "method"],
                ),
            )?,
            smtp_sessions: counter("smtp_sessions_total", "SMTP sessions accepted")?,
            smtp_messages: counter(
                "smtp_messages_total",
                "Messages received over SMTP and stored",
            )?,
            smtp_rejections: counters(
                "smtp_rejections_total",
                "SMTP commands refused, by reply code and enhanced status code",
                &["code", "enhanced"],
            )?,
            sends: counters(
                "sends_total",
                "Outbound recipients attempted, by outcome (delivered locally, sent, bounced, \
                 retry)",
                &["outcome"],
            )?,
            webhook_deliveries: counters(
                "webhook_deliveries_total",
                "Webhook delivery attempts by outcome (succeeded, retry, failed, gone)",
                &["outcome"],
            )?,
            writer_queue: gauge(
                "writer_queue_length",
                "Writes waiting for the writer thread",
            )?,
            writer_batch: registered(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "writer_commit_batch_size",
                        "Writes taken from the queue together by the database writer (on SQLite, committed together)",
                    )
                    .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
                ),
            )?,
            jobs_queued: gauges(
                "jobs_queued",
                "Background jobs waiting or running, by kind",
                &["kind"],
            )?,
            jobs_oldest: gauges(
                "jobs_oldest_age_seconds",
                "Age of the oldest due job waiting, by kind",
                &["kind"],
            )?,
            webhook_queue: gauge(
                "webhook_deliveries_queued",
                "Webhook deliveries waiting or under way",
            )?,
            webhook_oldest: gauge(
                "webhook_deliveries_oldest_age_seconds",
                "Age of the oldest due webhook delivery waiting",
            )?,
            subscribers: gauge(
                "event_stream_subscribers",
                "Live event-stream subscribers (SSE, WebSocket, waits)",
            )?,
            file_bytes: gauges(
                "database_bytes",
                "Size of the database file and of its write-ahead log",
                &["file"],
            )?,
            memory_budget: gauges(
                "memory_budget_bytes",
                "The buffering memory budget: bytes in use and its size",
                &["state"],
            )?,
            process_rss: gauge("process_resident_memory_bytes", "Resident memory")?,
            process_fds: gauge("process_open_fds", "Open file descriptors")?,
            registry,
        };
        Ok(Self(Some(Arc::new(inner))))
    }

    /// Whether metrics are recorded.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// One HTTP request, by route template (`None`: no route matched).
    pub fn http_request(&self, route: Option<&str>, method: &str, status: u16, took: Duration) {
        if let Some(m) = &self.0 {
            let route = route.unwrap_or("unmatched");
            m.http_requests
                .with_label_values(&[route, method, status.to_string().as_str()])
                .inc();
            m.http_duration
                .with_label_values(&[route, method])
                .observe(took.as_secs_f64());
        }
    }

    /// An SMTP session accepted.
    pub fn smtp_session(&self) {
        if let Some(m) = &self.0 {
            m.smtp_sessions.inc();
        }
    }

    /// A message received over SMTP and stored.
    pub fn smtp_message(&self) {
        if let Some(m) = &self.0 {
            m.smtp_messages.inc();
        }
    }

    /// An SMTP refusal (a 4xx or 5xx reply).
    pub fn smtp_rejection(&self, code: u16, enhanced: &str) {
        if let Some(m) = &self.0 {
            let enhanced = if enhanced.is_empty() {
                "none"
            } else {
                enhanced
            };
            m.smtp_rejections
                .with_label_values(&[code.to_string().as_str(), enhanced])
                .inc();
        }
    }

    /// An outbound recipient attempted, with `outcome`.
    pub fn send(&self, outcome: &'static str) {
        if let Some(m) = &self.0 {
            m.sends.with_label_values(&[outcome]).inc();
        }
    }

    /// A webhook delivery attempt ended with `outcome`.
    pub fn webhook_delivery(&self, outcome: &'static str) {
        if let Some(m) = &self.0 {
            m.webhook_deliveries.with_label_values(&[outcome]).inc();
        }
    }

    /// The writer thread's metrics, for the store.
    pub fn writer(&self) -> Option<WriterMetrics> {
        self.0.as_ref().map(|m| WriterMetrics {
            queued: m.writer_queue.clone(),
            batch: m.writer_batch.clone(),
        })
    }

    /// The exposition text, after reading what is read at scrape time.
    pub fn render(&self, now_ms: i64, snapshot: &Snapshot<'_>) -> Option<String> {
        let m = self.0.as_ref()?;
        let age = |since: Option<i64>| since.map_or(0, |t| (now_ms - t).max(0) / 1000);
        m.jobs_queued.reset();
        m.jobs_oldest.reset();
        for kind in &snapshot.queues.jobs {
            m.jobs_queued
                .with_label_values(&[kind.kind.as_str()])
                .set(kind.queued);
            m.jobs_oldest
                .with_label_values(&[kind.kind.as_str()])
                .set(age(kind.oldest_due));
        }
        m.webhook_queue.set(snapshot.queues.webhook_deliveries);
        m.webhook_oldest
            .set(age(snapshot.queues.oldest_webhook_due));
        m.subscribers
            .set(i64::try_from(snapshot.subscribers).unwrap_or(i64::MAX));
        let size = |p: &Path| {
            std::fs::metadata(p).map_or(0, |m| i64::try_from(m.len()).unwrap_or(i64::MAX))
        };
        match snapshot.database {
            DatabaseSize::File(path) => {
                m.file_bytes
                    .with_label_values(&["database"])
                    .set(size(path));
                m.file_bytes
                    .with_label_values(&["wal"])
                    .set(size(&crate::store::wal_path(path)));
            }
            DatabaseSize::Reported(bytes) => m
                .file_bytes
                .with_label_values(&["database"])
                .set(i64::try_from(bytes).unwrap_or(i64::MAX)),
        }
        let (used, limit) = snapshot.memory;
        m.memory_budget
            .with_label_values(&["in_use"])
            .set(i64::try_from(used).unwrap_or(i64::MAX));
        m.memory_budget
            .with_label_values(&["limit"])
            .set(i64::try_from(limit).unwrap_or(i64::MAX));
        m.process_rss.set(resident_bytes());
        m.process_fds.set(open_fds());
        TextEncoder::new()
            .encode_to_string(&m.registry.gather())
            .ok()
    }
}

/// Resident memory from `/proc/self/status` (`VmRSS`, in kB), 0 where there is no `/proc`.
fn resident_bytes() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let kb = s.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
            kb.trim().trim_end_matches("kB").trim().parse::<i64>().ok()
        })
        .map_or(0, |kb| kb.saturating_mul(1024))
}

/// Open file descriptors, counted in `/proc/self/fd`; 0 where there is no `/proc`.
fn open_fds() -> i64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| i64::try_from(d.count()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
