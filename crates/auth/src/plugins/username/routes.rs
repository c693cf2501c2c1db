//! `POST /sign-in/username` and `POST /is-username-available`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{UsernamePlugin, INVALID_USERNAME_OR_PASSWORD, SIGN_IN_INVALID_USERNAME};
use crate::error::ApiResult;
use crate::rate_limit::Rule;
use crate::routes::body::{self, Body, MediaTypes, RequestBody, Validator};
use crate::routes::{sign_in, Api, Doc};
use crate::state::AppState;

pub fn configure(api: &mut Api) {
    use crate::routes::api::schema::*;
    let e = api.endpoint("/sign-in/username", Rule::Credentials).post(
        sign_in_username,
        Doc::new("signInUsername", "Signs in with a username and password").ok(object(
            &[("token", string()), ("user", user())],
            &["token", "user"],
        )),
    );
    api.add(e);
    let e = api.endpoint("/is-username-available", Rule::Default).post(
        is_username_available,
        Doc::new("isUsernameAvailable", "Whether a username is free")
            .ok(object(&[("available", boolean())], &["available"])),
    );
    api.add(e);
}

/// The body of `/sign-in/username`.
pub struct SignInUsername {
    username: String,
    password: String,
    remember_me: Option<bool>,
    callback_url: Option<String>,
}

impl RequestBody for SignInUsername {
    const MEDIA: MediaTypes = MediaTypes::JsonOrForm;

    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let username = v.string("username");
        let password = v.string("password");
        let remember_me = v.opt_bool("rememberMe");
        let callback_url = v.opt_string("callbackURL");
        Some(Self {
            username: username?.to_owned(),
            password: password?.to_owned(),
            remember_me,
            callback_url: callback_url.map(str::to_owned),
        })
    }
}

/// Upstream's `signInUsername`: the same checks and answer as `/sign-in/email`, with the
/// plugin's own error codes.
async fn sign_in_username(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(body): Body<SignInUsername>,
) -> ApiResult<HttpResponse> {
    body::form_csrf_check(&req, &state)?;
    let plugin = state.config.plugins.of::<UsernamePlugin>()?;
    if body.username.is_empty() || body.password.is_empty() {
        return Err(INVALID_USERNAME_OR_PASSWORD.into());
    }
    if let Some(problem) = plugin.problem(&body.username) {
        return Err(problem.into());
    }
    crate::routes::password::check_not_too_long(&state, &body.password)?;
    let user = plugin.find_user(&state, &body.username).await?;
    let Some(user) = sign_in::check_password(&state, user, &body.password).await? else {
        return Err(INVALID_USERNAME_OR_PASSWORD.into());
    };
    sign_in::finish_sign_in(
        &req,
        &state,
        user,
        body.remember_me.unwrap_or(true),
        body.callback_url.as_deref(),
    )
    .await
}

/// `{username}`
pub struct UsernameBody {
    username: String,
}

impl RequestBody for UsernameBody {
    fn read(v: &mut Validator<'_>) -> Option<Self> {
        let username = v.string("username");
        Some(Self {
            username: username?.to_owned(),
        })
    }
}

/// `{available: bool}`; an invalid username is a 422 with the rule it breaks.
async fn is_username_available(
    state: web::Data<AppState>,
    Body(body): Body<UsernameBody>,
) -> ApiResult<HttpResponse> {
    let plugin = state.config.plugins.of::<UsernamePlugin>()?;
    if body.username.is_empty() {
        return Err(SIGN_IN_INVALID_USERNAME.into());
    }
    if let Some(problem) = plugin.problem(&body.username) {
        return Err(problem.into());
    }
    let taken = plugin.owner(&state, &body.username).await?.is_some();
    Ok(HttpResponse::Ok().json(json!({ "available": !taken })))
}
