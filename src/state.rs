//! What every request handler and background task shares: configuration, the store and the
//! clock. Built once by [`crate::app::Application::build`]; there are no globals.

use std::sync::Arc;

use crate::budget::MemoryBudget;
use crate::config::Config;
use crate::custom_domains::CustomDomains;
use crate::dns::Dns;
use crate::domain::custom_domain::DnsSetup;
use crate::domain::links::{ClaimLinks, DownloadLinks, ViewLinks};
use crate::domain::sandbox::SandboxPolicy;
use crate::domain::{AccountId, BootId, Clock, Timestamp};
use crate::drafts::Drafts;
use crate::events::EventHub;
use crate::limits::Limits;
use crate::mail::dkim::DkimKey;
use crate::mail::send::Sending;
use crate::seed::{Seed, SeedSetup};
use crate::store::Store;
use crate::store::accounts::NewAccount;
use crate::supervisor::Components;
use crate::webhooks::policy::NetworkPolicy;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Store,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Where webhook deliveries may go.
    pub network_policy: Arc<NetworkPolicy>,
    /// Presigned attachment download links.
    pub links: Arc<DownloadLinks>,
    /// Signed views of messages' HTML for the web interface.
    pub views: Arc<ViewLinks>,
    /// Claim links of sandbox accounts.
    pub claims: Arc<ClaimLinks>,
    /// What sandbox accounts may do.
    pub sandbox: Arc<SandboxPolicy>,
    /// Bytes of incoming messages and uploads held in memory.
    pub memory: MemoryBudget,
    /// The DKIM key of the shared domain, when configured.
    pub dkim: Option<Arc<DkimKey>>,
    /// The DNS resolver.
    pub dns: Dns,
    /// What custom domains publish (MX target, SPF).
    pub dns_setup: Arc<DnsSetup>,
    /// This run of the server, in whose name background work is claimed.
    pub boot: BootId,
    /// Accepting sends.
    pub sending: Sending,
    /// Adding and checking custom domains.
    pub domains: CustomDomains,
    /// Drafts and their scheduled sends.
    pub drafts: Drafts,
    /// What accounts may create and send.
    pub limits: Arc<Limits>,
    /// Set in a test fixture: what `/_fixture/*` needs (absent, those routes are 404).
    pub fixture: Option<Arc<FixtureAccess>>,
    /// Live readers of the event log (SSE, WebSocket, waiting for a message).
    pub events: EventHub,
    /// Prometheus metrics (disabled: they record nothing).
    pub metrics: crate::metrics::Metrics,
    /// Which supervised components have stopped (for the health check).
    pub components: Arc<Components>,
}

/// A test fixture's own endpoints: their token, and what a reset keeps (no `Debug`: it holds
/// the token).
pub struct FixtureAccess {
    /// The bearer token `/_fixture/*` wants.
    pub token: String,
    /// The default account, kept by a reset.
    pub account_id: AccountId,
    /// What the default account was created as, restored by a reset.
    pub account: NewAccount,
    /// The hash of its key, kept by a reset.
    pub key_hash: String,
    /// The seed a reset applies again.
    pub seed: Option<(Seed, SeedSetup)>,
}

impl AppState {
    /// The current time by the state's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
