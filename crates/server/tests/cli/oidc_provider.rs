//! A real OpenID Connect provider on loopback: node-oidc-provider, run by
//! `tests/oidc-provider/provider.mjs` under Node.js, one process per [`OidcProvider`]
//! (it starts in well under a second), killed with its process group when dropped.
//!
//! Its packages are installed with `npm ci` the first time a test needs them (once per
//! test process, and under a file lock across processes). Without Node.js the tests that
//! need it are skipped loudly, except under `CI=true`, where that is a failure.
//!
//! Accounts sign in through the provider's development login form: the login typed there
//! is the account's id, which is also its `sub`; any password is accepted.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The client id Tessera is registered under at the provider.
pub const CLIENT_ID: &str = "tessera";
/// Its client secret.
pub const CLIENT_SECRET: &str = "tessera-client-secret-for-tests";

/// The directory of `provider.mjs`, `package.json` and `node_modules`.
fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

pub(crate) fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A program on `PATH` (or named by the variable `var`), if it runs.
pub(crate) fn program(var: &str, name: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(var) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })?;
    let runs = Command::new(&found)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    runs.then_some(found)
}

/// Node.js with the provider's packages installed, or why not.
fn node() -> Result<PathBuf, String> {
    static NODE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    NODE.get_or_init(|| {
        let node = program("TESSERA_NODE", "node").ok_or("Node.js (`node`) is not installed")?;
        install()?;
        Ok(node)
    })
    .clone()
}

/// Runs `npm ci` in the package directory unless `node_modules` is there and at least as
/// new as `package-lock.json`. A file lock keeps two test processes from running it at
/// once (the `OnceLock` in [`node`] does so within one).
fn install() -> Result<(), String> {
    let dir = package_dir();
    let lock_path = std::env::temp_dir().join("tessera-oidc-provider-npm.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| format!("{lock_path:?}: {e}"))?;
    lock.lock().map_err(|e| format!("{lock_path:?}: {e}"))?;
    if installed(&dir) {
        return Ok(());
    }
    let npm = program("TESSERA_NPM", "npm").ok_or("npm is not installed")?;
    eprintln!("oidc provider: running npm ci in {}", dir.display());
    let out = Command::new(npm)
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("npm: {e}"))?;
    if !out.status.success() || !installed(&dir) {
        // Node.js is there but the packages could not be installed: not a reason to skip.
        panic!(
            "npm ci failed in {}:\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn installed(dir: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let marker = modified(dir.join("node_modules/.package-lock.json"));
    let lock = modified(dir.join("package-lock.json"));
    dir.join("node_modules/oidc-provider/package.json")
        .is_file()
        && dir.join("node_modules/jose/package.json").is_file()
        && matches!((marker, lock), (Some(m), Some(l)) if m >= l)
}

/// The claims of one account at the provider: `sub` (also the login typed at the
/// provider), `preferred_username`, `email` (verified), `name` and `groups`.
pub fn account(sub: &str, username: &str, email: &str, groups: &[&str]) -> (String, Value) {
    (
        sub.to_owned(),
        json!({
            "sub": sub,
            "preferred_username": username,
            "email": email,
            "email_verified": true,
            "name": format!("{username} (SSO)"),
            "groups": groups,
        }),
    )
}

/// Accounts for [`OidcProvider::start`] and [`OidcProvider::set_accounts`].
pub fn accounts(list: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(list.into_iter().collect())
}

/// The client registration of a confidential client with one redirect URI (code flow,
/// `client_secret_basic`).
pub fn client(client_id: &str, secret: &str, redirect_uri: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    })
}

pub struct OidcProvider {
    child: Option<Child>,
    /// `clients.json`, `accounts.json` and `jwks.json`.
    dir: tempfile::TempDir,
    port: u16,
    /// What the provider wrote on stderr (for failure messages).
    stderr: Arc<Mutex<String>>,
}

