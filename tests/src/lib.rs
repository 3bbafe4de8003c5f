//! Helpers for the cross-crate tests: a local gateway on loopback with a fresh data dir, a
//! DynamoDB store on moto with fresh tables, and forged tokens for the negative tests.

pub mod gateway;
pub mod moto;
pub mod tokens;
