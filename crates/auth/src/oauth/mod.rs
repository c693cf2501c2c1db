//! Talking to OAuth 2.0 / OpenID Connect providers: authorization URLs with PKCE, the code
//! exchange, user info per provider, ID token verification and token refresh
//! (upstream `packages/core/src/oauth2`, `social-providers/*`, the generic-oauth plugin).

pub mod config;
mod discovery;
mod id_token;
pub mod state;
pub mod tokens;
mod user_info;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

use crate::models::Timestamp;
use config::{ProviderConfig, ProviderKind, SocialConfig};
pub use id_token::IdTokenRules;

/// Why a provider round trip failed. Logged; the client sees upstream's generic codes.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("provider request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("provider answered {0}")]
    Status(u16),
    #[error("provider error: {0}")]
    Provider(String),
    #[error("discovery: {0}")]
    Discovery(String),
    #[error("id token: {0}")]
    IdToken(String),
    #[error("{0}")]
    Other(String),
}

/// The providers and the shared HTTP client and JWKS cache.
pub struct OAuth {
    http: reqwest::Client,
    providers: HashMap<String, Arc<Provider>>,
    jwks: id_token::JwksCache,
}

impl OAuth {
    pub fn new(social: &SocialConfig) -> Self {
        // Provider endpoints must not bounce us elsewhere (upstream refuses redirects).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent("better-auth")
            .build()
            .unwrap_or_default();
        let providers = social
            .providers
            .iter()
            .map(|p| {
                (
                    p.id.clone(),
                    Arc::new(Provider {
                        config: p.clone(),
                        endpoints: tokio::sync::OnceCell::new(),
                    }),
                )
            })
            .collect();
        Self {
            http,
            providers,
            jwks: id_token::JwksCache::default(),
        }
    }

    pub fn provider(&self, id: &str) -> Option<Arc<Provider>> {
        self.providers.get(id).cloned()
    }
}

/// Where a provider lives, resolved once (discovery for OpenID Connect providers).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorization: Url,
    pub token: Url,
    pub userinfo: Option<Url>,
    pub emails: Option<Url>,
    /// How to verify its ID tokens; `None` when it issues none we can check.
    pub id_token: Option<IdTokenRules>,
    /// The generic provider speaks OpenID Connect (its discovery lists signing algorithms).
    pub is_oidc: bool,
    pub issuer: Option<String>,
}

impl Endpoints {
    /// RFC 9207: an `iss` in the authorization response must be this provider's (the
    /// discovered issuer, else the issuers its ID tokens may carry). Providers that state
    /// no issuer (GitHub, Discord, GitLab) accept any.
    pub fn accepts_callback_issuer(&self, iss: &str) -> bool {
        match (&self.issuer, &self.id_token) {
            (Some(expected), _) => expected == iss,
            (None, Some(rules)) => rules.accepts_issuer(iss, None),
            (None, None) => true,
        }
    }
}

pub struct Provider {
    pub config: ProviderConfig,
    endpoints: tokio::sync::OnceCell<Endpoints>,
}

/// Tokens from the token endpoint (upstream `getOAuth2Tokens`).
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub access_token_expires_at: Option<Timestamp>,
    pub refresh_token_expires_at: Option<Timestamp>,
    pub scopes: Vec<String>,
    pub id_token: Option<String>,
}

/// The user as a provider describes it, and the raw profile.
#[derive(Debug, Clone)]
pub struct UserInfo {
    /// The provider's subject: the account's `accountId`.
    pub account_id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: String,
    pub image: Option<String>,
    pub raw: Value,
}

/// `code_challenge` for a verifier (S256).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn url(s: &str) -> Result<Url, OAuthError> {
    Url::parse(s).map_err(|e| OAuthError::Other(format!("bad endpoint {s}: {e}")))
}

/// `true`/`"true"` as upstream's `parseStringBoolean`.
fn truthy(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true))) || matches!(v, Some(Value::String(s)) if s == "true")
}

