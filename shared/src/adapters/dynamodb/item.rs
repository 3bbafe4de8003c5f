//! Attribute helpers: typed reads that report a malformed item as corrupt.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::ports::{StoreError, StoreResult};

pub type Item = HashMap<String, AttributeValue>;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn get_s(item: &Item, name: &str) -> StoreResult<String> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} missing or not a string")))
}

pub(super) fn get_opt_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

pub(super) fn get_n(item: &Item, name: &str) -> StoreResult<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} missing or not a number")))
}

pub(super) fn b(v: bool) -> AttributeValue {
    AttributeValue::Bool(v)
}

/// A boolean attribute; absent reads as `false` (items written before it existed).
pub(super) fn get_flag(item: &Item, name: &str) -> bool {
    item.get(name).and_then(|v| v.as_bool().ok()).copied().unwrap_or(false)
}

pub(super) fn get_opt_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}