impl OidcProvider {
    /// Starts a provider on a free loopback port knowing `clients` (a JSON array of client
    /// metadata) and `accounts` (see [`accounts`]); `None` (with a notice) when Node.js is
    /// missing outside CI.
    pub fn start(clients: &Value, accounts: &Value) -> Option<Self> {
        if let Err(why) = node() {
            if under_ci() {
                panic!("OpenID Connect provider tests cannot run under CI=true: {why}");
            }
            eprintln!("\n*** SKIPPING OpenID Connect provider test: {why} ***\n");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        write_json(&dir.path().join("clients.json"), clients);
        write_json(&dir.path().join("accounts.json"), accounts);
        let mut provider = Self {
            child: None,
            dir,
            port: 0,
            stderr: Arc::default(),
        };
        provider.launch(0);
        Some(provider)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Replaces the accounts; the next sign-in (and token) sees the new claims.
    pub fn set_accounts(&self, accounts: &Value) {
        write_json(&self.dir.path().join("accounts.json"), accounts);
    }

    /// The `kid` of the current signing key.
    pub fn kid(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("jwks.json")).unwrap();
        let jwks: Value = serde_json::from_str(&text).unwrap();
        jwks["keys"][0]["kid"].as_str().unwrap().to_owned()
    }

    /// Restarts the provider on the same port with a new signing key (and `kid`). Its
    /// sessions and codes are lost, as with any restart of this in-memory provider.
    pub fn rotate_keys(&mut self) {
        self.stop();
        std::fs::remove_file(self.dir.path().join("jwks.json")).unwrap();
        self.launch(self.port);
    }

    /// What the provider logged on stderr so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn launch(&mut self, port: u16) {
        let node = node().unwrap();
        // The port was just given up by the previous process: retry while it is taken.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn(&node, port) {
                Ok(()) => return,
                Err(e) if port != 0 && Instant::now() < deadline => {
                    if !e.contains("EADDRINUSE") {
                        panic!("{e}");
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn spawn(&mut self, node: &Path, port: u16) -> Result<(), String> {
        let d = self.dir.path();
        let mut child = Command::new(node)
            .arg(package_dir().join("provider.mjs"))
            .current_dir(package_dir())
            .env("PORT", port.to_string())
            .env("CLIENTS_FILE", d.join("clients.json"))
            .env("ACCOUNTS_FILE", d.join("accounts.json"))
            .env("JWKS_FILE", d.join("jwks.json"))
            .env("NODE_ENV", "development")
            .env_remove("NODE_OPTIONS")
            .process_group(0)
            // The provider exits when its standard input closes: when this process is
            // gone, even killed.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("node: {e}"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let sink = self.stderr.clone();
        sink.lock().unwrap().clear();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        self.child = Some(child);
        let started = rx.recv_timeout(Duration::from_secs(30));
        let Ok(url) = started else {
            // Let the stderr reader catch up with the process's last words.
            std::thread::sleep(Duration::from_millis(200));
            self.stop();
            return Err(format!(
                "the OpenID Connect provider did not start:\n{}",
                self.log()
            ));
        };
        self.port = url
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("provider printed {url:?}"));
        assert!(port == 0 || self.port == port);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes JSON to `path` through a temporary file, so that the provider never reads a
/// half-written file.
fn write_json(path: &Path, value: &Value) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Signs in at the provider over plain HTTP as a person would with the development login
/// form: follows redirects from `authorize_url` (the provider's authorization endpoint,
/// as Tessera redirected to it), types `login` into the form, confirms consent if asked,
/// and returns the URL the provider finally redirects to (Tessera's callback, with `code`
/// and `state`). `http` must keep cookies and not follow redirects.
pub async fn sign_in_over_http(http: &reqwest::Client, authorize_url: &str, login: &str) -> String {
    let issuer = {
        let u = reqwest::Url::parse(authorize_url).unwrap();
        u.origin().ascii_serialization()
    };
    let mut next = (reqwest::Method::GET, authorize_url.to_owned(), Vec::new());
    for _ in 0..12 {
        let (method, url, form) = next;
        let mut rb = http.request(method, &url);
        if !form.is_empty() {
            rb = rb.form(&form);
        }
        let res = rb.send().await.unwrap();
        let status = res.status().as_u16();
        if (300..400).contains(&status) {
            let location = res.headers()["location"].to_str().unwrap();
            let target = reqwest::Url::parse(&url).unwrap().join(location).unwrap();
            if target.origin().ascii_serialization() != issuer {
                return target.to_string();
            }
            next = (reqwest::Method::GET, target.to_string(), Vec::new());
            continue;
        }
        let body = res.text().await.unwrap();
        assert_eq!(status, 200, "{url}: {body}");
        let (action, mut fields) = form_of(&body).unwrap_or_else(|| panic!("no form: {body}"));
        if body.contains("name=\"login\"") {
            fields.push(("login".into(), login.into()));
            fields.push(("password".into(), "any password".into()));
        }
        let target = reqwest::Url::parse(&url).unwrap().join(&action).unwrap();
        next = (reqwest::Method::POST, target.to_string(), fields);
    }
    panic!("no way out of the provider from {authorize_url}");
}

/// The `action` of the first `<form>` of a page and its hidden inputs.
fn form_of(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let form = &html[html.find("<form")?..];
    let form = &form[..form.find("</form>")?];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = tag[at..].find('"')?;
        Some(tag[at..at + end].replace("&amp;", "&"))
    };
    let action = attr(&form[..form.find('>')?], "action")?;
    let mut fields = Vec::new();
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap_or(input.len())];
        if attr(tag, "type").as_deref() == Some("hidden")
            && let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value"))
        {
            fields.push((n, v));
        }
    }
    Some((action, fields))
}
