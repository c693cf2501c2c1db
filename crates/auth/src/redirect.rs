//! Every redirect this server sends is built here, and only here: a `Location` comes from
//! one of the constructors below, each of which ends with the same check the origin check
//! applies to callback URLs on the way in (`TrustedOrigins::is_trusted_callback`). Whatever
//! is emitted is therefore a trusted absolute URL (the base URL's origin or a trusted
//! origin) or a plain same-site path, which a browser resolves (WHATWG URL rules) to this
//! site. The one exception is a provider's authorization URL, which comes from the
//! configuration, never from the request.
//!
//! Callbacks with dot segments are refused on the way in (see `origins`), so adding query
//! parameters here never normalizes a path into `//host` (the open redirect upstream 1.7.25
//! has through `appendQueryParams`).

use actix_web::http::header::{HeaderValue, LOCATION};
use actix_web::HttpResponse;
use url::Url;

use crate::error::{ApiError, ApiResult, UrlField};
use crate::origins::TrustedOrigins;
use crate::state::AppState;

/// A checked redirect target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location(String);

impl Location {
    /// A callback URL from the request with query parameters added as upstream's
    /// `appendQueryParams` adds them: a relative callback stays relative. `field` names the
    /// callback in the 403 if the result is not a safe target.
    pub fn callback(
        state: &AppState,
        field: UrlField,
        target: &str,
        params: &[(&str, &str)],
    ) -> ApiResult<Location> {
        let built = append_query_params(target, params).ok_or(ApiError::InvalidUrlField(field))?;
        Self::checked(state, field, built)
    }

    /// `new URL(target, baseURL)` with `searchParams.set(key, value)` for each parameter:
    /// always absolute (upstream's reset-password callback).
    pub fn resolved(
        state: &AppState,
        field: UrlField,
        target: &str,
        params: &[(&str, &str)],
    ) -> ApiResult<Location> {
        let mut url = state
            .config
            .base_url
            .join(target)
            .map_err(|_| ApiError::InvalidUrlField(field))?;
        for (key, value) in params {
            set_query_param(&mut url, key, value);
        }
        Self::checked(state, field, url.into())
    }

    /// A path on this server: `<base URL><path>` (`/error?error=...`, `/callback/<id>?...`).
    pub fn own(state: &AppState, path_and_query: &str) -> ApiResult<Location> {
        let base = state.config.base_url.as_str().trim_end_matches('/');
        Self::checked(
            state,
            UrlField::CallbackUrl,
            format!("{base}{path_and_query}"),
        )
    }

    /// A social provider's authorization URL. It is built from the provider's configured
    /// endpoint and never carries a target from the request.
    pub fn provider_authorization(url: &str) -> Location {
        Location(url.to_owned())
    }

    fn checked(state: &AppState, field: UrlField, location: String) -> ApiResult<Location> {
        if lands_on_allowed_origin(&state.config.base_url, &state.origins, &location) {
            Ok(Location(location))
        } else {
            tracing::warn!(field = %field, "refused a redirect that would leave the site");
            Err(ApiError::InvalidUrlField(field))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a browser that got `location` from us goes, by the WHATWG URL rules it applies:
/// an absolute URL must be trusted (the base URL's origin or a trusted origin); a relative
/// one must resolve against our base URL to our own origin.
fn lands_on_allowed_origin(base: &Url, origins: &TrustedOrigins, location: &str) -> bool {
    match Url::parse(location) {
        Ok(_) => origins.is_trusted(location),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            location.starts_with('/')
                && !location.starts_with("//")
                && !location.starts_with("/\\")
                && base
                    .join(location)
                    .is_ok_and(|u| u.origin() == base.origin())
        }
        Err(_) => false,
    }
}

/// `ctx.redirect(url)`: a 302 to `location`, empty body (labelled JSON, as upstream's
/// thrown redirect is), with the cookies set so far.
pub fn found(location: &Location, cookies: Vec<String>) -> HttpResponse {
    let mut builder = HttpResponse::Found();
    builder.content_type("application/json");
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            builder.append_header((actix_web::http::header::SET_COOKIE, value));
        }
    }
    let mut response = builder.finish();
    set_location(&mut response, location);
    response
}

/// A `Location` header on an answer that is not itself a redirect (sign-in's JSON with
/// `redirect: true`, as upstream sends it).
pub fn set_location(response: &mut HttpResponse, location: &Location) {
    if let Ok(value) = HeaderValue::from_str(location.as_str()) {
        response.headers_mut().insert(LOCATION, value);
    }
}

