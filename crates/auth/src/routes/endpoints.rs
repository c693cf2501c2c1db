//! Every core endpoint, declared once: pattern, rate-limit rule, handler per method and
//! what it answers (`api.rs` registers it and describes it for the OpenAPI document).

use super::api::{Answer, Api, Doc};
use super::{
    accounts, email_verification, ok_error, password, session, sign_in, sign_out, sign_up, social,
    update_user,
};
use crate::rate_limit::Rule;

/// The core endpoints, the social ones, then the plugins'.
pub(super) fn declare(api: &mut Api, plugins: &crate::plugins::Plugins) {
    core_routes(api);
    social_routes(api);
    plugins.configure(api);
}

fn core_routes(api: &mut Api) {
    use super::api::schema::*;
    let e = api.endpoint("/sign-up/email", Rule::Credentials).post(
        sign_up::sign_up_email,
        Doc::new("signUpWithEmailAndPassword", "Creates a user with an email and password and, unless verification is required first, signs it in")
            .ok(token_and_user())
            .user_fields(),
    );
    api.add(e);
    let e = api.endpoint("/sign-in/email", Rule::Credentials).post(
        sign_in::sign_in_email,
        Doc::new("signInEmail", "Signs in with an email and password").ok(object(
            &[
                ("redirect", boolean()),
                ("token", string()),
                ("url", string()),
                ("user", user()),
            ],
            &["redirect", "token", "user"],
        )),
    );
    api.add(e);
    let e = api.endpoint("/sign-out", Rule::Default).post(
        sign_out::sign_out,
        Doc::new("signOut", "Ends the session and expires its cookies")
            .ok(object(&[("success", boolean())], &["success"])),
    );
    api.add(e);
    let e = api
        .endpoint("/get-session", Rule::Default)
        .get(
            session::get_session,
            Doc::new("getSession", "The current session and its user, or null")
                .ok(nullable(session_answer()))
                .query("disableCookieCache", string())
                .query("disableRefresh", string()),
        )
        .post(
            session::post_get_session,
            Doc::new(
                "getSessionPost",
                "With session.defer_session_refresh: the read that may refresh (405 otherwise)",
            )
            .ok(nullable(session_answer()))
            .query("disableCookieCache", string())
            .query("disableRefresh", string()),
        );
    api.add(e);
    let e = api.endpoint("/send-verification-email", Rule::Mail).post(
        email_verification::send_verification_email,
        Doc::new("sendVerificationEmail", "Sends the email verification link").ok(status()),
    );
    api.add(e);
    let e = api.endpoint("/verify-email", Rule::Default).get(
        email_verification::verify_email,
        Doc::new(
            "verifyEmail",
            "Verifies an email address with the token of its link",
        )
        .ok(object(
            &[("status", boolean()), ("user", nullable(user()))],
            &["status"],
        ))
        .redirect(),
    );
    api.add(e);
    let e = api.endpoint("/request-password-reset", Rule::Mail).post(
        password::request_password_reset,
        Doc::new(
            "requestPasswordReset",
            "Sends a password reset link if the address has an account (the answer never says)",
        )
        .ok(object(
            &[("status", boolean()), ("message", string())],
            &["status"],
        )),
    );
    api.add(e);
    let e = api.endpoint("/reset-password/{token}", Rule::Default).get(
        password::reset_password_callback,
        Doc::new(
            "resetPasswordCallback",
            "The reset link: redirects to the app's page with the token, or with an error",
        )
        .redirect(),
    );
    api.add(e);
    let e = api.endpoint("/reset-password", Rule::Default).post(
        password::reset_password,
        Doc::new("resetPassword", "Sets a new password with a reset token").ok(status()),
    );
    api.add(e);
    let e = api.endpoint("/verify-password", Rule::Default).post(
        password::verify_password,
        Doc::new("verifyPassword", "Checks the signed-in user's password")
            .ok(status())
            .signed_in(),
    );
    api.add(e);
    let e = api.endpoint("/update-user", Rule::Default).post(
        update_user::update_user,
        Doc::new(
            "updateUser",
            "Updates the signed-in user's name, image and declared fields",
        )
        .ok(status())
        .body_property("name", string())
        .body_property("image", nullable(string()))
        .user_fields()
        .signed_in(),
    );
    api.add(e);
    let e = api.endpoint("/change-password", Rule::Credentials).post(
        update_user::change_password,
        Doc::new(
            "changePassword",
            "Changes the password, optionally ending the other sessions",
        )
        .ok(token_and_user())
        .signed_in(),
    );
    api.add(e);
    let e = api.endpoint("/change-email", Rule::Credentials).post(
        update_user::change_email,
        Doc::new(
            "changeEmail",
            "Changes the email address, or sends a confirmation link",
        )
        .ok(status())
        .signed_in(),
    );
    api.add(e);
    let deleted = object(
        &[("success", boolean()), ("message", string())],
        &["success"],
    );
    let e = api.endpoint("/delete-user", Rule::Default).post(
        update_user::delete_user,
        Doc::new(
            "deleteUser",
            "Deletes the signed-in user, or sends a confirmation link",
        )
        .ok(deleted.clone())
        .signed_in(),
    );
    api.add(e);
    let e = api.endpoint("/delete-user/callback", Rule::Default).get(
        update_user::delete_user_callback,
        Doc::new("deleteUserCallback", "The confirmation link of a deletion")
            .ok(deleted)
            .redirect(),
    );
    api.add(e);
    let e = api.endpoint("/list-sessions", Rule::Default).get(
        session::list_sessions,
        Doc::new("listUserSessions", "The signed-in user's live sessions")
            .ok(array(session()))
            .signed_in(),
    );
    api.add(e);
    let e = api.endpoint("/revoke-session", Rule::Default).post(
        session::revoke_session,
        Doc::new("revokeSession", "Ends one of the user's sessions")
            .ok(status())
            .signed_in(),
    );
    api.add(e);
    let e = api.endpoint("/revoke-sessions", Rule::Default).post(
        session::revoke_sessions,
        Doc::new(
            "revokeSessions",
            "Ends every session of the user, this one included",
        )
        .ok(status())
        .signed_in(),
    );
    api.add(e);
    let e = api.endpoint("/revoke-other-sessions", Rule::Default).post(
        session::revoke_other_sessions,
        Doc::new(
            "revokeOtherSessions",
            "Ends every session of the user but this one",
        )
        .ok(status())
        .signed_in(),
    );
    api.add(e);
    let e = api.endpoint("/update-session", Rule::Default).post(
        session::update_session,
        Doc::new("updateSession", "Writes the session's declared fields")
            .ok(object(&[("session", session())], &["session"]))
            .signed_in(),
    );
    api.add(e);
    let e = api.endpoint("/ok", Rule::Default).get(
        ok_error::ok,
        Doc::new("ok", "Liveness: the server answers").ok(object(&[("ok", boolean())], &["ok"])),
    );
    api.add(e);
    let e = api.endpoint("/error", Rule::Default).get(
        ok_error::error_page,
        Doc::new("error", "The default error page of the flows")
            .answer(200, "An HTML page", Answer::Text("text/html"))
            .query("error", string())
            .query("error_description", string()),
    );
    api.add(e);
    let e = api.endpoint("/readyz", Rule::Default).get(
        crate::health::ready,
        Doc::new(
            "ready",
            "Readiness: the database (and Redis, when used) answer",
        )
        .ok(object(&[("status", string())], &["status"])),
    );
    api.add(e);
}

