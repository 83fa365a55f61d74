//! The trace an order's flow belongs to: an X-Ray trace id (`1-<8 hex epoch s>-<24 hex>`)
//! taken from the API request, carried in every event's envelope (`trace_id`) and so through
//! every hop, and put on every log line of the work done for it.
//!
//! The id travels as task-local context, like a tracing span: the edge sets it around the
//! work for one request or one SQS record ([`within`]), and every event built inside takes it
//! ([`current`]), so no flow has to thread it through its arguments.

use std::fmt;
use std::future::Future;

use serde::{Deserialize, Deserializer, Serialize};

use crate::ids::IdError;

/// An X-Ray trace id, e.g. `1-5759e988-bd862e3fe1be46a994272793`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TraceId(String);

fn is_trace_id(s: &str) -> bool {
    let b = s.as_bytes();
    let hex =
        |r: std::ops::Range<usize>| b[r].iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    b.len() == 35 && b.starts_with(b"1-") && b[10] == b'-' && hex(2..10) && hex(11..35)
}

impl TraceId {
    pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        if is_trace_id(&s) {
            Ok(Self(s))
        } else {
            Err(IdError(format!(
                "not a valid trace id: {:?}",
                s.chars().take(80).collect::<String>()
            )))
        }
    }

    /// The `Root` of an X-Ray trace header (`Root=1-...;Parent=...;Sampled=1`), as Lambda
    /// gives it (`_X_AMZN_TRACE_ID`, the context's `xray_trace_id`) and API Gateway forwards
    /// it (`X-Amzn-Trace-Id`). `None` when there is none or it is malformed.
    pub fn from_xray_header(header: &str) -> Option<Self> {
        header
            .split(';')
            .find_map(|part| part.trim().strip_prefix("Root="))
            .and_then(|root| Self::parse(root).ok())
    }

    /// A new trace id in X-Ray's format, for a request that arrived without one.
    pub fn generate(epoch_seconds: u32) -> Self {
        let random = uuid::Uuid::new_v4().simple().to_string();
        Self(format!("1-{epoch_seconds:08x}-{}", &random[..24]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TraceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

tokio::task_local! {
    static CURRENT: Option<TraceId>;
}

/// Runs `work` with `trace` as the current trace.
pub async fn within<F: Future>(trace: Option<TraceId>, work: F) -> F::Output {
    CURRENT.scope(trace, work).await
}

/// The current trace, if the work runs [`within`] one.
pub fn current() -> Option<TraceId> {
    CURRENT.try_with(Clone::clone).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn parses_the_root_of_an_xray_header() {
        let h = format!("Root={ID};Parent=53995c3f42cd8ad8;Sampled=1");
        assert_eq!(TraceId::from_xray_header(&h).unwrap().as_str(), ID);
        assert_eq!(TraceId::from_xray_header(&h).unwrap().to_string(), ID);
        assert_eq!(
            TraceId::from_xray_header(&format!("Self=1-x;Root={ID}"))
                .unwrap()
                .as_str(),
            ID
        );
        assert!(TraceId::from_xray_header("Parent=53995c3f42cd8ad8").is_none());
        assert!(TraceId::from_xray_header("Root=1-zzzz").is_none());
    }

    #[test]
    fn refuses_malformed_ids() {
        for bad in [
            "",
            "1-5759e988",
            "2-5759e988-bd862e3fe1be46a994272793",
            "1-5759E988-bd862e3fe1be46a994272793",
        ] {
            assert!(TraceId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let (a, b) = (TraceId::generate(0x6b0a2fc4), TraceId::generate(0x6b0a2fc4));
        assert!(TraceId::parse(a.as_str()).is_ok());
        assert!(a.as_str().starts_with("1-6b0a2fc4-"));
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn the_current_trace_is_the_enclosing_one() {
        assert_eq!(current(), None);
        let t = TraceId::parse(ID).unwrap();
        let seen = within(Some(t.clone()), async { current() }).await;
        assert_eq!(seen, Some(t));
        assert_eq!(current(), None);
    }
}