/// `searchParams.set(key, value)`: replaces the first `key`, drops later ones, or appends.
fn set_query_param(url: &mut Url, key: &str, value: &str) {
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    match pairs.iter().position(|(k, _)| k == key) {
        Some(i) => {
            pairs[i].1 = value.to_owned();
            let mut seen = 0;
            pairs.retain(|(k, _)| {
                if k == key {
                    seen += 1;
                    seen == 1
                } else {
                    true
                }
            });
        }
        None => pairs.push((key.to_owned(), value.to_owned())),
    }
    url.query_pairs_mut().clear().extend_pairs(pairs);
}

/// Upstream's `appendQueryParams(url, params)`: relative URLs stay relative.
fn append_query_params(target: &str, params: &[(&str, &str)]) -> Option<String> {
    const REFERENCE: &str = "http://reference.invalid";
    let relative = target.starts_with('/');
    let mut url = if relative {
        Url::parse(REFERENCE).ok()?.join(target).ok()?
    } else {
        Url::parse(target).ok()?
    };
    if !params.is_empty() {
        let mut added = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in params {
            added.append_pair(key, value);
        }
        let added = added.finish();
        let query = match url.query() {
            Some(q) if !q.is_empty() => {
                let sep = if q.ends_with('&') { "" } else { "&" };
                format!("{q}{sep}{added}")
            }
            _ => added,
        };
        url.set_query(Some(&query));
    }
    if relative {
        Some(url[url::Position::BeforePath..].to_owned())
    } else {
        Some(url.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn relative_callbacks_stay_relative() {
        assert_eq!(
            append_query_params("/dashboard?x=1", &[("error", "INVALID_TOKEN")]).as_deref(),
            Some("/dashboard?x=1&error=INVALID_TOKEN")
        );
        assert_eq!(
            append_query_params("http://localhost:3000/a", &[("error", "x"), ("d", "a b")])
                .as_deref(),
            Some("http://localhost:3000/a?error=x&d=a+b")
        );
    }

    /// Strings made of what open-redirect payloads are made of.
    fn hostile() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "/",
            "//",
            "\\",
            ".",
            "..",
            "%2e",
            "%2E",
            "%2f",
            "%5c",
            "%09",
            "\t",
            "\n",
            " ",
            "?",
            "#",
            "@",
            ":",
            "evil.example",
            "localhost:3000",
            "http:",
            "https:",
            "a",
            "%",
            "&",
            "=",
            "\u{3002}",
            "javascript:",
        ]);
        prop::collection::vec(pieces, 1..8).prop_map(|v| v.concat())
    }

    static ORIGINS: std::sync::LazyLock<TrustedOrigins> = std::sync::LazyLock::new(|| {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::load(&crate::config::ConfigArgs {
            data_dir: Some(dir.path().to_owned()),
            trusted_origins: Some("http://localhost:3000".into()),
            base_url: Some("http://127.0.0.1:3001".into()),
            ..crate::config::ConfigArgs::default()
        })
        .unwrap();
        TrustedOrigins::new(&config)
    });

    static BASE: std::sync::LazyLock<Url> =
        std::sync::LazyLock::new(|| Url::parse("http://127.0.0.1:3001/api/auth").unwrap());

    /// Where a browser on our site goes with this Location.
    fn lands_home(location: &str) -> bool {
        let page = Url::parse("http://127.0.0.1:3001/api/auth/verify-email").unwrap();
        page.join(location).is_ok_and(|u| {
            let o = u.origin().ascii_serialization();
            o == "http://127.0.0.1:3001" || o == "http://localhost:3000"
        })
    }

    proptest! {
        /// Any callback the origin check accepts, with any parameters appended, yields a
        /// Location that resolves to an allowed origin.
        #[test]
        fn accepted_callbacks_land_home(
            raw in prop_oneof![hostile(), any::<String>()],
            value in any::<String>(),
        ) {
            let origins = &*ORIGINS;
            let candidates = [raw.clone(), format!("/{raw}"), format!("http://localhost:3000/{raw}")];
            for target in candidates {
                if !origins.is_trusted_callback(&target) {
                    continue;
                }
                let built = append_query_params(&target, &[("error", &value)]);
                let built = built.expect("an accepted callback takes parameters");
                prop_assert!(lands_home(&built), "{target:?} -> {built:?}");
                prop_assert!(lands_on_allowed_origin(&BASE, origins, &built), "{built:?}");
            }
        }

        /// The final check on every Location never lets through one that leaves.
        #[test]
        fn the_location_check_never_lets_one_leave(
            raw in prop_oneof![hostile(), any::<String>()],
        ) {
            for location in [raw.clone(), format!("/{raw}")] {
                if lands_on_allowed_origin(&BASE, &ORIGINS, &location) {
                    prop_assert!(lands_home(&location), "{location:?}");
                }
            }
        }
    }
}
