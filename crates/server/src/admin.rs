//! Admin commands: they read the same configuration, and so the same database, as `serve`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, bail};
use tessera_core::credential::InvitationPurpose;
use tessera_core::{
    Error as CoreError, Login, NewUser, Password, Permission, StoreError, Timestamp, User,
};

use crate::app::accounts;
use crate::cli::{ConfigCommand, RoleCommand, UserCommand};
use tessera::Config;

/// `tessera migrate`: opens the configured database, which applies pending migrations,
/// and prints the backend. Fails when the database cannot be reached or a migration
/// fails.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = accounts(config).await?.store().clone();
    println!("migrations applied ({})", store.backend());
    Ok(())
}

/// `tessera config check|show`. `check` also opens the database (so migrates it) and
/// fails when it cannot be reached; `file` is the configuration file named in its
/// message. `show` prints the effective configuration, secrets redacted.
pub async fn config(
    config: &Config,
    file: Option<&Path>,
    command: ConfigCommand,
) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check => {
            // Reaching the database is part of a valid configuration.
            let store = accounts(config).await?.store().clone();
            let source = file.map_or("defaults and environment".to_owned(), |f| {
                f.display().to_string()
            });
            for (i, p) in config.identity_providers.iter().enumerate() {
                match tessera::check_identity_provider(&p.issuer).await {
                    Ok(found) => println!("identity provider `{}`: {found}", p.id),
                    Err(why) => bail!("identity_providers[{i}] (`{}`, {}): {why}", p.id, p.issuer),
                }
            }
            println!("configuration OK ({source}; database: {})", store.backend());
        }
        ConfigCommand::Show => print!("{}", config.to_redacted_toml()),
    }
    Ok(())
}

/// The set-password page for `token` at the configured listen address (`localhost` for
/// an unspecified one). Behind a proxy, users open the same path at the public address.
fn setup_url(config: &Config, token: &str) -> String {
    let scheme = if config.server.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let host = match config.server.listen.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => format!("localhost:{}", a.port()),
        _ => config.server.listen.clone(),
    };
    format!(
        "{scheme}://{host}{}/ui/setup/{token}",
        config.server.base_path.trim_end_matches('/')
    )
}

/// One-line messages for the domain errors an operator can cause.
fn explain(e: CoreError) -> anyhow::Error {
    match e {
        CoreError::Store(StoreError::Unavailable(cause)) => {
            anyhow::anyhow!("database unavailable: {cause}")
        }
        other => anyhow::anyhow!("{other}"),
    }
}

