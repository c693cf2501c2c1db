//! `POST /sign-in/email` (upstream `routes/sign-in.ts` `signInEmail`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::body::{self, Body, MediaTypes, RequestBody, Validator};
use crate::config::PasswordHashing;
use crate::crypto::password::Verified;
use crate::error::{ApiError, ApiResult, UrlField};
use crate::models::User;
use crate::redirect::{self, Location};
use crate::state::AppState;

#[derive(Serialize)]
struct SignInResponse<'a> {
    redirect: bool,
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    user: &'a User,
}

/// The body of `/sign-in/email`.
pub struct SignInEmail {
    email: String,
    password: String,
    callback_url: Option<String>,
    remember_me: Option<bool>,
}

impl RequestBody for SignInEmail {
    const MEDIA: MediaTypes = MediaTypes::JsonOrForm;

    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let email = v.string("email");
        let password = v.string("password");
        let callback_url = v.opt_string("callbackURL");
        let remember_me = v.opt_bool("rememberMe");
        Some(Self {
            email: email?.to_owned(),
            password: password?.to_owned(),
            callback_url: callback_url.map(str::to_owned),
            remember_me,
        })
    }
}

pub async fn sign_in_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<SignInEmail>,
) -> ApiResult<HttpResponse> {
    body::form_csrf_check(&req, &state)?;
    if !body::is_valid_email(&body.email) {
        return Err(ApiError::InvalidEmail);
    }
    let user = state
        .store
        .users()
        .find_by_email(&body.email.to_lowercase())
        .await?;
    let Some(user) = check_password(&state, user, &body.password).await? else {
        return Err(ApiError::InvalidEmailOrPassword);
    };
    finish_sign_in(
        &req,
        &state,
        user,
        body.remember_me.unwrap_or(true),
        body.callback_url.as_deref(),
    )
    .await
}

/// What every password sign-in (email, username) does once the password is right: the
/// email-verification requirement, the session and upstream's answer
/// `{redirect, token, url?, user}` (with `Location` when there is a callback).
pub(crate) async fn finish_sign_in(
    req: &HttpRequest,
    state: &AppState,
    user: User,
    remember: bool,
    callback_url: Option<&str>,
) -> ApiResult<HttpResponse> {
    if state.config.account.require_email_verification && !user.email_verified {
        if state.config.email_verification.send_on_sign_in && state.mailer.enabled() {
            super::email_verification::send_verification_link(state, &user, callback_url)?;
        }
        return Err(ApiError::EmailNotVerified);
    }
    let (session, set) = super::start_session(req, state, &user, remember).await?;
    let mut response = super::json_with_cookies(
        &SignInResponse {
            redirect: callback_url.is_some(),
            token: &session.token,
            url: callback_url,
            user: &user,
        },
        set,
    );
    if let Some(url) = callback_url {
        let location = Location::callback(state, UrlField::CallbackUrl, url, &[])?;
        redirect::set_location(&mut response, &location);
    }
    Ok(response)
}

/// The user, if `password` is theirs. An unknown user, or one without a password, still
/// costs one hash verification, so that timing does not tell which failure it was.
pub(crate) async fn check_password(
    state: &AppState,
    user: Option<User>,
    password: &str,
) -> ApiResult<Option<User>> {
    let Some(user) = user else {
        state.hasher.verify_dummy(password).await?;
        return Ok(None);
    };
    let account = state.store.accounts().find_credential(&user.id).await?;
    let Some((account_id, stored)) = account.and_then(|a| Some((a.id, a.password?))) else {
        state.hasher.verify_dummy(password).await?;
        return Ok(None);
    };
    match state.hasher.verify(password, &stored).await? {
        Verified::No => Ok(None),
        Verified::Yes { legacy_scrypt } => {
            if legacy_scrypt
                && state.config.password.rehash_on_sign_in
                && state.hasher.mode() == PasswordHashing::Argon2id
            {
                // Best effort: a failed upgrade leaves the working scrypt hash in place.
                match state.hasher.hash(password).await {
                    Ok(hash) => {
                        if let Err(e) = state
                            .store
                            .accounts()
                            .update_password(&account_id, &hash)
                            .await
                        {
                            tracing::warn!(error = %e, "could not upgrade a scrypt hash");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not upgrade a scrypt hash"),
                }
            }
            Ok(Some(user))
        }
    }
}
