//! `GET|POST /callback/:id` (upstream `routes/callback.ts`, `oauth2/link-account.ts`): every
//! outcome is a redirect.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde_json::{Map, Value};

use super::redirect_uri;
use super::user_info::{
    account_cookie, handle_user_info, new_account, same_email, update_user_info_on_link,
};
use crate::error::{ApiResult, UrlField};
use crate::models::Timestamp;
use crate::oauth::state::{self as oauth_state, LinkTarget};
use crate::oauth::{tokens, Provider, Tokens, UserInfo};
use crate::redirect::{self, Location};
use crate::routes::body::{self, MediaTypes};
use crate::state::AppState;
use crate::store::accounts::TokenUpdate;

/// `errorURL?error=<code>[&error_description=...]` as a 302 (upstream `redirectOnError`).
/// An error URL that does not pass the redirect check (it was checked when the flow
/// started) falls back to our error page.
fn redirect_error(
    state: &AppState,
    target: &str,
    code: &str,
    description: Option<&str>,
    cookies: Vec<String>,
) -> HttpResponse {
    let mut params = vec![("error", code)];
    if let Some(d) = description {
        params.push(("error_description", d));
    }
    let location = Location::callback(state, UrlField::ErrorCallbackUrl, target, &params)
        .or_else(|_| Location::own(state, &error_page(&params)));
    match location {
        Ok(location) => redirect::found(&location, cookies),
        Err(e) => e.error_response(),
    }
}

/// A redirect to a callback (after sign-in or linking); an unusable one ends on our error page.
fn redirect_to(state: &AppState, target: &str, cookies: Vec<String>) -> HttpResponse {
    match Location::callback(state, UrlField::CallbackUrl, target, &[]) {
        Ok(location) => redirect::found(&location, cookies),
        Err(_) => redirect_error(state, "", "invalid_callback_url", None, cookies),
    }
}

/// `/error?error=...` on our base URL.
fn error_page(params: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    format!("/error?{}", query.finish())
}

fn default_error_url(state: &AppState) -> String {
    format!("{}/error", crate::routes::base_url(state))
}

/// The callback's parameters, in upstream's schema order.
const CALLBACK_KEYS: [&str; 7] = [
    "code",
    "error",
    "device_id",
    "error_description",
    "state",
    "user",
    "iss",
];

/// `POST /callback/:id` (Apple's `form_post`): back to the GET URL with body and query merged.
pub async fn callback_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let body = body::parse(&req, &bytes, MediaTypes::JsonOrForm)?;
    let mut merged: Map<String, Value> = match body {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        merged.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for key in CALLBACK_KEYS {
        match merged.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                query.append_pair(key, s);
            }
            Some(_) => {
                let location = Location::own(
                    &state,
                    &error_page(&[("error", "invalid_callback_request")]),
                )?;
                return Ok(redirect::found(&location, Vec::new()));
            }
        }
    }
    let id: String = url::form_urlencoded::byte_serialize(path.into_inner().as_bytes()).collect();
    let location = Location::own(&state, &format!("/callback/{id}?{}", query.finish()))?;
    Ok(redirect::found(&location, Vec::new()))
}

