//! The command line: every command and its arguments (the README's CLI reference).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// `tessera --version`: the release and the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TESSERA_BUILD_COMMIT"),
    ")"
);

/// The command line of `tessera`: the global options and one command.
#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version = VERSION,
    about = "Authentication server for HTTP APIs"
)]
pub struct Cli {
    /// Configuration file (TOML). Every key can also be set as TESSERA_<SECTION>__<KEY>.
    #[arg(long, global = true, env = "TESSERA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format: `text` (human), `json` (one object per line), or `auto` (`log.format`
    /// of the configuration, `text` by default).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log events are written on stderr (`--log-format`).
// The variants are documented with `#[doc = concat!(..)]` rather than `///` on purpose:
// clap's derive turns `///` on a value into possible-value help, which switches every
// `--help` page to the long layout; `--log-format`'s own help already describes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[doc = concat!("As the configuration's `log.format` says (`text` by default).")]
    Auto,
    #[doc = concat!("Human-readable lines, coloured when stderr is a terminal.")]
    Text,
    #[doc = concat!("One JSON object per line.")]
    Json,
}

/// The commands of `tessera`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit; with --to, copy the SQLite database
    /// into an empty PostgreSQL database.
    Migrate {
        /// Copy every table into this empty PostgreSQL database (postgres://...), check
        /// counts and contents, and print the configuration change to make.
        #[arg(long, value_name = "URL")]
        to: Option<String>,
    },
    /// Validate or print the configuration.
    Config {
        /// Which configuration command.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage users.
    User {
        /// Which user command.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage roles (named sets of permissions).
    Role {
        /// Which role command.
        #[command(subcommand)]
        command: RoleCommand,
    },
    /// Manage personal access tokens.
    Token {
        /// Which token command.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage API key/secret pairs.
    Apikey {
        /// Which apikey command.
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Show or rotate an account's client secret.
    ClientSecret {
        /// Which client-secret command.
        #[command(subcommand)]
        command: ClientSecretCommand,
    },
    /// List or end sessions.
    Session {
        /// Which session command.
        #[command(subcommand)]
        command: SessionCommand,
    },
    /// Manage the server's key ring (cookie sealing, CSRF signing, client secrets).
    Key {
        /// Which key command.
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Write a consistent copy of the SQLite database to FILE while the server serves.
    Backup {
        /// Where to write the copy (a new file; it holds password hashes: keep it safe).
        file: PathBuf,
    },
    /// Replace the SQLite database with the backup FILE (no server may be running on it).
    Restore {
        /// A file written by `tessera backup`.
        file: PathBuf,
    },
    /// Print the audit log, newest first.
    Audit {
        /// Only this user's events.
        #[arg(long, value_name = "LOGIN")]
        user: Option<String>,
        /// How far back, e.g. `1h`, `7d`.
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        since: String,
        /// At most this many events (up to 10000).
        #[arg(long, default_value_t = 200)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `tessera key`: the key ring in the key file.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Add a new key that seals from now (or after --activate-in); older keys keep
    /// opening what they sealed.
    Rotate {
        /// Start sealing with the new key only after this long (e.g. `10m`), so that every
        /// instance has read it before any seals with it; default now.
        #[arg(long, value_name = "DURATION")]
        activate_in: Option<String>,
    },
    /// Show the ring: each key's id, state and activation (never the keys).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a replaced key; refused while a live session or client secret still needs it.
    Retire {
        /// The key's id, as `key list` shows it.
        id: String,
        /// Retire it anyway, logging out the sessions that need it.
        #[arg(long)]
        force: bool,
    },
}

/// `tessera token`: personal access tokens.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a personal access token for LOGIN; prints the token once, on stdout.
    Create {
        /// The user the token acts for.
        login: String,
        /// A label to recognise the token by (1 to 100 printable characters).
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
        /// The user whose tokens to list.
        login: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: String,
    },
}

/// `tessera apikey`: API key/secret pairs.
#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create an API key for LOGIN; prints the key id and the secret once.
    Create {
        /// The user the key acts for.
        login: String,
        /// A label to recognise the key by (1 to 100 printable characters).
        #[arg(long)]
        name: String,
        /// Limit the key to this permission (repeatable; each must be held by LOGIN).
        #[arg(long = "scope", value_name = "P")]
        scopes: Vec<String>,
    },
    /// List LOGIN's API keys (never their secrets).
    List {
        /// The user whose keys to list.
        login: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a key by id; ends the sessions opened with it.
    Delete {
        /// The key's id (the `api_key` value).
        id: String,
    },
    /// Disable a key: ends its sessions and refuses its exchange until it is enabled.
    Disable {
        /// The key's id (the `api_key` value).
        id: String,
    },
    /// Enable a disabled key again.
    Enable {
        /// The key's id (the `api_key` value).
        id: String,
    },
}

/// `tessera client-secret`: the client secret of an account.
#[derive(Debug, Subcommand)]
pub enum ClientSecretCommand {
    /// Print LOGIN's client secret (generated if it has none or it expired).
    Show {
        /// The user whose client secret to print.
        login: String,
    },
    /// Replace LOGIN's client secret and print the new one.
    Rotate {
        /// The user whose client secret to replace.
        login: String,
    },
}

/// `tessera session`: live sessions.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List live sessions, of LOGIN or of everyone.
    List {
        /// Only this user's sessions (default: every user's).
        login: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// End a session by id, or every session of a user with --user.
    Revoke {
        /// The session's id, as `session list` shows it.
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        id: Option<String>,
        /// End every session of this user instead.
        #[arg(long, value_name = "LOGIN")]
        user: Option<String>,
    },
}

/// `tessera config`: the configuration.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and check that the database answers.
    Check,
    /// Print the effective configuration (file + environment + defaults), secrets redacted.
    Show,
}

/// `tessera user`: user accounts.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin, asks for the password on the terminal.
    Add {
        /// The new user's login (unique, ignoring case).
        login: String,
        /// Read the password from standard input (first line, without echo on a terminal).
        #[arg(long)]
        password_stdin: bool,
        /// First name (default: empty).
        #[arg(long, value_name = "S")]
        first_name: Option<String>,
        /// Last name (default: empty).
        #[arg(long, value_name = "S")]
        last_name: Option<String>,
        /// Language tag such as `en` or `fr-CA` (default: `en`).
        #[arg(long, value_name = "S")]
        lang: Option<String>,
        /// Email address (default: none).
        #[arg(long, value_name = "S")]
        email: Option<String>,
        /// A role to grant (repeatable).
        #[arg(long = "role", value_name = "R")]
        roles: Vec<String>,
    },
    /// Print a one-time set-password link for a user, creating the user (without a
    /// password) when it does not exist; for an existing user the link replaces any
    /// earlier one, and using it ends the user's sessions. Valid for
    /// accounts.invitation_lifetime.
    Invite {
        /// The user to invite (created when new) or to give a new link.
        login: String,
        /// First name of a new user (default: empty).
        #[arg(long, value_name = "S")]
        first_name: Option<String>,
        /// Last name of a new user (default: empty).
        #[arg(long, value_name = "S")]
        last_name: Option<String>,
        /// Language tag of a new user, such as `en` or `fr-CA` (default: `en`).
        #[arg(long, value_name = "S")]
        lang: Option<String>,
        /// Email address of a new user (default: none).
        #[arg(long, value_name = "S")]
        email: Option<String>,
        /// A role to grant a new user (repeatable).
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
        /// The user to show.
        login: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Set a new password; ends all of the user's sessions.
    Passwd {
        /// The user whose password to set.
        login: String,
        /// Read the password from standard input (first line, without echo on a terminal).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user; ends all of its sessions at once.
    Disable {
        /// The user to disable.
        login: String,
    },
    /// Enable a disabled user.
    Enable {
        /// The user to enable.
        login: String,
    },
}

/// `tessera role`: roles and who holds them.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role with one or more permissions (`orders:read`, `orders:*`, `*`).
    Add {
        /// The new role's name.
        name: String,
        /// A permission the role holds (repeatable; at least one).
        #[arg(long = "permission", value_name = "P", required = true)]
        permissions: Vec<String>,
    },
    /// List roles and their permissions.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Grant a role to a user.
    Grant {
        /// The user to grant the role to.
        login: String,
        /// The role to grant.
        role: String,
    },
    /// Take a role from a user.
    Revoke {
        /// The user to take the role from.
        login: String,
        /// The role to take.
        role: String,
    },
}
