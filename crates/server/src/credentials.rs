//! Admin commands for credentials: personal access tokens, API keys, client secrets and
//! sessions. Secret values are printed only by the commands that create or show them, on stdout alone.

use anyhow::{Context, bail};
use tessera_core::Authenticator;
use tessera_core::store::Owned;

use crate::cli::{ApikeyCommand, ClientSecretCommand, SessionCommand, TokenCommand};
use tessera::config::{Config, ConfigDuration};

async fn authenticator(config: &Config) -> anyhow::Result<Authenticator> {
    crate::app::authenticator(config).await
}

fn scopes(list: Vec<String>) -> Option<Vec<String>> {
    (!list.is_empty()).then_some(list)
}

async fn owner(auth: &Authenticator, what: Owned, id: &str) -> anyhow::Result<tessera_core::User> {
    let user = auth.accounts().owner_of(what, id).await?;
    user.with_context(|| format!("no such id `{id}`"))
}

/// `tessera token ...`: creates (printing the value once, on stdout), lists and revokes
/// personal access tokens. Fails on an unknown login or id, a scope the user does not
/// hold, a bad `--expires-in`, or a token already revoked.
pub async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    let auth = authenticator(config).await?;
    match command {
        TokenCommand::Create {
            login,
            name,
            scopes: s,
            expires_in,
        } => {
            let user = auth.accounts().find(&login).await?;
            let perms = auth.accounts().permissions_of(&user).await?;
            let lifetime = expires_in
                .map(|d| ConfigDuration::parse(&d).map(|d| d.0))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--expires-in: {e}"))?;
            let (pat, token) = auth
                .create_pat(&user, &perms, &name, scopes(s), lifetime)
                .await?;
            eprintln!(
                "created token {} for {} (expires {})",
                pat.id, user.login, pat.expires_at
            );
            println!("{}", token.expose());
        }
        TokenCommand::List { login, json } => {
            let user = auth.accounts().find(&login).await?;
            let pats = auth.list_pats(&user).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&pats)?);
            } else {
                println!("{:28}  {:20}  {:20}  SCOPES", "ID", "NAME", "EXPIRES");
                for p in &pats {
                    let sc = p
                        .scopes
                        .as_ref()
                        .map_or("(all)".to_owned(), |s| s.join(" "));
                    println!(
                        "{:28}  {:20}  {:20}  {sc}",
                        p.id,
                        p.name,
                        p.expires_at.to_string()
                    );
                }
            }
        }
        TokenCommand::Revoke { id } => {
            let user = owner(&auth, Owned::PersonalToken, &id).await?;
            if !auth.revoke_pat(&user, &id).await? {
                bail!("token `{id}` is already revoked");
            }
            println!("revoked token {id} of {}", user.login);
        }
    }
    Ok(())
}

/// `tessera apikey ...`: creates (printing the key id and secret once, on stdout), lists
/// and deletes API keys; deleting one ends the sessions opened with it. Fails on an
/// unknown login or id, a scope the user does not hold, or a key already deleted.
pub async fn apikey(config: &Config, command: ApikeyCommand) -> anyhow::Result<()> {
    let auth = authenticator(config).await?;
    match command {
        ApikeyCommand::Create {
            login,
            name,
            scopes: s,
        } => {
            let user = auth.accounts().find(&login).await?;
            let perms = auth.accounts().permissions_of(&user).await?;
            let (key, secret) = auth.create_api_key(&user, &perms, &name, scopes(s)).await?;
            eprintln!(
                "created API key for {} (the secret is shown only now)",
                user.login
            );
            println!("api_key: {}", key.id);
            println!("api_secret: {}", secret.expose());
        }
        ApikeyCommand::List { login, json } => {
            let user = auth.accounts().find(&login).await?;
            let keys = auth.list_api_keys(&user).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!("{:28}  {:20}  SCOPES", "API KEY", "NAME");
                for k in &keys {
                    let sc = k
                        .scopes
                        .as_ref()
                        .map_or("(all)".to_owned(), |s| s.join(" "));
                    println!("{:28}  {:20}  {sc}", k.id, k.name);
                }
            }
        }
        ApikeyCommand::Delete { id } => {
            let user = owner(&auth, Owned::ApiKey, &id).await?;
            if !auth.delete_api_key(&user, &id).await? {
                bail!("API key `{id}` is already deleted");
            }
            println!(
                "deleted API key {id} of {}; its sessions have ended",
                user.login
            );
        }
        ApikeyCommand::Disable { id } => toggle_key(&auth, &id, true).await?,
        ApikeyCommand::Enable { id } => toggle_key(&auth, &id, false).await?,
    }
    Ok(())
}

