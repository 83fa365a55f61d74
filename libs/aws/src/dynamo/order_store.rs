//! The Orders table: conditional put of new orders, conditional status transitions, the
//! outbox (pending events in the order's own item, a list that transitions append to,
//! indexed by the sparse `outbox` GSI).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use orders_domain::list_orders::PageCursor;
use orders_domain::ports::{
    InsertOutcome, OrderPage, OrderStore, StoreError, TransitionOutcome, TransitionWrite,
};
use orders_domain::{CustomerId, EventId, Order, OrderId, OrderStatus, Outbox};

use super::order_item::{
    first_id, history_av, order_from_item, order_to_item, outbox_attrs, INDEX_PARTITIONS,
};
use super::{applied, backend, get_consistent, key1, s, ts, Item};

/// Name of the sparse GSI over pending outboxes (hash `outbox_pending`, range `outbox_since`).
pub const OUTBOX_INDEX: &str = "outbox";
/// Name of the sparse GSI over `PENDING` orders (hash `pending_order`, range `created_at`):
/// the pending-timeout pass reads it. Every transition out of `PENDING` removes the attribute.
pub const PENDING_INDEX: &str = "pending";

/// The Orders table.
#[derive(Debug, Clone)]
pub struct OrdersTable {
    client: Client,
    table: String,
}

impl OrdersTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        OrdersTable {
            client,
            table: table.into(),
        }
    }
}

fn key(id: &OrderId) -> Item {
    key1("order_id", id.as_str())
}

/// The update expression, names and values of a transition (pure, unit-tested).
pub(crate) fn transition_expression(
    w: &TransitionWrite<'_>,
) -> (String, String, HashMap<String, String>, Item) {
    let mut names = HashMap::from([
        ("#status".to_string(), "status".to_string()),
        ("#history".to_string(), "history".to_string()),
        ("#updated".to_string(), "updated_at".to_string()),
    ]);
    let mut values: Item = HashMap::from([
        (":to".to_string(), s(w.trigger.target().as_str())),
        (":now".to_string(), s(ts(w.at))),
        (
            ":entry".to_string(),
            AttributeValue::L(vec![history_av(&w.entry)]),
        ),
    ]);
    let mut set = vec![
        "#status = :to".to_string(),
        "#updated = :now".to_string(),
        "#history = list_append(#history, :entry)".to_string(),
    ];
    let from: Vec<String> = w
        .trigger
        .allowed_from()
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let k = format!(":from{i}");
            values.insert(k.clone(), s(st.as_str()));
            k
        })
        .collect();
    let mut condition = format!("#status IN ({})", from.join(", "));
    if let Some(ob) = w.outbox {
        // Appended to what is still pending, which keeps its first id and its age.
        for (name, value) in outbox_attrs(w.order_id, ob) {
            let (n, v) = (format!("#{name}"), format!(":{name}"));
            set.push(match name.as_str() {
                "outbox_events" => {
                    format!("{n} = list_append(if_not_exists({n}, :no_events), {v})")
                }
                "outbox_pending" => format!("{n} = {v}"),
                _ => format!("{n} = if_not_exists({n}, {v})"),
            });
            names.insert(n, name);
            values.insert(v, value);
        }
        values.insert(":no_events".into(), AttributeValue::L(vec![]));
    }
    let mut update = format!("SET {}", set.join(", "));
    if let Some(id) = w.applied_event {
        names.insert("#applied".into(), "applied_events".into());
        values.insert(":applied".into(), AttributeValue::Ss(vec![id.to_string()]));
        values.insert(":event_id".into(), s(id.as_str()));
        update.push_str(" ADD #applied :applied");
        condition.push_str(" AND NOT contains(#applied, :event_id)");
    }
    if w.trigger.target() != OrderStatus::Pending {
        names.insert("#pending_order".into(), "pending_order".into());
        update.push_str(" REMOVE #pending_order");
    }
    (update, condition, names, values)
}

fn is_condition_failed_put(e: &aws_sdk_dynamodb::error::SdkError<PutItemError>) -> bool {
    e.as_service_error()
        .is_some_and(PutItemError::is_conditional_check_failed_exception)
}

