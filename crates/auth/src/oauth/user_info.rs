//! Who the user is: each built-in provider's user endpoint and claims, Apple's posted
//! `user`, and the generic provider's ID token or userinfo with its claim mapping.

use serde_json::{Map, Value};

use super::config::ProviderKind;
use super::{string, truthy, Endpoints, OAuth, OAuthError, Provider, Tokens, UserInfo};

impl Provider {
    /// The user behind these tokens. `expected_nonce` is the nonce the flow sent (ID tokens
    /// must carry it); `apple_user` is the `user` JSON Apple posts on the first sign-in.
    pub async fn user_info(
        &self,
        oauth: &OAuth,
        tokens: &Tokens,
        expected_nonce: Option<&str>,
        apple_user: Option<&Value>,
    ) -> Result<UserInfo, OAuthError> {
        let ep = self.endpoints(oauth).await?;
        let c = &self.config;
        let access = || {
            tokens
                .access_token
                .as_deref()
                .ok_or_else(|| OAuthError::Other("no access token".into()))
        };
        let id_claims = || async {
            let token = tokens
                .id_token
                .as_deref()
                .ok_or_else(|| OAuthError::Other("no id token".into()))?;
            self.verify_id_token(oauth, token, expected_nonce).await
        };
        let info = match c.kind {
            ProviderKind::Github => {
                let userinfo = ep
                    .userinfo
                    .as_ref()
                    .ok_or_else(|| OAuthError::Other("no user endpoint".into()))?;
                let mut profile = self.get_json(oauth, userinfo, access()?).await?;
                let emails = match &ep.emails {
                    Some(u) => self.get_json(oauth, u, access()?).await.ok(),
                    None => None,
                };
                let emails = emails
                    .and_then(|e| e.as_array().cloned())
                    .unwrap_or_default();
                if string(profile.get("email")).is_none() {
                    let primary = emails
                        .iter()
                        .find(|e| truthy(e.get("primary")))
                        .or_else(|| emails.first());
                    if let (Some(p), Some(obj)) = (primary, profile.as_object_mut()) {
                        obj.insert(
                            "email".into(),
                            p.get("email").cloned().unwrap_or(Value::Null),
                        );
                    }
                }
                let email = string(profile.get("email"));
                let verified = emails.iter().any(|e| {
                    string(e.get("email")) == email && email.is_some() && truthy(e.get("verified"))
                });
                UserInfo {
                    account_id: string(profile.get("id")).unwrap_or_default(),
                    email,
                    email_verified: verified,
                    name: string(profile.get("name"))
                        .or_else(|| string(profile.get("login")))
                        .unwrap_or_default(),
                    image: string(profile.get("avatar_url")),
                    raw: profile,
                }
            }
            ProviderKind::Google | ProviderKind::Apple | ProviderKind::Microsoft => {
                let claims = id_claims().await?;
                let get = |k: &str| string(claims.get(k));
                let mut name = get("name");
                if c.kind == ProviderKind::Apple {
                    // Apple sends the name once, beside the code, never in the token.
                    let n = apple_user.and_then(|u| u.get("name"));
                    let first = n.and_then(|n| string(n.get("firstName")));
                    let last = n.and_then(|n| string(n.get("lastName")));
                    let joined = [first, last]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    if !joined.is_empty() {
                        name = Some(joined);
                    }
                }
                let account_id = if c.kind == ProviderKind::Microsoft {
                    get("oid").or_else(|| get("sub"))
                } else {
                    get("sub")
                };
                let email = get("email").or_else(|| {
                    (c.kind == ProviderKind::Microsoft)
                        .then(|| get("preferred_username"))
                        .flatten()
                });
                UserInfo {
                    account_id: account_id.unwrap_or_default(),
                    email_verified: truthy(claims.get("email_verified")),
                    email,
                    name: name.unwrap_or_default(),
                    image: get("picture"),
                    raw: Value::Object(claims),
                }
            }
            ProviderKind::Discord => {
                let userinfo = ep
                    .userinfo
                    .as_ref()
                    .ok_or_else(|| OAuthError::Other("no user endpoint".into()))?;
                let profile = self.get_json(oauth, userinfo, access()?).await?;
                let id = string(profile.get("id")).unwrap_or_default();
                let image = match string(profile.get("avatar")) {
                    Some(hash) => {
                        let ext = if hash.starts_with("a_") { "gif" } else { "png" };
                        format!("https://cdn.discordapp.com/avatars/{id}/{hash}.{ext}")
                    }
                    None => {
                        let index = id.parse::<u64>().map(|n| (n >> 22) % 6).unwrap_or(0);
                        format!("https://cdn.discordapp.com/embed/avatars/{index}.png")
                    }
                };
                UserInfo {
                    account_id: id,
                    email: string(profile.get("email")),
                    email_verified: truthy(profile.get("verified")),
                    name: string(profile.get("global_name"))
                        .or_else(|| string(profile.get("username")))
                        .unwrap_or_default(),
                    image: Some(image),
                    raw: profile,
                }
            }
            ProviderKind::Gitlab => {
                let userinfo = ep
                    .userinfo
                    .as_ref()
                    .ok_or_else(|| OAuthError::Other("no user endpoint".into()))?;
                let profile = self.get_json(oauth, userinfo, access()?).await?;
                UserInfo {
                    account_id: string(profile.get("id")).unwrap_or_default(),
                    email: string(profile.get("email")),
                    email_verified: truthy(profile.get("email_verified")),
                    name: string(profile.get("name"))
                        .or_else(|| string(profile.get("username")))
                        .unwrap_or_default(),
                    image: string(profile.get("avatar_url")),
                    raw: profile,
                }
            }
            ProviderKind::Oidc => {
                self.generic_user_info(oauth, ep, tokens, expected_nonce)
                    .await?
            }
        };
        if info.account_id.trim().is_empty() {
            return Err(OAuthError::Other("provider gave no subject".into()));
        }
        Ok(info)
    }

