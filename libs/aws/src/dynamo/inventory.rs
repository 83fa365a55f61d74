//! Products and Reservations as the inventory consumer changes them: the reserve / release
//! transactions. One `TransactWriteItems` per decision; the
//! cancellation reasons of a refused transaction say whether the order was already handled
//! (reservation exists) or which lines were short.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use orders_domain::hot_sku::{HotSkuPolicy, HotSkus};
use orders_domain::inventory::reservation::{
    ItemFailure, Recorded, Reservation, ReservationStatus,
};
use orders_domain::inventory::stock::ShardCount;
use orders_domain::ports::{InventoryStore, StoreError};
use orders_domain::{CustomerId, OrderId, OrderLine, Sku};

use super::reserve::{takes_from_item, StockTake};
use super::stock::transact;

use super::{
    applied, backend, dedup_expiry, get_consistent, key1, lines_av, retry_conflicts, s, skus_av,
    ts, unbuilt, Item, Reader,
};

/// Products and Reservations, changed together by the inventory consumer.
#[derive(Debug, Clone)]
pub struct InventoryTables {
    pub(super) client: Client,
    pub(super) products: String,
    pub(super) reservations: String,
    /// Each SKU's active shard count as this container last read it (`reserve`).
    pub(super) shard_counts: Arc<Mutex<HashMap<Sku, (ShardCount, Instant)>>>,
    /// The conflicts this container met per SKU, to spread hot ones (`reserve`).
    pub(super) hot: Arc<Mutex<HotSkus>>,
    /// The origin of the monotonic times `hot` is given.
    pub(super) started: Instant,
}

impl InventoryTables {
    pub fn new(
        client: Client,
        products: impl Into<String>,
        reservations: impl Into<String>,
    ) -> Self {
        InventoryTables {
            client,
            products: products.into(),
            reservations: reservations.into(),
            shard_counts: Arc::default(),
            hot: Arc::new(Mutex::new(HotSkus::new(HotSkuPolicy::new(
                8,
                ShardCount::ONE,
            )))),
            started: Instant::now(),
        }
    }

    /// Hot SKUs spread by themselves under `policy` (off unless given: `policy.max` > 1).
    pub fn with_hot_skus(mut self, policy: HotSkuPolicy) -> Self {
        self.hot = Arc::new(Mutex::new(HotSkus::new(policy)));
        self
    }

    pub(super) fn reservation_item(&self, r: &Reservation) -> Item {
        let mut item = HashMap::from([
            ("order_id".to_string(), s(r.order_id.as_str())),
            ("status".to_string(), s(r.status.as_str())),
            ("customer_id".to_string(), s(r.customer_id.as_str())),
            ("lines".to_string(), lines_av(&r.lines)),
            ("short_skus".to_string(), skus_av(&r.short_skus)),
            ("updated_at".to_string(), s(ts(r.updated_at))),
        ]);
        if let Some(reason) = &r.reason {
            item.insert("reason".to_string(), s(reason));
        }
        // Holding nothing, it is kept only to recognise a late duplicate.
        if r.status != ReservationStatus::Reserved {
            item.insert(
                "expires_at".to_string(),
                dedup_expiry(r.updated_at.timestamp()),
            );
        }
        item
    }

    /// The reservation and the shards its units came from.
    async fn get_reservation(
        &self,
        id: &OrderId,
    ) -> Result<Option<(Reservation, Vec<StockTake>)>, StoreError> {
        let key = key1("order_id", id.as_str());
        let Some(item) =
            get_consistent(&self.client, &self.reservations, key, "get reservation").await?
        else {
            return Ok(None);
        };
        let r = reservation_from_item(&item)?;
        let takes = takes_from_item(&item, &r)?;
        Ok(Some((r, takes)))
    }

    /// The recorded reservation, which must exist (a condition just said so).
    pub(super) async fn existing(&self, id: &OrderId) -> Result<Recorded, StoreError> {
        match self.get_reservation(id).await? {
            Some((r, _)) => Ok(Recorded {
                reservation: r,
                newly_written: false,
            }),
            None => Err(StoreError::Retry(format!(
                "reservation {id} vanished between condition and read"
            ))),
        }
    }

    /// Conditional put of a reservation that must not exist yet; `false` if it does.
    pub(super) async fn put_new(&self, r: &Reservation) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.reservations)
            .set_item(Some(self.reservation_item(r)))
            .condition_expression("attribute_not_exists(order_id)")
            .send()
            .await;
        applied(
            res,
            PutItemError::is_conditional_check_failed_exception,
            "put reservation",
        )
    }
}

fn reservation_from_item(item: &Item) -> Result<Reservation, StoreError> {
    let key = match item.get("order_id") {
        Some(AttributeValue::S(k)) => k.as_str(),
        _ => "?",
    };
    let r = Reader::new(item, key);
    let status = r.s("status")?;
    Ok(Reservation {
        order_id: OrderId::parse(key).map_err(|e| r.corrupt(e.to_string()))?,
        customer_id: CustomerId::parse(r.s("customer_id")?)
            .map_err(|e| r.corrupt(e.to_string()))?,
        status: ReservationStatus::parse(status)
            .ok_or_else(|| r.corrupt(format!("unknown reservation status {status}")))?,
        lines: r.lines("lines")?,
        short_skus: r.skus("short_skus")?,
        reason: r.opt_s("reason")?.map(str::to_string),
        updated_at: r.time("updated_at")?,
    })
}

