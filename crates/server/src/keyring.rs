//! `tessera key rotate | list | retire`: the server's key ring, managed in its key file.
//! Servers reading that file put a change in force within two seconds.

use anyhow::{Context, bail};
use tessera::config::{Config, ConfigDuration};
use tessera::keyfile;
use tessera_core::Timestamp;
use tessera_core::keys::{KeyRing, KeyState, Keys, RingKey};

use crate::cli::KeyCommand;

/// `tessera key ...`.
pub async fn key(config: &Config, command: KeyCommand) -> anyhow::Result<()> {
    if std::env::var_os("TESSERA_SECRET_KEY").is_some() {
        bail!(
            "the key ring comes from TESSERA_SECRET_KEY: manage it there (lines `ACTIVATES_AT KEY`, newest first), or unset it to use the key file"
        );
    }
    match command {
        KeyCommand::List { json } => list(config, json).await,
        KeyCommand::Rotate { activate_in } => rotate(config, activate_in.as_deref()).await,
        KeyCommand::Retire { id, force } => retire(config, &id, force).await,
    }
}

/// The ring in the key file, creating the file (as `serve` would) when there is none.
fn load(config: &Config) -> anyhow::Result<(KeyRing, std::path::PathBuf)> {
    keyfile::ensure_data_dir(config)?;
    let (ring, _) = keyfile::load_or_create(config)?;
    Ok((ring, keyfile::key_path(config)))
}

async fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let (ring, _) = load(config)?;
    let now = Timestamp::now();
    let rows: Vec<(String, KeyState, Timestamp)> = ring
        .keys()
        .iter()
        .enumerate()
        .map(|(i, k)| (k.key.id(), ring.state(i, now), k.activates_at))
        .collect();
    if json {
        let out: Vec<serde_json::Value> = rows
            .iter()
            .map(|(id, state, at)| {
                serde_json::json!({"id": id, "state": state.as_str(), "activates_at": at})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{:<10} {:<9} SEALS FROM", "ID", "STATE");
    for (id, state, at) in rows {
        let from = if at.unix() == 0 {
            "always".to_owned()
        } else {
            at.to_string()
        };
        println!("{id:<10} {:<9} {from}", state.as_str());
    }
    Ok(())
}

async fn rotate(config: &Config, activate_in: Option<&str>) -> anyhow::Result<()> {
    let (mut ring, path) = load(config)?;
    let delay = activate_in
        .map(ConfigDuration::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--activate-in: {e}"))?
        .map_or(std::time::Duration::ZERO, |d| d.0);
    let now = Timestamp::now();
    let previous = ring.keys()[ring.sealing_index(now)].key.id();
    // Never earlier than the newest key already in the ring (a pending one included).
    let at = now.plus(delay).max(ring.keys()[0].activates_at);
    let key = RingKey::generate(at);
    let id = key.key.id();
    ring.rotate(key)?;
    keyfile::write_ring(&path, &ring)?;
    if at <= now {
        println!("added key {id}: it seals from now on");
    } else {
        println!("added key {id}: it seals from {at}, and opens from now on");
    }
    println!(
        "servers reading {} put it in force within {} s; {previous} keeps opening what it sealed until `tessera key retire {previous}`",
        path.display(),
        keyfile::WATCH_INTERVAL.as_secs()
    );
    Ok(())
}

async fn retire(config: &Config, id: &str, force: bool) -> anyhow::Result<()> {
    let (ring, path) = load(config)?;
    let Some(index) = ring.find(id) else {
        bail!(
            "no key {id} in {}: `tessera key list` shows the ring",
            path.display()
        );
    };
    let now = Timestamp::now();
    if ring.state(index, now) == KeyState::Sealing {
        bail!(
            "{id} is the key that seals now: `tessera key rotate` first, and retire {id} once nothing needs it"
        );
    }
    let mut without = ring.clone();
    without.remove(index)?;
    // What the key sealed before its successor took over, for a key that ever sealed.
    let sealed_until = match ring.state(index, now) {
        KeyState::Previous => ring.superseded_at(index),
        _ => None,
    };

    // Client secrets the retiring key sealed are first sealed again under the current key
    // (as a server does in the background); what remains would be lost.
    let auth = tessera::Tessera::builder()
        .config(config.clone())
        .maintenance(false)
        .keys(Keys::new(ring.clone()))
        .build()
        .await?
        .authenticator()
        .clone();
    auth.reseal_client_secrets()
        .await
        .context("cannot seal the client secrets again")?;
    let after = tessera::Tessera::builder()
        .config(config.clone())
        .maintenance(false)
        .keys(Keys::new(without.clone()))
        .build()
        .await?
        .authenticator()
        .clone();
    // Secrets no key opened before are not lost by this retirement.
    let secrets_lost = after
        .unreadable_client_secrets()
        .await?
        .saturating_sub(auth.unreadable_client_secrets().await?);

    // Sign-in sessions opened while the key sealed may carry a cookie only it opens,
    // unless their cookie was sealed again under a newer key since (a use through
    // Tessera's own endpoints or the gateway does that).
    let (sessions, last_end) = match sealed_until {
        Some(until) => {
            auth.accounts()
                .store()
                .sessions_sealed_before(until, now)
                .await?
        }
        None => (0, None),
    };
    if (sessions > 0 || secrets_lost > 0) && !force {
        let mut lost = Vec::new();
        if sessions > 0 {
            lost.push(format!(
                "log out {sessions} session(s) whose cookie only {id} opens (not used since it was replaced; the last ends {})",
                last_end.map_or_else(String::new, |t| t.to_string())
            ));
        }
        if secrets_lost > 0 {
            lost.push(format!(
                "leave {secrets_lost} client secret(s) unreadable (they keep authenticating; their owners would rotate them to see them)"
            ));
        }
        bail!(
            "retiring {id} would {}: wait for those sessions to be used or to end, or pass --force",
            lost.join(" and ")
        );
    }
    keyfile::write_ring(&path, &without)?;
    println!(
        "retired {id}{}",
        if sessions > 0 || secrets_lost > 0 {
            format!(
                " (forced: {sessions} session(s) logged out, {secrets_lost} client secret(s) unreadable)"
            )
        } else {
            String::new()
        }
    );
    Ok(())
}