/// `GET /callback/:id`: every outcome is a redirect.
pub async fn callback_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let provider_id = path.into_inner();
    let default_error = default_error_url(&state);
    let mut params: Map<String, Value> = Map::new();
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        if CALLBACK_KEYS.contains(&k.as_ref()) && params.contains_key(k.as_ref()) {
            return redirect_error(
                &state,
                &default_error,
                "invalid_callback_request",
                None,
                Vec::new(),
            );
        }
        params.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    let param = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(state_value) = param("state").filter(|s| !s.is_empty()) else {
        return redirect_error(&state, &default_error, "state_not_found", None, Vec::new());
    };
    let (data, expire_cookie) = match oauth_state::parse(&req, &state, &state_value).await {
        Ok(parsed) => parsed,
        Err(e) => {
            tracing::warn!(code = e.code, "OAuth state refused");
            let target = e.error_url.unwrap_or_else(|| default_error.clone());
            return redirect_error(&state, &target, e.code, None, Vec::new());
        }
    };
    let error_url = data.error_url.clone().unwrap_or(default_error);
    let fail = |code: &str, description: Option<&str>| {
        redirect_error(
            &state,
            &error_url,
            code,
            description,
            vec![expire_cookie.clone()],
        )
    };
    if let Some(error) = param("error") {
        return fail(&error, param("error_description").as_deref());
    }
    let Some(code) = param("code").filter(|c| !c.is_empty()) else {
        return fail("no_code", None);
    };
    let Some(provider) = state.oauth.provider(&provider_id) else {
        return fail("oauth_provider_not_found", None);
    };
    let oauth = &state.oauth;
    let endpoints = match provider.endpoints(oauth).await {
        Ok(ep) => ep,
        Err(e) => {
            tracing::error!(provider = provider_id, error = %e, "provider endpoints unavailable");
            return fail("oauth_provider_not_found", None);
        }
    };
    if param("iss").is_some_and(|iss| !endpoints.accepts_callback_issuer(&iss)) {
        return fail("issuer_mismatch", None);
    }
    if matches!(provider.requires_nonce(oauth).await, Ok(true)) && data.id_token_nonce.is_none() {
        return fail("nonce_binding_missing", None);
    }
    let tokens = match provider
        .exchange_code(
            oauth,
            &code,
            &data.code_verifier,
            &redirect_uri(&state, &provider),
        )
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(provider = provider_id, error = %e, "code exchange failed");
            return fail("invalid_code", None);
        }
    };
    let apple_user = param("user").and_then(|u| serde_json::from_str::<Value>(&u).ok());
    let info = match provider
        .user_info(
            oauth,
            &tokens,
            data.id_token_nonce.as_deref(),
            apple_user.as_ref(),
        )
        .await
    {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(provider = provider_id, error = %e, "unable to get user info");
            return fail("unable_to_get_user_info", None);
        }
    };

    if let Some(link) = &data.link {
        return match link_account(&state, &provider, link, &info, &tokens).await {
            Ok(()) => redirect_to(&state, &data.callback_url, vec![expire_cookie.clone()]),
            Err(code) => fail(code, None),
        };
    }
    if info.email.is_none() {
        return fail("email_not_found", None);
    }
    let request_sign_up = data.request_sign_up.unwrap_or(false);
    match handle_user_info(&req, &state, &provider, &info, &tokens, request_sign_up).await {
        Ok(signed_in) => {
            let mut set = vec![expire_cookie.clone()];
            set.extend(crate::routes::session_cookie(
                &req,
                &state,
                &signed_in.session,
                &signed_in.user,
            ));
            set.extend(account_cookie(&req, &state, provider.id(), &info.account_id).await);
            let target = match (&data.new_user_url, signed_in.is_register) {
                (Some(new_user), true) => new_user.clone(),
                _ => data.callback_url.clone(),
            };
            redirect_to(&state, &target, set)
        }
        Err(reason) => fail(&reason.replace(' ', "_"), None),
    }
}

/// Upstream's `linkOAuthAccount` for a link flow's callback; errors are redirect codes.
async fn link_account(
    state: &AppState,
    provider: &Provider,
    link: &LinkTarget,
    info: &UserInfo,
    tokens: &Tokens,
) -> Result<(), &'static str> {
    let store = &state.store;
    let config = &state.config;
    let linking = &config.social.linking;
    let db_fail = |e: sea_orm::DbErr| {
        tracing::error!(error = %e, "account link storage failure");
        "unable_to_link_account"
    };
    // The session that started the link must still be alive and the same user's.
    if let Some(sealed) = &link.encrypted_session_token {
        let live = match tokens::open_link_session(config, sealed) {
            Some(token) => state
                .sessions
                .find(&token)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "account link session lookup failed");
                    "unable_to_link_account"
                })?
                .is_some_and(|s| {
                    s.session.user_id == link.user_id && s.session.expires_at > Timestamp::now()
                }),
            None => false,
        };
        if !live {
            return Err("unable_to_link_account");
        }
    }
    let trusted = linking.trusted_providers.iter().any(|p| p == provider.id());
    if (!trusted && !info.email_verified) || !linking.enabled {
        return Err("unable_to_link_account");
    }
    if !same_email(info.email.as_deref(), &link.email) && !linking.allow_different_emails {
        return Err("email_does_not_match");
    }
    let sealed = tokens::sealed_update(config, tokens);
    match store
        .accounts()
        .find_by_key(provider.id(), &info.account_id)
        .await
        .map_err(db_fail)?
    {
        Some(existing) if existing.user_id != link.user_id => {
            return Err("account_already_linked_to_different_user")
        }
        Some(existing) => {
            let merged = merge_scopes(existing.scope.as_deref(), &tokens.scopes);
            let update = TokenUpdate {
                scope: (!merged.is_empty()).then_some(merged),
                ..sealed
            };
            store
                .accounts()
                .update_tokens(&existing.id, &update)
                .await
                .map_err(db_fail)?;
        }
        None => {
            let update = TokenUpdate {
                scope: Some(tokens.scopes.join(",")),
                ..sealed
            };
            let account = new_account(provider, info, &link.user_id, update);
            store.accounts().create(&account).await.map_err(db_fail)?;
        }
    }
    if state.config.social.linking.update_user_info_on_link {
        if let Ok(Some(user)) = store.users().find_by_id(&link.user_id).await {
            update_user_info_on_link(state, &user, info).await;
        }
    }
    Ok(())
}

/// Upstream's `mergeScopes`: stored then new, comma-separated, without duplicates.
fn merge_scopes(stored: Option<&str>, incoming: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let existing = stored
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .map(str::to_owned);
    for s in existing.chain(incoming.iter().map(|s| s.trim().to_owned())) {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_merge_without_duplicates() {
        assert_eq!(
            merge_scopes(Some("openid, email"), &["email".into(), "profile".into()]),
            "openid,email,profile"
        );
        assert_eq!(merge_scopes(None, &[]), "");
    }
}
