//! `POST /sign-in/anonymous` and `POST /delete-anonymous-user`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::{
    is_anonymous, AnonymousPlugin, ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY,
    DELETE_ANONYMOUS_USER_DISABLED, FAILED_TO_CREATE_USER, USER_IS_NOT_ANONYMOUS,
};
use crate::crypto::random;
use crate::error::ApiResult;
use crate::models::{Timestamp, User};
use crate::rate_limit::Rule;
use crate::routes::body::{self, Body, NoSchema};
use crate::routes::{json_with_cookies, session, start_session, Api, Doc};
use crate::state::AppState;

pub fn configure(api: &mut Api) {
    use crate::routes::api::schema::*;
    let e = api.endpoint("/sign-in/anonymous", Rule::Credentials).post(
        sign_in_anonymous,
        Doc::new("signInAnonymous", "Signs in as a new anonymous user").ok(object(
            &[("token", string()), ("user", user())],
            &["token", "user"],
        )),
    );
    api.add(e);
    let e = api.endpoint("/delete-anonymous-user", Rule::Default).post(
        delete_anonymous_user,
        Doc::new(
            "deleteAnonymousUser",
            "Deletes the signed-in anonymous user",
        )
        .ok(object(&[("success", boolean())], &["success"]))
        .signed_in(),
    );
    api.add(e);
}

/// A new anonymous user and its session: `{token, user}` with the session cookie.
async fn sign_in_anonymous(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Body<NoSchema>,
) -> ApiResult<HttpResponse> {
    // 1.7.29: the same login CSRF checks as /sign-in/email.
    body::form_csrf_check(&req, &state)?;
    let plugin = state.config.plugins.of::<AnonymousPlugin>()?;
    if session::lookup(&req, &state, false)
        .await?
        .session
        .is_some_and(|s| is_anonymous(&s.user))
    {
        return Err(ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY.into());
    }
    let id = random::id().to_lowercase();
    let email = match &plugin.options.email_domain_name {
        Some(domain) => format!("temp-{id}@{domain}"),
        None => format!("{id}@anonymous.placeholder.invalid"),
    };
    let mut body = Map::new();
    body.insert("isAnonymous".into(), Value::Bool(true));
    // isAnonymous is input: false for clients; here the server sets it.
    let mut values =
        crate::routes::client_user_fields(&req, &state, "/sign-in/anonymous", &Map::new(), None)
            .await?;
    values.extend(body);
    let (extra, hidden) = crate::schema::split_returned(&state.store.schema().user, values);
    let now = Timestamp::now();
    let user = User {
        name: plugin
            .options
            .name
            .clone()
            .unwrap_or_else(|| "Anonymous".into()),
        email,
        email_verified: false,
        image: None,
        created_at: now,
        updated_at: now,
        extra,
        id: random::id(),
        hidden,
    };
    if let Err(e) = state.store.users().create(&user).await {
        tracing::error!(error = %e, "creating an anonymous user failed");
        return Err(FAILED_TO_CREATE_USER.into());
    }
    let (session, cookies) = start_session(&req, &state, &user, true).await?;
    Ok(json_with_cookies(
        &json!({ "token": session.token, "user": user }),
        cookies,
    ))
}

/// Deletes the signed-in anonymous user (its session read from storage, never from the
/// cookie cache, as upstream's `sensitiveSessionMiddleware`).
async fn delete_anonymous_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Body<NoSchema>,
) -> ApiResult<HttpResponse> {
    let plugin = state.config.plugins.of::<AnonymousPlugin>()?;
    let auth = session::require(&req, &state).await?;
    if plugin.options.disable_delete_anonymous_user {
        return Err(DELETE_ANONYMOUS_USER_DISABLED.into());
    }
    if !is_anonymous(&auth.current.user) {
        return Err(USER_IS_NOT_ANONYMOUS.into());
    }
    let id = &auth.current.user.id;
    state.sessions.delete_user(id).await?;
    Ok(json_with_cookies(
        &json!({ "success": true }),
        crate::cookies::expire_session_cookies(&req, &state.cookies),
    ))
}
