//! Social sign-in settings: `[[social_providers]]` entries and the account linking options
//! (upstream `socialProviders`, the generic-oauth plugin's `config`, `account.*`).

use serde::Deserialize;
use url::Url;

use crate::config::ConfigError;

/// Which provider logic an entry uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Github,
    Google,
    Discord,
    Microsoft,
    Apple,
    Gitlab,
    /// The generic-oauth plugin: OAuth 2.0 or OpenID Connect from a discovery document.
    Oidc,
}

/// One `[[social_providers]]` table as written in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSocialProvider {
    id: Option<String>,
    kind: Option<ProviderKind>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Name of an environment variable holding the secret (keeps it out of the file).
    client_secret_env: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    disable_default_scope: Option<bool>,
    discovery_url: Option<String>,
    authorization_url: Option<String>,
    token_url: Option<String>,
    userinfo_url: Option<String>,
    /// GitHub's `/user/emails` (overridable so that tests can serve recordings).
    emails_url: Option<String>,
    jwks_url: Option<String>,
    issuer: Option<String>,
    /// Microsoft Entra ID tenant (`common` by default).
    tenant_id: Option<String>,
    pkce: Option<bool>,
    /// `client_secret_post` (default) or `client_secret_basic`.
    authentication: Option<String>,
    prompt: Option<String>,
    #[serde(default)]
    claims: FileClaims,
    disable_sign_up: Option<bool>,
    disable_implicit_sign_up: Option<bool>,
    override_user_info: Option<bool>,
    /// Verify ID tokens (and bind them with a nonce) when the provider has a JWKS.
    disable_id_token_nonce: Option<bool>,
}

/// Which claims of the user info / ID token map to the user (generic provider).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileClaims {
    pub id: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<String>,
    pub name: Option<String>,
    pub image: Option<String>,
}

/// `[account.account_linking]` (upstream `account.accountLinking`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAccountLinking {
    enabled: Option<bool>,
    trusted_providers: Option<Vec<String>>,
    allow_different_emails: Option<bool>,
    update_user_info_on_link: Option<bool>,
    allow_unlinking_all: Option<bool>,
    require_local_email_verified: Option<bool>,
    disable_implicit_linking: Option<bool>,
}

/// The social options found under `[account]`.
#[derive(Debug, Default)]
pub struct FileAccountSocial {
    pub account_linking: FileAccountLinking,
    pub encrypt_oauth_tokens: Option<bool>,
    pub skip_state_cookie_check: Option<bool>,
    pub update_account_on_sign_in: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct ClaimNames {
    pub id: Option<String>,
    pub email: String,
    pub email_verified: String,
    pub name: String,
    pub image: String,
}

#[derive(Clone)]
pub struct ProviderConfig {
    pub id: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    pub disable_default_scope: bool,
    pub discovery_url: Option<Url>,
    pub authorization_url: Option<Url>,
    pub token_url: Option<Url>,
    pub userinfo_url: Option<Url>,
    pub emails_url: Option<Url>,
    pub jwks_url: Option<Url>,
    pub issuer: Option<String>,
    pub tenant_id: String,
    pub pkce: bool,
    pub basic_auth: bool,
    pub prompt: Option<String>,
    pub claims: ClaimNames,
    pub disable_sign_up: bool,
    pub disable_implicit_sign_up: bool,
    pub override_user_info: bool,
    pub disable_id_token_nonce: bool,
}

impl std::fmt::Debug for ProviderConfig {
    // The client secret never goes to a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct AccountLinkingConfig {
    pub enabled: bool,
    pub trusted_providers: Vec<String>,
    pub allow_different_emails: bool,
    pub update_user_info_on_link: bool,
    pub allow_unlinking_all: bool,
    pub require_local_email_verified: bool,
    pub disable_implicit_linking: bool,
}

#[derive(Debug, Clone)]
pub struct SocialConfig {
    pub providers: Vec<ProviderConfig>,
    pub linking: AccountLinkingConfig,
    /// Provider access and refresh tokens stored encrypted (`account.encryptOAuthTokens`).
    pub encrypt_oauth_tokens: bool,
    /// The callback does not require the signed `state` cookie (`account.skipStateCookieCheck`).
    pub skip_state_cookie_check: bool,
    /// Sign-in refreshes the stored tokens (`account.updateAccountOnSignIn`, default true).
    pub update_account_on_sign_in: bool,
}

impl SocialConfig {
    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id == id)
    }
}

fn url(value: Option<String>, name: &str) -> Result<Option<Url>, ConfigError> {
    value
        .map(|v| {
            Url::parse(&v)
                .map_err(|e| ConfigError::Invalid(format!("social_providers {name}: {e}")))
        })
        .transpose()
}

