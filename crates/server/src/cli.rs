//! The command line, as DESIGN.md names it.

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
