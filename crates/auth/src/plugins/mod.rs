//! Better Auth plugins, one folder each.

pub mod bearer;
pub mod jwt;