    /// The generic provider: verified ID token claims when they name the user, else the
    /// userinfo endpoint (whose `sub` must match the ID token's), then the claim mapping.
    async fn generic_user_info(
        &self,
        oauth: &OAuth,
        ep: &Endpoints,
        tokens: &Tokens,
        expected_nonce: Option<&str>,
    ) -> Result<UserInfo, OAuthError> {
        let c = &self.config;
        let claims = match (&tokens.id_token, &ep.id_token) {
            (Some(token), Some(_)) => {
                Some(self.verify_id_token(oauth, token, expected_nonce).await?)
            }
            // The flow bound itself to an ID token with a nonce: without one, the answer is
            // not proven to belong to this flow (userinfo carries no nonce).
            (None, Some(_)) if expected_nonce.is_some() => {
                return Err(OAuthError::IdToken(
                    "no ID token for a nonce-bound sign-in".into(),
                ))
            }
            _ => None,
        };
        let claims_sub = claims.as_ref().and_then(|m| string(m.get("sub")));
        let email_claim = &c.claims.email;
        let raw: Map<String, Value> = match &claims {
            Some(m) if claims_sub.is_some() && string(m.get(email_claim)).is_some() => m.clone(),
            _ => {
                let userinfo = ep
                    .userinfo
                    .as_ref()
                    .ok_or_else(|| OAuthError::Other("no userinfo endpoint".into()))?;
                let token = tokens
                    .access_token
                    .as_deref()
                    .ok_or_else(|| OAuthError::Other("no access token".into()))?;
                match self.get_json(oauth, userinfo, token).await? {
                    Value::Object(m) => m,
                    _ => return Err(OAuthError::Other("userinfo is not an object".into())),
                }
            }
        };
        if let Some(sub) = &claims_sub {
            if raw.get("sub").is_some() && string(raw.get("sub")).as_ref() != Some(sub) {
                return Err(OAuthError::IdToken(
                    "userinfo sub differs from the ID token".into(),
                ));
            }
        }
        let get = |k: &str| string(raw.get(k));
        let account_id = match &c.claims.id {
            Some(k) => get(k),
            None if !ep.is_oidc => get("id"),
            None => claims_sub.clone().or_else(|| get("sub")),
        };
        Ok(UserInfo {
            account_id: account_id.unwrap_or_default(),
            email: get(email_claim),
            email_verified: truthy(raw.get(&c.claims.email_verified)),
            name: get(&c.claims.name).unwrap_or_default(),
            image: get(&c.claims.image),
            raw: Value::Object(raw),
        })
    }
}