impl OrdersTable {
    /// Order ids from a sparse index (range `range` <= `older_than`), oldest first, at most
    /// `limit`: each hash key value's oldest `limit`, merged. Only keys are read, so any
    /// projection of the index works (the template's `outbox` and `pending` are KEYS_ONLY).
    async fn ids_up_to(
        &self,
        index: &str,
        hash: &str,
        range: &str,
        older_than: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OrderId>, StoreError> {
        let mut found: Vec<(String, OrderId)> = Vec::new();
        for part in 0..INDEX_PARTITIONS {
            // Boxed: inlined, the query future nested in the loop made the sweeper's future
            // type deeper than rustc's layout query limit.
            let part = part.to_string();
            let query = Box::pin(self.part_up_to(index, (hash, &part), range, older_than, limit));
            found.extend(query.await?);
        }
        found.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
        Ok(found.into_iter().take(limit).map(|(_, id)| id).collect())
    }

    /// `(range value, order id)` of one hash key value's oldest `limit` items.
    async fn part_up_to(
        &self,
        index: &str,
        (hash, value): (&str, &str),
        range: &str,
        older_than: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(String, OrderId)>, StoreError> {
        let mut ids = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#h = :part AND #r <= :cutoff")
                .expression_attribute_names("#h", hash)
                .expression_attribute_names("#r", range)
                .expression_attribute_values(":part", s(value))
                .expression_attribute_values(":cutoff", s(ts(older_than)))
                .set_exclusive_start_key(start.take())
                .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
                .send()
                .await
                .map_err(|e| backend(&format!("query index {index}"), e))?;
            for item in page.items() {
                let (Some(AttributeValue::S(k)), Some(AttributeValue::S(at))) =
                    (item.get("order_id"), item.get(range))
                else {
                    continue;
                };
                match OrderId::parse(k.as_str()) {
                    Ok(id) => ids.push((at.clone(), id)),
                    Err(e) => tracing::warn!(index, error = %e, "malformed order id skipped"),
                }
            }
            match page.last_evaluated_key() {
                Some(k) if ids.len() < limit => start = Some(k.clone()),
                _ => break,
            }
        }
        ids.truncate(limit);
        Ok(ids)
    }
}

/// Attribute of the marker item that holds an id's inventory events answered while no order
/// had it ([`OrderStore::record_event_for_absent_order`]): a count of the records, which a
/// placement replacing the marker checks, so that no record slips in between.
const ABSENT_MARKS: &str = "absent_order_marks";

/// The marker an insert's failed condition met (`ALL_OLD`), if the item it met is one.
fn absent_marker(e: &aws_sdk_dynamodb::error::SdkError<PutItemError>) -> Option<Item> {
    match e.as_service_error() {
        Some(PutItemError::ConditionalCheckFailedException(c)) => c
            .item()
            .filter(|old| old.contains_key(ABSENT_MARKS))
            .cloned(),
        _ => None,
    }
}

impl OrdersTable {
    /// Puts `item` (a new order) over an absent-order marker, with the marker's events applied;
    /// the condition is the marker as read, so a record made meanwhile makes it read again.
    async fn replace_absent_marker(
        &self,
        mut item: Item,
        mut marker: Item,
    ) -> Result<InsertOutcome, StoreError> {
        for _ in 0..3 {
            let mut events: Vec<String> = match item.get("applied_events") {
                Some(AttributeValue::Ss(own)) => own.clone(),
                _ => Vec::new(),
            };
            if let Some(AttributeValue::Ss(answered)) = marker.get("applied_events") {
                events.extend(answered.iter().cloned());
            }
            events.sort_unstable();
            events.dedup();
            if !events.is_empty() {
                item.insert("applied_events".into(), AttributeValue::Ss(events));
            }
            let marks = marker
                .get(ABSENT_MARKS)
                .cloned()
                .unwrap_or_else(|| AttributeValue::N("0".into()));
            let res = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression("#marks = :marks")
                .expression_attribute_names("#marks", ABSENT_MARKS)
                .expression_attribute_values(":marks", marks)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match res {
                Ok(_) => return Ok(InsertOutcome::Inserted),
                Err(e) if is_condition_failed_put(&e) => match absent_marker(&e) {
                    Some(again) => marker = again,
                    // An order took the id meanwhile (or this very put, its answer lost).
                    None => return Ok(InsertOutcome::AlreadyExists),
                },
                Err(e) => return Err(backend("put order over its absent marker", e)),
            }
        }
        Err(StoreError::Retry(
            "events for this order id kept being recorded; retry".into(),
        ))
    }
}

impl OrderStore for OrdersTable {
    async fn insert_new(&self, order: &Order) -> Result<InsertOutcome, StoreError> {
        let item = order_to_item(order);
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression("attribute_not_exists(order_id)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let marker = match res {
            Ok(_) => return Ok(InsertOutcome::Inserted),
            Err(e) if is_condition_failed_put(&e) => match absent_marker(&e) {
                Some(marker) => marker,
                None => return Ok(InsertOutcome::AlreadyExists),
            },
            Err(e) => return Err(backend("put order", e)),
        };
        self.replace_absent_marker(item, marker).await
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        get_consistent(&self.client, &self.table, key(id), "get order")
            .await?
            .filter(|item| !item.contains_key(ABSENT_MARKS))
            .as_ref()
            .map(order_from_item)
            .transpose()
    }

