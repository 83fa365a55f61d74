//! DynamoDB adapters implementing the domain's store ports, and the item (de)serialization
//! they share. Items follow the table layout in `docs/design.md`; timestamps are stored as
//! RFC 3339 UTC with milliseconds (`2026-11-26T12:00:00.000Z`), fixed width, so string
//! comparison is time order (the outbox index's range key relies on it).

mod cancellation;
mod inventory_store;
mod notification_store;
mod order_item;
mod order_list;
mod order_store;
mod product_store;
mod product_writes;
mod reservation_item;
mod shard_items;
mod stock_take;

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, Utc};
use orders_domain::ports::StoreError;
use orders_domain::{OrderLine, Sku};

use crate::jitter;
use crate::metrics::names;

pub use inventory_store::InventoryTables;
pub use notification_store::NotificationsTable;
pub use order_list::CUSTOMER_INDEX;
pub use order_store::{OrdersTable, OUTBOX_INDEX, PENDING_INDEX};
pub use product_store::ProductsTable;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Attempts of a transaction that DynamoDB cancelled without a decision (a `TransactionConflict`
/// with another transaction on the same item: nothing was written, so it is safe to run again)
/// before the record fails and SQS redelivers it a visibility timeout later.
pub(crate) const CONFLICT_ATTEMPTS: u32 = 5;
/// Backoff cap of the first retry; it doubles per attempt (full jitter: a random wait up to it).
const CONFLICT_BACKOFF: Duration = Duration::from_millis(20);

/// Runs `attempt` again while it answers `StoreError::Retry`, with jittered exponential backoff,
/// so that a hot item's conflicts resolve within one delivery instead of draining into the DLQ.
pub(crate) async fn retry_conflicts<T, F, Fut>(op: &str, mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut n = 1;
    loop {
        let result = attempt().await;
        if matches!(result, Err(StoreError::Retry(_))) {
            metrics::counter!(names::RESERVATION_CONFLICTS).increment(1);
        }
        match result {
            Err(StoreError::Retry(reason)) if n < CONFLICT_ATTEMPTS => {
                metrics::counter!(names::RESERVATION_RETRIES).increment(1);
                let wait = (CONFLICT_BACKOFF * 2u32.pow(n - 1)).mul_f64(jitter());
                tracing::info!(op, attempt = n, wait_ms = wait.as_millis() as u64, %reason, "transaction conflict, retrying");
                tokio::time::sleep(wait).await;
                n += 1;
            }
            other => return other,
        }
    }
}

/// DynamoDB's errors that the same request meets again ("OK to retry? No" in the developer
/// guide's "Error handling with DynamoDB"; condition failures are decided where they occur).
const REFUSALS: [&str; 7] = [
    "AccessDeniedException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "SerializationException",
    "ValidationException",
];

/// DynamoDB's answers for "too much, too fast" (still there after the SDK's retries), and a
/// single-item write that met an item inside a transaction: load, not a fault.
const OVERLOAD: [&str; 4] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
];

/// Any SDK failure that is not an expected condition outcome: `Refused` when DynamoDB refused
/// the request itself (retrying cannot help), `Busy` when it was throttled or the call ran out
/// of time, else `Backend` (5xx, I/O).
/// How long records kept only to recognise a late duplicate live (the tables' TTL attribute
/// `expires_at`, epoch seconds): notification claims and marks, and reservations that hold
/// nothing (rejected, released, cancelled first). Longer than any duplicate can arrive: a
/// message waits at most 14 days in a DLQ (SQS's longest retention) before a redrive.
pub(crate) const DEDUP_MEMORY_SECS: i64 = 30 * 24 * 3600;

/// The `expires_at` of a dedup record written at `at_secs` (epoch seconds).
pub(crate) fn dedup_expiry(at_secs: i64) -> AttributeValue {
    n(at_secs.saturating_add(DEDUP_MEMORY_SECS))
}

pub(crate) fn backend<E, R>(op: &str, e: SdkError<E, R>) -> StoreError
where
    SdkError<E, R>: std::error::Error + ProvideErrorMetadata,
{
    let code = e.code().map(str::to_string);
    let timed_out = match &e {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        _ => false,
    };
    let detail = format!("{op}: {}", DisplayErrorContext(e));
    match code.as_deref() {
        Some(c) if REFUSALS.contains(&c) => StoreError::Refused(detail),
        Some(c) if OVERLOAD.contains(&c) => StoreError::Busy(detail),
        _ if timed_out => StoreError::Busy(detail),
        _ => StoreError::Backend(detail),
    }
}

