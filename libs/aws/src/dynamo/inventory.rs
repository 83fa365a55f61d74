//! Products and Reservations as the inventory consumer changes them: the reserve / release
//! transactions. One `TransactWriteItems` per decision; the
//! cancellation reasons of a refused transaction say whether the order was already handled
//! (reservation exists) or which lines were short.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use orders_domain::ports::{InventoryStore, StoreError};
use orders_domain::reservation::{
    classify_reserve_cancellation, ItemFailure, Recorded, Reservation, ReservationStatus,
    ReserveVerdict,
};
use orders_domain::{CustomerId, OrderId, OrderLine};

use super::{
    applied, backend, get_consistent, key1, lines_av, n, retry_conflicts, s, skus_av, ts, Item,
    Reader,
};

/// Products and Reservations, changed together by the inventory consumer.
#[derive(Debug, Clone)]
pub struct InventoryTables {
    client: Client,
    products: String,
    reservations: String,
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
        }
    }

    fn reservation_item(&self, r: &Reservation) -> Item {
        HashMap::from([
            ("order_id".to_string(), s(r.order_id.as_str())),
            ("status".to_string(), s(r.status.as_str())),
            ("customer_id".to_string(), s(r.customer_id.as_str())),
            ("lines".to_string(), lines_av(&r.lines)),
            ("short_skus".to_string(), skus_av(&r.short_skus)),
            ("updated_at".to_string(), s(ts(r.updated_at))),
        ])
    }

    async fn get_reservation(&self, id: &OrderId) -> Result<Option<Reservation>, StoreError> {
        let key = key1("order_id", id.as_str());
        get_consistent(&self.client, &self.reservations, key, "get reservation")
            .await?
            .as_ref()
            .map(reservation_from_item)
            .transpose()
    }

    /// The recorded reservation, which must exist (a condition just said so).
    async fn existing(&self, id: &OrderId) -> Result<Recorded, StoreError> {
        match self.get_reservation(id).await? {
            Some(r) => Ok(Recorded {
                reservation: r,
                newly_written: false,
            }),
            None => Err(StoreError::Retry(format!(
                "reservation {id} vanished between condition and read"
            ))),
        }
    }

    /// Conditional put of a reservation that must not exist yet; `false` if it does.
    async fn put_new(&self, r: &Reservation) -> Result<bool, StoreError> {
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

    /// One transaction: the reservation's own write, then every line's stock moved with it
    /// (`take`: reserve, else release).
    async fn transact_with_stock(
        &self,
        reservation_write: TransactWriteItem,
        lines: &[OrderLine],
        take: bool,
        at: DateTime<Utc>,
    ) -> Result<Result<(), SdkError<TransactWriteItemsError>>, StoreError> {
        let mut items = vec![reservation_write];
        for line in lines {
            items.push(self.stock_update(line, take, at)?);
        }
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        Ok(res.map(|_| ()))
    }

    /// Stock update for one line: `take` moves quantity from available to reserved (only if
    /// enough is available), otherwise back (release).
    fn stock_update(
        &self,
        line: &OrderLine,
        take: bool,
        at: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let q = i64::from(line.quantity);
        let (expr, cond, reserved_delta) = if take {
            (
                "SET #a = #a - :q, #u = :u ADD #r :dr, #v :one",
                "#a >= :q",
                q,
            )
        } else {
            (
                "SET #a = #a + :q, #u = :u ADD #r :dr, #v :one",
                "attribute_exists(sku)",
                -q,
            )
        };
        let update = Update::builder()
            .table_name(&self.products)
            .key("sku", s(line.sku.as_str()))
            .update_expression(expr)
            .condition_expression(cond)
            .expression_attribute_names("#a", "available")
            .expression_attribute_names("#r", "reserved")
            .expression_attribute_names("#u", "updated_at")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":q", n(q))
            .expression_attribute_values(":dr", n(reserved_delta))
            .expression_attribute_values(":u", s(ts(at)))
            .build()
            .map_err(|e| backend("build stock update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
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
    /// One reserve transaction (and its follow-up when it was refused).
    async fn reserve_once(
        &self,
        order_id: &OrderId,
        customer_id: &CustomerId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let reserved = Reservation {
            order_id: order_id.clone(),
            customer_id: customer_id.clone(),
            status: ReservationStatus::Reserved,
            lines: lines.to_vec(),
            short_skus: Vec::new(),
            updated_at: at,
        };
        let put = Put::builder()
            .table_name(&self.reservations)
            .set_item(Some(self.reservation_item(&reserved)))
            .condition_expression("attribute_not_exists(order_id)")
            .build()
            .map_err(|e| backend("build reservation put", e))?;
        let put = TransactWriteItem::builder().put(put).build();
        let err = match self.transact_with_stock(put, lines, true, at).await? {
            Ok(_) => {
                return Ok(Recorded {
                    reservation: reserved,
                    newly_written: true,
                })
            }
            Err(e) => e,
        };
        let Some(reasons) = cancellation_reasons(&err) else {
            return Err(backend("reserve transaction", err));
        };
        match classify_reserve_cancellation(&reasons, lines) {
            ReserveVerdict::Duplicate => self.existing(order_id).await,
            ReserveVerdict::Retry => Err(StoreError::Retry(format!(
                "reserve transaction cancelled without a decision: {reasons:?}"
            ))),
            ReserveVerdict::Short(short_skus) => {
                let rejected = Reservation {
                    status: ReservationStatus::Rejected,
                    short_skus,
                    ..reserved
                };
                if self.put_new(&rejected).await? {
                    Ok(Recorded {
                        reservation: rejected,
                        newly_written: true,
                    })
                } else {
                    // A concurrent delivery recorded its outcome first; that one stands.
                    self.existing(order_id).await
                }
            }
        }
    }

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
            let Some(current) = current else {
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
                .update_expression("SET #s = :released, #u = :u")
                .condition_expression("#s = :reserved")
                .expression_attribute_names("#s", "status")
                .expression_attribute_names("#u", "updated_at")
                .expression_attribute_values(":released", s(ReservationStatus::Released.as_str()))
                .expression_attribute_values(":reserved", s(ReservationStatus::Reserved.as_str()))
                .expression_attribute_values(":u", s(ts(at)))
                .build()
                .map_err(|e| backend("build reservation update", e))?;
            let update = TransactWriteItem::builder().update(update).build();
            match self
                .transact_with_stock(update, &current.lines, false, at)
                .await?
            {
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
            updated_at: super::super::parse_time("2026-11-26T12:00:00.123Z").unwrap(),
        };
        assert_eq!(reservation_from_item(&t.reservation_item(&r)).unwrap(), r);
    }
}
