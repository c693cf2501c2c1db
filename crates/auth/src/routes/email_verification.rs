//! `POST /send-verification-email`, `GET /verify-email` (upstream
//! `routes/email-verification.ts`), including the steps of a change of address.

use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::body::{self, Body, Query, RequestBody, Validator};
use super::session;
use super::update_user::TokenLinkQuery;
use crate::cookies::encode_uri_component;
use crate::crypto::email_token::{self, RequestType, TokenError};
use crate::error::{ApiError, ApiResult, UrlField};
use crate::mail::{MailKind, MailVars};
use crate::models::User;
use crate::redirect::{self, Location};
use crate::state::AppState;
use crate::store::is_unique_violation;

/// Without a session, answering takes at least this long whether or not a mail goes out,
/// so that timing does not tell which addresses exist (upstream's floor).
const ANONYMOUS_FLOOR: Duration = Duration::from_millis(500);

/// `${baseURL}/verify-email?token=<jwt>&callbackURL=<encoded callbackURL or "/">`
pub(crate) fn verify_link(state: &AppState, token: &str, callback_url: Option<&str>) -> String {
    let callback = callback_url.filter(|c| !c.is_empty()).unwrap_or("/");
    format!(
        "{}/verify-email?token={token}&callbackURL={}",
        super::base_url(state),
        encode_uri_component(callback)
    )
}

fn token_error(e: jsonwebtoken::errors::Error) -> ApiError {
    ApiError::Internal(format!("signing a verification token: {e}"))
}

/// Mails `user` a link that verifies their address (upstream `sendVerificationEmailFn`).
pub(crate) fn send_verification_link(
    state: &AppState,
    user: &User,
    callback_url: Option<&str>,
) -> ApiResult<()> {
    if !state.mailer.enabled() {
        return Err(ApiError::VerificationEmailNotEnabled);
    }
    let token = email_token::create(
        state.config.secrets.current(),
        &user.email,
        None,
        None,
        &user.id,
        state.config.email_verification.expires_in,
    )
    .map_err(token_error)?;
    mail_verify_link(state, &user.name, &user.email, &token, callback_url);
    Ok(())
}

/// Mails `to` the verify-email link for `token`.
pub(crate) fn mail_verify_link(
    state: &AppState,
    name: &str,
    to: &str,
    token: &str,
    cb: Option<&str>,
) {
    state.mailer.send(
        MailKind::VerifyEmail,
        to,
        &MailVars {
            name: name.to_owned(),
            email: to.to_owned(),
            new_email: String::new(),
            url: verify_link(state, token, cb),
        },
    );
}

/// The body of `/send-verification-email`.
pub struct SendVerificationEmail {
    email: String,
    callback_url: Option<String>,
}

impl RequestBody for SendVerificationEmail {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let email = v.email("email");
        let callback_url = v.opt_string("callbackURL");
        Some(Self {
            email: email?.to_owned(),
            callback_url: callback_url.map(str::to_owned),
        })
    }
}

pub async fn send_verification_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<SendVerificationEmail>,
) -> ApiResult<HttpResponse> {
    let email = body.email;
    let callback_url = body.callback_url.as_deref();
    if !state.mailer.enabled() {
        return Err(ApiError::VerificationEmailNotEnabled);
    }
    let found = session::lookup(&req, &state, true).await?;
    let Some(current) = found.session else {
        let started = Instant::now();
        let result = match state
            .store
            .users()
            .find_by_email(&email.to_lowercase())
            .await?
        {
            Some(user) if !user.email_verified => {
                send_verification_link(&state, &user, callback_url)
            }
            _ => Ok(()),
        };
        tokio::time::sleep(ANONYMOUS_FLOOR.saturating_sub(started.elapsed())).await;
        result?;
        return Ok(HttpResponse::Ok().json(json!({ "status": true })));
    };
    if current.user.email.to_lowercase() != email.to_lowercase() {
        return Err(ApiError::EmailMismatch);
    }
    if current.user.email_verified {
        return Err(ApiError::EmailAlreadyVerified);
    }
    send_verification_link(&state, &current.user, callback_url)?;
    Ok(super::json_with_cookies(
        &json!({ "status": true }),
        found.set_cookies,
    ))
}

/// Where a failed verification goes: back to the app with `?error=<CODE>`, or a 401.
fn fail(
    state: &AppState,
    callback_url: Option<&str>,
    error: ApiError,
    code: &str,
) -> ApiResult<HttpResponse> {
    match callback_url {
        Some(cb) => {
            let location =
                Location::callback(state, UrlField::CallbackUrl, cb, &[("error", code)])?;
            Ok(redirect::found(&location, Vec::new()))
        }
        None => Err(error),
    }
}

fn invalid_token(state: &AppState, callback_url: Option<&str>) -> ApiResult<HttpResponse> {
    fail(state, callback_url, ApiError::InvalidToken, "INVALID_TOKEN")
}

/// The success answer: a redirect to the callback, or this JSON.
fn done(
    state: &AppState,
    callback_url: Option<&str>,
    body: serde_json::Value,
    cookies: Vec<String>,
) -> ApiResult<HttpResponse> {
    Ok(match callback_url {
        Some(cb) => redirect::found(
            &Location::callback(state, UrlField::CallbackUrl, cb, &[])?,
            cookies,
        ),
        None => super::json_with_cookies(&body, cookies),
    })
}

