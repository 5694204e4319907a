//! Schemathesis, an outside tool, checks the OpenAPI description against the live
//! server: it reads `{base}/openapi.json`, generates requests for every operation (valid
//! ones from the schemas and examples, and invalid ones), sends them with a session of an
//! administrator, and fails on any 5xx, any status the description does not list, and any
//! body, header or content type that does not match it.
//!
//! Schemathesis is installed from PyPI, pinned in `tests/schemathesis/requirements.txt`,
//! into a virtual environment under `target/` the first time (under a file lock). Without
//! Python the test is skipped loudly, except under `CI=true`, where that is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::client::PW;
use crate::harness::{Env, rules};
use crate::oidc_provider::{program, under_ci};

/// The checks run on every response. The two that judge the server's choice to accept
/// or refuse a request (`positive_data_acceptance`, `negative_data_rejection`) are not:
/// see the README ("OpenAPI").
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance";

fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis")
}

/// The `schemathesis` program of the virtual environment under `target/`, installed by
/// `tests/schemathesis/install.sh` (the script `.ci/run` also runs) if it is not there.
fn schemathesis() -> Result<PathBuf, String> {
    program("TESSERA_PYTHON", "python3").ok_or("Python 3 is not installed")?;
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("schemathesis-venv");
    let lock_path = std::env::temp_dir().join("tessera-schemathesis-venv.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| format!("{lock_path:?}: {e}"))?;
    lock.lock().map_err(|e| format!("{lock_path:?}: {e}"))?;
    let out = Command::new(tests_dir().join("install.sh"))
        .arg(&venv)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("install.sh: {e}"))?;
    // Python is there but the packages could not be installed: not a reason to skip.
    assert!(
        out.status.success(),
        "installing Schemathesis failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(venv.join("bin/schemathesis"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_every_answer_as_the_description_says() {
    let schemathesis = match schemathesis() {
        Ok(bin) => bin,
        Err(why) if !under_ci() => {
            eprintln!("SKIPPED: Schemathesis unavailable: {why}");
            return;
        }
        Err(why) => panic!("Schemathesis unavailable under CI: {why}"),
    };
    // Access rules give `{base}/verify` something to decide, asked from loopback as a
    // trusted proxy; the address limit on failed logins is raised so that the run's own logins are never throttled (accounts still
    // lock, so 429 answers are met).
    let env = Env::sqlite().config(&format!(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n[throttle]\nip_max_failures = 1000000\n{}",
        rules(&[
            ("GET /public/**", "public = true"),
            ("/orders/**", "permissions = [\"orders:read\"]"),
        ])
    ));
    env.add_role("orders", &["orders:read"]);
    env.add_user("fuzzer", PW, &["--role", "admin"]);
    // The account and role the description's examples name, so that operations on them
    // get past their 404.
    env.add_user("alice", PW, &["--role", "orders"]);
    env.add_user("bob", PW, &[]);
    let server = env.serve_in_process();
    let report = env.path().join("junit.xml");
    let out = Command::new(&schemathesis)
        .arg("run")
        .arg(server.url("/api/openapi.json"))
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "25", "--seed", "1", "--workers", "2"])
        .args(["--request-timeout", "30", "--max-redirects", "0"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&report)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", tests_dir())
        .env("TESSERA_FUZZ_SERVER", &server.base)
        .env("TESSERA_FUZZ_BASE", "/api")
        .env("TESSERA_FUZZ_LOGIN", "fuzzer")
        .env("TESSERA_FUZZ_PASSWORD", PW)
        .env("NO_COLOR", "1")
        .current_dir(env.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Its summary (warnings included), shown with `--nocapture`.
    println!("{stdout}");
    assert!(
        out.status.success(),
        "Schemathesis found failures:\n{stdout}\n{stderr}"
    );
    // It really tested every operation of the description.
    let doc: serde_json::Value = reqwest::get(server.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Schemathesis leaves out the operation that serves the description it reads.
    let mut operations: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .filter(|op| op != "GET /api/openapi.json")
        .collect();
    operations.sort();
    let junit = std::fs::read_to_string(&report).unwrap();
    let mut tested: Vec<&str> = junit
        .split("<testcase ")
        .skip(1)
        .filter_map(|t| t.split("name=\"").nth(1)?.split('"').next())
        .collect();
    tested.sort_unstable();
    assert_eq!(
        tested, operations,
        "the operations tested are not those described"
    );
    assert!(!junit.contains("<failure"), "{junit}");
}
