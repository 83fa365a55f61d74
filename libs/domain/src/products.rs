//! Product stock as the API changes it: create with a first stock level, set it absolutely
//! under a version precondition, or adjust it relatively. Reservations change the same item
//! concurrently (inventory's transactions), so an absolute "set" without knowing what the
//! caller read would overwrite them and sell units twice: every write bumps the product's
//! `version`, an absolute set must name the version it read (`If-Match`), and a restock is a
//! relative adjustment that composes with reservations.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ids::{AdjustmentId, ClientScope, IdempotencyKey, Sku};
use crate::inventory::stock::Product;
use crate::inventory::stock::ShardCount;
use crate::ports::{Adjusted, Clock, ProductStore, StockWrite, StoreError};
use crate::validation::{
    missing, parse_object, reject_unknown, wrong_type, ErrorCode, ValidationError,
};

/// Errors of the product routes, each with one HTTP meaning.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// 400 / 413.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// 404.
    #[error("product {0} not found")]
    NotFound(Sku),
    /// 428: an existing product's stock is set only against the version the caller read.
    #[error("product {} exists: send If-Match with its version (from GET) to set its stock, or PATCH it with {{\"delta\": n}}", .0.sku)]
    PreconditionRequired(Product),
    /// 412: the product changed since the caller read it.
    #[error("product {} changed: its version is {} now", .0.sku, .0.version)]
    VersionMismatch(Product),
    /// 409: a negative adjustment larger than the available stock.
    #[error("product {} has {} available; cannot take {}", .0.sku, .0.available, .1)]
    Insufficient(Product, u64),
    /// 409: the `Idempotency-Key` was used for another adjustment.
    #[error("this Idempotency-Key was used for another adjustment")]
    KeyReused,
    /// 503 / 500.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a `PUT` did: created the product (`201`) or set an existing one (`200`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockSet {
    pub product: Product,
    pub created: bool,
}

/// `PUT /products/{sku}`: without `If-Match`, creates the product with its first stock level
/// (`428` if it exists); with `If-Match: "<version>"`, sets `available` if the product is still
/// at that version (`412` otherwise). A new product's units are split over `shards` from the
/// body, else `default_shards` (the stack's `StockShards`).
pub async fn set_stock<S: ProductStore, C: Clock>(
    products: &S,
    clock: &C,
    sku: &str,
    if_match: Option<&str>,
    body: &[u8],
    default_shards: ShardCount,
) -> Result<StockSet, ProductError> {
    let sku = parse_path_sku(sku)?;
    let version = if_match.map(parse_if_match).transpose()?;
    let request = SetStockRequest::parse(body)?;
    let now: DateTime<Utc> = clock.now();
    if version.is_some() && request.shards.is_some() {
        return Err(ValidationError::new(
            ErrorCode::InvalidValue,
            "shards",
            "shards is set when a product is created; change it with PATCH {\"shards\": n}",
        )
        .into());
    }
    let shards = request.shards.unwrap_or(default_shards);
    match version {
        None => match products
            .create(&sku, request.available, shards, now)
            .await?
        {
            StockWrite::Written(product) => Ok(StockSet {
                product,
                created: true,
            }),
            StockWrite::Refused(current) => Err(ProductError::PreconditionRequired(current)),
            StockWrite::NotFound => Err(ProductError::Store(StoreError::Backend(
                "create answered not found".into(),
            ))),
        },
        Some(v) => match products
            .set_if_version(&sku, request.available, v, now)
            .await?
        {
            StockWrite::Written(product) => Ok(StockSet {
                product,
                created: false,
            }),
            StockWrite::Refused(current) => Err(ProductError::VersionMismatch(current)),
            StockWrite::NotFound => Err(ProductError::NotFound(sku)),
        },
    }
}

/// `PATCH /products/{sku}` `{"delta": n}`: adds (restock) or takes (write-off) units, whatever
/// the version; never below zero. Applied once: a retry (with the same `Idempotency-Key`, or
/// the SDK's after a lost answer) answers the product without adding again.
/// `{"shards": n}`: the SKU's shard count, changed while it sells (the total is kept).
pub async fn patch_product<S: ProductStore, C: Clock>(
    products: &S,
    clock: &C,
    sku: &str,
    client: &ClientScope,
    key: Option<&IdempotencyKey>,
    body: &[u8],
) -> Result<Product, ProductError> {
    let sku = parse_path_sku(sku)?;
    let delta = match PatchProductRequest::parse(body)? {
        PatchProductRequest::Adjust { delta } => delta,
        PatchProductRequest::Reshard { shards } => {
            // Setting a count is idempotent by itself: no key needed.
            return match products.set_shards(&sku, shards, clock.now()).await? {
                StockWrite::Written(p) | StockWrite::Refused(p) => Ok(p),
                StockWrite::NotFound => Err(ProductError::NotFound(sku)),
            };
        }
    };
    let id = match key {
        Some(key) => AdjustmentId::for_idempotency_key(client, &sku, key),
        None => AdjustmentId::random(),
    };
    match products.adjust(&sku, delta, &id, clock.now()).await? {
        Adjusted::Applied(product) | Adjusted::AlreadyApplied(product) => Ok(product),
        Adjusted::Refused(current) => {
            Err(ProductError::Insufficient(current, delta.unsigned_abs()))
        }
        Adjusted::NotFound => Err(ProductError::NotFound(sku)),
        Adjusted::IdReused => Err(ProductError::KeyReused),
    }
}

