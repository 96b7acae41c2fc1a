//! Webhook delivery benchmark (issue 3): deliveries per second to a local receiver that answers
//! 200 at once, with 1,000 events queued in one transaction, and queue-to-receipt latency of
//! single events on an idle server. Prints figures and the targets.
//!
//!     cargo bench --bench webhooks
//!     PER_WEBHOOK=1 cargo bench --bench webhooks   # one delivery in flight per webhook

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use agentsend::app::Application;
use agentsend::config::Config;
use agentsend::domain::{AccountId, InboxId, MessageId, ThreadId, Timestamp};
use agentsend::webhooks::Event;
use agentsend::webhooks::events::MessageSent;

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receive(body: web::Bytes, arrivals: web::Data<Arrivals>) -> HttpResponse {
    let now = Instant::now();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(id) = v["data"]["messageId"].as_str()
        && let Ok(mut map) = arrivals.lock()
    {
        map.insert(id.to_owned(), now);
    }
    HttpResponse::Ok().finish()
}

fn event() -> (String, Event) {
    let id = MessageId::new();
    let event = Event::MessageSent(MessageSent {
        message_id: id,
        inbox_id: InboxId::new(),
        thread_id: ThreadId::new(),
        to: vec!["someone@example.com".to_owned()],
        cc: vec![],
        bcc: vec![],
        subject: "benchmark".to_owned(),
        sent_at: Timestamp::from_millis(0),
    });
    (id.to_string(), event)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn wait_for(arrivals: &Arrivals, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while arrivals.lock().map(|m| m.len()).unwrap_or(0) < n {
        assert!(Instant::now() < deadline, "deliveries did not arrive");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.http.listen = "127.0.0.1:0".parse()?;
    config.smtp.listen = "127.0.0.1:0".parse()?;
    config.database.path = dir.path().join("bench.db");
    config.limits.rate_limit = 0;
    config.log.level = "warn".to_owned();
    if let Ok(n) = std::env::var("PER_WEBHOOK") {
        config.webhooks.per_webhook_concurrency = n.parse()?;
    }

    let arrivals: Arrivals = Arc::new(Mutex::new(HashMap::new()));
    let data = web::Data::new(arrivals.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let receiver = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(receive))
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .run();
    tokio::spawn(receiver);

    let app = Application::build(config).await?;
    let state = app.state().clone();
    let account: AccountId = match app.bootstrap() {
        Some(b) => b.account.id,
        None => anyhow::bail!("fresh database expected"),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stop_rx.await;
    }));

    let now = state.now();
    let webhook_url =
        agentsend::domain::webhook::WebhookUrl::parse(&url).map_err(anyhow::Error::msg)?;
    state
        .store
        .write(move |tx| {
            let new = agentsend::store::webhooks::NewWebhook {
                url: webhook_url,
                description: None,
                events: Default::default(),
                secret: agentsend::domain::webhook::WebhookSecret::generate(),
            };
            agentsend::store::webhooks::create_webhook(tx, account, &new, now)
        })
        .await?;
    let config = state.config.webhooks.clone();

    // Idle: one event at a time, from commit to receipt.
    let mut idle = Vec::new();
    for n in 1..=200 {
        let (id, event) = event();
        let now = state.now();
        let queued = Instant::now();
        state
            .store
            .write(move |tx| agentsend::events::emit(tx, account, &event, now))
            .await?;
        wait_for(&arrivals, n).await;
        let arrived = arrivals.lock().map_err(|_| anyhow::anyhow!("poisoned"))?[&id];
        idle.push(arrived - queued);
    }
    idle.sort();

    // Burst: 1,000 events committed in one transaction.
    arrivals
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clear();
    let events: Vec<(String, Event)> = (0..1000).map(|_| event()).collect();
    let ids: Vec<String> = events.iter().map(|(id, _)| id.clone()).collect();
    let now = state.now();
    let queued = Instant::now();
    state
        .store
        .write(move |tx| {
            for (_, event) in &events {
                agentsend::events::emit(tx, account, event, now)?;
            }
            Ok(())
        })
        .await?;
    wait_for(&arrivals, 1000).await;
    let map = arrivals
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    let mut burst: Vec<Duration> = ids.iter().map(|id| map[id] - queued).collect();
    burst.sort();
    let total = burst[burst.len() - 1];

    println!(
        "AgentSend webhook benchmark ({} cores; concurrency {}, {} per webhook; one webhook, receiver answers 200 at once)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        config.concurrency,
        config.per_webhook_concurrency
    );
    println!(
        "burst: 1000 events queued at once, all received after {:.0} ms = {:.0} deliveries/s (target >= 1000/s)",
        ms(total),
        1000.0 / total.as_secs_f64()
    );
    println!(
        "burst queue-to-receipt: p50 {:.1} ms, p99 {:.1} ms",
        ms(percentile(&burst, 0.5)),
        ms(percentile(&burst, 0.99))
    );
    println!(
        "idle single event (200 runs) queue-to-receipt: p50 {:.2} ms, p99 {:.2} ms (target p99 < 50 ms)",
        ms(percentile(&idle, 0.5)),
        ms(percentile(&idle, 0.99))
    );

    let _ = stop_tx.send(());
    server.await??;
    Ok(())
}
