//! Key material in Better Auth's storage format (`plugins/jwt/utils.ts` `createJwk`):
//! `publicKey` = public JWK JSON; `privateKey` = the private JWK JSON encrypted with the
//! secret, stored as a JSON *string literal* (quotes included), or the plain JWK when
//! upstream's `disablePrivateKeyEncryption` was on.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use rand::rngs::OsRng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde_json::{json, Map, Value};

use crate::config::JwtAlgorithm;
use crate::crypto::random;
use crate::crypto::secrets::Secrets;
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
    material: Material,
    pub expires_at: Option<Timestamp>,
}

enum Material {
    /// Signed by hand with the parsed key: jsonwebtoken re-parses a PKCS#8 key and
    /// re-derives the public key on every call, which doubles the cost of a signature.
    Ed25519(ed25519_dalek::SigningKey),
    /// Everything else goes through jsonwebtoken.
    Encoding(EncodingKey),
}

impl SigningKey {
    /// A shared-secret (HS256) key: no `kid`, never stored or published.
    pub fn shared_secret(secret: &[u8]) -> Self {
        SigningKey {
            kid: String::new(),
            algorithm: Algorithm::HS256,
            material: Material::Encoding(EncodingKey::from_secret(secret)),
            expires_at: None,
        }
    }

    /// A compact JWS with upstream's header `{alg, kid}` (no `typ`).
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, jsonwebtoken::errors::Error> {
        match &self.material {
            Material::Ed25519(_) => Ok(self
                .sign_ed25519_payload(&serde_json::to_string(claims)?)
                .unwrap_or_default()),
            Material::Encoding(key) => {
                let mut header = jsonwebtoken::Header::new(self.algorithm);
                header.typ = None;
                header.kid = (!self.kid.is_empty()).then(|| self.kid.clone());
                jsonwebtoken::encode(&header, claims, key)
            }
        }
    }

    /// Whether signatures are deterministic (Ed25519): the same claims give the same token.
    pub fn is_deterministic(&self) -> bool {
        matches!(self.material, Material::Ed25519(_))
    }

    /// Ed25519 over already serialised claims; `None` for other algorithms.
    pub fn sign_ed25519_payload(&self, payload: &str) -> Option<String> {
        use ed25519_dalek::Signer;
        let Material::Ed25519(ed) = &self.material else {
            return None;
        };
        let header = json!({"alg": "EdDSA", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(payload.as_bytes())
        );
        let signature = ed.sign(signing_input.as_bytes());
        Some(format!("{signing_input}.{}", b64(&signature.to_bytes())))
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new key pair as a `jwks` row, JWK members in the order jose exports them.
/// RSA generation takes a while: call it off the async executor.
pub fn new_row(
    algorithm: JwtAlgorithm,
    secrets: &Secrets,
    now: Timestamp,
    expires_at: Option<Timestamp>,
) -> Result<JwkRow, KeyError> {
    let (public, private, crv) = match algorithm {
        JwtAlgorithm::Hs256 => {
            return Err(unusable(
                "new",
                "HS256 signs with the shared secret; it has no stored key",
            ));
        }
        JwtAlgorithm::EdDsa => {
            let signing = ed25519_dalek::SigningKey::generate(&mut OsRng);
            let x = b64(signing.verifying_key().as_bytes());
            let d = b64(&signing.to_bytes());
            (
                json!({"crv": "Ed25519", "x": x, "kty": "OKP"}),
                json!({"crv": "Ed25519", "d": d, "x": x, "kty": "OKP"}),
                Some("Ed25519"),
            )
        }
        JwtAlgorithm::Es256 => {
            let signing = p256::SecretKey::random(&mut OsRng);
            let point = signing.public_key().to_encoded_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return Err(unusable("new", "P-256 point without coordinates"));
            };
            let (x, y, d) = (b64(x), b64(y), b64(&signing.to_bytes()));
            (
                json!({"kty": "EC", "x": x, "y": y, "crv": "P-256"}),
                json!({"kty": "EC", "x": x, "y": y, "crv": "P-256", "d": d}),
                Some("P-256"),
            )
        }
        JwtAlgorithm::Rs256 | JwtAlgorithm::Ps256 => {
            let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).map_err(|e| unusable("new", e))?;
            let [p, q] = key.primes() else {
                return Err(unusable("new", "RSA key without two primes"));
            };
            let one = rsa::BigUint::from(1u8);
            let qi = key
                .crt_coefficient()
                .ok_or_else(|| unusable("new", "RSA key without CRT coefficient"))?;
            let big = |n: &rsa::BigUint| b64(&n.to_bytes_be());
            let (n, e) = (big(key.n()), big(key.e()));
            (
                json!({"kty": "RSA", "n": n, "e": e}),
                json!({"kty": "RSA", "n": n, "e": e, "d": big(key.d()), "p": big(p), "q": big(q),
                       "dp": big(&(key.d() % (p - &one))), "dq": big(&(key.d() % (q - &one))), "qi": big(&qi)}),
                None,
            )
        }
    };
    let sealed = secrets.encrypt(&private.to_string());
    Ok(JwkRow {
        id: random::id(),
        public_key: public.to_string(),
        private_key: Value::String(sealed).to_string(),
        created_at: now,
        expires_at,
        alg: Some(algorithm.name().into()),
        crv: crv.map(str::to_owned),
    })
}

/// A base64url JWK member as bytes.
fn member(jwk: &Map<String, Value>, name: &str, kid: &str) -> Result<Vec<u8>, KeyError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        .ok_or_else(|| unusable(kid, format!("private JWK without a valid `{name}`")))
}

