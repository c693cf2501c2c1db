//! What a provider's user info does here: upstream's `handleOAuthUserInfo` (find, link or
//! create the user, then a session) and the account rows it writes.

use actix_web::HttpRequest;
use serde_json::Map;

use crate::cookies;
use crate::crypto::random;
use crate::models::{Session, Timestamp, User};
use crate::oauth::{tokens, Provider, Tokens, UserInfo};
use crate::state::AppState;
use crate::store::accounts::{Account, TokenUpdate};
use crate::store::is_unique_violation;

pub(super) fn same_email(provider_email: Option<&str>, local: &str) -> bool {
    provider_email.is_some_and(|e| e.to_lowercase() == local.to_lowercase())
}

pub(super) fn new_account(
    provider: &Provider,
    info: &UserInfo,
    user_id: &str,
    t: TokenUpdate,
) -> Account {
    let now = Timestamp::now();
    Account {
        id: random::id(),
        account_id: info.account_id.clone(),
        provider_id: provider.id().to_owned(),
        user_id: user_id.to_owned(),
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        id_token: t.id_token,
        access_token_expires_at: t.access_token_expires_at,
        refresh_token_expires_at: t.refresh_token_expires_at,
        scope: t.scope,
        created_at: now,
        updated_at: now,
        // Only written when the database has the column (1.7.0-1.7.2 schemas).
        issuer: Some(format!(
            "local:oauth:{}",
            cookies::encode_uri_component(provider.id())
        )),
    }
}

/// `account.accountLinking.updateUserInfoOnLink`: the provider's name and image replace the
/// local ones; the address and its verification never change. Best effort, as upstream:
/// the user as written, or `None` when nothing was.
pub(super) async fn update_user_info_on_link(
    state: &AppState,
    user: &User,
    info: &UserInfo,
) -> Option<User> {
    if !state.config.social.linking.update_user_info_on_link {
        return None;
    }
    let mut updated = user.clone();
    if !info.name.is_empty() {
        updated.name = info.name.clone();
    }
    if info.image.is_some() {
        updated.image = info.image.clone();
    }
    updated.updated_at = Timestamp::now();
    if let Err(e) = state.store.users().update_profile(&updated).await {
        tracing::warn!(error = %e, "could not update user info on account link");
        return None;
    }
    state.sessions.user_updated(&user.id).await;
    Some(updated)
}

/// The signed-in result of a social sign-in.
pub(super) struct SignedIn {
    pub(super) user: User,
    pub(super) session: Session,
    pub(super) is_register: bool,
}

