//! `POST /sign-up/email` (upstream `routes/sign-up.ts`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value};

use super::body::{self, Body, MediaTypes, RequestBody, Shape, Validator};
use crate::crypto::random;
use crate::error::{ApiError, ApiResult};
use crate::models::{Timestamp, User};
use crate::schema::split_returned;
use crate::state::AppState;
use crate::store::is_unique_violation;

#[derive(Serialize)]
struct SignUpResponse<'a> {
    token: Option<&'a str>,
    user: &'a User,
}

/// The body of `/sign-up/email`.
pub struct SignUpEmail {
    name: String,
    email: String,
    password: String,
    image: Option<String>,
    callback_url: Option<String>,
    remember_me: Option<bool>,
    /// The whole body: declared user fields (additional fields, plugins') come as plain keys.
    fields: Map<String, Value>,
}

impl RequestBody for SignUpEmail {
    const MEDIA: MediaTypes = MediaTypes::JsonOrForm;
    const SHAPE: Shape = Shape::ObjectAndRecord;

    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let name = v.string("name");
        let email = v.email("email");
        let password = v.non_empty_string("password");
        let image = v.opt_string("image");
        let callback_url = v.opt_string("callbackURL");
        let remember_me = v.opt_bool("rememberMe");
        Some(Self {
            name: name?.to_owned(),
            email: email?.to_owned(),
            password: password?.to_owned(),
            image: image.map(str::to_owned),
            callback_url: callback_url.map(str::to_owned),
            remember_me,
            fields: v.fields().clone(),
        })
    }
}

pub async fn sign_up_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<SignUpEmail>,
) -> ApiResult<HttpResponse> {
    body::form_csrf_check(&req, &state)?;
    let SignUpEmail {
        name,
        email,
        password,
        image,
        callback_url,
        remember_me,
        fields,
    } = body;
    let password = password.as_str();
    let callback_url = callback_url.as_deref();
    let remember = remember_me.unwrap_or(true);

    let len = body::js_length(password);
    if len < state.config.password.min_length {
        return Err(ApiError::PasswordTooShort);
    }
    if len > state.config.password.max_length {
        return Err(ApiError::PasswordTooLong);
    }
    let values = super::client_user_fields(&req, &state, "/sign-up/email", &fields, None).await?;
    let (extra, hidden) = split_returned(&state.store.schema().user, values);
    let email = email.to_lowercase();
    let account = &state.config.account;
    // Upstream answers an existing address like a new one when no session is handed out
    // anyway, so that sign-up does not reveal who has an account.
    let generic_duplicate = account.require_email_verification || !account.auto_sign_in;
    let now = Timestamp::now();
    let user = User {
        id: random::id(),
        extra,
        hidden,
        name,
        email,
        email_verified: false,
        image,
        created_at: now,
        updated_at: now,
    };
    let no_session = |user: &User| HttpResponse::Ok().json(SignUpResponse { token: None, user });
    if state
        .store
        .users()
        .find_by_email(&user.email)
        .await?
        .is_some()
    {
        if generic_duplicate {
            // Same work as a real sign-up: one hash.
            state.hasher.hash(password).await?;
            return Ok(no_session(&user));
        }
        return Err(ApiError::UserAlreadyExists);
    }

    let hash = state.hasher.hash(password).await?;
    let session = match generic_duplicate {
        true => None,
        false => Some(super::prepare_session(&req, &state, &user, remember).await?),
    };
    match state
        .store
        .create_credential_user(
            &user,
            &hash,
            session.as_ref().and_then(|s| state.sessions.row(s)),
        )
        .await
    {
        Ok(()) => {}
        // Another request took the address between our check and the insert.
        Err(e) if is_unique_violation(&e) && generic_duplicate => return Ok(no_session(&user)),
        Err(e) if is_unique_violation(&e) => return Err(ApiError::UserAlreadyExists),
        Err(e) => {
            tracing::error!(error = %e, "sign-up failed");
            return Err(ApiError::FailedToCreateUser);
        }
    }

    if state.config.email_verification.send_on_sign_up && state.mailer.enabled() {
        super::email_verification::send_verification_link(&state, &user, callback_url)?;
    }
    let Some(session) = session else {
        return Ok(no_session(&user));
    };
    if let Err(e) = state.sessions.publish(&session, &user).await {
        return Err(super::session_not_created(e));
    }
    super::session_started(&req, &session, &user);
    let set = super::session_cookies(&req, &state, &session, &user, remember);
    Ok(super::json_with_cookies(
        &SignUpResponse {
            token: Some(&session.token),
            user: &user,
        },
        set,
    ))
}
