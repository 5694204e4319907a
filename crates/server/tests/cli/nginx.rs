//! A real nginx in front of an API, asking Tessera through `auth_request`, configured by
//! `examples/nginx/nginx.conf` (only the ports and file locations are changed).

use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;

use crate::client::{Client, PW};
use crate::harness::Env;

fn nginx_binary() -> Option<String> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        // The master leads a process group of its own: its workers go with it, rather
        // than living on with the listening socket.
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_gets_the_same_decisions() {
    let Some(nginx) = nginx_binary() else {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("nginx is not installed; .ci/run installs it");
        }
        eprintln!(
            "\n*** SKIPPING nginx test: nginx is not installed (apt-get install nginx-light) ***\n"
        );
        return;
    };
    let api = crate::upstream::start().await;
    let env = Env::sqlite().config(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n\
         [[rules]]\nmatch = \"GET /public/**\"\npublic = true\n\
         [[rules]]\nmatch = \"GET /orders/**\"\npermissions = [\"orders:read\"]\n",
    );
    env.add_role("orders", &["orders:read"]);
    env.add_user("joe", PW, &["--role", "orders"]);
    env.add_user("ann", PW, &[]);
    let tessera = env.serve(&[]);
    let tessera_addr = crate::tcp::addr_of(&tessera.base);

    let port = free_port();
    let example = include_str!("../../../../examples/nginx/nginx.conf");
    let prefix = env.path().join("nginx");
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let conf = example
        .replace("127.0.0.1:8080", &tessera_addr)
        .replace("127.0.0.1:9000", &api.to_string())
        .replace("listen 127.0.0.1:8081", &format!("listen 127.0.0.1:{port}"))
        .replace(
            "worker_processes 1;",
            &format!(
                "worker_processes 1;\ndaemon off;\npid {0}/nginx.pid;\nerror_log {0}/logs/error.log;",
                prefix.display()
            ),
        )
        .replace(
            "access_log off;",
            &format!(
                "access_log off;\nclient_body_temp_path {0}/body;\nproxy_temp_path {0}/proxy;\nfastcgi_temp_path {0}/fastcgi;\nuwsgi_temp_path {0}/uwsgi;\nscgi_temp_path {0}/scgi;",
                prefix.display()
            ),
        );
    assert_ne!(conf, example);
    let conf_path = prefix.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(&nginx)
        .process_group(0)
        .arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = Nginx(child);
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = || std::fs::read_to_string(prefix.join("logs/error.log")).unwrap_or_default();
    assert!(ready, "nginx did not start: {}", log());

    let mut c = Client::new(&base);
    // Logins pass through nginx to Tessera.
    let joe = c.send_once(c.basic_login("joe", PW)).await;
    assert_eq!(joe.status, 200, "{} {}", joe.body, log());
    let ann = c.login_token("ann", PW).await;

    let get = |c: &Client, path: &str, token: Option<&str>| match token {
        Some(t) => c.bearer(Method::GET, path, t),
        None => c.req(Method::GET, path),
    };
    let r = c.send(get(&c, "/public/x", None)).await;
    assert_eq!(r.status, 200, "public: {}", r.body);
    let r = c.send(get(&c, "/orders/1", None)).await;
    assert_eq!(r.status, 401, "no credential");
    let r = c.send(get(&c, "/orders/1", Some(&ann))).await;
    assert_eq!(r.status, 403, "missing permission");
    let r = c.send(get(&c, "/orders/1", Some(&joe.body))).await;
    assert_eq!(r.status, 200, "allowed: {}", r.body);
    let h = &r.json()["headers"];
    assert_eq!(h["x-tessera-user"], "joe");
    assert_eq!(h["x-tessera-credential"], "token");
    assert_eq!(h["x-tessera-permissions"], "orders:read");
    assert!(h.get("authorization").is_none());
    // A variant of the path is judged as the route it reaches.
    let r = c.send(get(&c, "/%6frders/1", Some(&ann))).await;
    assert_eq!(r.status, 403);
    let r = c.send(get(&c, "/elsewhere", Some(&joe.body))).await;
    assert_eq!(r.status, 403, "no rule");
}