/// `tessera user ...`: creates, lists, shows, disables and enables users and sets their
/// passwords. Fails, with a one-line message, on an unknown login, invalid input, a
/// password the policy refuses, or an unreachable database.
pub async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    let accounts = accounts(config).await?;
    match command {
        UserCommand::Add {
            login,
            password_stdin,
            first_name,
            last_name,
            lang,
            email,
            roles,
        } => {
            let mut new = NewUser::new(Login::parse(&login).map_err(explain)?);
            new.first_name = first_name.unwrap_or_default();
            new.last_name = last_name.unwrap_or_default();
            if let Some(lang) = lang {
                new.lang = lang;
            }
            new.email = email;
            new.roles = roles;
            // Validate everything cheap before asking for a password.
            new.validate().map_err(explain)?;
            let password = read_password(password_stdin)?;
            let user = accounts
                .create_user(new, &password)
                .await
                .map_err(explain)?;
            println!("created user {} (id {})", user.login, user.id);
        }
        UserCommand::Invite {
            login,
            first_name,
            last_name,
            lang,
            email,
            roles,
        } => {
            let lifetime = config.token_settings().invitation_lifetime;
            let (token, invitation) = match accounts.find(&login).await {
                Ok(user) => accounts
                    .make_set_password_link(&user, lifetime, "cli")
                    .await
                    .map_err(explain)?,
                Err(CoreError::UnknownUser(_)) => {
                    let mut new = NewUser::new(Login::parse(&login).map_err(explain)?);
                    new.first_name = first_name.unwrap_or_default();
                    new.last_name = last_name.unwrap_or_default();
                    if let Some(lang) = lang {
                        new.lang = lang;
                    }
                    new.email = email;
                    new.roles = roles;
                    let user = accounts
                        .create_without_password(new, "cli")
                        .await
                        .map_err(explain)?;
                    println!(
                        "created user {} (id {}) without a password",
                        user.login, user.id
                    );
                    accounts
                        .invite(&user, lifetime, "cli")
                        .await
                        .map_err(explain)?
                }
                Err(e) => return Err(explain(e)),
            };
            let what = match invitation.purpose {
                InvitationPurpose::Invite => "invitation",
                InvitationPurpose::Reset => "reset link; using it ends the user's sessions",
            };
            println!(
                "set-password link ({what}), valid until {}, usable once:",
                invitation.expires_at
            );
            println!("{}", setup_url(config, token.expose()));
        }
        UserCommand::List { json } => {
            let users = accounts.list_users().await.map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                print_users(&users);
            }
        }
        UserCommand::Show { login, json } => {
            let user = accounts.find(&login).await.map_err(explain)?;
            let permissions = accounts.permissions_of(&user).await.map_err(explain)?;
            if json {
                let mut value = serde_json::to_value(&user)?;
                value["permissions"] = serde_json::to_value(&permissions)?;
                value["identity_links"] =
                    serde_json::to_value(accounts.identity_links(&user).await.map_err(explain)?)?;
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                let links = accounts.identity_links(&user).await.map_err(explain)?;
                print_user(&user, permissions.iter().map(Permission::as_str));
                let sign_in = if links.is_empty() {
                    "password".to_owned()
                } else {
                    links
                        .iter()
                        .map(|l| {
                            format!("identity provider `{}` (subject {})", l.provider, l.subject)
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                println!("sign-in:     {sign_in}");
            }
        }
        UserCommand::Passwd {
            login,
            password_stdin,
        } => {
            accounts.find(&login).await.map_err(explain)?;
            let password = read_password(password_stdin)?;
            accounts
                .set_password(&login, &password)
                .await
                .map_err(explain)?;
            println!("password changed for {login}; its sessions have ended");
        }
        UserCommand::Disable { login } => {
            let user = accounts.set_disabled(&login, true).await.map_err(explain)?;
            println!("disabled {}; its sessions have ended", user.login);
        }
        UserCommand::Enable { login } => {
            let user = accounts
                .set_disabled(&login, false)
                .await
                .map_err(explain)?;
            println!("enabled {}", user.login);
        }
    }
    Ok(())
}

/// `tessera role ...`: creates and lists roles, grants them and takes them away. Revoking
/// a role the user does not have is an error; granting one it has is not.
pub async fn role(config: &Config, command: RoleCommand) -> anyhow::Result<()> {
    let accounts = accounts(config).await?;
    match command {
        RoleCommand::Add { name, permissions } => {
            accounts
                .create_role(&name, &permissions, "cli")
                .await
                .map_err(explain)?;
            println!("created role {name}");
        }
        RoleCommand::List { json } => {
            let roles = accounts.list_roles().await.map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&roles)?);
            } else {
                let width = roles.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
                println!("{:width$}  PERMISSIONS", "ROLE");
                for r in &roles {
                    let perms: Vec<&str> = r.permissions.iter().map(Permission::as_str).collect();
                    println!("{:width$}  {}", r.name, perms.join(" "));
                }
            }
        }
        RoleCommand::Grant { login, role } => {
            let user = accounts.find(&login).await.map_err(explain)?;
            if accounts
                .grant_role(&user, &role, "cli")
                .await
                .map_err(explain)?
            {
                println!("granted {role} to {}", user.login);
            } else {
                println!("{} already has {role}", user.login);
            }
        }
        RoleCommand::Revoke { login, role } => {
            let user = accounts.find(&login).await.map_err(explain)?;
            if !accounts
                .revoke_role(&user, &role, "cli")
                .await
                .map_err(explain)?
            {
                bail!("{} does not have the role `{role}`", user.login);
            }
            println!("revoked {role} from {}", user.login);
        }
    }
    Ok(())
}

