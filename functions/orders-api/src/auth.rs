//! Who is calling. Every request carries `Authorization: Bearer <access token>` from the
//! stack's Cognito user pool, and this function verifies it itself: the signature against the
//! pool's published keys (JWKS, cached per container, fetched again for a key it has not
//! seen), the issuer, `token_use` = `access`, the app client, the expiry (with a small leeway).
//! The same code runs on AWS and locally, where LocalStack runs no API Gateway authorizer, so
//! both refuse exactly the same tokens. The customer is the token's subject; the pool's
//! `operators` group may manage stock.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use orders_domain::{Caller, CustomerId};
use serde::Deserialize;
use tokio::sync::RwLock;

pub mod jwks;

/// The user pool group whose members may set stock.
pub const OPERATORS_GROUP: &str = "operators";
/// Clock difference tolerated between Cognito and this function.
const LEEWAY: Duration = Duration::from_secs(30);
/// A token naming a key this container does not know fetches the keys again, at most this
/// often (a rotation shows within it; a flood of made-up key ids costs one fetch).
const REFETCH_GAP: Duration = Duration::from_secs(30);

/// Why a request is not authenticated. All but [`AuthError::KeysUnavailable`] are the
/// caller's (`401`); that one is ours (`503`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("sign in: the Authorization header is missing")]
    Missing,
    #[error("the Authorization header must be `Bearer <access token>`")]
    NotBearer,
    #[error("the token is not a well-formed signed JWT")]
    Malformed,
    #[error("the token is not signed with a key of this API's user pool")]
    UnknownKey,
    #[error("the token's signature is not valid")]
    BadSignature,
    #[error("the token has expired; sign in again or refresh it")]
    Expired,
    #[error("the token was not issued by this API's user pool")]
    WrongIssuer,
    #[error("the token is not an access token")]
    WrongTokenUse,
    #[error("the token was issued to another app client")]
    WrongClient,
    #[error("the user pool's keys could not be read: {0}")]
    KeysUnavailable(String),
}

impl AuthError {
    /// The RFC 6750 `error` of the `WWW-Authenticate` answer (none when no token was sent).
    pub fn bearer_error(&self) -> Option<&'static str> {
        match self {
            AuthError::Missing => None,
            AuthError::NotBearer => Some("invalid_request"),
            AuthError::KeysUnavailable(_) => None,
            _ => Some("invalid_token"),
        }
    }

    /// A short name for logs and metrics (never the token).
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::NotBearer => "not_bearer",
            AuthError::Malformed => "malformed",
            AuthError::UnknownKey => "unknown_key",
            AuthError::BadSignature => "bad_signature",
            AuthError::Expired => "expired",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::WrongTokenUse => "wrong_token_use",
            AuthError::WrongClient => "wrong_client",
            AuthError::KeysUnavailable(_) => "keys_unavailable",
        }
    }
}

/// Where the pool's keys come from (HTTP in the function, fixed in tests).
pub trait KeySource: Send + Sync {
    fn fetch(&self) -> impl Future<Output = Result<JwkSet, String>> + Send;
}

/// Turns a request's `Authorization` header into the caller.
pub trait Authenticate: Send + Sync {
    fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> impl Future<Output = Result<Caller, AuthError>> + Send;
}

/// What this API accepts: tokens of one pool, for some app clients.
#[derive(Debug, Clone)]
pub struct Trust {
    /// `https://cognito-idp.<region>.amazonaws.com/<pool id>`
    pub issuer: String,
    pub clients: Vec<String>,
}

/// Verifies access tokens of one user pool.
pub struct Verifier<K> {
    trust: Trust,
    source: K,
    keys: RwLock<Keys>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
}

/// The claims this API reads from a Cognito access token.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    token_use: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
}

impl<K: KeySource> Verifier<K> {
    pub fn new(trust: Trust, source: K) -> Self {
        Verifier {
            trust,
            source,
            keys: RwLock::default(),
        }
    }

    /// Fetches the keys now (at cold start, so the first request does not pay for it).
    pub async fn prefetch(&self) -> Result<(), AuthError> {
        self.refetch(&mut *self.keys.write().await).await
    }

    async fn refetch(&self, keys: &mut Keys) -> Result<(), AuthError> {
        let set = self
            .source
            .fetch()
            .await
            .map_err(AuthError::KeysUnavailable)?;
        keys.fetched = Some(Instant::now());
        keys.by_kid = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                Some((kid, DecodingKey::from_jwk(jwk).ok()?))
            })
            .collect();
        Ok(())
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        if let Some(k) = self.keys.read().await.by_kid.get(kid) {
            return Ok(k.clone());
        }
        let mut keys = self.keys.write().await;
        // Another request may have fetched while this one waited for the lock.
        if let Some(k) = keys.by_kid.get(kid) {
            return Ok(k.clone());
        }
        if keys.fetched.is_some_and(|at| at.elapsed() < REFETCH_GAP) {
            return Err(AuthError::UnknownKey);
        }
        self.refetch(&mut keys).await?;
        keys.by_kid.get(kid).cloned().ok_or(AuthError::UnknownKey)
    }
}

impl<K: KeySource> Authenticate for Verifier<K> {
    async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, AuthError> {
        let token = bearer(authorization)?;
        let header = decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Malformed);
        }
        let kid = header.kid.ok_or(AuthError::Malformed)?;
        let key = self.key(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[&self.trust.issuer]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        v.leeway = LEEWAY.as_secs();
        // Access tokens name their client in `client_id`, not `aud` (checked below).
        v.validate_aud = false;
        let claims = decode::<Claims>(token, &key, &v)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                _ => AuthError::Malformed,
            })?
            .claims;
        if claims.token_use != "access" {
            return Err(AuthError::WrongTokenUse);
        }
        match &claims.client_id {
            Some(c) if self.trust.clients.iter().any(|t| t == c) => {}
            _ => return Err(AuthError::WrongClient),
        }
        Ok(Caller {
            customer: CustomerId::parse(&claims.sub).map_err(|_| AuthError::Malformed)?,
            operator: claims.groups.iter().any(|g| g == OPERATORS_GROUP),
        })
    }
}

/// The token of a `Bearer` Authorization header (the scheme is case-insensitive).
fn bearer(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization.ok_or(AuthError::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::NotBearer);
    }
    Ok(token.trim())
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
