//! Structured logs on stderr: human-readable text, or one JSON object per line.

use std::io::IsTerminal;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use crate::cli::LogFormat;

/// `RUST_LOG` (e.g. `info,tessera_store=debug`) overrides the default level: `info` for
/// the server, `warn` for admin commands so their output stays clean.
pub fn init(format: LogFormat, serving: bool) {
    let default = if serving {
        LevelFilter::INFO
    } else {
        LevelFilter::WARN
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(default));
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