    async fn record_event_for_absent_order(
        &self,
        id: &OrderId,
        event_id: &EventId,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .update_expression("ADD #applied :applied, #marks :one")
            .condition_expression("attribute_not_exists(order_id) OR attribute_exists(#marks)")
            .expression_attribute_names("#applied", "applied_events")
            .expression_attribute_names("#marks", ABSENT_MARKS)
            .expression_attribute_values(":applied", AttributeValue::Ss(vec![event_id.to_string()]))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await;
        applied(
            res,
            UpdateItemError::is_conditional_check_failed_exception,
            "record event for absent order",
        )
    }

    async fn transition(&self, w: TransitionWrite<'_>) -> Result<TransitionOutcome, StoreError> {
        let (update, condition, names, values) = transition_expression(&w);
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(w.order_id)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => {
                let item = out
                    .attributes()
                    .ok_or_else(|| StoreError::Backend("update returned no attributes".into()))?;
                Ok(TransitionOutcome::Applied(Box::new(order_from_item(item)?)))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Ok(TransitionOutcome::NotApplied)
            }
            Err(e) => Err(backend("transition order", e)),
        }
    }

    async fn clear_outbox(&self, id: &OrderId, outbox: &Outbox) -> Result<bool, StoreError> {
        // Only the outbox that was published: nothing appended since (same length).
        let n = i64::try_from(outbox.events.len()).unwrap_or(i64::MAX);
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .update_expression("REMOVE outbox_events, outbox_id, outbox_pending, outbox_since")
            .condition_expression("outbox_id = :id AND size(outbox_events) = :n")
            .expression_attribute_values(":id", s(first_id(outbox)))
            .expression_attribute_values(":n", super::n(n))
            .send()
            .await;
        let cleared = applied(
            res,
            UpdateItemError::is_conditional_check_failed_exception,
            "clear outbox",
        )?;
        // Counted here, where each outbox is cleared once, not at every publish: a republish
        // (the sweeper's, a retried request's) would count the same transition again.
        if cleared {
            crate::metrics::cleared(&outbox.events);
        }
        Ok(cleared)
    }

    async fn requeue_outbox(
        &self,
        id: &OrderId,
        outbox: &Outbox,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .update_expression("SET outbox_since = :at")
            .condition_expression("outbox_id = :id")
            .expression_attribute_values(":id", s(first_id(outbox)))
            .expression_attribute_values(":at", s(ts(at)))
            .send()
            .await;
        applied(
            res,
            UpdateItemError::is_conditional_check_failed_exception,
            "requeue outbox",
        )
    }

