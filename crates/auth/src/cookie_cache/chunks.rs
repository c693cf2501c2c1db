//! Cookies too large for one `Set-Cookie` are split into `name.0`, `name.1`, ...
//! (upstream `cookies/session-store.ts`): each serialised cookie stays under 4050 bytes
//! (Safari's limit, less room for attributes), at most 100 chunks.

use actix_web::HttpRequest;

use crate::cookies::{self, chunk_index, CookieNames};

const MAX_COOKIE_SIZE: usize = 4050;
const MAX_CHUNKS: usize = 100;

/// The cookie's value: the whole cookie if present, else its chunks joined in order.
pub(super) fn read(req: &HttpRequest, cookie: &str) -> Option<String> {
    if let Some(value) = cookies::get(req, cookie).filter(|v| !v.is_empty()) {
        return Some(value);
    }
    let mut chunks: Vec<(u32, &str)> = cookies::request_cookies(req)
        .filter_map(|(name, value)| Some((chunk_index(cookie, name)?, value)))
        .collect();
    if chunks.is_empty() {
        return None;
    }
    chunks.sort_by_key(|(index, _)| *index);
    Some(chunks.into_iter().map(|(_, value)| value).collect())
}

/// Names of the cookie and its chunks that the request carries.
fn present<'a>(req: &'a HttpRequest, cookie: &str) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in cookies::request_cookies(req) {
        if (name == cookie || chunk_index(cookie, name).is_some()) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Expiries for the cookie and every chunk of it the request carries.
pub(super) fn clean(req: &HttpRequest, names: &CookieNames, cookie: &str) -> Vec<String> {
    present(req, cookie)
        .into_iter()
        .map(|name| names.expire(name))
        .collect()
}

/// `Set-Cookie` values writing `value`: whole, or in chunks when too large; chunks the
/// request carried that are not rewritten are expired. Only those expiries when even 100
/// chunks would not hold it (upstream then skips the cache).
pub(super) fn write(
    req: &HttpRequest,
    names: &CookieNames,
    cookie: &str,
    value: &str,
    max_age: Option<i64>,
) -> Vec<String> {
    // Upstream's order: expiries for what the request carried, each replaced in place by a
    // new value of the same name, then the new names.
    let mut out: Vec<(String, String)> = present(req, cookie)
        .into_iter()
        .map(|name| (name.to_owned(), names.expire(name)))
        .collect();
    let mut put = |name: String, value: &str| {
        let set = names.set_cookie(&name, value, max_age);
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = set,
            None => out.push((name, set)),
        }
    };
    // Sized for the longest chunk name, `<cookie>.99`, with the same attributes.
    let overhead = names.set_cookie(&format!("{cookie}.99"), "", max_age).len();
    let chunk_size = MAX_COOKIE_SIZE.saturating_sub(overhead);
    let count = if chunk_size == 0 {
        usize::MAX
    } else {
        value.len().div_ceil(chunk_size)
    };
    if count <= 1 {
        put(cookie.to_owned(), value);
    } else if count > MAX_CHUNKS {
        tracing::warn!(
            size = value.len(),
            "the session cookie cache is too large even in 100 chunks; not written"
        );
    } else {
        // Cache values are ASCII (base64url and dots), so byte offsets are char boundaries.
        for (i, start) in (0..value.len()).step_by(chunk_size).enumerate() {
            let end = (start + chunk_size).min(value.len());
            put(format!("{cookie}.{i}"), &value[start..end]);
        }
    }
    out.into_iter().map(|(_, set)| set).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::COOKIE;
    use actix_web::test::TestRequest;

    const NAME: &str = "better-auth.session_data";

    #[test]
    fn chunk_names_are_plain_numbers() {
        assert_eq!(chunk_index(NAME, "better-auth.session_data.0"), Some(0));
        assert_eq!(chunk_index(NAME, "better-auth.session_data.12"), Some(12));
        assert_eq!(chunk_index(NAME, "better-auth.session_data.01"), None);
        assert_eq!(chunk_index(NAME, "better-auth.session_data.x"), None);
        assert_eq!(chunk_index(NAME, "better-auth.session_data"), None);
        assert_eq!(chunk_index(NAME, "better-auth.session_dataa.1"), None);
    }

    #[test]
    fn large_values_are_chunked_and_read_back() {
        let names = CookieNames::new(false);
        let value: String = (0..10_000)
            .map(|i| (b'a' + (i % 26) as u8) as char)
            .collect();
        let req = TestRequest::default().to_http_request();
        let set = write(&req, &names, NAME, &value, Some(300));
        assert_eq!(set.len(), 3);
        assert!(set.iter().all(|c| c.len() <= MAX_COOKIE_SIZE));
        // The browser sends the chunks back (in any order).
        let header: Vec<String> = set
            .iter()
            .rev()
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
            .collect();
        let req = TestRequest::default()
            .insert_header((COOKIE, header.join("; ")))
            .to_http_request();
        assert_eq!(read(&req, NAME).as_deref(), Some(value.as_str()));

        // A small value replaces them: the whole cookie, and the chunks expired.
        let set = write(&req, &names, NAME, "small", Some(300));
        assert_eq!(set.len(), 4);
        assert!(set
            .iter()
            .any(|c| c.starts_with("better-auth.session_data=small;")));
        assert!(set
            .iter()
            .any(|c| c.starts_with("better-auth.session_data.2=; Max-Age=0")));
    }

    #[test]
    fn values_beyond_100_chunks_are_not_written() {
        let names = CookieNames::new(false);
        let req = TestRequest::default().to_http_request();
        let value = "a".repeat(MAX_COOKIE_SIZE * MAX_CHUNKS);
        assert!(write(&req, &names, NAME, &value, Some(300)).is_empty());
        // With chunks in the request, those are expired and nothing else is written: the
        // browser keeps no stale half of an older cache.
        let req = TestRequest::default()
            .insert_header((COOKIE, format!("{NAME}.0=aa; {NAME}.1=bb; other=x")))
            .to_http_request();
        let set = write(&req, &names, NAME, &value, Some(300));
        assert_eq!(set.len(), 2, "{set:?}");
        assert!(set.iter().all(|c| c.contains("Max-Age=0")), "{set:?}");
    }

    /// On HTTPS the names carry `__Secure-`, the chunks too, each with `Secure`.
    #[test]
    fn secure_names_are_chunked_under_their_prefix() {
        let names = CookieNames::new(true);
        let cookie = names.session_data.clone();
        assert_eq!(cookie, format!("__Secure-{NAME}"));
        let value = "b".repeat(9_000);
        let req = TestRequest::default().to_http_request();
        let set = write(&req, &names, &cookie, &value, Some(300));
        assert_eq!(set.len(), 3);
        for (i, line) in set.iter().enumerate() {
            assert!(line.starts_with(&format!("__Secure-{NAME}.{i}=")), "{line}");
            assert!(line.contains("; Secure"), "{line}");
            assert!(line.len() <= MAX_COOKIE_SIZE, "{}", line.len());
        }
        let header: Vec<&str> = set.iter().map(|c| c.split(';').next().unwrap()).collect();
        let req = TestRequest::default()
            .insert_header((COOKIE, header.join("; ")))
            .to_http_request();
        assert_eq!(read(&req, &cookie).as_deref(), Some(value.as_str()));
        // The plain name's chunks are another cookie.
        assert_eq!(read(&req, NAME), None);
    }
}
