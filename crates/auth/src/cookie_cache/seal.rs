//! The three ways upstream seals the cache payload (`cookies/index.ts`, `crypto/jwt.ts`),
//! byte-compatible in both directions with a TypeScript server holding the same secret.
//!
//! - `compact`: base64url(JSON `{session, expiresAt, signature}`), the signature being
//!   HMAC-SHA256 over the JSON of the payload with `expiresAt` appended. Checking a cookie
//!   re-serialises the decoded payload, which gives the signed bytes back because
//!   `serde_json` keeps key order (`preserve_order`) and writes JSON as JavaScript does.
//! - `jwt`: HS256 with the secret (`jsonwebtoken`), claims = payload + `iat` + `exp`.
//! - `jwe`: `dir` + `A256CBC-HS512` (`josekit`), key = HKDF-SHA256(secret,
//!   "better-auth-session", upstream's info string, 64 bytes), `kid` = the key's JWK
//!   thumbprint, claims = payload + `iat` + `exp` + `jti`.
//!
//! The current secret seals; every configured secret (rotation) opens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::config::CookieCacheStrategy;
use crate::crypto::secrets::Secrets;
use crate::crypto::signing::{hmac_sha256, verify_hmac_sha256};

/// Lifetime written into a browser-session ("don't remember") cookie: upstream falls back
/// to 60 s for `compact` and 300 s for the JWT forms.
const COMPACT_FALLBACK_SECONDS: i64 = 60;
const JWT_FALLBACK_SECONDS: i64 = 300;
/// Clock tolerance upstream gives JWE cookies (`jwtDecrypt`'s `clockTolerance`).
const JWE_CLOCK_TOLERANCE_SECONDS: i64 = 15;
/// HKDF salts: the session cache and (stateless mode) the account cookie.
pub(super) const SESSION_SALT: &str = "better-auth-session";
pub(super) const ACCOUNT_SALT: &str = "better-auth-account";
const JWE_INFO: &[u8] = b"BetterAuth.js Generated Encryption Key";
const JWE_ENC: &str = "A256CBC-HS512";

/// An opened cookie: the payload, and when the cookie itself stops counting (ms).
pub struct Opened {
    pub payload: Map<String, Value>,
    pub expires_at_ms: i64,
}

/// The cookie value for a payload. `max_age` is `None` for a browser-session cookie.
pub fn seal(
    strategy: CookieCacheStrategy,
    secrets: &Secrets,
    payload: Map<String, Value>,
    max_age: Option<i64>,
    now_ms: i64,
) -> String {
    match strategy {
        CookieCacheStrategy::Compact => {
            let expires_at = now_ms
                + max_age
                    .unwrap_or(COMPACT_FALLBACK_SECONDS)
                    .saturating_mul(1000);
            let mut signed = payload.clone();
            signed.insert("expiresAt".into(), expires_at.into());
            let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(
                secrets.current().as_bytes(),
                json(&signed).as_bytes(),
            ));
            let mut outer = Map::new();
            outer.insert("session".into(), Value::Object(payload));
            outer.insert("expiresAt".into(), expires_at.into());
            outer.insert("signature".into(), signature.into());
            URL_SAFE_NO_PAD.encode(json(&outer))
        }
        CookieCacheStrategy::Jwt => {
            let claims = with_times(payload, max_age, now_ms);
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            header.typ = None; // upstream's header is `{"alg":"HS256"}`
            let key = jsonwebtoken::EncodingKey::from_secret(secrets.current().as_bytes());
            // Encoding a JSON map with an HMAC key has no failure case.
            jsonwebtoken::encode(&header, &claims, &key).unwrap_or_default()
        }
        CookieCacheStrategy::Jwe => seal_jwe(secrets, SESSION_SALT, payload, max_age, now_ms),
    }
}

/// The payload of a cookie sealed with one of our secrets, or `None`.
pub fn open(
    strategy: CookieCacheStrategy,
    secrets: &Secrets,
    value: &str,
    now_ms: i64,
) -> Option<Opened> {
    match strategy {
        CookieCacheStrategy::Compact => open_compact(secrets, value),
        CookieCacheStrategy::Jwt => secrets.all().find_map(|s| open_jwt(s, value, now_ms)),
        CookieCacheStrategy::Jwe => open_jwe(secrets, SESSION_SALT, value, now_ms),
    }
}

