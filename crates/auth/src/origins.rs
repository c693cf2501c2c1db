//! Trusted origins and URL checks as Better Auth does them
//! (`packages/better-auth/src/auth/trusted-origins.ts`, `api/middlewares/origin-check.ts`).

use regex::Regex;
use url::Url;

use crate::config::Config;

#[derive(Debug)]
enum Pattern {
    /// Exact origin, e.g. `http://localhost:3000`.
    Origin(String),
    /// Glob matched against the URL's origin (pattern has `://`) or its host.
    Glob { regex: Regex, on_origin: bool },
    /// Custom scheme such as `myapp://`: matched as a prefix.
    Prefix(String),
}

#[derive(Debug)]
pub struct TrustedOrigins {
    patterns: Vec<Pattern>,
}

impl TrustedOrigins {
    /// The base URL's origin, then the configured list.
    pub fn new(config: &Config) -> Self {
        let mut patterns = vec![Pattern::Origin(config.origin())];
        patterns.extend(config.trusted_origins.iter().filter_map(|p| compile(p)));
        Self { patterns }
    }

    /// Whether an absolute URL (an `Origin` header, a callback URL) is trusted.
    pub fn is_trusted(&self, url: &str) -> bool {
        let parsed = Url::parse(url).ok();
        self.patterns.iter().any(|p| match p {
            Pattern::Origin(origin) => parsed
                .as_ref()
                .is_some_and(|u| is_web(u) && u.origin().ascii_serialization() == *origin),
            Pattern::Glob { regex, on_origin } => parsed.as_ref().is_some_and(|u| {
                if *on_origin {
                    regex.is_match(&u.origin().ascii_serialization())
                } else {
                    u.host_str().is_some_and(|h| regex.is_match(h))
                }
            }),
            Pattern::Prefix(prefix) => url.starts_with(prefix.as_str()),
        })
    }

    /// Callback-style URLs: trusted absolute URLs, or safe same-site relative paths.
    pub fn is_trusted_callback(&self, url: &str) -> bool {
        is_safe_relative_path(url) || self.is_trusted(url)
    }
}

fn is_web(u: &Url) -> bool {
    matches!(u.scheme(), "http" | "https")
}

fn compile(pattern: &str) -> Option<Pattern> {
    if pattern.contains('*') || pattern.contains('?') {
        let mut re = String::from("^");
        for c in pattern.chars() {
            match c {
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        let regex = Regex::new(&re).ok()?;
        return Some(Pattern::Glob {
            regex,
            on_origin: pattern.contains("://"),
        });
    }
    match Url::parse(pattern) {
        Ok(u) if is_web(&u) => Some(Pattern::Origin(u.origin().ascii_serialization())),
        Ok(_) => Some(Pattern::Prefix(pattern.to_owned())),
        Err(_) => {
            tracing::warn!(
                pattern,
                "ignoring trusted origin that is neither a URL nor a glob"
            );
            None
        }
    }
}

/// `/path?query` that cannot be turned into another origin: upstream's
/// `^\/(?!\/|\\|%2f|%5c)[\w\-.\+/@]*(?:\?[\w\-.\+/=&%@]*)?$` (`\w` is ASCII there), and
/// stricter than upstream: no `.` or `..` path segment. Upstream lets `/..//evil.example`
/// through and its `appendQueryParams` then normalizes it to `//evil.example`, which a browser
/// follows to another site; refusing dot segments here means no later step can do that.
pub fn is_safe_relative_path(url: &str) -> bool {
    let Some(rest) = url.strip_prefix('/') else {
        return false;
    };
    let lower = rest.get(..3).map(str::to_ascii_lowercase);
    if rest.starts_with('/')
        || rest.starts_with('\\')
        || matches!(lower.as_deref(), Some("%2f" | "%5c"))
    {
        return false;
    }
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    path.chars().all(|c| word(c) || "-.+/@".contains(c))
        && !path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        && query.is_none_or(|q| q.chars().all(|c| word(c) || "-.+/=&%@".contains(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigArgs;

    fn trusted(extra: &str) -> TrustedOrigins {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(&ConfigArgs {
            data_dir: Some(dir.path().to_owned()),
            trusted_origins: Some(extra.into()),
            ..ConfigArgs::default()
        })
        .unwrap();
        TrustedOrigins::new(&config)
    }

    #[test]
    fn exact_origins() {
        let t = trusted("http://localhost:3000");
        assert!(t.is_trusted("http://localhost:3001"));
        assert!(t.is_trusted("http://localhost:3000/dashboard?x=1"));
        assert!(!t.is_trusted("http://localhost:3002"));
        assert!(!t.is_trusted("https://localhost:3000"));
        assert!(!t.is_trusted("http://localhost:3000.evil.com"));
        assert!(!t.is_trusted("null"));
    }

    #[test]
    fn globs_on_host_and_origin() {
        let t = trusted("*.example.com,https://*.example.org,myapp://");
        assert!(t.is_trusted("https://app.example.com"));
        assert!(t.is_trusted("http://app.example.com/x"));
        assert!(!t.is_trusted("https://example.com.evil.net"));
        assert!(t.is_trusted("https://a.example.org"));
        assert!(!t.is_trusted("http://a.example.org"));
        assert!(t.is_trusted("myapp://callback"));
    }

    #[test]
    fn relative_callbacks() {
        let t = trusted("");
        assert!(t.is_trusted_callback("/dashboard"));
        assert!(t.is_trusted_callback("/a/b?x=1&y=%20"));
        assert!(!t.is_trusted_callback("//evil.com"));
        assert!(!t.is_trusted_callback("/\\evil.com"));
        assert!(!t.is_trusted_callback("/%2Fevil.com"));
        assert!(!t.is_trusted_callback("https://evil.com/x"));
        assert!(!t.is_trusted_callback("javascript:alert(1)"));
        assert!(t.is_trusted_callback("/a/.well-known/x...y"));
        for dotted in [
            "/..//evil.com",
            "/a/b/../..//evil.com",
            "/./x",
            "/a/..",
            "/a/.",
        ] {
            assert!(!t.is_trusted_callback(dotted), "{dotted}");
        }
        assert!(
            !t.is_trusted_callback("/caf\u{e9}"),
            "\\w is ASCII in upstream's pattern"
        );
    }
}
