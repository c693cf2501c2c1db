//! ID token verification against a provider's JWKS, with the algorithms pinned by our
//! configuration (never taken from the token header alone).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use url::Url;

use super::OAuthError;

/// How a provider's ID tokens are checked.
#[derive(Debug, Clone)]
pub struct IdTokenRules {
    pub jwks: Url,
    /// Accepted `iss` values; empty for multi-tenant Entra ID (see `tenant_authority`).
    pub issuers: Vec<String>,
    /// Multi-tenant Entra ID (`common`, `organizations`, `consumers`): tokens come from
    /// every tenant, so `iss` must be `<authority>/<tid>/v2.0` for the token's own `tid`.
    pub tenant_authority: Option<String>,
    pub algorithms: Vec<Algorithm>,
    pub audience: String,
}

impl IdTokenRules {
    /// Whether `iss` (of a token, or of an authorization response, RFC 9207) is this
    /// provider's. `tid` is the token's tenant claim, when there is one.
    pub fn accepts_issuer(&self, iss: &str, tid: Option<&str>) -> bool {
        if !self.issuers.is_empty() {
            return self.issuers.iter().any(|i| i == iss);
        }
        match (&self.tenant_authority, tid) {
            (Some(authority), Some(tid)) => iss == format!("{authority}/{tid}/v2.0"),
            // An authorization response names no tenant: it must at least be this authority's.
            (Some(authority), None) => iss
                .strip_prefix(&format!("{authority}/"))
                .and_then(|rest| rest.strip_suffix("/v2.0"))
                .is_some_and(|tenant| !tenant.is_empty() && !tenant.contains('/')),
            (None, _) => false,
        }
    }
}

/// Clock skew allowed on `exp`/`nbf`/`iat`, as upstream (and openid-client).
const LEEWAY_SECONDS: u64 = 30;
/// Keys are re-read after this long, or sooner for an unknown `kid` (at most every 10 s).
const MAX_AGE: Duration = Duration::from_secs(600);
const MIN_REFETCH: Duration = Duration::from_secs(10);

/// One entry per JWKS URL, each behind its own lock: a fetch holds only its provider's
/// entry (concurrent checks against that provider wait for the one fetch), never the others.
#[derive(Default)]
pub struct JwksCache {
    sets: std::sync::Mutex<HashMap<Url, Arc<Mutex<CachedSet>>>>,
}

/// A provider's keys and when they were read; `None` before the first read.
type CachedSet = Option<(Instant, JwkSet)>;

/// The asymmetric JWS algorithms we accept from a discovery document.
pub fn asymmetric_algorithm(name: &str) -> Option<Algorithm> {
    use Algorithm::*;
    Some(match name {
        "RS256" => RS256,
        "RS384" => RS384,
        "RS512" => RS512,
        "PS256" => PS256,
        "PS384" => PS384,
        "PS512" => PS512,
        "ES256" => ES256,
        "ES384" => ES384,
        "EdDSA" => EdDSA,
        _ => return None,
    })
}

impl JwksCache {
    async fn keys(
        &self,
        http: &reqwest::Client,
        url: &Url,
        kid: Option<&str>,
    ) -> Result<JwkSet, OAuthError> {
        let entry = {
            let mut sets = self
                .sets
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            sets.entry(url.clone()).or_default().clone()
        };
        let mut cached = entry.lock().await;
        if let Some((at, set)) = cached.as_ref() {
            let known = kid.is_none_or(|k| set.find(k).is_some());
            if (known && at.elapsed() < MAX_AGE) || at.elapsed() < MIN_REFETCH {
                return Ok(set.clone());
            }
        }
        let res = http.get(url.clone()).send().await?;
        if !res.status().is_success() {
            return Err(OAuthError::Status(res.status().as_u16()));
        }
        let set: JwkSet = res
            .json()
            .await
            .map_err(|e| OAuthError::IdToken(format!("bad JWKS: {e}")))?;
        *cached = Some((Instant::now(), set.clone()));
        Ok(set)
    }
}