/// A request this code could not build (a required field left out): a defect, never retried.
pub(crate) fn unbuilt(op: &str, e: BuildError) -> StoreError {
    StoreError::Refused(format!("{op}: {}", DisplayErrorContext(e)))
}

/// One item by key, read strongly consistent: the decisions that follow a read (after a failed
/// condition, before a release) must see the latest write.
pub(crate) async fn get_consistent(
    client: &Client,
    table: &str,
    key: Item,
    op: &str,
) -> Result<Option<Item>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| backend(op, e))?;
    Ok(out.item)
}

/// One-attribute key.
pub(crate) fn key1(name: &str, value: &str) -> Item {
    HashMap::from([(name.to_string(), s(value))])
}

/// A conditional write's outcome: `true` applied, `false` its condition did not hold (the
/// expected answer of an idempotent write, not an error).
pub(crate) fn applied<T, E, R>(
    res: Result<T, SdkError<E, R>>,
    condition_failed: impl Fn(&E) -> bool,
    op: &str,
) -> Result<bool, StoreError>
where
    SdkError<E, R>: std::error::Error + ProvideErrorMetadata,
{
    match res {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(condition_failed) => Ok(false),
        Err(e) => Err(backend(op, e)),
    }
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn lines_av(lines: &[OrderLine]) -> AttributeValue {
    AttributeValue::L(
        lines
            .iter()
            .map(|l| {
                AttributeValue::M(HashMap::from([
                    ("sku".to_string(), s(l.sku.as_str())),
                    ("quantity".to_string(), n(l.quantity)),
                ]))
            })
            .collect(),
    )
}

pub(crate) fn skus_av(skus: &[Sku]) -> AttributeValue {
    AttributeValue::L(skus.iter().map(|k| s(k.as_str())).collect())
}

/// Typed reads from an item, with errors naming the item and attribute.
pub(crate) struct Reader<'a> {
    pub item: &'a Item,
    pub key: &'a str,
}

impl<'a> Reader<'a> {
    pub fn new(item: &'a Item, key: &'a str) -> Self {
        Reader { item, key }
    }

    pub fn corrupt(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            key: self.key.to_string(),
            reason: reason.into(),
        }
    }

    pub fn opt_s(&self, name: &str) -> Result<Option<&'a str>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.as_str())),
            Some(_) => Err(self.corrupt(format!("{name} is not a string"))),
        }
    }

    pub fn s(&self, name: &str) -> Result<&'a str, StoreError> {
        self.opt_s(name)?
            .ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    pub fn opt_n<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, StoreError> {
        match self.item.get(name) {
            None => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse()
                .map(Some)
                .map_err(|_| self.corrupt(format!("{name} is not a valid number: {v}"))),
            Some(_) => Err(self.corrupt(format!("{name} is not a number"))),
        }
    }

    pub fn n<T: std::str::FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.opt_n(name)?
            .ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    pub fn time(&self, name: &str) -> Result<DateTime<Utc>, StoreError> {
        parse_time(self.s(name)?).ok_or_else(|| self.corrupt(format!("{name} is not a time")))
    }

    pub fn opt_list(&self, name: &str) -> Result<&'a [AttributeValue], StoreError> {
        match self.item.get(name) {
            None => Ok(&[]),
            Some(AttributeValue::L(v)) => Ok(v.as_slice()),
            Some(_) => Err(self.corrupt(format!("{name} is not a list"))),
        }
    }

    pub fn lines(&self, name: &str) -> Result<Vec<OrderLine>, StoreError> {
        self.opt_list(name)?
            .iter()
            .map(|v| {
                let m = v
                    .as_m()
                    .map_err(|_| self.corrupt(format!("{name} has a non-map entry")))?;
                let r = Reader::new(m, self.key);
                Ok(OrderLine {
                    sku: Sku::parse(r.s("sku")?).map_err(|e| self.corrupt(e.to_string()))?,
                    quantity: r.n("quantity")?,
                })
            })
            .collect()
    }

    pub fn skus(&self, name: &str) -> Result<Vec<Sku>, StoreError> {
        self.opt_list(name)?
            .iter()
            .map(|v| {
                let raw = v
                    .as_s()
                    .map_err(|_| self.corrupt(format!("{name} has a non-string entry")))?;
                Sku::parse(raw.as_str()).map_err(|e| self.corrupt(e.to_string()))
            })
            .collect()
    }

    pub fn string_set(&self, name: &str) -> Result<&'a [String], StoreError> {
        match self.item.get(name) {
            None => Ok(&[]),
            Some(AttributeValue::Ss(v)) => Ok(v.as_slice()),
            Some(_) => Err(self.corrupt(format!("{name} is not a string set"))),
        }
    }
}

