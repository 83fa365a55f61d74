//! Identifiers: validated newtypes and name-based (deterministic) ids.
//!
//! Deterministic ids are what make the pipeline idempotent end to end: the same
//! `Idempotency-Key` always maps to the same order id, and a redelivered input always
//! derives the same event id, so every consumer can dedupe by id.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

/// What a log line shows of a client-chosen value (an `Idempotency-Key`): enough of its
/// SHA-256 to correlate the lines of one request and its retries, never the value itself,
/// which a client may have made from something private.
pub fn log_fingerprint(value: &str) -> String {
    let mut hex = sha256_hex(value.as_bytes());
    hex.truncate(16);
    format!("sha256:{hex}")
}

/// Lowercase hex of a SHA-256 digest.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A UUID-formatted (version 8, RFC 9562 custom) id derived from SHA-256 of
/// `namespace`, a NUL separator and `name`. Same inputs, same id, on every machine.
pub fn name_based_id(namespace: &str, name: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(namespace.as_bytes());
    hasher.update([0u8]);
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// Namespaces for [`name_based_id`]; changing one changes every derived id.
pub mod namespace {
    /// Order ids derived from a client's `Idempotency-Key`, scoped to the client (v2: v1 was
    /// the key alone, shared by every client).
    pub const IDEMPOTENCY_KEY: &str = "orders/idempotency-key/v2";
    /// Event ids derived from an order id and an event type.
    pub const ORDER_EVENT: &str = "orders/event/v1";
    /// `CustomerNotified` ids derived from the source event id.
    pub const NOTIFICATION: &str = "orders/notification/v1";
    /// Stock adjustment ids derived from a client's `Idempotency-Key` and the SKU.
    pub const ADJUSTMENT: &str = "orders/adjustment/v1";
}

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

fn is_uuid_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $check:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `s`.
            pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                let check: fn(&str) -> bool = $check;
                if check(&s) {
                    Ok(Self(s))
                } else {
                    Err(IdError(format!(concat!("not a valid ", $what, ": {:?}"), truncate(&s))))
                }
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Deserialization validates too, so an event or a stored item can never carry a
        // malformed id past the boundary.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

string_newtype!(
    /// An order id: a lowercase hyphenated UUID (random, or name-based from an idempotency key).
    OrderId,
    is_uuid_shaped,
    "order id"
);

string_newtype!(
    /// An event id: a lowercase hyphenated UUID.
    EventId,
    is_uuid_shaped,
    "event id"
);

string_newtype!(
    /// A stock keeping unit: `^[A-Z0-9][A-Z0-9-]{0,31}$`.
    Sku,
    |s: &str| {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= 32
            && (b[0].is_ascii_uppercase() || b[0].is_ascii_digit())
            && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'-')
    },
    "SKU"
);

string_newtype!(
    /// A customer id: `^[A-Za-z0-9_-]{1,64}$`.
    CustomerId,
    |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    },
    "customer id"
);

string_newtype!(
    /// A client's `Idempotency-Key`: 1-128 printable ASCII characters.
    IdempotencyKey,
    |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|c| (0x20..=0x7e).contains(&c)),
    "idempotency key"
);

impl OrderId {
    /// A fresh random (v4) order id, for requests without an `Idempotency-Key`.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// The order id a client's `Idempotency-Key` maps to. Keys are scoped to the client: two
    /// clients that pick the same key get different orders, and neither can learn the
    /// other's order id by replaying its key.
    pub fn for_idempotency_key(client: &ClientScope, key: &IdempotencyKey) -> Self {
        // A key is printable ASCII and a scope has no newline, so the pair is unambiguous.
        Self(name_based_id(
            namespace::IDEMPOTENCY_KEY,
            &format!("{}\n{}", client.0, key.as_str()),
        ))
    }
}

/// The identity of one stock adjustment: a retry of the same request (the SDK's after a lost
/// answer, or the client's with the same `Idempotency-Key`) has the same id, and is applied once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AdjustmentId(String);