/// `tessera apikey disable|enable ID`.
async fn toggle_key(auth: &Authenticator, id: &str, disable: bool) -> anyhow::Result<()> {
    let user = owner(auth, Owned::ApiKey, id).await?;
    if !auth.set_api_key_disabled(&user, id, disable).await? {
        bail!("API key `{id}` is deleted");
    }
    if disable {
        println!(
            "disabled API key {id} of {}; its sessions have ended",
            user.login
        );
    } else {
        println!("enabled API key {id} of {}", user.login);
    }
    Ok(())
}

/// `tessera client-secret show|rotate`: prints a user's client secret on stdout (`show`
/// generates one when there is none or it expired; `rotate` always replaces it), and its
/// expiry on stderr.
pub async fn client_secret(config: &Config, command: ClientSecretCommand) -> anyhow::Result<()> {
    let auth = authenticator(config).await?;
    let (login, rotate) = match command {
        ClientSecretCommand::Show { login } => (login, false),
        ClientSecretCommand::Rotate { login } => (login, true),
    };
    let user = auth.accounts().find(&login).await?;
    let s = if rotate {
        auth.rotate_client_secret(&user).await?
    } else {
        auth.client_secret(&user).await?
    };
    eprintln!("client secret of {} (expires {})", user.login, s.expires_at);
    println!("{}", s.secret);
    Ok(())
}

/// `tessera session list|revoke`: lists live sessions (of one user or of everyone), or
/// ends one session by id or every session of a user. Ending an unknown or already
/// ended session is an error.
pub async fn session(config: &Config, command: SessionCommand) -> anyhow::Result<()> {
    let auth = authenticator(config).await?;
    let accounts = auth.accounts();
    match command {
        SessionCommand::List { login, json } => {
            let users = match login {
                Some(l) => vec![accounts.find(&l).await?],
                None => accounts.list_users().await?,
            };
            let mut rows = Vec::new();
            for u in &users {
                for s in accounts.sessions_of(u).await? {
                    rows.push((u.login.clone(), s));
                }
            }
            if json {
                let v: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|(login, s)| {
                        serde_json::json!({
                            "id": s.id, "login": login, "kind": s.kind.as_str(),
                            "created_at": s.created_at, "last_seen_at": s.last_seen_at,
                            "expires_at": s.expires_at, "idle_expires_at": s.idle_expires_at,
                            "ip": s.ip, "user_agent": s.user_agent,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{:22}  {:16}  {:12}  {:20}  IP",
                    "ID", "LOGIN", "KIND", "LAST SEEN"
                );
                for (login, s) in &rows {
                    println!(
                        "{:22}  {:16}  {:12}  {:20}  {}",
                        s.id,
                        login,
                        s.kind.as_str(),
                        s.last_seen_at.to_string(),
                        s.ip.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        SessionCommand::Revoke {
            id: Some(id),
            user: None,
        } => {
            match accounts.end_session_by_id(&id).await? {
                None => bail!("no such session `{id}`"),
                Some(false) => bail!("session `{id}` has already ended"),
                Some(true) => {}
            }
            println!("revoked session {id}");
        }
        SessionCommand::Revoke {
            user: Some(login), ..
        } => {
            let user = accounts.find(&login).await?;
            let n = accounts.end_all_sessions(&user).await?;
            println!("revoked {n} session(s) of {}", user.login);
        }
        SessionCommand::Revoke {
            id: None,
            user: None,
        } => bail!("give a session id or --user LOGIN"),
    }
    Ok(())
}