fn print_users(users: &[User]) {
    let w = users
        .iter()
        .map(|u| u.login.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    println!("{:w$}  {:8}  {:24}  ROLES", "LOGIN", "STATUS", "NAME");
    for u in users {
        let name = format!("{} {}", u.first_name, u.last_name);
        let status = if u.disabled { "disabled" } else { "active" };
        println!(
            "{:w$}  {status:8}  {:24}  {}",
            u.login,
            name.trim(),
            u.roles.join(",")
        );
    }
}

fn print_user<'a>(u: &User, permissions: impl Iterator<Item = &'a str>) {
    println!("login:       {}", u.login);
    println!("id:          {}", u.id);
    println!(
        "name:        {}",
        format!("{} {}", u.first_name, u.last_name).trim()
    );
    println!("lang:        {}", u.lang);
    println!("email:       {}", u.email.as_deref().unwrap_or("-"));
    println!(
        "status:      {}",
        if u.disabled { "disabled" } else { "active" }
    );
    println!("roles:       {}", u.roles.join(", "));
    println!("permissions: {}", permissions.collect::<Vec<_>>().join(" "));
    println!("created:     {}", u.created_at);
    println!("updated:     {}", u.updated_at);
}

/// The password for `user add` / `user passwd`. With `--password-stdin`, the first line of
/// standard input (hidden when it is a terminal); otherwise a hidden prompt, asked twice.
/// It never comes from the command line, where the process list would show it.
fn read_password(from_stdin: bool) -> anyhow::Result<Password> {
    let stdin = std::io::stdin();
    if from_stdin {
        if stdin.is_terminal() {
            eprint!("Password: ");
            std::io::stderr().flush().ok();
            return Ok(Password::new(
                rpassword::read_password().context("reading the password")?,
            ));
        }
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            bail!("no password on standard input");
        }
        return Ok(Password::new(line));
    }
    if !stdin.is_terminal() {
        bail!("no password given: use --password-stdin and write it to standard input");
    }
    let first = rpassword::prompt_password("Password: ").context("reading the password")?;
    let second = rpassword::prompt_password("Repeat password: ").context("reading the password")?;
    if first != second {
        bail!("the two passwords differ");
    }
    Ok(Password::new(first))
}

/// `tessera audit`: prints at most `limit` (capped at 10000) audit events of the last
/// `since` (a duration such as `24h`), newest first, of one user when `user` is given, as
/// a table or as JSON. Fails on a bad duration or an unknown login.
pub async fn audit(
    config: &Config,
    user: Option<&str>,
    since: &str,
    limit: u32,
    json: bool,
) -> anyhow::Result<()> {
    let accounts = accounts(config).await?;
    let since = tessera::config::ConfigDuration::parse(since)
        .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let user_id = match user {
        Some(login) => Some(accounts.find(login).await.map_err(explain)?.id),
        None => None,
    };
    let from = Timestamp::now().minus(since.0);
    let events = accounts
        .audit_events(user_id, from, limit.min(10_000))
        .await
        .map_err(explain)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&events)?);
        return Ok(());
    }
    println!(
        "{:20}  {:22}  {:9}  {:16}  {:18}  {:15}  DETAIL",
        "TIME", "EVENT", "OUTCOME", "USER", "METHOD", "IP"
    );
    for e in &events {
        println!(
            "{:20}  {:22}  {:9}  {:16}  {:18}  {:15}  {}",
            e.at.to_string(),
            e.event,
            e.outcome,
            e.login.as_deref().unwrap_or("-"),
            e.method.as_deref().unwrap_or("-"),
            e.ip.as_deref().unwrap_or("-"),
            e.detail.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
