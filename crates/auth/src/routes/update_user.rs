//! `POST /update-user`, `POST /change-password`, `POST /change-email`, `POST /delete-user`,
//! `GET /delete-user/callback` (upstream `routes/update-user.ts`). `setPassword` is
//! server-only upstream (no HTTP route), so it has none here either.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::body::{
    self, AnyRecord, Body, Query, QueryValidator, RequestBody, RequestQuery, Validator,
};
use super::email_verification::{mail_verify_link, verify_link};
use super::password::{check_new_password, check_not_too_long, is_current_password};
use super::session::{self, Authenticated};
use crate::cookies;
use crate::crypto::email_token::{self, RequestType};
use crate::crypto::password::Verified;
use crate::crypto::random;
use crate::error::{ApiError, ApiResult, UrlField};
use crate::mail::{MailKind, MailVars};
use crate::models::{Timestamp, User};
use crate::redirect::{self, Location};
use crate::state::AppState;

fn status_true(set_cookies: Vec<String>) -> HttpResponse {
    super::json_with_cookies(&json!({ "status": true }), set_cookies)
}

/// Name and image; the address only changes through change-email.
pub async fn update_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(AnyRecord(fields)): Body<AnyRecord>,
) -> ApiResult<HttpResponse> {
    let auth = session::require(&req, &state).await?;
    if fields.get("email").is_some_and(truthy) {
        return Err(ApiError::EmailCanNotBeUpdated);
    }
    let mut changes: Map<String, Value> = Map::new();
    let mut issues = Vec::new();
    match fields.get("name") {
        None => {}
        Some(Value::String(name)) => {
            changes.insert("name".into(), Value::String(name.clone()));
        }
        Some(other) => issues.push(format!(
            "[body.name] Invalid input: expected string, received {}",
            body::type_name(Some(other))
        )),
    }
    match fields.get("image") {
        None => {}
        Some(image @ (Value::String(_) | Value::Null)) => {
            changes.insert("image".into(), image.clone());
        }
        Some(other) => issues.push(format!(
            "[body.image] Invalid input: expected string, received {}",
            body::type_name(Some(other))
        )),
    }
    if !issues.is_empty() {
        return Err(ApiError::Validation(issues.join("; ")));
    }
    // Declared fields (additional and plugins'); other keys are dropped as upstream does.
    let declared = super::client_user_fields(
        &req,
        &state,
        "/update-user",
        &fields,
        Some(&auth.current.user),
    )
    .await?;
    changes.extend(declared);
    if changes.is_empty() {
        return Err(ApiError::BadRequestMessage("No fields to update"));
    }
    state
        .store
        .users()
        .update_fields(&auth.current.user.id, &changes)
        .await?;
    state.sessions.user_updated(&auth.current.user.id).await;
    // The cache cookie carries the updated user, as upstream's `updatedUser`.
    let user = with_changes(&state, auth.current.user, changes);
    let mut set = auth.set_cookies;
    set.extend(super::session_cookie(
        &req,
        &state,
        &auth.current.session,
        &user,
    ));
    Ok(status_true(set))
}

/// `user` as `update_fields` left it: name, image and the declared fields changed.
fn with_changes(state: &AppState, mut user: User, mut changes: Map<String, Value>) -> User {
    if let Some(Value::String(name)) = changes.remove("name") {
        user.name = name;
    }
    if let Some(image) = changes.remove("image") {
        user.image = image.as_str().map(str::to_owned);
    }
    let mut split = (
        std::mem::take(&mut user.extra),
        std::mem::take(&mut user.hidden),
    );
    crate::schema::merge_changes(&state.store.schema().user, &mut split, changes);
    (user.extra, user.hidden) = split;
    user.updated_at = Timestamp::now();
    user
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

#[derive(Serialize)]
struct ChangePasswordResponse<'a> {
    token: Option<&'a str>,
    user: &'a User,
}

/// The body of `/change-password`.
pub struct ChangePassword {
    new_password: String,
    current_password: String,
    revoke_other_sessions: Option<bool>,
}

impl RequestBody for ChangePassword {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let new_password = v.string("newPassword");
        let current_password = v.string("currentPassword");
        let revoke_other_sessions = v.opt_bool("revokeOtherSessions");
        Some(Self {
            new_password: new_password?.to_owned(),
            current_password: current_password?.to_owned(),
            revoke_other_sessions,
        })
    }
}

pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<ChangePassword>,
) -> ApiResult<HttpResponse> {
    let new_password = body.new_password.as_str();
    let current_password = body.current_password.as_str();
    let revoke_others = body.revoke_other_sessions.unwrap_or(false);
    let auth = session::require(&req, &state).await?;
    check_new_password(&state, new_password)?;
    check_not_too_long(&state, current_password)?;
    let user = &auth.current.user;
    let account = state.store.accounts().find_credential(&user.id).await?;
    let Some((account_id, stored)) = account.and_then(|a| Some((a.id, a.password?))) else {
        return Err(ApiError::CredentialAccountNotFound);
    };
    let hash = state.hasher.hash(new_password).await?;
    if !matches!(
        state.hasher.verify(current_password, &stored).await?,
        Verified::Yes { .. }
    ) {
        return Err(ApiError::InvalidPassword);
    }
    if !revoke_others {
        state
            .store
            .accounts()
            .update_password(&account_id, &hash)
            .await?;
        return Ok(super::json_with_cookies(
            &ChangePasswordResponse { token: None, user },
            auth.set_cookies,
        ));
    }
    let session = super::prepare_session(&req, &state, user, true).await?;
    state
        .store
        .change_password_revoking_sessions(
            &account_id,
            &hash,
            &user.id,
            state.sessions.row(&session),
        )
        .await?;
    // Committed: the Redis copies follow (sessions older than the new one out, it in).
    state
        .sessions
        .forget_user(&user.id, session.created_at)
        .await?;
    state.sessions.publish(&session, user).await?;
    Ok(super::json_with_cookies(
        &ChangePasswordResponse {
            token: Some(&session.token),
            user,
        },
        super::session_cookie(&req, &state, &session, user),
    ))
}

/// The body of `/change-email`.
pub struct ChangeEmail {
    new_email: String,
    callback_url: Option<String>,
}

impl RequestBody for ChangeEmail {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let new_email = v.email("newEmail");
        let callback_url = v.opt_string("callbackURL");
        Some(Self {
            new_email: new_email?.to_owned(),
            callback_url: callback_url.map(str::to_owned),
        })
    }
}

pub async fn change_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<ChangeEmail>,
) -> ApiResult<HttpResponse> {
    let new_email = body.new_email;
    let callback_url = body.callback_url.as_deref();
    let Authenticated {
        current,
        set_cookies,
    } = session::require(&req, &state).await?;
    let options = &state.config.user;
    if !options.change_email_enabled {
        return Err(ApiError::ChangeEmailDisabled);
    }
    let new_email = new_email.to_lowercase();
    let user = &current.user;
    if new_email == user.email {
        return Err(ApiError::BadRequestMessage("Email is the same"));
    }
    let can_update_now = !user.email_verified && options.update_email_without_verification;
    let can_send = state.mailer.enabled();
    if !can_update_now && !can_send {
        return Err(ApiError::BadRequestMessage(
            "Verification email isn't enabled",
        ));
    }
    let secret = state.config.secrets.current();
    let expires_in = state.config.email_verification.expires_in;
    let sign = |email: &str, update_to: Option<&str>, rt: Option<RequestType>| {
        email_token::create(secret, email, update_to, rt, &user.id, expires_in)
            .map_err(|e| ApiError::Internal(format!("signing a verification token: {e}")))
    };
    // Taken address: the same answer as a free one, and the same token work.
    if state
        .store
        .users()
        .find_by_email(&new_email)
        .await?
        .is_some()
    {
        sign(&user.email, Some(&new_email), None)?;
        return Ok(status_true(set_cookies));
    }
    if can_update_now {
        if !state
            .store
            .users()
            .update_email(&user.id, &new_email, false)
            .await
            .map_err(|e| {
                if crate::store::is_unique_violation(&e) {
                    ApiError::UserAlreadyExists
                } else {
                    e.into()
                }
            })?
        {
            return Err(ApiError::Unauthorized);
        }
        state.sessions.user_updated(&user.id).await;
        // The cache cookie carries the new address, as upstream's `{...user, email}`.
        let moved = User {
            email: new_email.clone(),
            ..current.user.clone()
        };
        let mut set = set_cookies;
        set.extend(super::session_cookie(
            &req,
            &state,
            &current.session,
            &moved,
        ));
        if can_send {
            let token = sign(&new_email, None, None)?;
            mail_verify_link(&state, &user.name, &new_email, &token, callback_url);
        }
        return Ok(status_true(set));
    }
    if user.email_verified && options.send_change_email_confirmation {
        let token = sign(
            &user.email,
            Some(&new_email),
            Some(RequestType::ChangeEmailConfirmation),
        )?;
        state.mailer.send(
            MailKind::ChangeEmailConfirmation,
            &user.email,
            &MailVars {
                name: user.name.clone(),
                email: user.email.clone(),
                new_email: new_email.clone(),
                url: verify_link(&state, &token, callback_url),
            },
        );
        return Ok(status_true(set_cookies));
    }
    let token = sign(
        &user.email,
        Some(&new_email),
        Some(RequestType::ChangeEmailVerification),
    )?;
    mail_verify_link(&state, &user.name, &new_email, &token, callback_url);
    Ok(status_true(set_cookies))
}

