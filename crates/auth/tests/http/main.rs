//! Black-box tests: the real server over HTTP on a real database (SQLite and PostgreSQL).
//! One test binary for the crate keeps link times down.

mod harness;

mod cli;
mod compat;
mod email_password;
mod origin_and_cors;
mod sessions;
