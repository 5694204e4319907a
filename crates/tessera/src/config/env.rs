//! Reading the TOML file and overlaying `TESSERA_<SECTION>__<KEY>` variables, with errors
//! that name the key (and the variable).

use super::{Config, ConfigError, ENV_PREFIX, err};

/// Parses TOML, reporting a syntax error as one line with its line number.
pub(super) fn parse_toml(text: &str) -> Result<toml::Table, String> {
    text.parse::<toml::Table>().map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let msg = e.message().trim().replace('\n', " ");
        match line {
            Some(l) => format!("line {l}: {msg}"),
            None => msg,
        }
    })
}

/// An environment override applied to the table: its dotted key and variable name.
pub(super) struct Override {
    key: String,
    var: String,
    raw: String,
}

/// Applies `TESSERA_<SECTION>__<KEY>=value`. Values are read as TOML when they parse as
/// such (`true`, `12`, `["a", "b"]`) and as strings otherwise; [`deserialize`] retries
/// as a string (or comma-separated list) when the guess was wrong for the key.
pub(super) fn overlay_env(
    table: &mut toml::Table,
    env: &[(String, String)],
) -> Result<Vec<Override>, ConfigError> {
    let mut applied = Vec::new();
    for (var, value) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        if section.is_empty() || key.is_empty() || key.contains("__") {
            return err(format!("{var}: expected TESSERA_<SECTION>__<KEY>"));
        }
        if section == "rules" {
            return err(format!(
                "{var}: [[rules]] can only be set in the config file"
            ));
        }
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = entry.as_table_mut() else {
            return err(format!("{var}: `{section}` is not a section"));
        };
        section_table.insert(key.clone(), guess_value(value));
        applied.push(Override {
            key: format!("{section}.{key}"),
            var: var.clone(),
            raw: value.clone(),
        });
    }
    Ok(applied)
}

fn guess_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

pub(super) fn deserialize(
    mut table: toml::Table,
    overrides: &[Override],
) -> Result<Config, ConfigError> {
    // Each retry changes the representation of one overridden key, so this ends.
    for _ in 0..=overrides.len() * 2 {
        let value = toml::Value::Table(table.clone());
        let error = match serde_path_to_error::deserialize::<_, Config>(value) {
            Ok(config) => return Ok(config),
            Err(e) => e,
        };
        let path = error.path().to_string();
        let inner = error.into_inner().to_string();
        let mut message = inner.trim().replace('\n', " ");
        // toml appends where the error was (` in `session.idle_timeout``); the key is named
        // separately below.
        if let Some(at) = message.rfind(" in `")
            && message.ends_with('`')
        {
            message.truncate(at);
        }
        // `unknown field `x`, expected ...` is reported at the parent: name the full key.
        let (key, message) = match message.strip_prefix("unknown field `") {
            Some(rest) => {
                let field = rest.split('`').next().unwrap_or_default();
                let full = if path == "." || path.is_empty() {
                    field.to_owned()
                } else if path == field || path.ends_with(&format!(".{field}")) {
                    path.clone()
                } else {
                    format!("{path}.{field}")
                };
                let expected = rest
                    .split_once(", expected ")
                    .map(|(_, e)| e)
                    .unwrap_or_default();
                (full, format!("unknown key (expected {expected})"))
            }
            None => (path, message),
        };
        let Some(o) = overrides.iter().find(|o| o.key == key) else {
            return err(format!("{key}: {message}"));
        };
        // Retry the override as a plain string, then as a comma-separated list.
        // `overlay_env` always writes the key as `section.key`; should it not, the error is
        // reported as is.
        let Some((section, field)) = o.key.split_once('.') else {
            return err(format!("{key} (from {}): {message}", o.var));
        };
        let slot = table
            .get_mut(section)
            .and_then(toml::Value::as_table_mut)
            .and_then(|t| t.get_mut(field));
        match slot {
            Some(v) if !v.is_str() && !v.is_array() && !v.is_table() => {
                *v = toml::Value::String(o.raw.clone());
            }
            Some(v) if v.is_str() && message.contains("a sequence") => {
                *v = toml::Value::Array(
                    o.raw
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_owned()))
                        .collect(),
                );
            }
            _ => return err(format!("{key} (from {}): {message}", o.var)),
        }
    }
    err("configuration: could not be read")
}
