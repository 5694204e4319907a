//! Structured logs on stderr: human-readable text, or one JSON object per line.

use std::io::IsTerminal;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use crate::cli::LogFormat;

/// The level comes from `RUST_LOG` (e.g. `info,tessera_store=debug`) when set, else from
/// `level` (`log.level`) for the server and `warn` for admin commands, so that their
/// output stays clean. Lines logged while serving a request carry its id (the `request`
/// span).
pub fn init(format: LogFormat, level: &str, serving: bool) {
    let configured = if serving { level } else { "warn" };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|s| s.parse::<Targets>().ok())
        .or_else(|| configured.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let registry = tracing_subscriber::registry().with(filter);
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Json => registry.with(layer.json().flatten_event(true)).init(),
        LogFormat::Text | LogFormat::Auto => {
            registry
                .with(layer.with_ansi(std::io::stderr().is_terminal()))
                .init();
        }
    }
}
