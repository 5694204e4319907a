//! The Tessera server: the application built on the `tessera` library ([`app::App`]),
//! the listener, and the admin commands. The `tessera` binary is a thin
//! `main` over this crate, and tests build the same application in-process.

pub mod admin;
pub mod app;
pub mod backup;
pub mod cli;
pub mod credentials;
pub mod keyring;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod move_to;
pub mod sched;
pub mod serve;
