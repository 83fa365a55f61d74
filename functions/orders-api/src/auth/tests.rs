//! Every kind of bad credential is refused with its own reason; a good token names the caller.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

use super::testing::*;
use super::*;

async fn check(header: Option<&str>) -> Result<Caller, AuthError> {
    verifier().authenticate(header).await
}

async fn check_claims(claims: &serde_json::Value) -> Result<Caller, AuthError> {
    let t = sign_with(claims, &key(), KID);
    check(Some(&format!("Bearer {t}"))).await
}

#[tokio::test]
async fn a_valid_access_token_names_the_customer_and_their_groups() {
    let t = token("3f1c2a9e-cust", &[]);
    let c = check(Some(&format!("Bearer {t}"))).await.unwrap();
    assert_eq!((c.customer.as_str(), c.operator), ("3f1c2a9e-cust", false));
    let t = token("op-1", &["operators", "staff"]);
    assert!(check(Some(&format!("bearer  {t}"))).await.unwrap().operator);
}

#[tokio::test]
async fn missing_or_not_bearer() {
    assert_eq!(check(None).await, Err(AuthError::Missing));
    assert_eq!(
        check(Some("Basic dXNlcjpwYXNz")).await,
        Err(AuthError::NotBearer)
    );
    assert_eq!(check(Some("Bearer")).await, Err(AuthError::NotBearer));
    assert_eq!(check(Some("Bearer ")).await, Err(AuthError::NotBearer));
}

#[tokio::test]
async fn malformed_tokens() {
    for t in ["abc", "a.b.c", "...", &"x".repeat(5000)] {
        assert_eq!(
            check(Some(&format!("Bearer {t}"))).await,
            Err(AuthError::Malformed),
            "{t}"
        );
    }
}

#[tokio::test]
async fn alg_none_and_other_algorithms_are_refused() {
    let body = URL_SAFE_NO_PAD.encode(claims("c", &[]).to_string());
    for header in [
        json!({"alg": "none", "kid": KID}),
        json!({"alg": "HS256", "kid": KID, "typ": "JWT"}),
    ] {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let t = format!("{h}.{body}.");
        assert_eq!(
            check(Some(&format!("Bearer {t}"))).await,
            Err(AuthError::Malformed),
            "{header}"
        );
    }
    // A token without a key id.
    let t = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::RS256),
        &claims("c", &[]),
        &key(),
    )
    .unwrap();
    assert_eq!(
        check(Some(&format!("Bearer {t}"))).await,
        Err(AuthError::Malformed)
    );
}

#[tokio::test]
async fn wrongly_signed_or_from_another_pool() {
    // Signed by another key under the pool's key id: the signature fails.
    let t = sign_with(&claims("c", &[]), &other_key(), KID);
    assert_eq!(
        check(Some(&format!("Bearer {t}"))).await,
        Err(AuthError::BadSignature)
    );
    // Another pool's key id: not one of ours.
    let t = sign_with(&claims("c", &[]), &other_key(), "other-pool-kid");
    assert_eq!(
        check(Some(&format!("Bearer {t}"))).await,
        Err(AuthError::UnknownKey)
    );
    // Tampered claims under a valid signature.
    let t = token("c", &[]);
    let mut parts: Vec<&str> = t.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(claims("c", &["operators"]).to_string());
    parts[1] = &forged;
    assert_eq!(
        check(Some(&format!("Bearer {}", parts.join(".")))).await,
        Err(AuthError::BadSignature)
    );
}

#[tokio::test]
async fn expired_issuer_token_use_and_client() {
    let mut c = claims("c", &[]);
    c["exp"] = json!(c["iat"].as_i64().unwrap() - 3600);
    assert_eq!(check_claims(&c).await, Err(AuthError::Expired));
    // Within the leeway it still counts.
    let mut c = claims("c", &[]);
    c["exp"] = json!(c["iat"].as_i64().unwrap() - 5);
    assert!(check_claims(&c).await.is_ok());

    let mut c = claims("c", &[]);
    c["iss"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other");
    assert_eq!(check_claims(&c).await, Err(AuthError::WrongIssuer));

    let mut c = claims("c", &[]);
    c["token_use"] = json!("id");
    c["aud"] = json!(CLIENT);
    assert_eq!(check_claims(&c).await, Err(AuthError::WrongTokenUse));

    let mut c = claims("c", &[]);
    c["client_id"] = json!("another-app");
    assert_eq!(check_claims(&c).await, Err(AuthError::WrongClient));

    for missing in ["exp", "iss", "sub"] {
        let mut c = claims("c", &[]);
        c.as_object_mut().unwrap().remove(missing);
        assert!(check_claims(&c).await.is_err(), "{missing}");
    }
}

/// Counts fetches of a key set that starts without the key tokens are signed with.
struct Rotating {
    fetches: std::sync::atomic::AtomicUsize,
}

impl KeySource for Rotating {
    async fn fetch(&self) -> Result<JwkSet, String> {
        let n = self
            .fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(if n == 0 {
            JwkSet { keys: vec![] }
        } else {
            jwks()
        })
    }
}

#[tokio::test]
async fn an_unknown_key_id_refetches_the_keys_at_most_once_per_gap() {
    let v = Verifier::new(
        Trust {
            issuer: ISSUER.into(),
            clients: vec![CLIENT.into()],
        },
        Rotating {
            fetches: Default::default(),
        },
    );
    v.prefetch().await.unwrap();
    // The key was published after the cold start's fetch: refused until the gap has passed,
    // however many requests name it (no fetch storm).
    let t = token("c", &[]);
    for _ in 0..5 {
        assert_eq!(
            v.authenticate(Some(&format!("Bearer {t}"))).await,
            Err(AuthError::UnknownKey)
        );
    }
    assert_eq!(
        v.source.fetches.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    v.keys.write().await.fetched = Some(Instant::now() - REFETCH_GAP);
    assert!(v.authenticate(Some(&format!("Bearer {t}"))).await.is_ok());
    assert_eq!(
        v.source.fetches.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}

#[tokio::test]
async fn keys_that_cannot_be_fetched_are_ours_to_fix_not_the_callers() {
    struct Down;
    impl KeySource for Down {
        async fn fetch(&self) -> Result<JwkSet, String> {
            Err("connection refused".into())
        }
    }
    let v = Verifier::new(
        Trust {
            issuer: ISSUER.into(),
            clients: vec![CLIENT.into()],
        },
        Down,
    );
    let t = token("c", &[]);
    let e = v
        .authenticate(Some(&format!("Bearer {t}")))
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::KeysUnavailable(_)), "{e:?}");
    assert_eq!(e.bearer_error(), None);
}