impl AdjustmentId {
    /// For a request without an `Idempotency-Key`: only the SDK's retries are recognised.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// Scoped to the client and the SKU, like order ids.
    pub fn for_idempotency_key(client: &ClientScope, sku: &Sku, key: &IdempotencyKey) -> Self {
        Self(name_based_id(
            namespace::ADJUSTMENT,
            &format!("{}\n{}\n{}", client.0, sku.as_str(), key.as_str()),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AdjustmentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who an `Idempotency-Key` belongs to: the API key that made the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientScope(String);

impl ClientScope {
    /// API Gateway's id of the API key (`requestContext.identity.apiKeyId`).
    pub fn api_key_id(id: &str) -> Self {
        Self(format!("key-id:{}", id.replace('\n', " ")))
    }

    /// The API key's value, when no id is given (an emulator may leave it empty): kept only as
    /// a hash, so the secret never reaches storage or logs.
    pub fn api_key_value(value: &str) -> Self {
        Self(format!("key-sha256:{}", sha256_hex(value.as_bytes())))
    }

    /// A signed-in user (the token's subject): their keys are theirs alone, whichever client
    /// application they use.
    pub fn user(id: &CustomerId) -> Self {
        Self(format!("user:{}", id.as_str()))
    }
}

/// Who is calling, as the API's authentication established it: the customer (the token's
/// subject) and whether they may manage stock (the user pool's `operators` group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub customer: CustomerId,
    pub operator: bool,
}

impl Caller {
    /// Whose `Idempotency-Key`s this caller's are.
    pub fn scope(&self) -> ClientScope {
        ClientScope::user(&self.customer)
    }
}

impl EventId {
    /// The deterministic id of the event of type `event_type` about `order_id`.
    pub fn for_order_event(order_id: &OrderId, event_type: &str) -> Self {
        Self(name_based_id(
            namespace::ORDER_EVENT,
            &format!("{}/{}", order_id.as_str(), event_type),
        ))
    }

    /// The deterministic id of the `CustomerNotified` event for a source event.
    pub fn for_notification(source: &EventId) -> Self {
        Self(name_based_id(namespace::NOTIFICATION, source.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_fingerprint_correlates_without_showing_the_value() {
        let a = log_fingerprint("jane@example.com/checkout-1");
        assert_eq!(a, log_fingerprint("jane@example.com/checkout-1"));
        assert_ne!(a, log_fingerprint("jane@example.com/checkout-2"));
        assert!(a.starts_with("sha256:") && a.len() == 23, "{a}");
        assert!(!a.contains("jane"));
    }

    #[test]
    fn sha256_hex_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn name_based_ids_are_deterministic_uuid_v8_and_distinct() {
        let a = name_based_id("ns", "name");
        assert_eq!(a, name_based_id("ns", "name"));
        assert_ne!(a, name_based_id("ns", "other"));
        assert_ne!(a, name_based_id("other", "name"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(name_based_id("ab", "c"), name_based_id("a", "bc"));
        assert!(is_uuid_shaped(&a), "{a}");
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 8);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn order_ids_from_keys_and_random() {
        let k = IdempotencyKey::parse("client-42/attempt").unwrap();
        let (a, b) = (ClientScope::api_key_id("a1"), ClientScope::api_key_id("b2"));
        assert_eq!(
            OrderId::for_idempotency_key(&a, &k),
            OrderId::for_idempotency_key(&a, &k)
        );
        assert_ne!(
            OrderId::for_idempotency_key(&a, &k),
            OrderId::for_idempotency_key(&b, &k),
            "scoped to the client"
        );
        let secret = ClientScope::api_key_value("s3cret-key");
        assert!(secret.0.starts_with("key-sha256:"), "{secret:?}");
        assert!(!secret.0.contains("s3cret"), "{secret:?}");
        assert_ne!(secret, ClientScope::api_key_value("other-key"));
        let r = OrderId::random();
        assert!(OrderId::parse(r.as_str()).is_ok());
        assert_ne!(r, OrderId::random());
    }

    #[test]
    fn adjustment_ids_are_uuids_scoped_to_client_and_sku() {
        let k = IdempotencyKey::parse("restock-7").unwrap();
        let (a, sku) = (ClientScope::api_key_id("a1"), Sku::parse("SKU-1").unwrap());
        let id = AdjustmentId::for_idempotency_key(&a, &sku, &k);
        assert!(is_uuid_shaped(id.as_str()), "{id}");
        assert_eq!(id.to_string(), id.as_str());
        let other = Sku::parse("SKU-2").unwrap();
        assert_ne!(id, AdjustmentId::for_idempotency_key(&a, &other, &k));
    }

    #[test]
    fn a_bad_value_is_quoted_in_its_error_up_to_80_characters() {
        let long = format!("{}{}", "x".repeat(80), "y".repeat(100));
        let e = OrderId::parse(long).unwrap_err().to_string();
        assert!(e.contains(&"x".repeat(80)), "{e}");
        assert!(!e.contains('y'), "{e}");
    }

    #[test]
    fn event_ids_depend_on_order_and_type() {
        let o = OrderId::parse("00000000-0000-4000-8000-000000000001").unwrap();
        let p = OrderId::parse("00000000-0000-4000-8000-000000000002").unwrap();
        let a = EventId::for_order_event(&o, "OrderPlaced");
        assert_eq!(a, EventId::for_order_event(&o, "OrderPlaced"));
        assert_ne!(a, EventId::for_order_event(&o, "OrderCancelled"));
        assert_ne!(a, EventId::for_order_event(&p, "OrderPlaced"));
        assert_ne!(EventId::for_notification(&a), a);
    }

    #[test]
    fn uuid_shape() {
        assert!(OrderId::parse("123e4567-e89b-42d3-a456-426614174000").is_ok());
        for bad in [
            "",
            "123E4567-E89B-42D3-A456-426614174000",
            "123e4567e89b42d3a456426614174000",
            "123e4567-e89b-42d3-a456-42661417400",
            "123e4567-e89b-42d3-a456-4266141740000",
            "123e4567-e89b-42d3-a456_426614174000",
            "g23e4567-e89b-42d3-a456-426614174000",
        ] {
            assert!(OrderId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sku_format() {
        for ok in ["A", "0", "SKU-1", "ABC-123-X", &"A".repeat(32)] {
            assert!(Sku::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-A", "a", "SKU_1", "SKU 1", "Ä", &"A".repeat(33)] {
            assert!(Sku::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn customer_id_format() {
        for ok in ["c", "cust_42-X", &"x".repeat(64)] {
            assert!(CustomerId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a.b", "é", &"x".repeat(65)] {
            assert!(CustomerId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn idempotency_key_format() {
        assert!(IdempotencyKey::parse("k").is_ok());
        assert!(IdempotencyKey::parse("a b ~!").is_ok());
        assert!(IdempotencyKey::parse("x".repeat(128)).is_ok());
        for bad in ["".to_string(), "x".repeat(129), "tab\t".into(), "é".into()] {
            assert!(IdempotencyKey::parse(bad.clone()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deserialization_validates() {
        assert!(serde_json::from_str::<Sku>("\"ok-1\"").is_err());
        assert_eq!(
            serde_json::from_str::<Sku>("\"OK-1\"").unwrap().as_str(),
            "OK-1"
        );
    }
}
