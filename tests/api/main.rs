#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic is how a test fails"
)]

//! Integration tests: each test starts the real server on port 0 with its own temporary
//! SQLite file and talks to it over HTTP (and runs the real binary for the CLI).

mod backend;
mod dns;
mod helpers;
mod process;
mod receiver;
mod smtp_client;
mod smtp_server;

mod account;
mod architecture;
mod attachments;
mod auth_results;
mod cli;
mod clients;
mod compat;
mod connections;
mod crash;
mod dkim;
mod doctor;
pub mod domains;
mod drafts;
mod errors;
mod events;
mod extraction;
mod fixture;
mod health;
mod idempotency;
mod inboxes;
mod lists;
mod mail;
mod mcp;
mod memory;
mod metrics;
mod migrate_to;
mod nodes;
mod openapi;
mod operations;
mod rate_limit;
mod reading;
mod reply;
pub mod sandbox;
mod scopes;
pub mod send;
mod sender_lists;
mod smtp;
mod storage;
mod tools;
mod ui;
mod webhooks;
