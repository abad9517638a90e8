//! The local AWS endpoint as a library: the binary `local-cloud` serves [`server::router`], and
//! the conformance tests start the same router in-process.

pub mod control;
pub mod faults;
pub mod forward;
pub mod own;
pub mod protocol;
pub mod record;
pub mod server;
