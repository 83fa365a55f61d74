//! The port contract suites (`orders_domain::testing::contract`) against the DynamoDB
//! adapters on LocalStack: the same cases the in-memory twins pass in
//! `cargo test -p orders-domain`. Each case gets its own uniquely named tables.
#![cfg(feature = "localstack-tests")]

mod support;

use support::*;

mod orders {
    use super::*;
    orders_domain::store_contract!(orders, orders_table().await);
}

mod products {
    use super::*;
    orders_domain::store_contract!(products, inventory().await);
}

mod inventory {
    use super::*;
    orders_domain::store_contract!(inventory, inventory().await);
}

mod notifications {
    use super::*;
    orders_domain::store_contract!(notifications, notifications_table().await);
}
