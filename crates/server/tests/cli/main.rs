//! End-to-end tests of the `tessera` binary: the server started for real on loopback, and
//! the admin commands, against SQLite and a throwaway PostgreSQL.

mod admin;
mod client;
mod credentials;
mod gateway;
mod hardening;
mod harness;
mod login;
mod nginx;
mod probe;
mod serve;
mod upstream;