/// Social sign-in and linked accounts.
fn social_routes(api: &mut Api) {
    use super::api::schema::*;
    let e = api.endpoint("/sign-in/social", Rule::Credentials).post(
        social::sign_in_social,
        Doc::new("socialSignIn", "Starts a provider's sign-in (the URL to send the browser to), or signs in with the provider's ID token")
            .ok(object(
                &[("url", string()), ("redirect", boolean()), ("token", string()), ("user", user())],
                &["redirect"],
            )),
    );
    api.add(e);
    let callback = || {
        Doc::new(
            "callbackOAuth",
            "The provider's redirect back: signs in, then redirects to the app",
        )
        .redirect()
    };
    let e = api
        .endpoint("/callback/{id}", Rule::Default)
        .get(
            social::callback_get,
            callback().query("code", string()).query("state", string()),
        )
        .post(social::callback_post, callback());
    api.add(e);
    let e = api.endpoint("/link-social", Rule::Default).post(
        social::link_social,
        Doc::new(
            "linkSocialAccount",
            "Links a provider account to the signed-in user",
        )
        .ok(object(
            &[
                ("url", string()),
                ("redirect", boolean()),
                ("status", boolean()),
            ],
            &["redirect"],
        ))
        .signed_in(),
    );
    api.add(e);
    let account = object(
        &[
            ("id", string()),
            ("providerId", string()),
            ("accountId", string()),
            ("userId", string()),
            ("createdAt", date_time()),
            ("updatedAt", date_time()),
            ("scopes", array(string())),
        ],
        &[
            "id",
            "providerId",
            "accountId",
            "userId",
            "createdAt",
            "updatedAt",
            "scopes",
        ],
    );
    let e = api.endpoint("/list-accounts", Rule::Default).get(
        accounts::list_accounts,
        Doc::new(
            "listUserAccounts",
            "The signed-in user's accounts (credential and providers)",
        )
        .ok(array(account))
        .signed_in(),
    );
    api.add(e);
    let e = api.endpoint("/unlink-account", Rule::Default).post(
        accounts::unlink_account,
        Doc::new(
            "unlinkAccount",
            "Removes a provider account (never the last way to sign in)",
        )
        .ok(status())
        .signed_in(),
    );
    api.add(e);
    let tokens = object(
        &[
            ("accessToken", string()),
            ("accessTokenExpiresAt", date_time()),
            ("scopes", array(string())),
            ("idToken", string()),
        ],
        &["accessToken"],
    );
    let e = api.endpoint("/get-access-token", Rule::Default).post(
        accounts::get_access_token,
        Doc::new(
            "getAccessToken",
            "A valid provider access token for an account, refreshed when about to expire",
        )
        .ok(tokens)
        .signed_in(),
    );
    api.add(e);
    let refreshed = object(
        &[
            ("accessToken", string()),
            ("refreshToken", string()),
            ("accessTokenExpiresAt", date_time()),
            ("refreshTokenExpiresAt", date_time()),
            ("scope", string()),
            ("idToken", string()),
            ("providerId", string()),
            ("accountId", string()),
        ],
        &["providerId", "accountId"],
    );
    let e = api.endpoint("/refresh-token", Rule::Default).post(
        accounts::refresh_token,
        Doc::new("refreshToken", "Refreshes a provider account's tokens")
            .ok(refreshed)
            .signed_in(),
    );
    api.add(e);
    let e = api.endpoint("/account-info", Rule::Default).get(
        accounts::account_info,
        Doc::new("accountInfo", "The provider's view of an account's user")
            .ok(object(
                &[
                    ("user", object(&[], &[])),
                    ("data", object(&[], &[])),
                    ("account", object(&[], &[])),
                ],
                &["user", "data"],
            ))
            .query("accountId", string())
            .signed_in(),
    );
    api.add(e);
}