pub fn social_config(
    providers: Vec<FileSocialProvider>,
    account: FileAccountSocial,
) -> Result<SocialConfig, ConfigError> {
    let mut out: Vec<ProviderConfig> = Vec::new();
    for p in providers {
        let kind = p.kind.ok_or_else(|| {
            ConfigError::Invalid("every [[social_providers]] entry needs a kind".into())
        })?;
        let id = p.id.unwrap_or_else(|| default_id(kind).to_owned());
        if id.is_empty() || out.iter().any(|o| o.id == id) {
            return Err(ConfigError::Invalid(format!(
                "social provider ids must be unique and non-empty ({id:?})"
            )));
        }
        let client_id = p.client_id.filter(|c| !c.is_empty()).ok_or_else(|| {
            ConfigError::Invalid(format!("social provider {id}: client_id is required"))
        })?;
        let client_secret = match (&p.client_secret, &p.client_secret_env) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                ConfigError::Invalid(format!(
                    "social provider {id}: environment variable {var} is not set"
                ))
            })?),
            (None, None) => None,
        };
        let discovery_url = url(p.discovery_url, "discovery_url")?;
        let authorization_url = url(p.authorization_url, "authorization_url")?;
        let token_url = url(p.token_url, "token_url")?;
        if kind == ProviderKind::Oidc
            && discovery_url.is_none()
            && (authorization_url.is_none() || token_url.is_none())
        {
            return Err(ConfigError::Invalid(format!(
                "social provider {id}: discovery_url, or authorization_url and token_url, is required"
            )));
        }
        let basic_auth = match p.authentication.as_deref() {
            None | Some("post" | "client_secret_post") => false,
            Some("basic" | "client_secret_basic") => true,
            Some(other) => {
                return Err(ConfigError::Invalid(format!(
                    "social provider {id}: unknown authentication {other:?}"
                )))
            }
        };
        let c = p.claims;
        out.push(ProviderConfig {
            kind,
            client_id,
            client_secret,
            scopes: p.scopes,
            disable_default_scope: p.disable_default_scope.unwrap_or(false),
            discovery_url,
            authorization_url,
            token_url,
            userinfo_url: url(p.userinfo_url, "userinfo_url")?,
            emails_url: url(p.emails_url, "emails_url")?,
            jwks_url: url(p.jwks_url, "jwks_url")?,
            issuer: p.issuer,
            tenant_id: p.tenant_id.unwrap_or_else(|| "common".into()),
            pkce: p.pkce.unwrap_or(true),
            basic_auth,
            prompt: p.prompt,
            claims: ClaimNames {
                id: c.id,
                email: c.email.unwrap_or_else(|| "email".into()),
                email_verified: c.email_verified.unwrap_or_else(|| "email_verified".into()),
                name: c.name.unwrap_or_else(|| "name".into()),
                image: c.image.unwrap_or_else(|| "picture".into()),
            },
            disable_sign_up: p.disable_sign_up.unwrap_or(false),
            disable_implicit_sign_up: p.disable_implicit_sign_up.unwrap_or(false),
            override_user_info: p.override_user_info.unwrap_or(false),
            disable_id_token_nonce: p.disable_id_token_nonce.unwrap_or(false),
            id,
        });
    }
    let l = account.account_linking;
    Ok(SocialConfig {
        providers: out,
        linking: AccountLinkingConfig {
            enabled: l.enabled.unwrap_or(true),
            trusted_providers: l.trusted_providers.unwrap_or_default(),
            allow_different_emails: l.allow_different_emails.unwrap_or(false),
            update_user_info_on_link: l.update_user_info_on_link.unwrap_or(false),
            allow_unlinking_all: l.allow_unlinking_all.unwrap_or(false),
            require_local_email_verified: l.require_local_email_verified.unwrap_or(true),
            disable_implicit_linking: l.disable_implicit_linking.unwrap_or(false),
        },
        encrypt_oauth_tokens: account.encrypt_oauth_tokens.unwrap_or(false),
        skip_state_cookie_check: account.skip_state_cookie_check.unwrap_or(false),
        update_account_on_sign_in: account.update_account_on_sign_in.unwrap_or(true),
    })
}

fn default_id(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Github => "github",
        ProviderKind::Google => "google",
        ProviderKind::Discord => "discord",
        ProviderKind::Microsoft => "microsoft",
        ProviderKind::Apple => "apple",
        ProviderKind::Gitlab => "gitlab",
        ProviderKind::Oidc => "",
    }
}
