//! The configuration parser (TOML, environment overlay, validation): any input gives a
//! configuration or a one-line error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/server/src/config/mod.rs"]
#[allow(dead_code)]
mod config;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (file, env) = s.split_once('\0').unwrap_or((s, ""));
    let dir = std::env::temp_dir().join(format!("tessera-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("config.toml");
    if std::fs::write(&path, file).is_err() {
        return;
    }
    let vars: Vec<(String, String)> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (format!("TESSERA_{k}"), v.to_owned()))
        .collect();
    if let Err(e) = config::Config::load_from(Some(&path), &vars) {
        assert!(!e.0.contains('\n'), "multi-line error: {e}");
    }
});
