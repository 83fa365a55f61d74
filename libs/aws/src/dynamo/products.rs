//! The Products table as the API uses it: read stock, create a product, set its stock under a
//! version precondition, adjust it by a delta. Every write bumps `version`; reservations (in
//! `inventory`) bump it too.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use orders_domain::ports::{Product, ProductStore, StockWrite, StoreError};
use orders_domain::Sku;

use super::{backend, get_consistent, key1, n, s, ts, Item, Reader};

/// The Products table as the API uses it (set and read stock).
#[derive(Debug, Clone)]
pub struct ProductsTable {
    client: Client,
    table: String,
}

impl ProductsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        ProductsTable {
            client,
            table: table.into(),
        }
    }
}

fn product_from_item(item: &Item) -> Result<Product, StoreError> {
    let key = match item.get("sku") {
        Some(AttributeValue::S(k)) => k.as_str(),
        _ => "?",
    };
    let r = Reader::new(item, key);
    Ok(Product {
        sku: Sku::parse(key).map_err(|e| r.corrupt(e.to_string()))?,
        available: r.n("available")?,
        reserved: r.opt_n("reserved")?.unwrap_or(0),
        version: r.opt_n("version")?.unwrap_or(0),
        updated_at: r.time("updated_at")?,
    })
}

impl ProductsTable {
    /// One conditional update of a product (`ALL_NEW` on success); when its condition fails,
    /// the product as it is now decides between `Refused` and `NotFound`.
    async fn conditional_update(
        &self,
        sku: &Sku,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        op: &str,
    ) -> Result<StockWrite, StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("sku", s(sku.as_str()))
            .update_expression(update)
            .condition_expression(condition)
            .return_values(ReturnValue::AllNew);
        for (name, attr) in [
            ("#a", "available"),
            ("#r", "reserved"),
            ("#v", "version"),
            ("#u", "updated_at"),
        ] {
            if update.contains(name) || condition.contains(name) {
                req = req.expression_attribute_names(name, attr);
            }
        }
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        let res = req.send().await;
        let written = match res {
            Ok(out) => out.attributes,
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                None
            }
            Err(e) => return Err(backend(op, e)),
        };
        match written {
            Some(item) => Ok(StockWrite::Written(product_from_item(&item)?)),
            None => Ok(match self.get(sku).await? {
                Some(current) => StockWrite::Refused(current),
                None => StockWrite::NotFound,
            }),
        }
    }
}

impl ProductStore for ProductsTable {
    async fn create(
        &self,
        sku: &Sku,
        available: u64,
        at: DateTime<Utc>,
    ) -> Result<StockWrite, StoreError> {
        self.conditional_update(
            sku,
            "SET #a = :a, #r = :zero, #v = :one, #u = :u",
            "attribute_not_exists(sku)",
            vec![
                (":a", n(available)),
                (":zero", n(0)),
                (":one", n(1)),
                (":u", s(ts(at))),
            ],
            "create product",
        )
        .await
    }

    async fn set_if_version(
        &self,
        sku: &Sku,
        available: u64,
        version: u64,
        at: DateTime<Utc>,
    ) -> Result<StockWrite, StoreError> {
        // Items written before versions existed read as version 0.
        let condition = if version == 0 {
            "attribute_exists(sku) AND attribute_not_exists(#v)"
        } else {
            "#v = :expected"
        };
        let mut values = vec![(":a", n(available)), (":one", n(1)), (":u", s(ts(at)))];
        if version != 0 {
            values.push((":expected", n(version)));
        }
        self.conditional_update(
            sku,
            "SET #a = :a, #u = :u ADD #v :one",
            condition,
            values,
            "set stock",
        )
        .await
    }

    async fn adjust(
        &self,
        sku: &Sku,
        delta: i64,
        at: DateTime<Utc>,
    ) -> Result<StockWrite, StoreError> {
        let mut values = vec![(":d", n(delta)), (":one", n(1)), (":u", s(ts(at)))];
        let condition = if delta < 0 {
            values.push((":need", n(delta.unsigned_abs())));
            "attribute_exists(sku) AND #a >= :need"
        } else {
            "attribute_exists(sku)"
        };
        self.conditional_update(
            sku,
            "SET #u = :u ADD #a :d, #v :one",
            condition,
            values,
            "adjust stock",
        )
        .await
    }

    async fn get(&self, sku: &Sku) -> Result<Option<Product>, StoreError> {
        get_consistent(
            &self.client,
            &self.table,
            key1("sku", sku.as_str()),
            "get product",
        )
        .await?
        .as_ref()
        .map(product_from_item)
        .transpose()
    }
}
