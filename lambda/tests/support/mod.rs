//! Shared setup for the integration tests and the benchmark.
#![allow(dead_code)]

mod common;
pub mod proxy;
pub mod runtime;

pub use common::*;
