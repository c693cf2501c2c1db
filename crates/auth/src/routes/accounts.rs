//! `GET /list-accounts`, `POST /unlink-account`, `POST /get-access-token`,
//! `POST /refresh-token`, `GET /account-info` (upstream `routes/account.ts`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::body::{AnyRecord, Body, RequestBody, Validator};
use crate::error::{ApiError, ApiResult, SocialError};
use crate::models::Timestamp;
use crate::oauth::{tokens, Provider, Tokens};
use crate::state::AppState;
use crate::store::accounts::Account;

fn scopes(scope: Option<&str>) -> Vec<String> {
    scope
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An account as list-accounts shows it: no tokens, `scope` as `scopes`.
fn public_account(a: &Account) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(a.id));
    if let Some(issuer) = &a.issuer {
        m.insert("issuer".into(), json!(issuer));
    }
    m.insert("accountId".into(), json!(a.account_id));
    m.insert("providerId".into(), json!(a.provider_id));
    m.insert("userId".into(), json!(a.user_id));
    m.insert("createdAt".into(), json!(a.created_at));
    m.insert("updatedAt".into(), json!(a.updated_at));
    m.insert("scopes".into(), json!(scopes(a.scope.as_deref())));
    Value::Object(m)
}

/// `GET /list-accounts`
pub async fn list_accounts(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let auth = super::session::require(&req, &state).await?;
    let accounts = state
        .store
        .accounts()
        .list_for_user(&auth.current.user.id)
        .await?;
    let out: Vec<Value> = accounts.iter().map(public_account).collect();
    Ok(super::json_with_cookies(&out, auth.set_cookies))
}

/// `POST /unlink-account {accountId}` (the local account id); fresh session required.
/// `{accountId}`: the body of `/unlink-account`.
pub struct UnlinkAccount {
    account_id: String,
}

impl RequestBody for UnlinkAccount {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let account_id = v.string("accountId");
        Some(Self {
            account_id: account_id?.to_owned(),
        })
    }
}

pub async fn unlink_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<UnlinkAccount>,
) -> ApiResult<HttpResponse> {
    let account_id = body.account_id;
    let auth = super::session::require(&req, &state).await?;
    if !super::session::is_fresh(&state, &auth.current) {
        return Err(ApiError::SessionNotFresh);
    }
    let accounts = state
        .store
        .accounts()
        .list_for_user(&auth.current.user.id)
        .await?;
    if accounts.len() == 1 && !state.config.social.linking.allow_unlinking_all {
        return Err(SocialError::FailedToUnlinkLastAccount.into());
    }
    let Some(account) = accounts.iter().find(|a| a.id == account_id) else {
        return Err(SocialError::AccountNotFound.into());
    };
    state.store.accounts().delete(&account.id).await?;
    Ok(super::json_with_cookies(
        &json!({"status": true}),
        auth.set_cookies,
    ))
}

/// The account selector of the token endpoints: `{accountId, userId?}` (strict), or
/// `{useAccountCookie: true}`: the `account_data` cookie, which only stateless mode writes
/// (upstream's `storeAccountCookie`); elsewhere it finds no account.
fn selection(fields: &Map<String, Value>, place: &str) -> ApiResult<Option<String>> {
    let invalid = || ApiError::Validation(format!("[{place}] Invalid input"));
    for key in fields.keys() {
        if !matches!(key.as_str(), "accountId" | "userId" | "useAccountCookie") {
            return Err(invalid());
        }
    }
    match (fields.get("accountId"), fields.get("useAccountCookie")) {
        (Some(Value::String(id)), None) => Ok(Some(id.clone())),
        (None, Some(Value::Bool(true))) => Ok(None),
        // The query form of `true`.
        (None, Some(Value::String(s))) if s == "true" => Ok(None),
        _ => Err(invalid()),
    }
}

/// The signed-in user's account with this local id (the token endpoints answer 401 with
/// no body without a session).
async fn selected_account(
    req: &HttpRequest,
    state: &AppState,
    account_id: Option<String>,
) -> ApiResult<Account> {
    let found = super::session::lookup(req, state, true).await?;
    let Some(current) = found.session else {
        return Err(SocialError::UnauthorizedEmpty.into());
    };
    let Some(account_id) = account_id else {
        // `useAccountCookie`: the account in stateless mode's `account_data` cookie, if it
        // is the signed-in user's.
        return crate::cookie_cache::account::read(req, &state.config, &state.cookies)
            .filter(|a| a.user_id == current.user.id)
            .ok_or_else(|| SocialError::AccountNotFound.into());
    };
    state
        .store
        .accounts()
        .list_for_user(&current.user.id)
        .await?
        .into_iter()
        .find(|a| a.id == account_id)
        .ok_or_else(|| SocialError::AccountNotFound.into())
}

/// Exchanges a refresh token for new provider tokens and stores them (sealed when
/// `encrypt_oauth_tokens` asks for it). `refresh_expiry_fallback` is kept when the provider
/// sends no new refresh-token expiry; `failure` is the error the calling endpoint answers.
async fn refresh_and_store(
    state: &AppState,
    provider: &Provider,
    account: &Account,
    refresh: &str,
    refresh_expiry_fallback: Option<Timestamp>,
    failure: SocialError,
) -> ApiResult<Tokens> {
    let mut t = provider.refresh(&state.oauth, refresh).await.map_err(|e| {
        tracing::warn!(provider = account.provider_id, error = %e, "token refresh failed");
        failure
    })?;
    t.refresh_token_expires_at = t.refresh_token_expires_at.or(refresh_expiry_fallback);
    state
        .store
        .accounts()
        .update_tokens(&account.id, &tokens::sealed_update(&state.config, &t))
        .await?;
    Ok(t)
}