fn string(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Authorization parameters the request may not override (upstream's reserved list).
const RESERVED_PARAMS: [&str; 8] = [
    "state",
    "client_id",
    "redirect_uri",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "scope",
];

/// What `createAuthorizationURL` gets from the endpoint.
pub struct AuthorizationRequest<'a> {
    pub state: &'a str,
    pub code_verifier: &'a str,
    pub nonce: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub login_hint: Option<&'a str>,
    pub additional_params: &'a [(String, String)],
}

impl Provider {
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The endpoints, discovering them on first use (a failed discovery is retried later).
    pub async fn endpoints(&self, oauth: &OAuth) -> Result<&Endpoints, OAuthError> {
        self.endpoints
            .get_or_try_init(|| self.resolve_endpoints(oauth))
            .await
    }

    /// The generic provider binds its ID tokens to the flow with a nonce when it can verify
    /// them (upstream `requiresIdTokenNonce`).
    pub async fn requires_nonce(&self, oauth: &OAuth) -> Result<bool, OAuthError> {
        let ep = self.endpoints(oauth).await?;
        Ok(self.config.kind == ProviderKind::Oidc
            && ep.id_token.is_some()
            && !self.config.disable_id_token_nonce)
    }

    /// Whether `idToken` sign-in works with this provider.
    pub async fn supports_id_token(&self, oauth: &OAuth) -> bool {
        matches!(self.endpoints(oauth).await, Ok(ep) if ep.id_token.is_some())
    }

    fn scopes(&self, ep: &Endpoints, requested: &[String]) -> Vec<String> {
        let c = &self.config;
        let defaults: &[&str] = match c.kind {
            ProviderKind::Github => &["read:user", "user:email"],
            ProviderKind::Google => &["email", "profile", "openid"],
            ProviderKind::Discord => &["identify", "email"],
            ProviderKind::Microsoft => {
                &["openid", "profile", "email", "User.Read", "offline_access"]
            }
            ProviderKind::Apple => &["email", "name"],
            ProviderKind::Gitlab => &["read_user"],
            ProviderKind::Oidc => &[],
        };
        let mut out: Vec<String> = Vec::new();
        if c.kind == ProviderKind::Oidc {
            out.extend(requested.iter().cloned());
            out.extend(c.scopes.iter().cloned());
            if ep.is_oidc && !out.iter().any(|s| s == "openid") {
                out.insert(0, "openid".into());
            }
        } else {
            if !c.disable_default_scope {
                out.extend(defaults.iter().map(|s| (*s).to_owned()));
            }
            out.extend(c.scopes.iter().cloned());
            out.extend(requested.iter().cloned());
        }
        out
    }

    /// The provider's authorization URL for this flow.
    pub async fn authorization_url(
        &self,
        oauth: &OAuth,
        req: AuthorizationRequest<'_>,
    ) -> Result<Url, OAuthError> {
        let ep = self.endpoints(oauth).await?;
        let c = &self.config;
        let scopes = self.scopes(ep, req.scopes);
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), c.client_id.clone()),
            ("state".into(), req.state.into()),
        ];
        if !scopes.is_empty() {
            params.push(("scope".into(), scopes.join(" ")));
        }
        params.push(("redirect_uri".into(), req.redirect_uri.into()));
        if let Some(hint) = req.login_hint {
            params.push(("login_hint".into(), hint.into()));
        }
        if let Some(nonce) = req.nonce {
            params.push(("nonce".into(), nonce.into()));
        }
        if let Some(prompt) = &c.prompt {
            params.push(("prompt".into(), prompt.clone()));
        }
        if c.kind == ProviderKind::Apple {
            // Apple posts the code back when it is asked for the name or email.
            params.push(("response_mode".into(), "form_post".into()));
        }
        if c.pkce && c.kind != ProviderKind::Apple {
            params.push(("code_challenge_method".into(), "S256".into()));
            params.push(("code_challenge".into(), code_challenge(req.code_verifier)));
        }
        if c.kind == ProviderKind::Google {
            params.push(("include_granted_scopes".into(), "true".into()));
        }
        for (k, v) in req.additional_params {
            if RESERVED_PARAMS.contains(&k.as_str()) {
                continue;
            }
            match params.iter_mut().find(|(pk, _)| pk == k) {
                Some(p) => p.1 = v.clone(),
                None => params.push((k.clone(), v.clone())),
            }
        }
        let mut out = ep.authorization.clone();
        // Parameters we set replace any the configured endpoint already carries.
        let kept: Vec<(String, String)> = out
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| !params.iter().any(|(pk, _)| pk == k))
            .collect();
        out.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .extend_pairs(params);
        Ok(out)
    }

    /// Client authentication on the token endpoint: `client_secret_post` by default.
    fn authenticate(
        &self,
        builder: reqwest::RequestBuilder,
        form: &mut Vec<(String, String)>,
    ) -> reqwest::RequestBuilder {
        let c = &self.config;
        match (&c.client_secret, c.basic_auth) {
            (Some(secret), true) => builder.basic_auth(&c.client_id, Some(secret)),
            (Some(secret), false) => {
                form.push(("client_id".into(), c.client_id.clone()));
                form.push(("client_secret".into(), secret.clone()));
                builder
            }
            (None, _) => {
                form.push(("client_id".into(), c.client_id.clone()));
                builder
            }
        }
    }

    async fn token_request(
        &self,
        oauth: &OAuth,
        mut form: Vec<(String, String)>,
    ) -> Result<Tokens, OAuthError> {
        let ep = self.endpoints(oauth).await?;
        let builder = oauth
            .http
            .post(ep.token.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        let builder = self.authenticate(builder, &mut form);
        let res = builder.form(&form).send().await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if let Some(error) = body.get("error").and_then(Value::as_str) {
            return Err(OAuthError::Provider(error.to_owned()));
        }
        if !status.is_success() {
            return Err(OAuthError::Status(status.as_u16()));
        }
        Ok(parse_tokens(&body))
    }

    /// Exchanges the authorization code (with the PKCE verifier).
    pub async fn exchange_code(
        &self,
        oauth: &OAuth,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, OAuthError> {
        let mut form = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.to_owned()),
        ];
        if self.config.pkce && self.config.kind != ProviderKind::Apple {
            form.push(("code_verifier".into(), code_verifier.into()));
        }
        form.push(("redirect_uri".into(), redirect_uri.into()));
        self.token_request(oauth, form).await
    }

    /// A new access token from a refresh token.
    pub async fn refresh(&self, oauth: &OAuth, refresh_token: &str) -> Result<Tokens, OAuthError> {
        let form = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), refresh_token.to_owned()),
        ];
        self.token_request(oauth, form).await
    }

    /// Verifies an ID token against the provider's keys (and the nonce when one is expected).
    pub async fn verify_id_token(
        &self,
        oauth: &OAuth,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<Map<String, Value>, OAuthError> {
        let ep = self.endpoints(oauth).await?;
        let rules = ep
            .id_token
            .as_ref()
            .ok_or_else(|| OAuthError::IdToken("provider has no ID token keys".into()))?;
        let claims = id_token::verify(&oauth.http, &oauth.jwks, rules, token).await?;
        if let Some(expected) = nonce {
            let got = claims.get("nonce").and_then(Value::as_str);
            let matches = got.is_some_and(|g| {
                crate::crypto::constant_time_eq(g, expected)
                    // Apple may hash the nonce it was given.
                    || (self.config.kind == ProviderKind::Apple
                        && crate::crypto::constant_time_eq(
                            g,
                            &hex::encode(Sha256::digest(expected.as_bytes())),
                        ))
            });
            if !matches {
                return Err(OAuthError::IdToken("nonce mismatch".into()));
            }
        }
        Ok(claims)
    }

    /// GET a JSON resource with the access token.
    async fn get_json(
        &self,
        oauth: &OAuth,
        url: &Url,
        access_token: &str,
    ) -> Result<Value, OAuthError> {
        let res = oauth
            .http
            .get(url.clone())
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await?;
        if !res.status().is_success() {
            return Err(OAuthError::Status(res.status().as_u16()));
        }
        Ok(res.json().await?)
    }
}

fn parse_tokens(body: &Value) -> Tokens {
    let in_seconds = |k: &str| {
        body.get(k)
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .filter(|s| *s > 0)
            .map(|s| Timestamp::now().plus_seconds(s))
    };
    let scopes = match body.get("scope") {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    Tokens {
        access_token: string(body.get("access_token")),
        refresh_token: string(body.get("refresh_token")),
        access_token_expires_at: in_seconds("expires_in"),
        refresh_token_expires_at: in_seconds("refresh_token_expires_in"),
        scopes,
        id_token: string(body.get("id_token")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc7636_example() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn token_response_fields() {
        let t = parse_tokens(&serde_json::json!({
            "access_token": "a", "refresh_token": "r", "expires_in": 3600,
            "scope": "openid  email", "id_token": "i"
        }));
        assert_eq!(t.access_token.as_deref(), Some("a"));
        assert_eq!(t.scopes, vec!["openid", "email"]);
        assert!(t.access_token_expires_at.is_some());
        assert!(t.refresh_token_expires_at.is_none());
    }
}