/// `GET /products/{sku}`.
pub async fn get_product<S: ProductStore>(
    products: &S,
    sku: &str,
) -> Result<Product, ProductError> {
    let sku = parse_path_sku(sku)?;
    products.get(&sku).await?.ok_or(ProductError::NotFound(sku))
}

fn parse_path_sku(sku: &str) -> Result<Sku, ValidationError> {
    Sku::parse(sku).map_err(|_| {
        ValidationError::new(
            ErrorCode::InvalidValue,
            "sku",
            "sku must match ^[A-Z0-9][A-Z0-9-]{0,31}$",
        )
    })
}

/// An entity tag as the API gives it (`"7"`, the product's version).
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

fn parse_if_match(value: &str) -> Result<u64, ValidationError> {
    let v = value.trim();
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
        .parse()
        .map_err(|_| {
            ValidationError::new(
                ErrorCode::InvalidValue,
                "If-Match",
                "If-Match must be the product's ETag, e.g. \"7\" (from GET /products/{sku})",
            )
        })
}

/// Largest stock level `PUT /products/{sku}` accepts.
pub const MAX_AVAILABLE: u64 = 1_000_000_000;

/// A validated `PUT /products/{sku}` body: `{"available": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetStockRequest {
    pub available: u64,
    /// The shard count a new product gets (else the stack's default). Only on create: an
    /// existing product's count changes by `PATCH`.
    pub shards: Option<ShardCount>,
}

impl SetStockRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        let obj = parse_object(body)?;
        reject_unknown(&obj, &["available", "shards"], "")?;
        let available = match obj.get("available") {
            None | Some(Value::Null) => return Err(missing("available")),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(a) if a <= MAX_AVAILABLE => a,
                _ => {
                    return Err(ValidationError::new(
                        ErrorCode::InvalidValue,
                        "available",
                        format!("available must be an integer from 0 to {MAX_AVAILABLE}"),
                    ))
                }
            },
            Some(_) => return Err(wrong_type("available", "an integer")),
        };
        let shards = match obj.get("shards") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_shards(v)?),
        };
        Ok(SetStockRequest { available, shards })
    }
}

fn parse_shards(v: &Value) -> Result<ShardCount, ValidationError> {
    match v {
        Value::Number(n) => ShardCount::new(n.as_u64().unwrap_or(0), "shards"),
        _ => Err(wrong_type("shards", "an integer")),
    }
}

/// A validated `PATCH /products/{sku}` body: `{"delta": n}` (n a non-zero integer within
/// +-[`MAX_AVAILABLE`]), or `{"shards": n}` (the SKU's shard count, changed while it sells).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchProductRequest {
    Adjust { delta: i64 },
    Reshard { shards: ShardCount },
}

impl PatchProductRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        let obj = parse_object(body)?;
        reject_unknown(&obj, &["delta", "shards"], "")?;
        let max = MAX_AVAILABLE as i64;
        let given = |name| obj.get(name).filter(|v| !v.is_null());
        match (given("delta"), given("shards")) {
            (Some(_), Some(_)) => Err(ValidationError::new(
                ErrorCode::InvalidValue,
                "shards",
                "send either delta or shards, not both",
            )),
            (None, None) => Err(missing("delta")),
            (None, Some(v)) => Ok(PatchProductRequest::Reshard {
                shards: parse_shards(v)?,
            }),
            (Some(Value::Number(n)), None) => match n.as_i64() {
                Some(d) if d != 0 && (-max..=max).contains(&d) => {
                    Ok(PatchProductRequest::Adjust { delta: d })
                }
                _ => Err(ValidationError::new(
                    ErrorCode::InvalidValue,
                    "delta",
                    format!("delta must be a non-zero integer from -{max} to {max}"),
                )),
            },
            (Some(_), None) => Err(wrong_type("delta", "an integer")),
        }
    }
}

#[cfg(test)]
#[path = "products_tests.rs"]
mod tests;
