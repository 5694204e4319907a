//! Running the real binary: one-shot commands and a server on a free loopback port.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// A working directory of its own, and the database this test uses.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub vars: Vec<(String, String)>,
}

impl Env {
    /// SQLite in the default place (`./tessera-data` under the test's own directory).
    pub fn sqlite() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            // Tests run side by side: no metrics listener on the default port (a test
            // that wants one names a free port).
            vars: vec![("TESSERA_METRICS__LISTEN".into(), String::new())],
        }
    }

    /// A fresh PostgreSQL database, or `None` when PostgreSQL is unavailable (outside CI).
    pub async fn postgres() -> Option<Self> {
        let url = tessera_store::testkit::postgres_url().await?;
        Some(Self {
            dir: tempfile::tempdir().unwrap(),
            vars: vec![
                ("TESSERA_DATABASE__URL".into(), url),
                ("TESSERA_METRICS__LISTEN".into(), String::new()),
            ],
        })
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.vars.push((key.into(), value.into()));
        self
    }

    /// Writes `toml` as the configuration file and points `TESSERA_CONFIG` at it.
    pub fn config(self, toml: &str) -> Self {
        let path = self.dir.path().join("tessera.toml");
        std::fs::write(&path, toml).unwrap();
        let path = path.display().to_string();
        self.with("TESSERA_CONFIG", &path)
    }

    /// Creates a user through the CLI.
    pub fn add_user(&self, login: &str, password: &str, extra: &[&str]) {
        let mut args = vec!["user", "add", login, "--password-stdin"];
        args.extend_from_slice(extra);
        self.run(&args, &format!("{password}\n")).success();
    }

    /// Creates a role holding `permissions` through the CLI.
    pub fn add_role(&self, name: &str, permissions: &[&str]) {
        let mut args = vec!["role", "add", name];
        for p in permissions {
            args.extend(["--permission", p]);
        }
        self.run(&args, "").success();
    }

    /// `token create login --name name args...`: a personal access token made by the CLI.
    pub fn create_token(&self, login: &str, name: &str, args: &[&str]) -> Run {
        let mut all = vec!["token", "create", login, "--name", name];
        all.extend_from_slice(args);
        self.run(&all, "")
    }

    /// Runs a command that prints JSON, asserting success, and returns what it printed.
    pub fn run_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args, "").success();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG");
        for (k, _) in std::env::vars() {
            if k.starts_with("TESSERA_") && k != "TESSERA_PG_BINDIR" {
                c.env_remove(k);
            }
        }
        // `serve` binds its port before anything else: never the shared default one.
        if args.first() == Some(&"serve") {
            c.env("TESSERA_SERVER__LISTEN", "127.0.0.1:0");
        }
        c.envs(self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    /// Runs a command to completion, writing `stdin` to it.
    pub fn run(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        Run(child.wait_with_output().unwrap())
    }

    /// Serves this environment's configuration on a free loopback port: in-process (the
    /// application built by `tessera_server::app::App` on a runtime of its own) unless
    /// `extra_args` are given, which only the binary takes.
    pub fn serve(&self, extra_args: &[&str]) -> Server {
        if extra_args.is_empty() {
            self.serve_in_process()
        } else {
            self.serve_process(extra_args)
        }
    }

    /// The application in this process, on a thread and runtime of its own (as the
    /// binary would run it: same configuration, same first-admin bootstrap).
    pub fn serve_in_process(&self) -> Server {
        self.serve_in_process_with(None)
    }

    /// The same on `listener`, bound beforehand: for a test that must know the server's
    /// address before it starts (to register it at an identity provider).
    pub fn serve_in_process_on(&self, listener: std::net::TcpListener) -> Server {
        self.serve_in_process_with(Some(listener))
    }

    fn serve_in_process_with(&self, listener: Option<std::net::TcpListener>) -> Server {
        let mut vars = self.vars.clone();
        if !vars.iter().any(|(k, _)| k == "TESSERA_SERVER__DATA_DIR") {
            let dir = data_dir(self).display().to_string();
            vars.push(("TESSERA_SERVER__DATA_DIR".into(), dir));
        }
        let file = vars
            .iter()
            .find(|(k, _)| k == "TESSERA_CONFIG")
            .map(|(_, v)| PathBuf::from(v));
        let admin_password = vars
            .iter()
            .find(|(k, _)| k == "TESSERA_ADMIN_PASSWORD")
            .map(|(_, v)| v.clone());
        let (ready, started) = std::sync::mpsc::channel::<Result<String, String>>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let start = async {
                    let config = tessera::Config::load_from(file.as_deref(), &vars)
                        .map_err(|e| e.to_string())?
                        .config;
                    let app = tessera_server::app::App::build(&config)
                        .await
                        .map_err(|e| format!("{e:#}"))?;
                    tessera_server::serve::bootstrap_admin(app.accounts(), admin_password)
                        .await
                        .map_err(|e| format!("{e:#}"))?;
                    Ok::<_, String>(app)
                };
                let app = match start.await {
                    Ok(app) => app,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                if let Some(listener) = listener {
                    let addr = listener.local_addr().unwrap();
                    let _ = ready.send(Ok(format!("http://{addr}")));
                    let _ = app
                        .serve(listener, async {
                            let _ = stopped.await;
                        })
                        .await;
                    return;
                }
                match app.spawn().await {
                    Ok(running) => {
                        let _ = ready.send(Ok(running.base.clone()));
                        let _ = stopped.await;
                        let _ = running.stop().await;
                    }
                    Err(e) => {
                        let _ = ready.send(Err(format!("{e:#}")));
                    }
                }
            });
        });
        let base = match started.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(base)) => base,
            Ok(Err(e)) => panic!("server did not start: {e}"),
            Err(_) => panic!("server did not start within 60 s"),
        };
        Server {
            child: None,
            in_process: Some((stop, thread)),
            base,
            stderr: Arc::new(Mutex::new(String::new())),
        }
    }

    /// Starts the `tessera serve` binary on a free port and waits until it listens: for
    /// what needs a process (its log, signals, exit status, SIGKILL, its memory).
    pub fn serve_process(&self, extra_args: &[&str]) -> Server {
        let mut args = vec!["serve"];
        args.extend_from_slice(extra_args);
        let mut child = self
            .command(&args)
            .env("TESSERA_SERVER__LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = BufReader::new(child.stderr.take().unwrap());
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                {
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
                if let Some(at) = line.find("listening on ") {
                    let rest = &line[at + "listening on ".len()..];
                    let url: String = rest
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"')
                        .collect();
                    let _ = tx.send(url);
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start: {}", stderr.lock().unwrap());
            }
        };
        Server {
            child: Some(child),
            in_process: None,
            base,
            stderr,
        }
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn ok(&self) -> bool {
        self.0.status.success()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn success(&self) -> String {
        assert!(self.ok(), "command failed: {}", self.stderr());
        self.stdout()
    }

    /// Asserts a failure reported as exactly one line on stderr, without a panic, and
    /// returns that line.
    #[track_caller]
    pub fn failure(&self) -> String {
        assert!(!self.ok(), "command succeeded: {}", self.stdout());
        assert_eq!(self.0.status.code(), Some(1), "exit status");
        let err = self.stderr();
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
        assert!(err.starts_with("tessera: "), "{err}");
        err.trim_end().to_owned()
    }

    /// Asserts success and returns stdout without its surrounding white space (a value
    /// printed on a line of its own).
    #[track_caller]
    pub fn success_trimmed(&self) -> String {
        self.success().trim().to_owned()
    }

    /// As [`Run::failure`], and the line names `reason`.
    #[track_caller]
    pub fn failure_with(&self, reason: &str) -> String {
        let line = self.failure();
        assert!(line.contains(reason), "{line}");
        line
    }

    /// For `serve`, which may log before it fails: the failure is the last stderr line.
    #[track_caller]
    pub fn serve_failure(&self) -> String {
        assert_eq!(
            self.0.status.code(),
            Some(1),
            "exit status; stderr: {}",
            self.stderr()
        );
        let err = self.stderr();
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
        let last = err.trim_end().lines().last().unwrap_or_default().to_owned();
        assert!(last.starts_with("tessera: "), "{err}");
        last
    }
}

pub struct Server {
    child: Option<Child>,
    /// An in-process server: the signal that stops it and the thread it runs on.
    in_process: Option<(
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<()>,
    )>,
    pub base: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn child(&self) -> &Child {
        self.child
            .as_ref()
            .expect("this test needs the server as a process: use Env::serve_process")
    }

    pub fn pid(&self) -> u32 {
        self.child().id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the server process wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.child();
        self.stderr.lock().unwrap().clone()
    }

    /// Peak resident memory of the server process so far, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.child().id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// SIGKILL: the process dies at once, wherever it is.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some((stop, thread)) = self.in_process.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

/// The database URL of an environment on PostgreSQL.
fn pg_url(env: &Env) -> &str {
    env.vars
        .iter()
        .find(|(k, _)| k == "TESSERA_DATABASE__URL")
        .map(|(_, v)| v.as_str())
        .expect("a PostgreSQL environment")
}

/// For an environment on PostgreSQL: a connection to its database, as its owner.
pub async fn pg_connect(env: &Env) -> sqlx::PgConnection {
    <sqlx::PgConnection as sqlx::Connection>::connect(pg_url(env))
        .await
        .unwrap()
}

/// For an environment on PostgreSQL: a connection to the cluster's `postgres` database
/// (to act on this environment's database from outside), and that database's name.
pub async fn pg_admin(env: &Env) -> (sqlx::PgConnection, String) {
    let (cluster, db) = pg_url(env).rsplit_once('/').unwrap();
    let admin = <sqlx::PgConnection as sqlx::Connection>::connect(&format!("{cluster}/postgres"))
        .await
        .unwrap();
    (admin, db.to_owned())
}

/// `[[rules]]` tables for the configuration file, each from a `match` pattern and the
/// rest of its lines (`public = true`, `permissions = [...]`, or nothing).
pub fn rules(rules: &[(&str, &str)]) -> String {
    rules
        .iter()
        .map(|(pattern, rest)| format!("\n[[rules]]\nmatch = \"{pattern}\"\n{rest}\n"))
        .collect()
}

/// The value of the `label: value` line of a command's output.
#[track_caller]
pub fn labelled(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{label}: ")))
        .unwrap_or_else(|| panic!("no `{label}:` line in {out}"))
        .trim()
        .to_owned()
}

/// The accounts in an environment's SQLite database, opened from outside the server.
pub async fn sqlite_accounts(env: &Env) -> tessera_core::Accounts {
    let url = format!("sqlite://{}", data_dir(env).join("tessera.db").display());
    let store = tessera_store::open(&url, &Default::default())
        .await
        .unwrap();
    let hasher = tessera_core::PasswordHasher::new(Default::default(), Some(1)).unwrap();
    tessera_core::Accounts::new(store, hasher, Default::default())
}

pub fn data_dir(env: &Env) -> PathBuf {
    env.path().join("tessera-data")
}

/// A self-signed certificate for `localhost` (P-256) and its key, written under the
/// environment's directory; returns the `[server]` lines that enable native TLS.
pub fn tls_settings(env: &Env) -> String {
    let (cert, key) = (env.path().join("cert.pem"), env.path().join("key.pem"));
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
        cert.display(),
        key.display()
    )
}
