//! The command line: every command and its arguments (the README's CLI reference).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Authentication server for HTTP APIs"
)]
pub struct Cli {
    /// Configuration file (TOML). Every key can also be set as TESSERA_<SECTION>__<KEY>.
    #[arg(long, global = true, env = "TESSERA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format: `text` (human), `json` (one object per line), or `auto` (text).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate or print the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage roles (named sets of permissions).
    Role {
        #[command(subcommand)]
        command: RoleCommand,
    },
    /// Manage personal access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage API key/secret pairs.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Show or rotate an account's client secret.
    ClientSecret {
        #[command(subcommand)]
        command: ClientSecretCommand,
    },
    /// List or end sessions.
    Session {
        #[command(subcommand)]
        command: SessionCommand,
    },
    /// Print the audit log, newest first.
    Audit {
        /// Only this user's events.
        #[arg(long, value_name = "LOGIN")]
        user: Option<String>,
        /// How far back, e.g. `1h`, `7d`.
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        since: String,
        /// At most this many events.
        #[arg(long, default_value_t = 200)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a personal access token for LOGIN; prints the token once, on stdout.
    Create {
        login: String,
        #[arg(long)]
        name: String,
        /// Limit the token to this permission (repeatable; each must be held by LOGIN).
        #[arg(long = "scope", value_name = "P")]
        scopes: Vec<String>,
        /// Lifetime, e.g. `30d` (default tokens.pat_default_lifetime).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// List LOGIN's tokens (never their values).
    List {
        login: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create an API key for LOGIN; prints the key id and the secret once.
    Create {
        login: String,
        #[arg(long)]
        name: String,
        #[arg(long = "scope", value_name = "P")]
        scopes: Vec<String>,
    },
    /// List LOGIN's API keys (never their secrets).
    List {
        login: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a key by id; ends the sessions opened with it.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ClientSecretCommand {
    /// Print LOGIN's client secret (generated if it has none or it expired).
    Show { login: String },
    /// Replace LOGIN's client secret and print the new one.
    Rotate { login: String },
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List live sessions, of LOGIN or of everyone.
    List {
        login: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// End a session by id, or every session of a user with --user.
    Revoke {
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        id: Option<String>,
        #[arg(long, value_name = "LOGIN")]
        user: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and check that the database answers.
    Check,
    /// Print the effective configuration (file + environment + defaults), secrets redacted.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin, asks for the password on the terminal.
    Add {
        login: String,
        /// Read the password from standard input (first line, without echo on a terminal).
        #[arg(long)]
        password_stdin: bool,
        #[arg(long, value_name = "S")]
        first_name: Option<String>,
        #[arg(long, value_name = "S")]
        last_name: Option<String>,
        #[arg(long, value_name = "S")]
        lang: Option<String>,
        #[arg(long, value_name = "S")]
        email: Option<String>,
        /// A role to grant (repeatable).
        #[arg(long = "role", value_name = "R")]
        roles: Vec<String>,
    },
    /// List users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one user with its roles and effective permissions.
    Show {
        login: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a new password; ends all of the user's sessions.
    Passwd {
        login: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user; ends all of its sessions at once.
    Disable { login: String },
    /// Enable a disabled user.
    Enable { login: String },
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role with one or more permissions (`orders:read`, `orders:*`, `*`).
    Add {
        name: String,
        #[arg(long = "permission", value_name = "P", required = true)]
        permissions: Vec<String>,
    },
    /// List roles and their permissions.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Grant a role to a user.
    Grant { login: String, role: String },
    /// Take a role from a user.
    Revoke { login: String, role: String },
}
