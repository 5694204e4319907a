//! Rate limits of access rules: counted per user (per client address on a public rule),
//! answered with the `RateLimit-Policy` and `RateLimit` headers, refused past the limit
//! with 429 `rate_limited` and `Retry-After` (never reaching the upstream), and back once
//! the budget has come back; the same on the gateway and `{base}/verify`.

use std::time::Duration;

use reqwest::Method;

use crate::client::{Client, PW, Resp};
use crate::harness::{Env, rules};

async fn get(c: &mut Client, path: &str, token: Option<&str>) -> Resp {
    let rb = match token {
        Some(t) => c.bearer(Method::GET, path, t),
        None => c.req(Method::GET, path),
    };
    c.send_once(rb).await
}

/// `r` of the `RateLimit` header.
fn remaining(r: &Resp) -> u32 {
    let v = r
        .header("ratelimit")
        .unwrap_or_else(|| panic!("no RateLimit: {:?}", r.headers));
    v.split(';')
        .find_map(|p| p.strip_prefix("r="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("RateLimit: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_count_each_caller_apart_and_refuse_past_the_limit() {
    let up = crate::upstream::start().await;
    let env = Env::sqlite().config(&format!(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n[proxy]\nupstream = \"http://{up}\"\n{}",
        rules(&[
            ("GET /limited/**", r#"rate_limit = "3/2s""#),
            ("GET /open/**", "public = true\nrate_limit = \"2/1h\""),
            ("GET /checked/**", "rate_limit = \"1/1h\"\nburst = 1"),
            ("GET /free/**", ""),
        ])
    ));
    env.add_user("joe", PW, &[]);
    env.add_user("ann", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let joe = c.login_token("joe", PW).await;
    let ann = c.login_token("ann", PW).await;

    // The whole budget at once, each answer saying what is left.
    for left in [2, 1, 0] {
        let r = get(&mut c, "/limited/a", Some(&joe)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("ratelimit-policy"), Some("\"rule0\";q=3;w=2"));
        assert_eq!(remaining(&r), left);
    }
    // Past it: refused before the upstream, saying when to come back.
    let refused = get(&mut c, "/limited/a", Some(&joe)).await;
    refused.assert_problem(429, "rate_limited");
    assert!(
        !refused.body.contains("\"headers\""),
        "reached the upstream"
    );
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_eq!(remaining(&refused), 0);
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"rule0\";q=3;w=2")
    );

    // Another user has a budget of their own.
    let r = get(&mut c, "/limited/a", Some(&ann)).await;
    assert_eq!((r.status, remaining(&r)), (200, 2));

    // Once the time said has passed, the user may go on.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let r = get(&mut c, "/limited/a", Some(&joe)).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A public rule counts the client address: two, then refused, whoever asks.
    for left in [1, 0] {
        let r = get(&mut c, "/open/x", None).await;
        assert_eq!((r.status, remaining(&r)), (200, left));
    }
    get(&mut c, "/open/x", Some(&ann))
        .await
        .assert_problem(429, "rate_limited");

    // A rule without a limit says nothing of one.
    let r = get(&mut c, "/free/x", Some(&joe)).await;
    assert_eq!(r.status, 200);
    assert!(r.header("ratelimit").is_none() && r.header("ratelimit-policy").is_none());

    // `{base}/verify` counts the same way and answers the same headers.
    let verify = |c: &Client| {
        c.bearer(Method::GET, "/api/verify", &joe)
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Uri", "/checked/1")
    };
    let rb = verify(&c);
    let r = c.send_once(rb).await;
    assert_eq!((r.status, remaining(&r)), (200, 0), "{}", r.body);
    assert_eq!(r.header("x-tessera-user"), Some("joe"));
    // Nothing a proxy would not read: no CSRF token, no cookie.
    assert!(
        r.header("x-csrftoken").is_none() && r.set_cookies.is_empty(),
        "{:?}",
        r.headers
    );
    let rb = verify(&c);
    c.send_once(rb).await.assert_problem(429, "rate_limited");
}

#[test]
fn a_bad_rate_limit_is_named_in_the_configuration_error() {
    let env = Env::sqlite();
    let write = |name: &str, rule: &str| {
        let p = env.path().join(name);
        std::fs::write(&p, rules(&[("GET /x/**", rule)])).unwrap();
        p.display().to_string()
    };
    let line = env
        .run(
            &[
                "--config",
                &write("a.toml", "rate_limit = \"600\""),
                "config",
                "check",
            ],
            "",
        )
        .failure();
    assert!(
        line.contains("rules[0]") && line.contains("requests/period"),
        "{line}"
    );
    env.run(
        &["--config", &write("b.toml", "burst = 5"), "config", "check"],
        "",
    )
    .failure_with("`burst` needs a `rate_limit`");
}
