//! Where a provider's endpoints are: the built-in providers' fixed URLs, or the discovery
//! document of a generic OpenID provider (explicit settings win).

use ::url::Url;
use serde_json::{Map, Value};

use super::config::ProviderKind;
use super::{id_token, url, Endpoints, IdTokenRules, OAuth, OAuthError, Provider};

impl Provider {
    pub(super) async fn resolve_endpoints(&self, oauth: &OAuth) -> Result<Endpoints, OAuthError> {
        let c = &self.config;
        let pick = |configured: &Option<Url>, default: &str| -> Result<Url, OAuthError> {
            match configured {
                Some(u) => Ok(u.clone()),
                None => url(default),
            }
        };
        let rs256 = vec![jsonwebtoken::Algorithm::RS256];
        let ep = match c.kind {
            ProviderKind::Github => Endpoints {
                authorization: pick(
                    &c.authorization_url,
                    "https://github.com/login/oauth/authorize",
                )?,
                token: pick(&c.token_url, "https://github.com/login/oauth/access_token")?,
                userinfo: Some(pick(&c.userinfo_url, "https://api.github.com/user")?),
                emails: Some(pick(&c.emails_url, "https://api.github.com/user/emails")?),
                id_token: None,
                is_oidc: false,
                issuer: None,
            },
            ProviderKind::Google => Endpoints {
                authorization: pick(
                    &c.authorization_url,
                    "https://accounts.google.com/o/oauth2/v2/auth",
                )?,
                token: pick(&c.token_url, "https://oauth2.googleapis.com/token")?,
                userinfo: None,
                emails: None,
                id_token: Some(IdTokenRules {
                    jwks: pick(&c.jwks_url, "https://www.googleapis.com/oauth2/v3/certs")?,
                    issuers: match &c.issuer {
                        Some(i) => vec![i.clone()],
                        None => vec![
                            "https://accounts.google.com".into(),
                            "accounts.google.com".into(),
                        ],
                    },
                    tenant_authority: None,
                    algorithms: rs256,
                    audience: c.client_id.clone(),
                }),
                is_oidc: true,
                issuer: None,
            },
            ProviderKind::Discord => Endpoints {
                authorization: pick(
                    &c.authorization_url,
                    "https://discord.com/api/oauth2/authorize",
                )?,
                token: pick(&c.token_url, "https://discord.com/api/oauth2/token")?,
                userinfo: Some(pick(&c.userinfo_url, "https://discord.com/api/users/@me")?),
                emails: None,
                id_token: None,
                is_oidc: false,
                issuer: None,
            },
            ProviderKind::Gitlab => {
                let base = c
                    .issuer
                    .clone()
                    .unwrap_or_else(|| "https://gitlab.com".into());
                let base = base.trim_end_matches('/');
                Endpoints {
                    authorization: pick(&c.authorization_url, &format!("{base}/oauth/authorize"))?,
                    token: pick(&c.token_url, &format!("{base}/oauth/token"))?,
                    userinfo: Some(pick(&c.userinfo_url, &format!("{base}/api/v4/user"))?),
                    emails: None,
                    id_token: None,
                    is_oidc: false,
                    issuer: None,
                }
            }
            ProviderKind::Microsoft => {
                let tenant = &c.tenant_id;
                let authority = "https://login.microsoftonline.com";
                let multi = matches!(tenant.as_str(), "common" | "organizations" | "consumers");
                Endpoints {
                    authorization: pick(
                        &c.authorization_url,
                        &format!("{authority}/{tenant}/oauth2/v2.0/authorize"),
                    )?,
                    token: pick(
                        &c.token_url,
                        &format!("{authority}/{tenant}/oauth2/v2.0/token"),
                    )?,
                    userinfo: None,
                    emails: None,
                    id_token: Some(IdTokenRules {
                        jwks: pick(
                            &c.jwks_url,
                            &format!("{authority}/{tenant}/discovery/v2.0/keys"),
                        )?,
                        // Multi-tenant apps get tokens from every tenant's issuer.
                        issuers: match (&c.issuer, multi) {
                            (Some(i), _) => vec![i.clone()],
                            (None, false) => vec![format!("{authority}/{tenant}/v2.0")],
                            (None, true) => Vec::new(),
                        },
                        tenant_authority: (multi && c.issuer.is_none())
                            .then(|| authority.to_string()),
                        algorithms: rs256,
                        audience: c.client_id.clone(),
                    }),
                    is_oidc: true,
                    issuer: None,
                }
            }
            ProviderKind::Apple => Endpoints {
                authorization: pick(
                    &c.authorization_url,
                    "https://appleid.apple.com/auth/authorize",
                )?,
                token: pick(&c.token_url, "https://appleid.apple.com/auth/token")?,
                userinfo: None,
                emails: None,
                id_token: Some(IdTokenRules {
                    jwks: pick(&c.jwks_url, "https://appleid.apple.com/auth/keys")?,
                    issuers: vec![c
                        .issuer
                        .clone()
                        .unwrap_or_else(|| "https://appleid.apple.com".into())],
                    tenant_authority: None,
                    algorithms: rs256,
                    audience: c.client_id.clone(),
                }),
                is_oidc: true,
                issuer: None,
            },
            ProviderKind::Oidc => self.discover(oauth).await?,
        };
        Ok(ep)
    }

    /// The generic provider: discovery document first, explicit settings win.
    async fn discover(&self, oauth: &OAuth) -> Result<Endpoints, OAuthError> {
        let c = &self.config;
        let doc: Map<String, Value> = match &c.discovery_url {
            Some(u) => {
                let res = oauth.http.get(u.clone()).send().await?;
                if !res.status().is_success() {
                    return Err(OAuthError::Discovery(format!("status {}", res.status())));
                }
                res.json().await?
            }
            None => Map::new(),
        };
        let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
        let from_doc = |configured: &Option<Url>, k: &str| -> Result<Option<Url>, OAuthError> {
            match (configured, field(k)) {
                (Some(u), _) => Ok(Some(u.clone())),
                (None, Some(s)) => url(&s).map(Some),
                (None, None) => Ok(None),
            }
        };
        let authorization = from_doc(&c.authorization_url, "authorization_endpoint")?
            .ok_or_else(|| OAuthError::Discovery("no authorization endpoint".into()))?;
        let token = from_doc(&c.token_url, "token_endpoint")?
            .ok_or_else(|| OAuthError::Discovery("no token endpoint".into()))?;
        let issuer = c.issuer.clone().or_else(|| field("issuer"));
        let algorithms: Vec<jsonwebtoken::Algorithm> = doc
            .get("id_token_signing_alg_values_supported")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .filter_map(id_token::asymmetric_algorithm)
                    .collect()
            })
            .unwrap_or_default();
        let is_oidc = !algorithms.is_empty() || c.jwks_url.is_some();
        let jwks = from_doc(&c.jwks_url, "jwks_uri")?;
        let id_token = match (jwks, &issuer) {
            (Some(jwks), Some(issuer)) => Some(IdTokenRules {
                jwks,
                issuers: vec![issuer.clone()],
                tenant_authority: None,
                algorithms: if algorithms.is_empty() {
                    vec![jsonwebtoken::Algorithm::RS256]
                } else {
                    algorithms
                },
                audience: c.client_id.clone(),
            }),
            _ => None,
        };
        Ok(Endpoints {
            authorization,
            token,
            userinfo: from_doc(&c.userinfo_url, "userinfo_endpoint")?,
            emails: None,
            id_token,
            is_oidc,
            issuer,
        })
    }
}
