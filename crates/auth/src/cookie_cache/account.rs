//! Stateless mode's `account_data` cookie (upstream `setAccountCookie` /
//! `getAccountCookie`): the provider account of a social sign-in, encrypted like the `jwe`
//! session cache (salt "better-auth-account"), so that `/get-access-token` with
//! `useAccountCookie` works when no database remembers the account.

use actix_web::HttpRequest;
use serde_json::Value;

use super::{chunks, seal};
use crate::config::Config;
use crate::cookies::CookieNames;
use crate::models::Timestamp;
use crate::store::accounts::Account;

/// The cookies carrying this account; none outside stateless mode.
pub fn issue(
    req: &HttpRequest,
    config: &Config,
    names: &CookieNames,
    account: &Account,
) -> Vec<String> {
    if !config.stateless {
        return Vec::new();
    }
    let Ok(Value::Object(payload)) = serde_json::to_value(account) else {
        return Vec::new();
    };
    let max_age = config.session.cookie_cache.max_age;
    let now = Timestamp::now().millis();
    let value = seal::seal_jwe(
        &config.secrets,
        seal::ACCOUNT_SALT,
        payload,
        Some(max_age),
        now,
    );
    chunks::write(req, names, &names.account_data, &value, Some(max_age))
}

/// The account the request's cookie carries, if it opens with one of our secrets.
pub fn read(req: &HttpRequest, config: &Config, names: &CookieNames) -> Option<Account> {
    if !config.stateless {
        return None;
    }
    let value = chunks::read(req, &names.account_data)?;
    let now = Timestamp::now().millis();
    let opened = seal::open_jwe(&config.secrets, seal::ACCOUNT_SALT, &value, now)?;
    serde_json::from_value(Value::Object(opened.payload)).ok()
}
