//! Cryptographic building blocks: random ids and tokens, password hashes, signed cookie values.

pub mod password;
pub mod random;
pub mod secrets;
pub mod signing;
pub mod symmetric;
