//! Black-box tests: the real server over HTTP on a real database (SQLite and PostgreSQL).
//! One test binary for the crate keeps link times down.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test loudly; that is their job"
)]

mod contract;
mod harness;
mod mailbox;

mod account_lifecycle;
mod additional_fields;
mod bearer;
mod cli;
mod compat;
mod cookie_cache;
mod deploy;
mod email_password;
mod input_limits;
mod jwt;
mod load;
mod open_api;
mod origin_and_cors;
mod plugin_anonymous;
mod plugin_schema;
mod plugin_sessions;
mod plugin_username;
mod rate_limit;
mod redis;
mod redis_sessions;
mod secrets;
mod security;
mod session_cache;
mod sessions;
mod social;
mod stateless;
