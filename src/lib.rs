//! AgentSend, self-hosted: the email API for AI agents as one binary and one SQLite file.
//! See `README.md` for running it and for how it is put together (its Layout section).

pub mod app;
pub mod backup;
pub mod budget;
pub mod cli;
pub mod config;
pub mod custom_domains;
pub mod dns;
pub mod doctor;
pub mod domain;
pub mod drafts;
pub mod events;
pub mod fixture;
pub mod http;
pub mod jobs;
pub mod labels;
pub mod limits;
pub mod mail;
pub mod mcp;
pub mod metrics;
pub mod migrate_to;
pub mod net;
pub mod runner;
pub mod seed;
pub mod state;
pub mod store;
pub mod supervisor;
pub mod webhooks;

/// The version and the git revision it was built from, e.g. `0.1.0 (rev 46490cf1a2b3)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (rev ",
    env!("AGENTSEND_GIT_REV"),
    ")"
);

pub use app::Application;
pub use config::Config;
