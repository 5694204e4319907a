//! A real Chromium, headless, driven through chromedriver (WebDriver): one per test that
//! needs it, killed when dropped. Missing browser binaries skip the test loudly, except
//! under `CI=true`, where that is a failure.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

pub struct Browser {
    pub client: Client,
    /// The chromedriver, for the browser that started it (not for a [`Browser::fresh_session`]).
    driver: Option<Child>,
    /// chromedriver's URL and the capabilities of the session, for another one.
    endpoint: (String, serde_json::Map<String, serde_json::Value>),
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(driver) = &mut self.driver {
            // chromedriver leads a process group of its own: the browsers it started go
            // with it, rather than living on (holding connections to the test's server).
            let group = format!("-{}", driver.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = driver.kill();
            let _ = driver.wait();
        }
    }
}

fn find(var: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(var) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// A headless Chromium, or `None` (with a notice) when it is not installed outside CI.
pub async fn start() -> Option<Browser> {
    launch(true).await
}

/// The same with JavaScript turned off, to show that the pages work without their script.
pub async fn start_without_javascript() -> Option<Browser> {
    launch(false).await
}

async fn launch(javascript: bool) -> Option<Browser> {
    let driver = find("TESSERA_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
    let chromium = find("TESSERA_CHROMIUM", &["/usr/bin/chromium"]);
    let (Some(driver), Some(chromium)) = (driver, chromium) else {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("browser tests cannot run under CI=true: chromium and chromedriver are missing");
        }
        eprintln!("\n*** SKIPPING browser test: install chromium and chromium-driver ***\n");
        return None;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,900", "--lang=en-US"],
            "prefs": {
                "profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 },
            },
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..100 {
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        match builder.capabilities(caps.clone()).connect(&url).await {
            Ok(client) => {
                return Some(Browser {
                    client,
                    driver: Some(child),
                    endpoint: (url, caps),
                });
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer: {last:?}");
}

impl Browser {
    /// A second session of the same chromedriver: another browser with a profile of its
    /// own (no cookies shared with this one), for a second person. Keep it shorter-lived
    /// than this one, whose chromedriver it uses.
    pub async fn fresh_session(&self) -> Browser {
        let (url, caps) = &self.endpoint;
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        let client = builder
            .capabilities(caps.clone())
            .connect(url)
            .await
            .unwrap();
        Browser {
            client,
            driver: None,
            endpoint: self.endpoint.clone(),
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let e = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Clicks a button that submits a form, and waits for the next page.
    pub async fn submit(&self, css: &str) {
        self.mark_page().await;
        self.click(css).await;
        self.wait_for_new_page().await;
    }

    /// Clicks a button whose form asks for confirmation, accepts it, and waits for the
    /// next page.
    pub async fn submit_confirmed(&self, css: &str) {
        self.mark_page().await;
        self.click(css).await;
        self.client.accept_alert().await.unwrap();
        self.wait_for_new_page().await;
    }

    /// Marks the current document, so that a new one (even at the same URL) can be told.
    async fn mark_page(&self) {
        self.client
            .execute("window.tesseraOldPage = true", vec![])
            .await
            .unwrap();
    }

    /// Waits (up to 10 s) until a new, fully loaded document replaced the marked one.
    async fn wait_for_new_page(&self) {
        for _ in 0..200 {
            let state = self
                .client
                .execute(
                    "return window.tesseraOldPage ? 'old' : document.readyState",
                    vec![],
                )
                .await;
            // A navigation in progress can make the script fail: try again.
            if state.is_ok_and(|s| s == "complete") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new page after the form was submitted");
    }

    /// Saves the page at desktop and phone width as `target/console-screenshots/NAME-*.png`.
    pub async fn screenshots(&self, name: &str) {
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        for (label, width, height) in [("desktop", 1280, 900), ("phone", 360, 800)] {
            self.client.set_window_size(width, height).await.unwrap();
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}-{label}.png")), png).unwrap();
        }
        self.client.set_window_size(1280, 900).await.unwrap();
    }
}
