//! Better Auth's cookies: names, attributes, signing and parsing
//! (`packages/better-auth/src/cookies/index.ts`, better-call `cookies.ts`).

use actix_web::http::header::{HeaderValue, COOKIE};
use actix_web::HttpRequest;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::config::Config;

const PREFIX: &str = "better-auth";

/// Characters JavaScript's `encodeURIComponent` leaves alone: `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// Cookie names for this deployment (`__Secure-` prefixed over https).
#[derive(Debug, Clone)]
pub struct CookieNames {
    pub session_token: String,
    pub session_data: String,
    pub dont_remember: String,
    /// Stateless mode's account cookie.
    pub account_data: String,
    secure: bool,
}

impl CookieNames {
    pub fn new(secure: bool) -> Self {
        let name = |key: &str| {
            if secure {
                format!("__Secure-{PREFIX}.{key}")
            } else {
                format!("{PREFIX}.{key}")
            }
        };
        Self {
            session_token: name("session_token"),
            session_data: name("session_data"),
            dont_remember: name("dont_remember"),
            account_data: name("account_data"),
            secure,
        }
    }

    /// A `Set-Cookie` value with better-call's attribute order:
    /// `name=value; Max-Age=N; Path=/; HttpOnly; Secure; SameSite=Lax`.
    pub fn set_cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> String {
        let mut out = format!("{name}={value}");
        if let Some(age) = max_age {
            out.push_str(&format!("; Max-Age={age}"));
        }
        out.push_str("; Path=/; HttpOnly");
        if self.secure {
            out.push_str("; Secure");
        }
        out.push_str("; SameSite=Lax");
        out
    }

    /// Like `set_cookie`, readable by scripts when `http_only` is false (upstream's
    /// last-login-method cookie).
    pub fn set_cookie_with(
        &self,
        name: &str,
        value: &str,
        max_age: Option<i64>,
        http_only: bool,
    ) -> String {
        let cookie = self.set_cookie(name, value, max_age);
        if http_only {
            cookie
        } else {
            cookie.replace("; HttpOnly", "")
        }
    }

    /// An expiring cookie: empty value, `Max-Age=0`.
    pub fn expire(&self, name: &str) -> String {
        self.set_cookie(name, "", Some(0))
    }
}

/// The cookies that put a session in the browser. A "don't remember" session gets
/// browser-session cookies (no Max-Age) and the signed `dont_remember` marker.
pub fn session_cookies(
    config: &Config,
    names: &CookieNames,
    token: &str,
    remember: bool,
) -> Vec<String> {
    let mut set = vec![session_token_cookie(config, names, token, remember)];
    if !remember {
        let marker = encode_uri_component(&config.secrets.sign("true"));
        set.push(names.set_cookie(&names.dont_remember, &marker, None));
    }
    set
}

/// The signed session token cookie alone: for the session's lifetime, or for the browser
/// session when it is not remembered.
pub fn session_token_cookie(
    config: &Config,
    names: &CookieNames,
    token: &str,
    remember: bool,
) -> String {
    let signed = encode_uri_component(&config.secrets.sign(token));
    let max_age = remember.then_some(config.session.expires_in);
    names.set_cookie(&names.session_token, &signed, max_age)
}

/// The chunk number of `name` if it is `<cookie>.<n>` (n written without leading zeros, as
/// upstream's `parseCookieChunkIndex`).
pub(crate) fn chunk_index(cookie: &str, name: &str) -> Option<u32> {
    let suffix = name.strip_prefix(cookie)?.strip_prefix('.')?;
    let index: u32 = suffix.parse().ok()?;
    (index.to_string() == suffix).then_some(index)
}