/// Upstream's `getValidAccessToken`: the stored token, refreshed first when it expires
/// within 5 seconds and a refresh token exists.
async fn valid_access_token(state: &AppState, account: &Account) -> ApiResult<Value> {
    let provider = state
        .oauth
        .provider(&account.provider_id)
        .ok_or_else(|| SocialError::ProviderNotSupported(account.provider_id.clone()))?;
    let config = &state.config;
    let expiring = account
        .access_token_expires_at
        .is_some_and(|t| t.millis() - Timestamp::now().millis() < 5_000);
    let mut fresh: Option<Tokens> = None;
    if let (Some(stored), true) = (&account.refresh_token, expiring) {
        let refresh = tokens::open(config, stored).ok_or(SocialError::FailedToGetAccessToken)?;
        let t = refresh_and_store(
            state,
            &provider,
            account,
            &refresh,
            None,
            SocialError::FailedToGetAccessToken,
        )
        .await?;
        fresh = Some(t);
    }
    let access_token = match fresh.as_ref().and_then(|t| t.access_token.clone()) {
        Some(t) => t,
        None => tokens::open(config, account.access_token.as_deref().unwrap_or_default())
            .ok_or(SocialError::FailedToGetAccessToken)?,
    };
    let mut out = Map::new();
    out.insert("accessToken".into(), json!(access_token));
    if let Some(at) = fresh
        .as_ref()
        .and_then(|t| t.access_token_expires_at)
        .or(account.access_token_expires_at)
    {
        out.insert("accessTokenExpiresAt".into(), json!(at));
    }
    out.insert("scopes".into(), json!(scopes(account.scope.as_deref())));
    if let Some(id) = fresh
        .as_ref()
        .and_then(|t| t.id_token.clone())
        .or_else(|| account.id_token.clone())
    {
        out.insert("idToken".into(), json!(id));
    }
    Ok(Value::Object(out))
}

/// The account a token endpoint's JSON body selects (`accountId` or `providerId`).
async fn account_from_body(
    req: &HttpRequest,
    state: &AppState,
    fields: &Map<String, Value>,
) -> ApiResult<Account> {
    let id = selection(fields, "body")?;
    selected_account(req, state, id).await
}

/// `POST /get-access-token`
pub async fn get_access_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(AnyRecord(fields)): Body<AnyRecord>,
) -> ApiResult<HttpResponse> {
    let account = account_from_body(&req, &state, &fields).await?;
    Ok(HttpResponse::Ok().json(valid_access_token(&state, &account).await?))
}

/// `POST /refresh-token`
pub async fn refresh_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(AnyRecord(fields)): Body<AnyRecord>,
) -> ApiResult<HttpResponse> {
    let account = account_from_body(&req, &state, &fields).await?;
    let provider = state
        .oauth
        .provider(&account.provider_id)
        .ok_or_else(|| SocialError::ProviderNotSupported(account.provider_id.clone()))?;
    let Some(stored) = &account.refresh_token else {
        return Err(SocialError::RefreshTokenNotFound.into());
    };
    let config = &state.config;
    let refresh = tokens::open(config, stored).ok_or(SocialError::FailedToRefreshAccessToken)?;
    let t = refresh_and_store(
        &state,
        &provider,
        &account,
        &refresh,
        account.refresh_token_expires_at,
        SocialError::FailedToRefreshAccessToken,
    )
    .await?;
    let mut out = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(k.into(), v);
        }
    };
    put("accessToken", t.access_token.map(|v| json!(v)));
    put(
        "refreshToken",
        Some(json!(t.refresh_token.unwrap_or(refresh))),
    );
    put(
        "accessTokenExpiresAt",
        t.access_token_expires_at.map(|v| json!(v)),
    );
    put(
        "refreshTokenExpiresAt",
        t.refresh_token_expires_at.map(|v| json!(v)),
    );
    put("scope", account.scope.clone().map(|v| json!(v)));
    put(
        "idToken",
        t.id_token.or(account.id_token.clone()).map(|v| json!(v)),
    );
    put("providerId", Some(json!(account.provider_id)));
    put("accountId", Some(json!(account.id)));
    Ok(HttpResponse::Ok().json(Value::Object(out)))
}

/// `GET /account-info?accountId=...`: the provider's current view of the user.
pub async fn account_info(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let fields: Map<String, Value> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let id = selection(&fields, "query")?;
    let account = selected_account(&req, &state, id).await?;
    let Some(provider) = state.oauth.provider(&account.provider_id) else {
        return Err(SocialError::ProviderNotConfigured.into());
    };
    let tokens_json = valid_access_token(&state, &account).await?;
    let access_token = tokens_json
        .get("accessToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or(SocialError::AccessTokenNotFound)?;
    let t = Tokens {
        access_token: Some(access_token.to_owned()),
        id_token: tokens_json
            .get("idToken")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Tokens::default()
    };
    let info = provider
        .user_info(&state.oauth, &t, None, None)
        .await
        .map_err(|e| {
            tracing::warn!(provider = account.provider_id, error = %e, "account info failed");
            SocialError::FailedToGetUserInfo
        })?;
    let mut user = Map::new();
    user.insert("name".into(), json!(info.name));
    user.insert("email".into(), json!(info.email));
    if let Some(image) = &info.image {
        user.insert("image".into(), json!(image));
    }
    user.insert("emailVerified".into(), json!(info.email_verified));
    Ok(HttpResponse::Ok().json(json!({
        "user": user,
        "data": info.raw,
        "account": {
            "id": account.id,
            "providerId": account.provider_id,
            "accountId": account.account_id,
        },
    })))
}