/// Signature, issuer, audience, expiry; returns the claims.
pub async fn verify(
    http: &reqwest::Client,
    cache: &JwksCache,
    rules: &IdTokenRules,
    token: &str,
) -> Result<Map<String, Value>, OAuthError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| OAuthError::IdToken(e.to_string()))?;
    if !rules.algorithms.contains(&header.alg) {
        return Err(OAuthError::IdToken(format!(
            "algorithm {:?} not allowed",
            header.alg
        )));
    }
    let set = cache.keys(http, &rules.jwks, header.kid.as_deref()).await?;
    let jwk = match &header.kid {
        Some(kid) => set.find(kid),
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    }
    .ok_or_else(|| OAuthError::IdToken("no matching key".into()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| OAuthError::IdToken(e.to_string()))?;
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    validation.leeway = LEEWAY_SECONDS;
    validation.set_audience(&[rules.audience.as_str()]);
    if !rules.issuers.is_empty() {
        validation.set_issuer(&rules.issuers);
    }
    validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| OAuthError::IdToken(e.to_string()))?;
    let iss = data
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let tid = data.claims.get("tid").and_then(Value::as_str);
    if !rules.accepts_issuer(iss, tid) {
        return Err(OAuthError::IdToken("issuer not accepted".into()));
    }
    if !data.claims.get("iat").is_some_and(Value::is_number) {
        return Err(OAuthError::IdToken("no iat".into()));
    }
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(issuers: &[&str], tenant_authority: Option<&str>) -> IdTokenRules {
        IdTokenRules {
            jwks: "https://idp.example/keys".parse().unwrap(),
            issuers: issuers.iter().map(|s| (*s).to_owned()).collect(),
            tenant_authority: tenant_authority.map(str::to_owned),
            algorithms: vec![Algorithm::RS256],
            audience: "client".into(),
        }
    }

    #[test]
    fn fixed_issuers_are_matched_exactly() {
        let r = rules(
            &["https://accounts.google.com", "accounts.google.com"],
            None,
        );
        assert!(r.accepts_issuer("accounts.google.com", None));
        assert!(!r.accepts_issuer("https://accounts.google.com/", None));
        assert!(!r.accepts_issuer("https://evil.example", Some("x")));
    }

    #[test]
    fn multi_tenant_entra_id_needs_the_tokens_own_tenant() {
        let ms = "https://login.microsoftonline.com";
        let r = rules(&[], Some(ms));
        let tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
        assert!(r.accepts_issuer(&format!("{ms}/{tid}/v2.0"), Some(tid)));
        // Another tenant's issuer with this tenant's tid, or any other issuer: refused.
        assert!(!r.accepts_issuer(&format!("{ms}/other-tenant/v2.0"), Some(tid)));
        assert!(!r.accepts_issuer("https://evil.example/v2.0", Some(tid)));
        assert!(!r.accepts_issuer(&format!("{ms}/{tid}/v2.0"), Some("other")));
        // An authorization response has no tid: any tenant of this authority.
        assert!(r.accepts_issuer(&format!("{ms}/{tid}/v2.0"), None));
        assert!(!r.accepts_issuer(&format!("{ms}//v2.0"), None));
        assert!(!r.accepts_issuer(&format!("{ms}/a/b/v2.0"), None));
        // No rules at all accepts nothing.
        assert!(!rules(&[], None).accepts_issuer("https://x", None));
    }

    /// A JWKS endpoint on loopback that answers after `delay`.
    async fn jwks_server(delay: Duration) -> Url {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/keys", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let _ = socket.read(&mut buf).await;
                    tokio::time::sleep(delay).await;
                    let body = r#"{"keys":[]}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        url.parse().unwrap()
    }

    #[tokio::test]
    async fn a_slow_provider_does_not_hold_the_others_keys() {
        let cache = Arc::new(JwksCache::default());
        let http = reqwest::Client::new();
        let slow = jwks_server(Duration::from_secs(3)).await;
        let fast = jwks_server(Duration::ZERO).await;
        let (c, h) = (cache.clone(), http.clone());
        let stalled = tokio::spawn(async move { c.keys(&h, &slow, None).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        cache.keys(&http, &fast, None).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        stalled.await.unwrap().unwrap();
    }
}
