//! `POST /sign-in/social`, `GET|POST /callback/:id`, `POST /link-social`
//! (upstream `routes/sign-in.ts` `signInSocial`, `routes/callback.ts`, `routes/account.ts`
//! `linkSocialAccount`, `oauth2/link-account.ts`).

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::body::{self, Body, MediaTypes, RequestBody, Validator};
use crate::cookies;
use crate::crypto::random;
use crate::error::{ApiError, ApiResult, SocialError, UrlField};
use crate::models::{Session, Timestamp, User};
use crate::oauth::state::{self as oauth_state, LinkTarget, StateData};
use crate::oauth::{tokens, AuthorizationRequest, Provider, Tokens, UserInfo};
use crate::redirect::{self, Location};
use crate::state::AppState;
use crate::store::accounts::{Account, TokenUpdate};
use crate::store::is_unique_violation;

/// Keys of the state JSON that `additionalData` may not set.
const INTERNAL_STATE_KEYS: [&str; 10] = [
    "callbackURL",
    "codeVerifier",
    "errorURL",
    "newUserURL",
    "expiresAt",
    "oauthState",
    "link",
    "requestSignUp",
    "idTokenNonce",
    "serverContext",
];

/// `idToken` in a sign-in or link body.
pub struct IdTokenInput {
    token: String,
    nonce: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    apple_user: Option<Value>,
}

/// The body of `/sign-in/social` and `/link-social`.
pub struct SocialBody {
    provider: String,
    callback_url: Option<String>,
    new_user_callback_url: Option<String>,
    error_callback_url: Option<String>,
    disable_redirect: bool,
    id_token: Option<IdTokenInput>,
    scopes: Vec<String>,
    request_sign_up: Option<bool>,
    login_hint: Option<String>,
    additional_params: Vec<(String, String)>,
    additional_data: Map<String, Value>,
}

impl RequestBody for SocialBody {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let provider = v.string("provider");
        let callback_url = v.opt_string("callbackURL");
        let new_user_callback_url = v.opt_string("newUserCallbackURL");
        let error_callback_url = v.opt_string("errorCallbackURL");
        let disable_redirect = v.opt_bool("disableRedirect").unwrap_or(false);
        let request_sign_up = v.opt_bool("requestSignUp");
        let login_hint = v.opt_string("loginHint");
        let scopes = v.opt_string_array("scopes");
        let additional_params = v.opt_string_record("additionalParams");
        let additional_data = v.opt_record("additionalData");
        let id_token = v.opt_object("idToken", |t| {
            let token = t.string("token");
            let nonce = t.opt_string("nonce");
            let access_token = t.opt_string("accessToken");
            let refresh_token = t.opt_string("refreshToken");
            Some(IdTokenInput {
                token: token?.to_owned(),
                nonce: nonce.map(str::to_owned),
                access_token: access_token.map(str::to_owned),
                refresh_token: refresh_token.map(str::to_owned),
                apple_user: t.fields().get("user").cloned(),
            })
        });
        let non_empty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
        Some(SocialBody {
            provider: provider?.to_owned(),
            callback_url: non_empty(callback_url),
            new_user_callback_url: non_empty(new_user_callback_url),
            error_callback_url: non_empty(error_callback_url),
            disable_redirect,
            id_token,
            scopes,
            request_sign_up,
            login_hint: login_hint.map(str::to_owned),
            additional_params,
            additional_data,
        })
    }
}

fn redirect_uri(state: &AppState, provider: &Provider) -> String {
    format!("{}/callback/{}", super::base_url(state), provider.id())
}

/// The provider, if configured and reachable (a provider whose discovery fails is
/// skipped upstream, so it answers like an unknown one).
async fn provider(state: &AppState, id: &str) -> ApiResult<std::sync::Arc<Provider>> {
    let provider = state
        .oauth
        .provider(id)
        .ok_or(SocialError::ProviderNotFound)?;
    if let Err(e) = provider.endpoints(&state.oauth).await {
        tracing::error!(provider = id, error = %e, "provider endpoints unavailable");
        return Err(SocialError::ProviderNotFound.into());
    }
    Ok(provider)
}

#[derive(Serialize)]
struct RedirectBody<'a> {
    url: &'a str,
    redirect: bool,
}