/// Per-item outcome of a cancelled transaction, or `None` if it was not a cancellation.
pub(crate) fn cancellation_reasons(
    e: &SdkError<TransactWriteItemsError>,
) -> Option<Vec<ItemFailure>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| item_failure(r.code()))
                .collect(),
        ),
        _ => None,
    }
}

/// Maps a cancellation reason code (`None`, `ConditionalCheckFailed`, `TransactionConflict`, ...).
pub(crate) fn item_failure(code: Option<&str>) -> ItemFailure {
    match code {
        None | Some("None") | Some("") => ItemFailure::None,
        Some("ConditionalCheckFailed") => ItemFailure::ConditionFailed,
        Some(_) => ItemFailure::Other,
    }
}

impl InventoryTables {
    /// One pass of the release protocol.
    async fn release_once(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        // Each pass ends in a conditional write or returns what is recorded; losing a race
        // re-reads. Three passes cover every interleaving of reserve and release.
        for _ in 0..3 {
            let current = self.get_reservation(order_id).await?;
            let Some((current, takes)) = current else {
                let marker = Reservation::cancelled_before_reserve(order_id, customer_id, at);
                if self.put_new(&marker).await? {
                    return Ok(Recorded {
                        reservation: marker,
                        newly_written: true,
                    });
                }
                continue;
            };
            if current.status != ReservationStatus::Reserved {
                return Ok(Recorded {
                    reservation: current,
                    newly_written: false,
                });
            }
            let update = Update::builder()
                .table_name(&self.reservations)
                .key("order_id", s(order_id.as_str()))
                .update_expression("SET #s = :released, #u = :u, expires_at = :x")
                .expression_attribute_values(":x", dedup_expiry(at.timestamp()))
                .condition_expression("#s = :reserved")
                .expression_attribute_names("#s", "status")
                .expression_attribute_names("#u", "updated_at")
                .expression_attribute_values(":released", s(ReservationStatus::Released.as_str()))
                .expression_attribute_values(":reserved", s(ReservationStatus::Reserved.as_str()))
                .expression_attribute_values(":u", s(ts(at)))
                .build()
                .map_err(|e| unbuilt("build reservation update", e))?;
            let update = TransactWriteItem::builder().update(update).build();
            let back: Vec<_> = takes.iter().map(StockTake::give_back).collect();
            match transact(&self.client, &self.products, Some(update), &back, at).await? {
                Ok(_) => {
                    return Ok(Recorded {
                        reservation: Reservation {
                            status: ReservationStatus::Released,
                            updated_at: at,
                            ..current
                        },
                        newly_written: true,
                    })
                }
                Err(e) => match cancellation_reasons(&e) {
                    // Someone else released it meanwhile: re-read and report that.
                    Some(reasons) if reasons.first() == Some(&ItemFailure::ConditionFailed) => {
                        continue
                    }
                    Some(reasons) => {
                        return Err(StoreError::Retry(format!(
                            "release transaction cancelled: {reasons:?}"
                        )))
                    }
                    None => return Err(backend("release transaction", e)),
                },
            }
        }
        Err(StoreError::Retry(format!(
            "reservation {order_id} kept changing"
        )))
    }
}

impl InventoryStore for InventoryTables {
    // A transaction cancelled by a conflict wrote nothing: run it again, a few times, before
    // the record fails and SQS redelivers it (see `retry_conflicts`).
    async fn reserve(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        retry_conflicts("reserve", || {
            self.reserve_once(order_id, customer_id, lines, at)
        })
        .await
    }

    async fn release(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        retry_conflicts("release", || self.release_once(order_id, customer_id, at)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orders_domain::Sku;

    #[test]
    fn reason_codes() {
        assert_eq!(item_failure(None), ItemFailure::None);
        assert_eq!(item_failure(Some("None")), ItemFailure::None);
        assert_eq!(
            item_failure(Some("ConditionalCheckFailed")),
            ItemFailure::ConditionFailed
        );
        assert_eq!(
            item_failure(Some("TransactionConflict")),
            ItemFailure::Other
        );
        assert_eq!(item_failure(Some("ThrottlingError")), ItemFailure::Other);
    }

    #[test]
    fn reservation_item_round_trips() {
        let client = Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .build(),
        );
        let t = InventoryTables::new(client, "p", "r");
        let r = Reservation {
            order_id: OrderId::random(),
            customer_id: CustomerId::parse("c").unwrap(),
            status: ReservationStatus::Rejected,
            lines: vec![OrderLine {
                sku: Sku::parse("A").unwrap(),
                quantity: 2,
            }],
            short_skus: vec![Sku::parse("A").unwrap()],
            reason: Some("why".into()),
            updated_at: super::super::parse_time("2026-11-26T12:00:00.123Z").unwrap(),
        };
        assert_eq!(reservation_from_item(&t.reservation_item(&r)).unwrap(), r);
    }
}