/// Upstream's `handleOAuthUserInfo`: finds the account or the user with this address,
/// links when the rules allow it, or creates the user; then makes a session. Errors are
/// upstream's reason strings (`account not linked`, `signup disabled`, ...).
pub(super) async fn handle_user_info(
    req: &HttpRequest,
    state: &AppState,
    provider: &Provider,
    info: &UserInfo,
    tokens: &Tokens,
    request_sign_up: bool,
) -> Result<SignedIn, &'static str> {
    let store = &state.store;
    let config = &state.config;
    let linking = &config.social.linking;
    let db_fail = |e: sea_orm::DbErr| {
        tracing::error!(error = %e, "social sign-in storage failure");
        "internal server error"
    };
    let email = info.email.clone().unwrap_or_default().to_lowercase();
    let sealed = TokenUpdate {
        scope: (!tokens.scopes.is_empty()).then(|| tokens.scopes.join(",")),
        ..tokens::sealed_update(config, tokens)
    };

    let owned = store
        .accounts()
        .find_by_key(provider.id(), &info.account_id)
        .await
        .map_err(db_fail)?;
    let existing_user = match &owned {
        Some(account) => match store
            .users()
            .find_by_id(&account.user_id)
            .await
            .map_err(db_fail)?
        {
            Some(user) => Some(user),
            None => return Err("unable to link account"),
        },
        None => store.users().find_by_email(&email).await.map_err(db_fail)?,
    };

    let user = match existing_user {
        Some(mut user) => {
            match &owned {
                None => {
                    let trusted = linking.trusted_providers.iter().any(|p| p == provider.id());
                    if (!trusted && !info.email_verified)
                        || (linking.require_local_email_verified && !user.email_verified)
                        || !linking.enabled
                        || linking.disable_implicit_linking
                    {
                        return Err("account not linked");
                    }
                    let account = new_account(provider, info, &user.id, sealed);
                    if let Err(e) = store.accounts().create(&account).await {
                        tracing::error!(error = %e, "unable to link account");
                        return Err("unable to link account");
                    }
                    if let Some(updated) = update_user_info_on_link(state, &user, info).await {
                        user = updated;
                    }
                }
                Some(account) => {
                    // Fresh tokens on every sign-in; the scope only changes through linking.
                    if config.social.update_account_on_sign_in {
                        let update = TokenUpdate {
                            scope: None,
                            ..sealed
                        };
                        store
                            .accounts()
                            .update_tokens(&account.id, &update)
                            .await
                            .map_err(db_fail)?;
                    }
                }
            }
            let mut changed = false;
            if info.email_verified && !user.email_verified && email == user.email {
                store
                    .users()
                    .set_email_verified(&user.id)
                    .await
                    .map_err(db_fail)?;
                user.email_verified = true;
                changed = true;
            }
            if provider.config.override_user_info {
                user.name = info.name.clone();
                user.image = info.image.clone();
                user.updated_at = Timestamp::now();
                store.users().update_profile(&user).await.map_err(db_fail)?;
                changed = true;
            }
            if changed {
                state.sessions.user_updated(&user.id).await;
            }
            user
        }
        None => {
            let c = &provider.config;
            if (c.disable_implicit_sign_up && !request_sign_up) || c.disable_sign_up {
                return Err("signup disabled");
            }
            let now = Timestamp::now();
            // Declared user fields of a new user: defaults, and what plugins add (upstream
            // runs the same database hooks for social sign-up).
            let values = match crate::routes::client_user_fields(
                req,
                state,
                "/callback/{id}",
                &Map::new(),
                None,
            )
            .await
            {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "declared user fields refused a social sign-up");
                    return Err("unable to create user");
                }
            };
            let (extra, hidden) = crate::schema::split_returned(&store.schema().user, values);
            let user = User {
                id: random::id(),
                extra,
                hidden,
                name: info.name.clone(),
                email: email.clone(),
                email_verified: info.email_verified,
                image: info.image.clone(),
                created_at: now,
                updated_at: now,
            };
            let account = new_account(provider, info, &user.id, sealed);
            let session = match crate::routes::prepare_session(req, state, &user, true).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "no session for a social sign-up");
                    return Err("unable to create session");
                }
            };
            match store
                .create_oauth_user(&user, &account, state.sessions.row(&session))
                .await
            {
                Ok(()) => {}
                Err(e) if is_unique_violation(&e) => return Err("unable to create user"),
                Err(e) => {
                    tracing::error!(error = %e, "unable to create OAuth user");
                    return Err("unable to create user");
                }
            }
            if let Err(e) = state.sessions.publish(&session, &user).await {
                tracing::error!(error = %e, "storing the new session failed");
                return Err("unable to create session");
            }
            // Both callers seal the cookies with `session_cookie`, which records the start.
            return Ok(SignedIn {
                user,
                session,
                is_register: true,
            });
        }
    };
    let session = match crate::routes::start_session(req, state, &user, true).await {
        Ok((session, _)) => session,
        Err(e) => {
            tracing::warn!(error = %e, "no session for a social sign-in");
            return Err("unable to create session");
        }
    };
    Ok(SignedIn {
        user,
        session,
        is_register: false,
    })
}

/// Stateless mode: the signed-in provider account in the `account_data` cookie, which
/// outlives the in-memory store (upstream's `storeAccountCookie`, on without a database).
pub(super) async fn account_cookie(
    req: &HttpRequest,
    state: &AppState,
    provider_id: &str,
    account_id: &str,
) -> Vec<String> {
    if !state.config.stateless {
        return Vec::new();
    }
    // The sign-in stands without it (the in-memory row serves until a restart).
    match state
        .store
        .accounts()
        .find_by_key(provider_id, account_id)
        .await
    {
        Ok(Some(account)) => {
            crate::cookie_cache::account::issue(req, &state.config, &state.cookies, &account)
        }
        Ok(None) => Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "stateless mode: no account cookie");
            Vec::new()
        }
    }
}