fn delete_identifier(token: &str) -> String {
    format!("delete-account-{token}")
}

fn user_deleted(req: &HttpRequest, state: &AppState) -> HttpResponse {
    super::json_with_cookies(
        &json!({ "success": true, "message": "User deleted" }),
        cookies::expire_session_cookies(req, &state.cookies),
    )
}

/// Uses up a deletion token issued to `user`, then deletes the user.
async fn delete_with_token(state: &AppState, user: &User, token: &str) -> ApiResult<()> {
    let consumed = state.verifications.take(&delete_identifier(token)).await?;
    if consumed.is_none_or(|v| v.value != user.id) {
        return Err(ApiError::InvalidDeleteToken);
    }
    state.sessions.delete_user(&user.id).await?;
    Ok(())
}

/// Deletes the account: with the password, with a token from the confirmation mail, by
/// mailing such a token (when configured), or with a fresh session.
/// The body of `/delete-user`: every field optional.
pub struct DeleteUser {
    callback_url: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

impl RequestBody for DeleteUser {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let callback_url = v.opt_string("callbackURL");
        let password = v.opt_string("password");
        let token = v.opt_string("token");
        Some(Self {
            callback_url: callback_url.map(str::to_owned),
            password: password.map(str::to_owned),
            token: token.map(str::to_owned),
        })
    }
}

pub async fn delete_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<DeleteUser>,
) -> ApiResult<HttpResponse> {
    let callback_url = body.callback_url.as_deref();
    let password = body.password.as_deref();
    let token = body.token.as_deref();
    let auth = session::require(&req, &state).await?;
    let options = &state.config.user;
    if !options.delete_user_enabled {
        return Err(ApiError::NotFoundEmpty);
    }
    let user = &auth.current.user;
    let password = password.filter(|p| !p.is_empty());
    if let Some(password) = password {
        check_not_too_long(&state, password)?;
        let has_password = state
            .store
            .accounts()
            .find_credential(&user.id)
            .await?
            .is_some_and(|a| a.password.is_some());
        if !has_password {
            return Err(ApiError::CredentialAccountNotFound);
        }
        if !is_current_password(&state, &user.id, password).await? {
            return Err(ApiError::InvalidPassword);
        }
    }
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        delete_with_token(&state, user, token).await?;
        return Ok(user_deleted(&req, &state));
    }
    if options.delete_user_verification && state.mailer.enabled() {
        let token = random::delete_token();
        let expires_at = Timestamp::now().plus_seconds(options.delete_token_expires_in);
        state
            .verifications
            .create(&delete_identifier(&token), &user.id, expires_at)
            .await?;
        let url = format!(
            "{}/delete-user/callback?token={token}&callbackURL={}",
            super::base_url(&state),
            cookies::encode_uri_component(callback_url.filter(|c| !c.is_empty()).unwrap_or("/"))
        );
        state.mailer.send(
            MailKind::DeleteAccount,
            &user.email,
            &MailVars {
                name: user.name.clone(),
                email: user.email.clone(),
                new_email: String::new(),
                url,
            },
        );
        return Ok(super::json_with_cookies(
            &json!({ "success": true, "message": "Verification email sent" }),
            auth.set_cookies,
        ));
    }
    if password.is_none() && !session::is_fresh(&state, &auth.current) {
        return Err(ApiError::SessionExpired);
    }
    state.sessions.delete_user(&user.id).await?;
    Ok(user_deleted(&req, &state))
}

/// The link in the confirmation mail; the browser must still be signed in as the user.
/// `?token=...&callbackURL=...` of a mailed link.
pub struct TokenLinkQuery {
    pub token: String,
    pub callback_url: Option<String>,
}

impl RequestQuery for TokenLinkQuery {
    fn read(q: &mut QueryValidator) -> Option<Self> {
        let token = q.string("token");
        let callback_url = q.opt_string("callbackURL");
        Some(Self {
            token: token?,
            callback_url,
        })
    }
}

pub async fn delete_user_callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    Query(query): Query<TokenLinkQuery>,
) -> ApiResult<HttpResponse> {
    let TokenLinkQuery {
        token,
        callback_url,
    } = query;
    body::check_callback_url(&state, callback_url.as_deref())?;
    if !state.config.user.delete_user_enabled {
        return Err(ApiError::NotFoundWithCode);
    }
    let Some(current) = session::lookup(&req, &state, true).await?.session else {
        return Err(ApiError::FailedToGetUserInfo);
    };
    delete_with_token(&state, &current.user, &token).await?;
    match callback_url.filter(|c| !c.is_empty()) {
        Some(cb) => Ok(redirect::found(
            &Location::callback(&state, UrlField::CallbackUrl, &cb, &[])?,
            cookies::expire_session_cookies(&req, &state.cookies),
        )),
        None => Ok(user_deleted(&req, &state)),
    }
}
