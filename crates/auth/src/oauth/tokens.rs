//! Provider tokens at rest (`account.encryptOAuthTokens`, upstream `oauth2/utils.ts`) and
//! the session token carried in a link flow's state (`crypto/purpose.ts`).

use crate::config::Config;
use crate::crypto::signing::hmac_sha256;
use crate::crypto::symmetric;
use crate::oauth::Tokens;
use crate::store::accounts::TokenUpdate;

/// A token as it is stored: encrypted with the secret when the option asks for it.
pub fn seal(config: &Config, token: Option<&str>) -> Option<String> {
    let token = token?;
    Some(if config.social.encrypt_oauth_tokens {
        config.secrets.encrypt(token)
    } else {
        token.to_owned()
    })
}

/// A stored token in the clear. Tokens stored before encryption was turned on (not hex,
/// not `$ba$`) are returned as they are, as upstream does.
pub fn open(config: &Config, stored: &str) -> Option<String> {
    let likely_encrypted = stored.starts_with("$ba$")
        || (stored.len() & 1 == 0
            && !stored.is_empty()
            && stored.bytes().all(|b| b.is_ascii_hexdigit()));
    if !config.social.encrypt_oauth_tokens || !likely_encrypted {
        return Some(stored.to_owned());
    }
    config.secrets.decrypt(stored).ok()
}

/// HKDF-SHA256 (one block) of the secret for a purpose, hex: upstream's `derivePurposeKey`.
fn purpose_key(secret: &str, purpose: &str) -> String {
    let prk = hmac_sha256(b"better-auth:oauth-encryption:v1", secret.as_bytes());
    let mut info = format!("better-auth:{purpose}:v1").into_bytes();
    info.push(1);
    hex::encode(hmac_sha256(&prk, &info))
}

const LINK_PURPOSE: &str = "oauth-link-session-token";

/// The session that starts a link, sealed into the state so the callback can check that it
/// is still alive.
pub fn seal_link_session(config: &Config, session_token: &str) -> String {
    symmetric::encrypt(
        &purpose_key(config.secrets.current(), LINK_PURPOSE),
        session_token,
    )
}

pub fn open_link_session(config: &Config, sealed: &str) -> Option<String> {
    config
        .secrets
        .all()
        .find_map(|s| symmetric::decrypt(&purpose_key(s, LINK_PURPOSE), sealed).ok())
}

/// The token columns a provider's answer writes: access and refresh tokens sealed as
/// configured, the ID token and expiries as they came; `scope` left to the caller.
pub fn sealed_update(config: &Config, t: &Tokens) -> TokenUpdate {
    TokenUpdate {
        access_token: seal(config, t.access_token.as_deref()),
        refresh_token: seal(config, t.refresh_token.as_deref()),
        id_token: t.id_token.clone(),
        access_token_expires_at: t.access_token_expires_at,
        refresh_token_expires_at: t.refresh_token_expires_at,
        scope: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purpose_key_matches_node_hkdf() {
        // node -e 'crypto.hkdfSync("sha256", "secret", "better-auth:oauth-encryption:v1",
        //          "better-auth:x:v1", 32)' as hex
        assert_eq!(
            purpose_key("secret", "x"),
            "754fa72553b65d39622da6d88c0294bcb7381c2f11d2b95ebbd0453d5c39d57b"
        );
    }

    #[test]
    fn link_session_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::load(&crate::config::ConfigArgs {
            data_dir: Some(dir.path().to_owned()),
            secret: Some("a-test-secret-that-is-long-enough-0123".into()),
            ..Default::default()
        })
        .unwrap();
        let sealed = seal_link_session(&config, "session-token");
        assert_eq!(
            open_link_session(&config, &sealed).as_deref(),
            Some("session-token")
        );
        assert_eq!(open(&config, "plain-token").as_deref(), Some("plain-token"));
    }
}