/// Expiries for every session cookie, including cache chunks the request carried.
pub fn expire_session_cookies(req: &HttpRequest, names: &CookieNames) -> Vec<String> {
    let mut out = vec![
        names.expire(&names.session_token),
        names.expire(&names.session_data),
    ];
    for (name, _) in request_cookies(req) {
        if chunk_index(&names.session_data, name).is_some() {
            out.push(names.expire(name));
        }
    }
    // Stateless mode's account cookie goes with the session (only sent when there is one).
    for (name, _) in request_cookies(req) {
        if name == names.account_data || chunk_index(&names.account_data, name).is_some() {
            out.push(names.expire(name));
        }
    }
    out.push(names.expire(&names.dont_remember));
    out
}

/// All `name=value` pairs of the request's Cookie headers, in order.
pub fn request_cookies(req: &HttpRequest) -> impl Iterator<Item = (&str, &str)> {
    req.headers()
        .get_all(COOKIE)
        .filter_map(|h: &HeaderValue| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.trim(), value.trim()))
        })
}

/// A request cookie's value: first occurrence wins, surrounding quotes stripped,
/// percent-decoded when it contains `%` (raw value kept if decoding fails).
pub fn get(req: &HttpRequest, name: &str) -> Option<String> {
    let (_, raw) = request_cookies(req).find(|(n, _)| *n == name)?;
    let raw = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    if raw.contains('%') {
        if let Ok(decoded) = percent_decode_str(raw).decode_utf8() {
            return Some(decoded.into_owned());
        }
    }
    Some(raw.to_owned())
}

/// The request's session token: one a plugin finds (bearer's `Authorization` header,
/// which upstream puts in place of the cookie), else the signed `session_token` cookie, if
/// authentic.
pub fn session_token(req: &HttpRequest, config: &Config, names: &CookieNames) -> Option<String> {
    if let Some(token) = config.plugins.session_token(req, config) {
        return Some(token);
    }
    let signed = get(req, &names.session_token)?;
    config.secrets.verify(&signed).map(str::to_owned)
}

/// True when the request carries an authentic `dont_remember` marker.
pub fn dont_remember(req: &HttpRequest, config: &Config, names: &CookieNames) -> bool {
    get(req, &names.dont_remember)
        .is_some_and(|signed| config.secrets.verify(&signed) == Some("true"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn encode_uri_component_matches_javascript() {
        assert_eq!(
            encode_uri_component("a+b/c=d.e_f-g~h*i'j(k)l!"),
            "a%2Bb%2Fc%3Dd.e_f-g~h*i'j(k)l!"
        );
        assert_eq!(encode_uri_component("é "), "%C3%A9%20");
    }

    #[test]
    fn set_cookie_attribute_order_matches_better_call() {
        let plain = CookieNames::new(false);
        assert_eq!(
            plain.set_cookie(&plain.session_token, "v", Some(604800)),
            "better-auth.session_token=v; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            plain.expire(&plain.session_token),
            "better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
        );
        let secure = CookieNames::new(true);
        assert_eq!(
            secure.set_cookie(&secure.session_token, "v", None),
            "__Secure-better-auth.session_token=v; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
    }

    #[test]
    fn first_cookie_wins_and_values_are_decoded() {
        let req = TestRequest::default()
            .insert_header((COOKIE, "a=1; b=x%3Dy; a=2; c=\"q\""))
            .to_http_request();
        assert_eq!(get(&req, "a").as_deref(), Some("1"));
        assert_eq!(get(&req, "b").as_deref(), Some("x=y"));
        assert_eq!(get(&req, "c").as_deref(), Some("q"));
        assert_eq!(get(&req, "d"), None);
    }

    #[test]
    fn expiry_covers_cache_chunks() {
        let names = CookieNames::new(false);
        let req = TestRequest::default()
            .insert_header((
                COOKIE,
                "better-auth.session_data.0=a; better-auth.session_data.1=b; x=1",
            ))
            .to_http_request();
        let out = expire_session_cookies(&req, &names);
        assert!(out
            .iter()
            .any(|c| c.starts_with("better-auth.session_data.1=;")));
        assert!(out
            .iter()
            .any(|c| c.starts_with("better-auth.dont_remember=;")));
        assert_eq!(out.len(), 5);
    }
}