/// Stores the flow's state and answers `{url, redirect}` (+ `Location`) with the state cookie.
async fn start_redirect_flow(
    state: &AppState,
    provider: &Provider,
    body: SocialBody,
    link: Option<LinkTarget>,
) -> ApiResult<HttpResponse> {
    let oauth = &state.oauth;
    let nonce = provider
        .requires_nonce(oauth)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .then(oauth_state::new_nonce);
    let mut data = StateData::new(
        body.callback_url
            .clone()
            .unwrap_or_else(|| state.config.origin()),
    );
    data.additional = body.additional_data;
    data.additional
        .retain(|k, _| !INTERNAL_STATE_KEYS.contains(&k.as_str()));
    data.error_url = body.error_callback_url;
    data.new_user_url = body.new_user_callback_url;
    data.link = link;
    data.request_sign_up = body.request_sign_up;
    data.id_token_nonce = nonce.clone();
    let verifier = data.code_verifier.clone();
    let (value, cookie) = oauth_state::generate(state, data).await?;
    let url = provider
        .authorization_url(
            oauth,
            AuthorizationRequest {
                state: &value,
                code_verifier: &verifier,
                nonce: nonce.as_deref(),
                redirect_uri: &redirect_uri(state, provider),
                scopes: &body.scopes,
                login_hint: body.login_hint.as_deref(),
                additional_params: &body.additional_params,
            },
        )
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let url = url.to_string();
    let mut response = super::json_with_cookies(
        &RedirectBody {
            url: &url,
            redirect: !body.disable_redirect,
        },
        vec![cookie],
    );
    if !body.disable_redirect {
        redirect::set_location(&mut response, &Location::provider_authorization(&url));
    }
    Ok(response)
}

/// `POST /sign-in/social`
pub async fn sign_in_social(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<SocialBody>,
) -> ApiResult<HttpResponse> {
    let provider = provider(&state, &body.provider).await?;
    let Some(id_token) = body.id_token else {
        return start_redirect_flow(&state, &provider, body, None).await;
    };

    // Sign-in with an ID token the app got from the provider itself.
    let info = id_token_user(&state, &provider, &id_token).await?;
    let tokens = Tokens {
        access_token: id_token.access_token.clone(),
        id_token: Some(id_token.token.clone()),
        ..Tokens::default()
    };
    let outcome = handle_user_info(
        &req,
        &state,
        &provider,
        &info,
        &tokens,
        body.request_sign_up.unwrap_or(false),
    )
    .await;
    let signed_in = match outcome {
        Ok(s) => s,
        Err(reason) => return Err(SocialError::OAuthLink(reason.to_owned()).into()),
    };
    let mut set = super::session_cookie(&req, &state, &signed_in.session, &signed_in.user);
    set.extend(account_cookie(&req, &state, provider.id(), &info.account_id).await);
    Ok(super::json_with_cookies(
        &json!({
            "redirect": false,
            "token": signed_in.session.token,
            "user": signed_in.user,
        }),
        set,
    ))
}

/// Verifies an `idToken` body and reads the user from it (401 on any failure).
async fn id_token_user(
    state: &AppState,
    provider: &Provider,
    input: &IdTokenInput,
) -> ApiResult<UserInfo> {
    let oauth = &state.oauth;
    if !provider.supports_id_token(oauth).await {
        return Err(SocialError::IdTokenNotSupported.into());
    }
    if let Err(e) = provider
        .verify_id_token(oauth, &input.token, input.nonce.as_deref())
        .await
    {
        tracing::warn!(provider = provider.id(), error = %e, "invalid id token");
        return Err(SocialError::InvalidIdToken.into());
    }
    let tokens = Tokens {
        id_token: Some(input.token.clone()),
        access_token: input.access_token.clone(),
        refresh_token: input.refresh_token.clone(),
        ..Tokens::default()
    };
    let info = provider
        .user_info(
            oauth,
            &tokens,
            input.nonce.as_deref(),
            input.apple_user.as_ref(),
        )
        .await
        .map_err(|e| {
            tracing::error!(provider = provider.id(), error = %e, "failed to get user info");
            SocialError::FailedToGetUserInfo
        })?;
    if info.email.is_none() {
        return Err(SocialError::UserEmailNotFound.into());
    }
    Ok(info)
}

