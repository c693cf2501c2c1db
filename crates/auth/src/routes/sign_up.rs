//! `POST /sign-up/email` (upstream `routes/sign-up.ts`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::body::{self, MediaTypes, Validator};
use crate::cookies;
use crate::crypto::random;
use crate::error::{ApiError, ApiResult};
use crate::models::{Timestamp, User};
use crate::state::AppState;
use crate::store::is_unique_violation;

#[derive(Serialize)]
struct SignUpResponse<'a> {
    token: Option<&'a str>,
    user: &'a User,
}

pub async fn sign_up_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let body = body::read(&req, &bytes, &state, MediaTypes::JsonOrForm)?;
    let mut v = Validator::object(body.as_ref(), true)?;
    let name = v.string("name");
    let email = v.email("email");
    let password = v.non_empty_string("password");
    let image = v.opt_string("image");
    let _callback_url = v.opt_string("callbackURL");
    let remember = v.opt_bool("rememberMe").unwrap_or(true);
    v.finish()?;
    let (Some(name), Some(email), Some(password)) = (name, email, password) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    body::form_csrf_check(&req, &state)?;

    let len = body::js_length(password);
    if len < state.config.password.min_length {
        return Err(ApiError::PasswordTooShort);
    }
    if len > state.config.password.max_length {
        return Err(ApiError::PasswordTooLong);
    }
    let email = email.to_lowercase();
    if state.store.find_user_by_email(&email).await?.is_some() {
        return Err(ApiError::UserAlreadyExists);
    }

    let hash = state.hasher.hash(password).await?;
    let now = Timestamp::now();
    let user = User {
        id: random::id(),
        name: name.to_owned(),
        email,
        email_verified: false,
        image: image.map(str::to_owned),
        created_at: now,
        updated_at: now,
    };
    let session = super::new_session(&req, &state.config, &user.id, remember);
    match state
        .store
        .create_credential_user(&user, &hash, Some(&session))
        .await
    {
        Ok(()) => {}
        // Another request took the address between our check and the insert.
        Err(e) if is_unique_violation(&e) => return Err(ApiError::UserAlreadyExists),
        Err(e) => {
            tracing::error!(error = %e, "sign-up failed");
            return Err(ApiError::FailedToCreateUser);
        }
    }

    let set = cookies::session_cookies(&state.config, &state.cookies, &session.token, remember);
    Ok(super::json_with_cookies(
        &SignUpResponse {
            token: Some(&session.token),
            user: &user,
        },
        set,
    ))
}