pub async fn verify_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    Query(query): Query<TokenLinkQuery>,
) -> ApiResult<HttpResponse> {
    let TokenLinkQuery {
        token,
        callback_url,
    } = query;
    body::check_callback_url(&state, callback_url.as_deref())?;
    let cb = callback_url.as_deref();

    let claims = match email_token::verify_any(state.config.secrets.all(), &token) {
        Ok(claims) => claims,
        Err(TokenError::Expired) => {
            return fail(&state, cb, ApiError::TokenExpired, "TOKEN_EXPIRED")
        }
        Err(TokenError::Invalid) => return invalid_token(&state, cb),
    };
    if !body::is_valid_email(&claims.email) {
        return invalid_token(&state, cb);
    }
    if let Some(update_to) = claims.update_to.as_deref() {
        return change_email_step(&req, &state, cb, &claims, update_to).await;
    }

    let Some(user) = state.store.users().find_by_email(&claims.email).await? else {
        return fail(&state, cb, ApiError::UserNotFound, "USER_NOT_FOUND");
    };
    if claims.user_id.as_deref().is_some_and(|id| id != user.id) {
        return invalid_token(&state, cb);
    }
    let null_user = json!({ "status": true, "user": null });
    if user.email_verified {
        return done(&state, cb, null_user, Vec::new());
    }
    state
        .store
        .users()
        .update_email(&user.id, &user.email, true)
        .await?;
    state.sessions.user_updated(&user.id).await;
    let user = User {
        email_verified: true,
        ..user
    };
    let mut cookies = Vec::new();
    if state
        .config
        .email_verification
        .auto_sign_in_after_verification
    {
        let current = session::lookup(&req, &state, true).await?.session;
        let session = match current {
            Some(c) if c.user.email == claims.email => c.session,
            _ => {
                let session = super::prepare_session(&req, &state, &user, true).await?;
                state
                    .sessions
                    .create(&session, &user)
                    .await
                    .map_err(super::session_not_created)?;
                session
            }
        };
        // Upstream's setSessionCookie with `{...user, emailVerified: true}`: the cache
        // cookie carries the verified user; the request's "don't remember" marker holds.
        cookies = super::session_cookie(&req, &state, &session, &user);
    }
    done(&state, cb, null_user, cookies)
}

/// The links of a change of address: the token names the account (`userId`), its current
/// address (`email`) and the new one (`updateTo`).
async fn change_email_step(
    req: &HttpRequest,
    state: &AppState,
    cb: Option<&str>,
    claims: &email_token::Claims,
    update_to: &str,
) -> ApiResult<HttpResponse> {
    let Some(user_id) = claims.user_id.as_deref() else {
        return invalid_token(state, cb);
    };
    let Some(user) = state.store.users().find_by_id(user_id).await? else {
        return fail(state, cb, ApiError::UserNotFound, "USER_NOT_FOUND");
    };
    if user.email.to_lowercase() != claims.email {
        return invalid_token(state, cb);
    }
    let current = session::lookup(req, state, true).await?.session;
    if current.as_ref().is_some_and(|c| c.user.id != user.id) {
        return fail(state, cb, ApiError::InvalidUser, "INVALID_USER");
    }

    match claims.request_type.as_deref() {
        // Approved from the old address: now verify the new one.
        Some("change-email-confirmation") => {
            let token = email_token::create(
                state.config.secrets.current(),
                &claims.email,
                Some(update_to),
                Some(RequestType::ChangeEmailVerification),
                &user.id,
                state.config.email_verification.expires_in,
            )
            .map_err(token_error)?;
            if state.mailer.enabled() {
                mail_verify_link(state, &user.name, update_to, &token, cb);
            }
            done(state, cb, json!({ "status": true }), Vec::new())
        }
        // The new address is proven: move the account (its verified flag stays).
        Some("change-email-verification") => {
            let verified = user.email_verified;
            let updated = move_email(state, &user, update_to, verified).await?;
            // `current` is this user's session (checked above): its cookies carry the
            // moved address.
            let cookies = current
                .map(|c| super::session_cookie(req, state, &c.session, &updated))
                .unwrap_or_default();
            done(
                state,
                cb,
                json!({ "status": true, "user": updated }),
                cookies,
            )
        }
        // Older links: the address changes at once and is verified afterwards.
        _ => {
            let updated = move_email(state, &user, update_to, false).await?;
            // Upstream signs this one with the default lifetime.
            let token = email_token::create(
                state.config.secrets.current(),
                update_to,
                None,
                None,
                &user.id,
                3_600,
            )
            .map_err(token_error)?;
            if state.mailer.enabled() {
                mail_verify_link(state, &user.name, update_to, &token, cb);
            }
            let cookies = current
                .map(|c| super::session_cookie(req, state, &c.session, &updated))
                .unwrap_or_default();
            done(
                state,
                cb,
                json!({ "status": true, "user": updated }),
                cookies,
            )
        }
    }
}

async fn move_email(
    state: &AppState,
    user: &User,
    new_email: &str,
    verified: bool,
) -> ApiResult<User> {
    match state
        .store
        .users()
        .update_email(&user.id, new_email, verified)
        .await
    {
        Ok(_) => {}
        // Someone took the address after the link was sent.
        Err(e) if is_unique_violation(&e) => return Err(ApiError::UserAlreadyExists),
        Err(e) => return Err(e.into()),
    }
    state.sessions.user_updated(&user.id).await;
    state
        .store
        .users()
        .find_by_id(&user.id)
        .await?
        .ok_or(ApiError::UserNotFound)
}
