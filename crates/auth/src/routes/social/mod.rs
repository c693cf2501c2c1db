//! `POST /sign-in/social`, `GET|POST /callback/:id`, `POST /link-social`
//! (upstream `routes/sign-in.ts` `signInSocial`, `routes/callback.ts`, `routes/account.ts`
//! `linkSocialAccount`, `oauth2/link-account.ts`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::body::{Body, RequestBody, Validator};
use crate::error::{ApiError, ApiResult, SocialError};
use crate::oauth::state::{self as oauth_state, LinkTarget, StateData};
use crate::oauth::{tokens, AuthorizationRequest, Provider, Tokens, UserInfo};
use crate::redirect::{self, Location};
use crate::state::AppState;
use crate::store::accounts::TokenUpdate;

mod callback;
mod user_info;

pub use callback::{callback_get, callback_post};
use user_info::{
    account_cookie, handle_user_info, new_account, same_email, update_user_info_on_link,
};

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
