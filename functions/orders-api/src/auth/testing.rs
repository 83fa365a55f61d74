//! Tokens for tests, signed as Cognito signs them (RS256, a `kid`), with keys made for the
//! tests (`test-key.pem`, and `other-key.pem` for a pool this API does not trust).

use std::future::ready;
use std::future::Future;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::{KeySource, Trust, Verifier};

pub const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test";
pub const CLIENT: &str = "storefront-client";
pub const KID: &str = "test-kid";

pub fn key() -> EncodingKey {
    EncodingKey::from_rsa_pem(include_bytes!("test-key.pem")).expect("test key")
}

pub fn other_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(include_bytes!("other-key.pem")).expect("other key")
}

/// The pool's key set as its JWKS endpoint publishes it.
pub struct FixedKeys(pub JwkSet);

impl KeySource for FixedKeys {
    fn fetch(&self) -> impl Future<Output = Result<JwkSet, String>> + Send {
        ready(Ok(self.0.clone()))
    }
}

pub fn jwks() -> JwkSet {
    let mut jwk = Jwk::from_encoding_key(&key(), Algorithm::RS256).expect("jwk");
    jwk.common.key_id = Some(KID.to_string());
    JwkSet { keys: vec![jwk] }
}

pub fn verifier() -> Verifier<FixedKeys> {
    Verifier::new(
        Trust {
            issuer: ISSUER.to_string(),
            clients: vec![CLIENT.to_string()],
        },
        FixedKeys(jwks()),
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// An access token's claims for `sub`, in `groups`, valid for an hour.
pub fn claims(sub: &str, groups: &[&str]) -> Value {
    let mut c = json!({
        "iss": ISSUER,
        "sub": sub,
        "client_id": CLIENT,
        "token_use": "access",
        "auth_time": now(),
        "iat": now(),
        "exp": now() + 3600,
        "username": sub,
    });
    if !groups.is_empty() {
        c["cognito:groups"] = json!(groups);
    }
    c
}

/// `claims` signed with `key` under `kid`.
pub fn sign_with(claims: &Value, key: &EncodingKey, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    encode(&header, claims, key).expect("sign")
}

/// A valid access token of the trusted pool.
pub fn token(sub: &str, groups: &[&str]) -> String {
    sign_with(&claims(sub, groups), &key(), KID)
}
