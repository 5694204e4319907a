//! The application built as a library (`tessera_server::app::App`) and served in-process, with
//! a fresh database: what `tessera serve` runs, without a subprocess.

use tessera::Config;
use tessera_core::{Login, NewUser, Password};
use tessera_server::app::App;

use crate::client::{Client, PW};

/// Builds the application on a throwaway data directory, with `extra` configuration
/// variables (`TESSERA_<SECTION>__<KEY>`).
async fn app(dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> App {
    let mut vars = vec![(
        "TESSERA_SERVER__DATA_DIR".to_owned(),
        dir.path().join("data").display().to_string(),
    )];
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let config = Config::load_from(None, &vars).unwrap().config;
    App::build(&config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_serves_logins_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir, &[("TESSERA_SESSION__IDLE_TIMEOUT", "5m")]).await;
    app.accounts()
        .create_user(
            NewUser::new(Login::parse("joe").unwrap()),
            &Password::new(PW.to_owned()),
        )
        .await
        .unwrap();
    let server = app.spawn().await.unwrap();
    let mut c = Client::new(&server.base);

    let r = c
        .send(c.json_login_at("/api/login?_json=true", "joe", PW))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["expires_in"], 300, "the configuration is applied");
    assert!(r.set_cookie("sessionid").unwrap().contains("Max-Age=43200"));
    let info = c.get("/api/session").await;
    assert_eq!(info.json()["login"], "joe");

    let r = c.send_once(c.json_login("joe", "wrong")).await;
    r.assert_problem(401, "invalid_credentials");

    let base = server.base.clone();
    server.stop().await.unwrap();
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "nothing listens once stopped"
    );
}