pub(crate) fn parse_time(v: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_refused_request_is_told_from_a_failure_worth_retrying() {
        use aws_sdk_dynamodb::error::ErrorMetadata;
        use aws_sdk_dynamodb::operation::get_item::GetItemError;
        use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
        use aws_smithy_types::body::SdkBody;
        let answer = || HttpResponse::new(400.try_into().unwrap(), SdkBody::empty());
        let error = |code: &str| {
            SdkError::service_error(
                GetItemError::generic(ErrorMetadata::builder().code(code).message("m").build()),
                answer(),
            )
        };
        for code in [
            "ValidationException",
            "ResourceNotFoundException",
            "AccessDeniedException",
        ] {
            let e = backend("get order", error(code));
            assert!(
                matches!(&e, StoreError::Refused(d) if d.contains(code)),
                "{code}: {e:?}"
            );
        }
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
            "TransactionConflictException",
        ] {
            let e = backend("get order", error(code));
            assert!(matches!(e, StoreError::Busy(_)), "{code}: {e:?}");
        }
        for code in ["InternalServerError", "ServiceUnavailable"] {
            let e = backend("get order", error(code));
            assert!(matches!(e, StoreError::Backend(_)), "{code}: {e:?}");
        }
        let no_code = SdkError::service_error(
            GetItemError::generic(ErrorMetadata::builder().build()),
            answer(),
        );
        assert!(matches!(
            backend("get order", no_code),
            StoreError::Backend(_)
        ));
        let timed_out: SdkError<GetItemError, HttpResponse> =
            SdkError::timeout_error("operation timeout (all attempts including retries)");
        assert!(matches!(
            backend("get order", timed_out),
            StoreError::Busy(_)
        ));
    }

    #[test]
    fn timestamps_are_fixed_width_and_sort_as_time() {
        let a = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        let b = a + chrono::Duration::milliseconds(5);
        let c = a + chrono::Duration::hours(30);
        assert_eq!(ts(a), "2026-11-26T12:00:00.000Z");
        assert_eq!(ts(b), "2026-11-26T12:00:00.005Z");
        assert!(ts(a) < ts(b) && ts(b) < ts(c));
        assert_eq!(parse_time(&ts(b)), Some(b));
    }

    #[test]
    fn reader_reports_corrupt_attributes() {
        let item: Item = HashMap::from([
            ("a".to_string(), s("x")),
            ("q".to_string(), n(3)),
            ("bad".to_string(), n("not-a-number")),
            (
                "lines".to_string(),
                lines_av(&[OrderLine {
                    sku: Sku::parse("A").unwrap(),
                    quantity: 2,
                }]),
            ),
        ]);
        let r = Reader::new(&item, "k");
        assert_eq!(r.s("a").unwrap(), "x");
        assert_eq!(r.n::<u32>("q").unwrap(), 3);
        assert!(matches!(r.s("q"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(r.s("missing"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(r.n::<u32>("bad"), Err(StoreError::Corrupt { .. })));
        assert_eq!(r.lines("lines").unwrap()[0].quantity, 2);
        assert!(r.lines("nothing").unwrap().is_empty());
        assert!(r.lines("a").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn conflicts_are_retried_a_bounded_number_of_times() {
        let calls = std::cell::Cell::new(0);
        let res: Result<u32, _> = retry_conflicts("t", || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(StoreError::Retry("conflict".into()))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(res.unwrap(), 3, "succeeds on the third attempt");

        calls.set(0);
        let res: Result<u32, _> = retry_conflicts("t", || {
            calls.set(calls.get() + 1);
            async { Err(StoreError::Retry("conflict".into())) }
        })
        .await;
        assert!(matches!(res, Err(StoreError::Retry(_))));
        assert_eq!(calls.get(), CONFLICT_ATTEMPTS, "then gives up");

        calls.set(0);
        let res: Result<u32, _> = retry_conflicts("t", || {
            calls.set(calls.get() + 1);
            async { Err(StoreError::Backend("boom".into())) }
        })
        .await;
        assert!(matches!(res, Err(StoreError::Backend(_))));
        assert_eq!(calls.get(), 1, "other errors are not retried here");
    }

    #[test]
    fn jitter_is_a_fraction() {
        let xs: Vec<f64> = (0..100).map(|_| jitter()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.windows(2).any(|w| w[0] != w[1]), "not constant");
    }
}
