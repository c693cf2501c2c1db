//! Key material in Better Auth's storage format (`plugins/jwt/utils.ts` `createJwk`):
//! `publicKey` = public JWK JSON; `privateKey` = the private JWK JSON encrypted with the
//! secret, stored as a JSON *string literal* (quotes included), or the plain JWK when
//! upstream's `disablePrivateKeyEncryption` was on.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey};
use rand::rngs::OsRng;
use serde_json::{json, Map, Value};

use crate::crypto::{random, symmetric};
use crate::models::Timestamp;
use crate::store::jwks::JwkRow;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("jwks row {kid}: {reason}")]
    Unusable { kid: String, reason: String },
}

fn unusable(kid: &str, reason: impl std::fmt::Display) -> KeyError {
    KeyError::Unusable {
        kid: kid.to_owned(),
        reason: reason.to_string(),
    }
}

/// A decrypted, ready-to-use signing key.
pub struct SigningKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub key: EncodingKey,
    pub expires_at: Option<Timestamp>,
}

/// A new Ed25519 key as a `jwks` row (jose's JWK member order: `crv, d, x, kty`).
pub fn new_ed25519_row(secret: &str, now: Timestamp, expires_at: Option<Timestamp>) -> JwkRow {
    let signing = ed25519_dalek::SigningKey::generate(&mut OsRng);
    let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
    let d = URL_SAFE_NO_PAD.encode(signing.to_bytes());
    let public = json!({"crv": "Ed25519", "x": x, "kty": "OKP"});
    let private = json!({"crv": "Ed25519", "d": d, "x": x, "kty": "OKP"});
    let sealed = symmetric::encrypt(secret, &private.to_string());
    JwkRow {
        id: random::id(),
        public_key: public.to_string(),
        private_key: Value::String(sealed).to_string(),
        created_at: now,
        expires_at,
        alg: Some("EdDSA".into()),
        crv: Some("Ed25519".into()),
    }
}

/// Decrypts a row's private key and prepares it for signing.
pub fn signing_key(secret: &str, row: &JwkRow) -> Result<SigningKey, KeyError> {
    let kid = &row.id;
    let stored: Value = serde_json::from_str(&row.private_key)
        .map_err(|e| unusable(kid, format!("privateKey is not JSON: {e}")))?;
    let jwk: Map<String, Value> = match stored {
        Value::String(sealed) => {
            let plain = symmetric::decrypt(secret, &sealed).map_err(|e| {
                unusable(
                    kid,
                    format!("{e}; the secret must be the one that created the key"),
                )
            })?;
            serde_json::from_str(&plain).map_err(|e| unusable(kid, format!("private JWK: {e}")))?
        }
        Value::Object(jwk) => jwk,
        _ => {
            return Err(unusable(
                kid,
                "privateKey is neither encrypted text nor a JWK",
            ))
        }
    };
    let alg = row.alg.as_deref().unwrap_or("EdDSA");
    match (
        alg,
        jwk.get("kty").and_then(Value::as_str),
        jwk.get("crv").and_then(Value::as_str),
    ) {
        ("EdDSA", Some("OKP"), Some("Ed25519")) => {
            let d = jwk
                .get("d")
                .and_then(Value::as_str)
                .and_then(|d| URL_SAFE_NO_PAD.decode(d).ok())
                .and_then(|d| <[u8; 32]>::try_from(d.as_slice()).ok())
                .ok_or_else(|| unusable(kid, "Ed25519 JWK without a 32-byte `d`"))?;
            let der = ed25519_dalek::SigningKey::from_bytes(&d)
                .to_pkcs8_der()
                .map_err(|e| unusable(kid, e))?;
            Ok(SigningKey {
                kid: kid.clone(),
                algorithm: Algorithm::EdDSA,
                key: EncodingKey::from_ed_der(der.as_bytes()),
                expires_at: row.expires_at,
            })
        }
        (alg, kty, _) => Err(unusable(
            kid,
            format!(
                "algorithm {alg} ({}) is not supported for signing yet",
                kty.unwrap_or("?")
            ),
        )),
    }
}

/// The public entry `/jwks` shows for a row: `{alg, crv, ...publicJWK, kid}`, as upstream
/// builds it, so never a private member even if one were stored.
pub fn public_entry(row: &JwkRow) -> Result<Map<String, Value>, KeyError> {
    let public: Map<String, Value> = serde_json::from_str(&row.public_key)
        .map_err(|e| unusable(&row.id, format!("publicKey: {e}")))?;
    let mut entry = Map::new();
    entry.insert("alg".into(), json!(row.alg.as_deref().unwrap_or("EdDSA")));
    let crv = row
        .crv
        .clone()
        .or_else(|| public.get("crv").and_then(Value::as_str).map(str::to_owned));
    if let Some(crv) = crv {
        entry.insert("crv".into(), json!(crv));
    }
    const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];
    for (k, v) in public {
        if !PRIVATE_MEMBERS.contains(&k.as_str()) {
            entry.insert(k, v);
        }
    }
    entry.insert("kid".into(), json!(row.id));
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `jwks` row written by the real better-auth 1.7.25 server, with its secret.
    const FIXTURE: &str = include_str!("../../../tests/fixtures/better-auth-1.7.25-jwks.json");

    fn fixture_row() -> (String, JwkRow) {
        let f: Value = serde_json::from_str(FIXTURE).unwrap();
        let r = &f["row"];
        let row = JwkRow {
            id: r["id"].as_str().unwrap().into(),
            public_key: r["publicKey"].as_str().unwrap().into(),
            private_key: r["privateKey"].as_str().unwrap().into(),
            created_at: Timestamp::parse_iso(r["createdAt"].as_str().unwrap()).unwrap(),
            expires_at: None,
            alg: r["alg"].as_str().map(Into::into),
            crv: r["crv"].as_str().map(Into::into),
        };
        (f["secret"].as_str().unwrap().into(), row)
    }

    #[test]
    fn a_typescript_key_decrypts_and_signs_verifiably() {
        let (secret, row) = fixture_row();
        let key = signing_key(&secret, &row).unwrap();
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(
            &header,
            &json!({"sub": "x", "exp": 4_000_000_000u64}),
            &key.key,
        )
        .unwrap();
        let public: Value = serde_json::from_str(&row.public_key).unwrap();
        let decoding =
            jsonwebtoken::DecodingKey::from_ed_components(public["x"].as_str().unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        validation.validate_aud = false;
        jsonwebtoken::decode::<Value>(&token, &decoding, &validation).unwrap();
        assert!(signing_key("another-secret-0123456789abcdef0123456", &row).is_err());
    }

    #[test]
    fn new_rows_round_trip_and_publish_no_private_parts() {
        let secret = "a-secret-that-is-long-enough-0123456789";
        let row = new_ed25519_row(secret, Timestamp::now(), None);
        assert!(row.private_key.starts_with('"') && row.private_key.ends_with('"'));
        assert!(signing_key(secret, &row).is_ok());
        let entry = public_entry(&row).unwrap();
        let keys: Vec<_> = entry.keys().map(String::as_str).collect();
        assert_eq!(keys, ["alg", "crv", "x", "kty", "kid"]);
        assert!(!Value::Object(entry).to_string().contains("\"d\""));
    }
}