fn open_compact(secrets: &Secrets, value: &str) -> Option<Opened> {
    let bytes = URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')).ok()?;
    let Value::Object(mut outer) = serde_json::from_slice(&bytes).ok()? else {
        return None;
    };
    let Some(Value::String(signature)) = outer.remove("signature") else {
        return None;
    };
    let expires_at = outer.remove("expiresAt")?;
    let expires_at_ms = expires_at.as_f64()? as i64;
    let Some(Value::Object(payload)) = outer.remove("session") else {
        return None;
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .ok()?;
    let mut signed = payload.clone();
    signed.insert("expiresAt".into(), expires_at);
    let signed = json(&signed);
    let authentic = secrets
        .all()
        .any(|secret| verify_hmac_sha256(secret.as_bytes(), signed.as_bytes(), &signature));
    authentic.then_some(Opened {
        payload,
        expires_at_ms,
    })
}

fn open_jwt(secret: &str, value: &str, now_ms: i64) -> Option<Opened> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    // Expiry is checked below against `now_ms`, as `jose` does (no clock tolerance).
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let key = jsonwebtoken::DecodingKey::from_secret(secret.as_bytes());
    let data = jsonwebtoken::decode::<Map<String, Value>>(value, &key, &validation).ok()?;
    if let Some(exp) = data.claims.get("exp") {
        if exp.as_f64()? as i64 <= now_ms / 1000 {
            return None;
        }
    }
    Some(opened_claims(data.claims, now_ms))
}

/// Upstream's `symmetricEncodeJWT`: claims = payload + `iat` + `exp` + `jti`.
pub(super) fn seal_jwe(
    secrets: &Secrets,
    salt: &str,
    payload: Map<String, Value>,
    max_age: Option<i64>,
    now_ms: i64,
) -> String {
    let mut claims = with_times(payload, max_age, now_ms);
    claims.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
    let key = jwe_key(secrets.current(), salt);
    jwe_seal(&key, &json(&claims)).unwrap_or_default()
}

/// Upstream's `symmetricDecodeJWT`.
pub(super) fn open_jwe(secrets: &Secrets, salt: &str, value: &str, now_ms: i64) -> Option<Opened> {
    let header = value.split('.').next()?;
    let Value::Object(header) =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?
    else {
        return None;
    };
    if header.get("alg")?.as_str()? != "dir" || header.get("enc")?.as_str()? != JWE_ENC {
        return None;
    }
    let plaintext = match header.get("kid") {
        // The key whose thumbprint the cookie names; no other is tried.
        Some(kid) => {
            let kid = kid.as_str()?;
            let key = secrets
                .all()
                .map(|s| jwe_key(s, salt))
                .find(|key| thumbprint(key) == kid)?;
            jwe_open(&key, value)?
        }
        // Upstream's older cookies carry no `kid`: try every secret.
        None => secrets
            .all()
            .find_map(|s| jwe_open(&jwe_key(s, salt), value))?,
    };
    let Value::Object(claims) = serde_json::from_slice(&plaintext).ok()? else {
        return None;
    };
    if let Some(exp) = claims.get("exp") {
        let exp = exp.as_f64()? as i64;
        if exp + JWE_CLOCK_TOLERANCE_SECONDS <= now_ms / 1000 {
            return None;
        }
    }
    Some(opened_claims(claims, now_ms))
}

/// JWT claims without their registered names; `exp` says when the cookie expires.
fn opened_claims(mut claims: Map<String, Value>, now_ms: i64) -> Opened {
    let expires_at_ms = claims
        .get("exp")
        .and_then(Value::as_f64)
        .map_or(now_ms, |exp| (exp * 1000.0) as i64);
    for claim in ["iat", "exp", "jti"] {
        claims.remove(claim);
    }
    Opened {
        payload: claims,
        expires_at_ms,
    }
}

/// Payload + `iat` + `exp`, in the order `jose` adds them.
fn with_times(
    mut payload: Map<String, Value>,
    max_age: Option<i64>,
    now_ms: i64,
) -> Map<String, Value> {
    let now = now_ms / 1000;
    payload.insert("iat".into(), now.into());
    payload.insert(
        "exp".into(),
        (now + max_age.unwrap_or(JWT_FALLBACK_SECONDS)).into(),
    );
    payload
}

fn jwe_seal(key: &[u8; 64], plaintext: &str) -> Option<String> {
    use josekit::jwe::{Dir, JweHeader};
    let mut header = JweHeader::new();
    header.set_content_encryption(JWE_ENC);
    header.set_key_id(thumbprint(key));
    let encrypter = Dir.encrypter_from_bytes(key).ok()?;
    josekit::jwe::serialize_compact(plaintext.as_bytes(), &header, &encrypter).ok()
}

