//! The user pool's keys over HTTP: `<issuer>/.well-known/jwks.json` on AWS; on an emulator
//! (`AWS_ENDPOINT_URL` set, as the SDK reads it) the same path under the emulator's address.
//! One HTTP/TLS stack, the one the AWS SDK already brings (hyper + rustls).

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;

use super::KeySource;

/// A fetch that takes longer fails (the request answers 503; the next one tries again).
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// A pool's key set is a few hundred bytes; anything near this is not one.
const MAX_BYTES: usize = 64 * 1024;

/// Where the keys of the pool `issuer` names are published, given the emulator's endpoint
/// if there is one.
pub fn jwks_url(issuer: &str, endpoint: Option<&str>) -> String {
    let issuer = issuer.trim_end_matches('/');
    match endpoint.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => {
            let pool = issuer.rsplit('/').next().unwrap_or_default();
            format!("{}/{pool}/.well-known/jwks.json", e.trim_end_matches('/'))
        }
        None => format!("{issuer}/.well-known/jwks.json"),
    }
}

/// Fetches the key set from one URL.
pub struct HttpJwks {
    url: hyper::Uri,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl HttpJwks {
    pub fn new(url: &str) -> Result<Self, String> {
        let url = url.parse().map_err(|e| format!("JWKS URL {url:?}: {e}"))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| format!("TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HttpJwks {
            url,
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    async fn get(&self) -> Result<JwkSet, String> {
        let resp = self
            .client
            .get(self.url.clone())
            .await
            .map_err(|e| format!("GET {}: {e}", self.url))?;
        if !resp.status().is_success() {
            return Err(format!("GET {}: {}", self.url, resp.status()));
        }
        let body = Limited::new(resp.into_body(), MAX_BYTES)
            .collect()
            .await
            .map_err(|e| format!("GET {}: {e}", self.url))?
            .to_bytes();
        serde_json::from_slice(&body).map_err(|e| format!("{} is not a JWKS: {e}", self.url))
    }
}

impl KeySource for HttpJwks {
    async fn fetch(&self) -> Result<JwkSet, String> {
        match tokio::time::timeout(FETCH_TIMEOUT, self.get()).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "GET {}: no answer within {FETCH_TIMEOUT:?}",
                self.url
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_are_found_at_the_issuer_or_under_the_emulator() {
        let issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC";
        assert_eq!(
            jwks_url(issuer, None),
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/.well-known/jwks.json"
        );
        assert_eq!(
            jwks_url(issuer, Some("http://127.0.0.1:4566/")),
            "http://127.0.0.1:4566/us-east-1_AbC/.well-known/jwks.json"
        );
        assert_eq!(jwks_url(issuer, Some(" ")), jwks_url(issuer, None));
    }
}
