//! `POST /request-password-reset`, `GET /reset-password/:token`, `POST /reset-password`,
//! `POST /verify-password` (upstream `routes/password.ts`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::body::{self, Body, Query, QueryValidator, RequestBody, RequestQuery, Validator};
use super::session;
use crate::cookies::encode_uri_component;
use crate::crypto::password::Verified;
use crate::crypto::random;
use crate::error::{ApiError, ApiResult, UrlField};
use crate::mail::{MailKind, MailVars};
use crate::models::Timestamp;
use crate::redirect::{self, Location};
use crate::state::AppState;

const RESET_MESSAGE: &str =
    "If this email exists in our system, check your email for the reset link";

fn reset_identifier(token: &str) -> String {
    format!("reset-password:{token}")
}

/// Length limits of a new password, in JavaScript's units.
pub(crate) fn check_new_password(state: &AppState, password: &str) -> ApiResult<()> {
    let len = body::js_length(password);
    if len < state.config.password.min_length {
        return Err(ApiError::PasswordTooShort);
    }
    check_not_too_long(state, password)
}

pub(crate) fn check_not_too_long(state: &AppState, password: &str) -> ApiResult<()> {
    if body::js_length(password) > state.config.password.max_length {
        return Err(ApiError::PasswordTooLong);
    }
    Ok(())
}

/// Whether `password` is the user's current password (no credential account: no).
pub(crate) async fn is_current_password(
    state: &AppState,
    user_id: &str,
    password: &str,
) -> ApiResult<bool> {
    let account = state.store.accounts().find_credential(user_id).await?;
    let Some(stored) = account.and_then(|a| a.password) else {
        return Ok(false);
    };
    Ok(matches!(
        state.hasher.verify(password, &stored).await?,
        Verified::Yes { .. }
    ))
}

/// The body of `/request-password-reset`.
pub struct RequestPasswordReset {
    email: String,
    redirect_to: Option<String>,
}

impl RequestBody for RequestPasswordReset {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let email = v.email("email");
        let redirect_to = v.opt_string("redirectTo");
        Some(Self {
            email: email?.to_owned(),
            redirect_to: redirect_to.map(str::to_owned),
        })
    }
}

/// The same answer whether or not the address is known, after the same work: the user
/// lookup. Making the token and mailing it happen after the answer, so neither timing nor
/// a storage error tells that the address exists.
pub async fn request_password_reset(
    state: web::Data<AppState>,
    Body(body): Body<RequestPasswordReset>,
) -> ApiResult<HttpResponse> {
    let email = body.email;
    let redirect_to = body.redirect_to.as_deref();
    if !state.mailer.enabled() {
        return Err(ApiError::ResetPasswordDisabled);
    }
    if let Some(user) = state
        .store
        .users()
        .find_by_email(&email.to_lowercase())
        .await?
    {
        let callback = redirect_to.map(encode_uri_component).unwrap_or_default();
        let state = state.clone();
        tokio::spawn(async move {
            let token = random::reset_token();
            let expires_at =
                Timestamp::now().plus_seconds(state.config.account.reset_password_token_expires_in);
            if let Err(e) = state
                .verifications
                .create(&reset_identifier(&token), &user.id, expires_at)
                .await
            {
                tracing::error!(error = %e, "storing a password reset token failed; no mail sent");
                return;
            }
            let url = format!(
                "{}/reset-password/{token}?callbackURL={callback}",
                super::base_url(&state)
            );
            state.mailer.send(
                MailKind::ResetPassword,
                &user.email,
                &MailVars {
                    name: user.name.clone(),
                    email: user.email.clone(),
                    new_email: String::new(),
                    url,
                },
            );
        });
    }
    Ok(HttpResponse::Ok().json(json!({ "status": true, "message": RESET_MESSAGE })))
}

/// The link in the mail: checks (without using) the token and sends the browser to the
/// app's reset page with `?token=` or `?error=INVALID_TOKEN`.
/// The query of the reset link: `callbackURL` is required.
pub struct ResetLinkQuery {
    callback_url: String,
}