fn jwe_open(key: &[u8; 64], value: &str) -> Option<Vec<u8>> {
    use josekit::jwe::Dir;
    let decrypter = Dir.decrypter_from_bytes(key).ok()?;
    let (plaintext, _) = josekit::jwe::deserialize_compact(value, &decrypter).ok()?;
    Some(plaintext)
}

/// Upstream's JWE key for a cookie kind (the salt).
fn jwe_key(secret: &str, salt: &str) -> [u8; 64] {
    let mut key = [0u8; 64];
    let hkdf = hkdf::Hkdf::<Sha256>::new(Some(salt.as_bytes()), secret.as_bytes());
    // 64 bytes is far below HKDF-SHA256's 8160-byte limit.
    let _ = hkdf.expand(JWE_INFO, &mut key);
    key
}

/// RFC 7638 thumbprint of the key as a JWK `{"kty":"oct","k":...}`: SHA-256 of the members
/// in lexicographic order, base64url. Written here because it is one line of JSON; `josekit`
/// has no thumbprint for symmetric keys.
fn thumbprint(key: &[u8]) -> String {
    let jwk = format!(r#"{{"k":"{}","kty":"oct"}}"#, URL_SAFE_NO_PAD.encode(key));
    URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes()))
}

/// JSON as `JSON.stringify` writes it (no spaces, keys in insertion order).
fn json(map: &Map<String, Value>) -> String {
    serde_json::to_string(map).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "old-secret-0123456789abcdef0123456789abcdef";
    const NEW: &str = "new-secret-0123456789abcdef0123456789abcdef";

    fn payload() -> Map<String, Value> {
        let mut p = Map::new();
        p.insert("session".into(), serde_json::json!({"token": "t"}));
        p
    }

    /// A JWE sealed with `secret`'s key whose header names `kid` (none: as upstream's older
    /// releases wrote it).
    fn sealed(secret: &str, kid: Option<String>, claims: &Map<String, Value>) -> String {
        use josekit::jwe::{Dir, JweHeader};
        let mut header = JweHeader::new();
        header.set_content_encryption(JWE_ENC);
        if let Some(kid) = kid {
            header.set_key_id(kid);
        }
        let key = jwe_key(secret, SESSION_SALT);
        let encrypter = Dir.encrypter_from_bytes(key).unwrap();
        josekit::jwe::serialize_compact(json(claims).as_bytes(), &header, &encrypter).unwrap()
    }

    #[test]
    fn a_jwe_without_kid_opens_with_any_of_the_secrets() {
        let now = 1_800_000_000_000;
        let rotated = Secrets::rotating(&format!("2:{NEW},1:{OLD}"), None).unwrap();
        let claims = with_times(payload(), Some(300), now);
        let old_cookie = sealed(OLD, None, &claims);
        let opened = open_jwe(&rotated, SESSION_SALT, &old_cookie, now)
            .expect("opens with the older secret");
        assert_eq!(opened.payload, payload());
        assert_eq!(opened.expires_at_ms, (now / 1000 + 300) * 1000);
        // Another cookie kind's key, an unknown secret, or the end of its life: nothing.
        assert!(open_jwe(&rotated, ACCOUNT_SALT, &old_cookie, now).is_none());
        let stranger = Secrets::single("stranger-secret-0123456789abcdef0123456789".into());
        assert!(open_jwe(&stranger, SESSION_SALT, &old_cookie, now).is_none());
        let late = now + (300 + JWE_CLOCK_TOLERANCE_SECONDS) * 1000;
        assert!(open_jwe(&rotated, SESSION_SALT, &old_cookie, late).is_none());
    }

    #[test]
    fn a_jwe_kid_names_the_one_key_tried() {
        let now = 1_800_000_000_000;
        let rotated = Secrets::rotating(&format!("2:{NEW},1:{OLD}"), None).unwrap();
        let ours = seal_jwe(
            &Secrets::single(OLD.into()),
            SESSION_SALT,
            payload(),
            Some(300),
            now,
        );
        assert!(open_jwe(&rotated, SESSION_SALT, &ours, now).is_some());
        // Sealed with the old key but naming the new one: only the named key is tried, so
        // it does not open (trying every secret would).
        let claims = with_times(payload(), Some(300), now);
        let misnamed = sealed(OLD, Some(thumbprint(&jwe_key(NEW, SESSION_SALT))), &claims);
        assert!(open_jwe(&rotated, SESSION_SALT, &misnamed, now).is_none());
        assert!(open_jwe(&rotated, SESSION_SALT, &sealed(OLD, None, &claims), now).is_some());
    }
}