/// `POST /link-social`: links another provider account to the signed-in user.
pub async fn link_social(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<SocialBody>,
) -> ApiResult<HttpResponse> {
    let auth = super::session::require(&req, &state).await?;
    let current = auth.current;
    let provider = provider(&state, &body.provider).await?;
    let Some(input) = &body.id_token else {
        let link = LinkTarget {
            email: current.user.email.clone(),
            user_id: current.user.id.clone(),
            encrypted_session_token: Some(tokens::seal_link_session(
                &state.config,
                &current.session.token,
            )),
        };
        return start_redirect_flow(&state, &provider, body, Some(link)).await;
    };

    let info = id_token_user(&state, &provider, input).await?;
    let linking = &state.config.social.linking;
    let done = json!({"url": "", "status": true, "redirect": false});
    let existing = state
        .store
        .accounts()
        .find_by_key(provider.id(), &info.account_id)
        .await?;
    let update = TokenUpdate {
        access_token: tokens::seal(&state.config, input.access_token.as_deref()),
        refresh_token: tokens::seal(&state.config, input.refresh_token.as_deref()),
        id_token: Some(input.token.clone()),
        ..TokenUpdate::default()
    };
    match existing {
        Some(a) if a.user_id == current.user.id => {
            state.store.accounts().update_tokens(&a.id, &update).await?;
            update_user_info_on_link(&state, &current.user, &info).await;
            return Ok(super::json_with_cookies(&done, auth.set_cookies));
        }
        Some(_) => return Err(SocialError::SocialAccountAlreadyLinked.into()),
        None => {}
    }
    let trusted = linking.trusted_providers.iter().any(|p| p == provider.id());
    if (!trusted && !info.email_verified) || !linking.enabled {
        return Err(SocialError::LinkingNotAllowed.into());
    }
    if !same_email(info.email.as_deref(), &current.user.email) && !linking.allow_different_emails {
        return Err(SocialError::LinkingDifferentEmailsNotAllowed.into());
    }
    let account = new_account(&provider, &info, &current.user.id, update);
    if let Err(e) = state.store.accounts().create(&account).await {
        tracing::error!(error = %e, "linking an account failed");
        return Err(SocialError::LinkingFailed.into());
    }
    update_user_info_on_link(&state, &current.user, &info).await;
    Ok(super::json_with_cookies(&done, auth.set_cookies))
}

fn same_email(provider_email: Option<&str>, local: &str) -> bool {
    provider_email.is_some_and(|e| e.to_lowercase() == local.to_lowercase())
}

fn new_account(provider: &Provider, info: &UserInfo, user_id: &str, t: TokenUpdate) -> Account {
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
/// local ones; the address and its verification never change. Best effort, as upstream.
async fn update_user_info_on_link(state: &AppState, user: &User, info: &UserInfo) {
    if !state.config.social.linking.update_user_info_on_link {
        return;
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
        return;
    }
    state.sessions.user_updated(&user.id).await;
}

/// The signed-in result of a social sign-in.
struct SignedIn {
    user: User,
    session: Session,
    is_register: bool,
}

/// Upstream's `handleOAuthUserInfo`: finds the account or the user with this address,
/// links when the rules allow it, or creates the user; then makes a session. Errors are
/// upstream's reason strings (`account not linked`, `signup disabled`, ...).
async fn handle_user_info(
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

    let (user, is_register) = match existing_user {
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
                    update_user_info_on_link(state, &user, info).await;
                    if let Some(u) = store.users().find_by_id(&user.id).await.map_err(db_fail)? {
                        user = u;
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
            (user, false)
        }
        None => {
            let c = &provider.config;
            if (c.disable_implicit_sign_up && !request_sign_up) || c.disable_sign_up {
                return Err("signup disabled");
            }
            let now = Timestamp::now();
            // Declared user fields of a new user: defaults, and what plugins add (upstream
            // runs the same database hooks for social sign-up).
            let values =
                match super::client_user_fields(req, state, "/callback/{id}", &Map::new(), None)
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
            let session = match super::prepare_session(req, state, &user, true).await {
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
            super::session_started(req, &session, &user);
            return Ok(SignedIn {
                user,
                session,
                is_register: true,
            });
        }
    };
    let session = match super::start_session(req, state, &user, true).await {
        Ok((session, _)) => session,
        Err(e) => {
            tracing::warn!(error = %e, "no session for a social sign-in");
            return Err("unable to create session");
        }
    };
    Ok(SignedIn {
        user,
        session,
        is_register,
    })
}

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
    format!("{}/error", super::base_url(state))
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
            set.extend(super::session_cookie(
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

/// Stateless mode: the signed-in provider account in the `account_data` cookie, which
/// outlives the in-memory store (upstream's `storeAccountCookie`, on without a database).
async fn account_cookie(
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
    if let Ok(Some(user)) = store.users().find_by_id(&link.user_id).await {
        update_user_info_on_link(state, &user, info).await;
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