impl RequestQuery for ResetLinkQuery {
    fn read(q: &mut QueryValidator) -> Option<Self> {
        let callback_url = q.string("callbackURL");
        Some(Self {
            callback_url: callback_url?,
        })
    }
}

pub async fn reset_password_callback(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Query(query): Query<ResetLinkQuery>,
) -> ApiResult<HttpResponse> {
    let token = path.into_inner();
    let callback_url = query.callback_url;
    body::check_callback_url(&state, Some(&callback_url))?;
    let error = |state: &AppState| {
        // Without a callback upstream falls back to its error page.
        let target = if callback_url.is_empty() {
            format!("{}/error", super::base_url(state))
        } else {
            callback_url.clone()
        };
        Location::resolved(
            state,
            UrlField::CallbackUrl,
            &target,
            &[("error", "INVALID_TOKEN")],
        )
    };
    if token.is_empty() || callback_url.is_empty() {
        return Ok(redirect::found(&error(&state)?, Vec::new()));
    }
    let valid = state
        .verifications
        .find(&reset_identifier(&token))
        .await?
        .is_some_and(|v| v.expires_at >= Timestamp::now());
    let location = if valid {
        Location::resolved(
            &state,
            UrlField::CallbackUrl,
            &callback_url,
            &[("token", &token)],
        )?
    } else {
        error(&state)?
    };
    Ok(redirect::found(&location, Vec::new()))
}

/// The body of `POST /reset-password`; the token may come in the query instead.
pub struct ResetPassword {
    new_password: String,
    token: Option<String>,
}

impl RequestBody for ResetPassword {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let new_password = v.string("newPassword");
        let token = v.opt_string("token");
        Some(Self {
            new_password: new_password?.to_owned(),
            token: token.map(str::to_owned),
        })
    }
}

/// `?token=` of `POST /reset-password`.
pub struct TokenQuery {
    token: Option<String>,
}

impl RequestQuery for TokenQuery {
    fn read(q: &mut QueryValidator) -> Option<Self> {
        Some(Self {
            token: q.opt_string("token"),
        })
    }
}

pub async fn reset_password(
    state: web::Data<AppState>,
    Body(body): Body<ResetPassword>,
    Query(query): Query<TokenQuery>,
) -> ApiResult<HttpResponse> {
    let new_password = body.new_password.as_str();
    let bad_token = || ApiError::InvalidResetToken;
    let token = body
        .token
        .filter(|t| !t.is_empty())
        .or(query.token.filter(|t| !t.is_empty()))
        .ok_or_else(bad_token)?;
    check_new_password(&state, new_password)?;

    let identifier = reset_identifier(&token);
    let verification = state
        .verifications
        .find(&identifier)
        .await?
        .filter(|v| v.expires_at >= Timestamp::now())
        .ok_or_else(bad_token)?;
    let user = state
        .store
        .users()
        .find_by_id(&verification.value)
        .await?
        .ok_or(ApiError::ResetUserNotFound)?;
    let hash = state.hasher.hash(new_password).await?;

    let revoke = state.config.account.revoke_sessions_on_password_reset;
    let reset = state
        .store
        .reset_password(&state.verifications, &identifier, &user, &hash, revoke)
        .await?;
    if !reset {
        return Err(bad_token());
    }
    if revoke {
        state
            .sessions
            .forget_user(&user.id, Timestamp::now())
            .await?;
    }
    Ok(HttpResponse::Ok().json(json!({ "status": true })))
}

/// `{password}`: the body of `/verify-password`.
pub struct PasswordBody {
    password: String,
}

impl RequestBody for PasswordBody {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let password = v.string("password");
        Some(Self {
            password: password?.to_owned(),
        })
    }
}

pub async fn verify_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<PasswordBody>,
) -> ApiResult<HttpResponse> {
    let password = body.password.as_str();
    let auth = session::require(&req, &state).await?;
    check_not_too_long(&state, password)?;
    if !is_current_password(&state, &auth.current.user.id, password).await? {
        return Err(ApiError::InvalidPassword);
    }
    Ok(super::json_with_cookies(
        &json!({ "status": true }),
        auth.set_cookies,
    ))
}