/// Decrypts a row's private key and prepares it for signing.
pub fn signing_key(secrets: &Secrets, row: &JwkRow) -> Result<SigningKey, KeyError> {
    let kid = &row.id;
    let stored: Value = serde_json::from_str(&row.private_key)
        .map_err(|e| unusable(kid, format!("privateKey is not JSON: {e}")))?;
    let jwk: Map<String, Value> = match stored {
        Value::String(sealed) => {
            let plain = secrets.decrypt(&sealed).map_err(|e| {
                unusable(
                    kid,
                    format!("{e}; a configured secret must be the one that created the key"),
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
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or_default();
    let (algorithm, material) = match (alg, kty) {
        ("EdDSA", "OKP") => {
            let d = <[u8; 32]>::try_from(member(&jwk, "d", kid)?.as_slice())
                .map_err(|_| unusable(kid, "Ed25519 `d` is not 32 bytes"))?;
            (
                Algorithm::EdDSA,
                Material::Ed25519(ed25519_dalek::SigningKey::from_bytes(&d)),
            )
        }
        ("ES256", "EC") => {
            let secret_key = p256::SecretKey::from_slice(&member(&jwk, "d", kid)?)
                .map_err(|e| unusable(kid, e))?;
            let der = secret_key.to_pkcs8_der().map_err(|e| unusable(kid, e))?;
            (
                Algorithm::ES256,
                Material::Encoding(EncodingKey::from_ec_der(der.as_bytes())),
            )
        }
        ("RS256" | "PS256", "RSA") => {
            let int = |name: &str| member(&jwk, name, kid).map(|b| rsa::BigUint::from_bytes_be(&b));
            let key = rsa::RsaPrivateKey::from_components(
                int("n")?,
                int("e")?,
                int("d")?,
                vec![int("p")?, int("q")?],
            )
            .map_err(|e| unusable(kid, e))?;
            let der = key.to_pkcs1_der().map_err(|e| unusable(kid, e))?;
            let algorithm = if alg == "RS256" {
                Algorithm::RS256
            } else {
                Algorithm::PS256
            };
            (
                algorithm,
                Material::Encoding(EncodingKey::from_rsa_der(der.as_bytes())),
            )
        }
        (alg, kty) => {
            return Err(unusable(
                kid,
                format!("algorithm {alg} with a {kty:?} key is not supported"),
            ))
        }
    };
    Ok(SigningKey {
        kid: kid.clone(),
        algorithm,
        material,
        expires_at: row.expires_at,
    })
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

    fn fixture_row() -> (Secrets, JwkRow) {
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
        (Secrets::single(f["secret"].as_str().unwrap().into()), row)
    }

    /// Signs with the row's private key the way the server does, then verifies with its
    /// public `/jwks` entry, pinned to the key's algorithm.
    fn sign_and_verify(secrets: &Secrets, row: &JwkRow) -> Result<(), String> {
        let key = signing_key(secrets, row).map_err(|e| e.to_string())?;
        let claims = json!({"sub": "x", "exp": 4_000_000_000u64});
        let token = key
            .sign(claims.as_object().unwrap())
            .map_err(|e| e.to_string())?;
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(Value::Object(public_entry(row).unwrap())).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
        let mut validation = jsonwebtoken::Validation::new(key.algorithm);
        validation.validate_aud = false;
        jsonwebtoken::decode::<Value>(&token, &decoding, &validation)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_typescript_key_decrypts_and_signs_verifiably() {
        let (secret, row) = fixture_row();
        sign_and_verify(&secret, &row).unwrap();
        let other = Secrets::single("another-secret-0123456789abcdef0123456".into());
        assert!(signing_key(&other, &row).is_err());
    }

    #[test]
    fn every_algorithm_signs_and_its_public_key_verifies() {
        let secret = &Secrets::single("a-secret-that-is-long-enough-0123456789".into());
        for algorithm in [
            JwtAlgorithm::EdDsa,
            JwtAlgorithm::Es256,
            JwtAlgorithm::Rs256,
            JwtAlgorithm::Ps256,
        ] {
            let row = new_row(algorithm, secret, Timestamp::now(), None).unwrap();
            sign_and_verify(secret, &row).unwrap_or_else(|e| panic!("{}: {e}", algorithm.name()));
        }
        assert!(
            new_row(JwtAlgorithm::Hs256, secret, Timestamp::now(), None).is_err(),
            "HS256 has no stored key"
        );
    }

    #[test]
    fn new_rows_round_trip_and_publish_no_private_parts() {
        let secret = &Secrets::single("a-secret-that-is-long-enough-0123456789".into());
        let row = new_row(JwtAlgorithm::EdDsa, secret, Timestamp::now(), None).unwrap();
        assert!(row.private_key.starts_with('"') && row.private_key.ends_with('"'));
        assert!(signing_key(secret, &row).is_ok());
        let entry = public_entry(&row).unwrap();
        let keys: Vec<_> = entry.keys().map(String::as_str).collect();
        assert_eq!(keys, ["alg", "crv", "x", "kty", "kid"]);
        assert!(!Value::Object(entry).to_string().contains("\"d\""));
    }
}
