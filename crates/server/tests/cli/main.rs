//! End-to-end tests of the `tessera` server (its application in-process, or the binary
//! where a process is under test) on loopback, and the admin commands, against SQLite and
//! a throwaway PostgreSQL.

// Not a public API, and a panic here is a failing run.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

/// Declares a module `$name` with the tests `on_sqlite` and `on_postgres`, each running
/// `$body(env)` on a fresh environment (the PostgreSQL one on a throwaway database;
/// skipped outside CI when PostgreSQL is not installed).
macro_rules! on_both_backends {
    ($(#[$doc:meta])* $name:ident, $body:ident) => {
        $(#[$doc])*
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$body(crate::harness::Env::sqlite()).await;
            }

            on_postgres!(on_postgres, super::$body);
        }
    };
}

/// Declares the test `$name`, running `$body(env)` on a throwaway PostgreSQL database
/// (skipped outside CI when PostgreSQL is not installed).
macro_rules! on_postgres {
    ($(#[$doc:meta])* $name:ident, $body:path) => {
        $(#[$doc])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            if let Some(env) = crate::harness::Env::postgres().await {
                $body(env).await;
            }
        }
    };
}

mod admin;
mod admin_api;
mod admin_console;
mod browser;
mod caddy;
mod client;
mod console;
mod credentials;
mod examples;
mod fake_op;
mod gateway;
mod hardening;
mod harness;
mod in_process;
mod login;
mod nginx;
mod observability;
mod oidc;
mod oidc_provider;
mod operations;
mod probe;
mod rate_limits;
mod schemathesis;
mod serve;
mod tcp;
mod upstream;