    async fn delete_unpublished(
        &self,
        id: &OrderId,
        event_id: &EventId,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .condition_expression("outbox_id = :id AND #status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":id", s(event_id.as_str()))
            .expression_attribute_values(":pending", s(OrderStatus::Pending.as_str()))
            .send()
            .await;
        applied(
            res,
            DeleteItemError::is_conditional_check_failed_exception,
            "delete unpublished order",
        )
    }

    async fn stale_pending(
        &self,
        older_than: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OrderId>, StoreError> {
        self.ids_up_to(
            PENDING_INDEX,
            "pending_order",
            "created_at",
            older_than,
            limit,
        )
        .await
    }

    async fn stale_outbox(
        &self,
        older_than: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OrderId>, StoreError> {
        self.ids_up_to(
            OUTBOX_INDEX,
            "outbox_pending",
            "outbox_since",
            older_than,
            limit,
        )
        .await
    }

    async fn list_for_customer(
        &self,
        customer: &CustomerId,
        limit: u32,
        after: Option<&PageCursor>,
    ) -> Result<OrderPage, StoreError> {
        super::order_list::page(&self.client, &self.table, customer, limit, after).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::order_item::index_key;
    use super::*;
    use orders_domain::{CustomerId, Event, HistoryEntry};
    use orders_domain::{OrderLine, Sku, Trigger};

    fn order() -> Order {
        let mut o = Order::new_pending(
            OrderId::random(),
            CustomerId::parse("c-1").unwrap(),
            vec![OrderLine {
                sku: Sku::parse("A").unwrap(),
                quantity: 3,
            }],
            "abc".into(),
            orders_domain::ports::Clock::now(&orders_domain::ports::SystemClock),
        );
        let status = Event::status_changed(
            &o.order_id,
            &o.customer_id,
            OrderStatus::Pending,
            None,
            o.created_at,
        );
        o.outbox = Some(Outbox::new(
            vec![Event::order_placed(&o, o.created_at), status],
            o.created_at,
        ));
        o
    }

    #[test]
    fn order_item_round_trips() {
        let mut o = order();
        assert_eq!(order_from_item(&order_to_item(&o)).unwrap(), o);
        o.outbox = None;
        o.applied_events = vec![EventId::for_order_event(&o.order_id, "InventoryReserved")];
        o.history.push(HistoryEntry {
            status: OrderStatus::Confirmed,
            at: o.created_at,
            reason: Some("r".into()),
            event_id: Some(o.applied_events[0].clone()),
        });
        o.status = OrderStatus::Confirmed;
        let item = order_to_item(&o);
        assert!(!item.contains_key("outbox_pending"));
        assert!(
            !item.contains_key("pending_order"),
            "only PENDING orders are in that index"
        );
        assert_eq!(order_from_item(&item).unwrap(), o);
    }

    #[test]
    fn orders_spread_over_every_index_key_value_and_keep_theirs() {
        let mut per_value = std::collections::HashMap::<String, usize>::new();
        for _ in 0..1600 {
            let id = OrderId::random();
            assert_eq!(index_key(&id), index_key(&id), "stable");
            *per_value.entry(index_key(&id)).or_default() += 1;
        }
        assert_eq!(per_value.len(), INDEX_PARTITIONS as usize);
        // 100 expected per value: none far off, so no value is an index's hot partition.
        assert!(
            per_value.values().all(|&n| (50..=150).contains(&n)),
            "{per_value:?}"
        );
        let fixed = OrderId::parse("0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11").unwrap();
        // Pinned: a different hash would strand the index entries of orders in flight.
        assert_eq!(index_key(&fixed), "1");
    }

    #[test]
    fn outbox_attributes_feed_the_sparse_index() {
        let o = order();
        let item = order_to_item(&o);
        let key = s(index_key(&o.order_id));
        assert_eq!(item["outbox_pending"], key);
        assert_eq!(
            item["pending_order"], key,
            "a new order is in the pending index"
        );
        let ob = o.outbox.unwrap();
        assert_eq!(item["outbox_id"], s(ob.events[0].id.as_str()));
        let parsed: Vec<Event> = item["outbox_events"]
            .as_l()
            .unwrap()
            .iter()
            .map(|v| serde_json::from_str(v.as_s().unwrap()).unwrap())
            .collect();
        assert_eq!(parsed, ob.events, "in publishing order");
    }

    #[test]
    fn transition_expressions() {
        let o = order();
        let id = EventId::for_order_event(&o.order_id, "InventoryReserved");
        let entry = HistoryEntry {
            status: OrderStatus::Confirmed,
            at: o.created_at,
            reason: None,
            event_id: Some(id.clone()),
        };
        let w = TransitionWrite {
            order_id: &o.order_id,
            trigger: Trigger::InventoryReserved,
            entry: entry.clone(),
            applied_event: Some(&id),
            outbox: None,
            at: o.created_at,
        };
        let (update, cond, names, values) = transition_expression(&w);
        assert_eq!(update, "SET #status = :to, #updated = :now, #history = list_append(#history, :entry) ADD #applied :applied REMOVE #pending_order");
        assert_eq!(
            names["#pending_order"], "pending_order",
            "leaves the pending index"
        );
        assert_eq!(
            cond,
            "#status IN (:from0) AND NOT contains(#applied, :event_id)"
        );
        assert_eq!(values[":from0"], s("PENDING"));
        assert_eq!(values[":to"], s("CONFIRMED"));
        assert_eq!(names["#applied"], "applied_events");

        let ob = o.outbox.clone().unwrap();
        let w = TransitionWrite {
            trigger: Trigger::Cancel,
            applied_event: None,
            outbox: Some(&ob),
            ..w
        };
        let (update, cond, names, values) = transition_expression(&w);
        assert!(
            update.contains("#outbox_pending = :outbox_pending"),
            "{update}"
        );
        // Appended to a pending outbox, whose first id and age are kept.
        assert!(
            update.contains(
                "#outbox_events = list_append(if_not_exists(#outbox_events, :no_events), :outbox_events)"
            ),
            "{update}"
        );
        assert!(
            update.contains("#outbox_id = if_not_exists(#outbox_id, :outbox_id)"),
            "{update}"
        );
        assert!(
            update.contains("#outbox_since = if_not_exists(#outbox_since, :outbox_since)"),
            "{update}"
        );
        assert!(!update.contains("ADD"));
        assert_eq!(cond, "#status IN (:from0, :from1)");
        assert_eq!(values[":from1"], s("CONFIRMED"));
        assert_eq!(names["#outbox_since"], "outbox_since");
        // Every placeholder used is defined, and every one defined is used.
        for k in names.keys().chain(values.keys()) {
            assert!(
                update.contains(k.as_str()) || cond.contains(k.as_str()),
                "{k} unused"
            );
        }
    }
}
