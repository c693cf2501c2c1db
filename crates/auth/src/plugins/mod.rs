//! Better Auth plugins, one folder each.

pub mod jwt;
