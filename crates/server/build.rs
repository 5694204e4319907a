//! Records the commit the binary is built from, for `tessera --version`: the
//! `TESSERA_BUILD_COMMIT` environment variable when set (packagers building from a
//! tarball), otherwise `git rev-parse`, otherwise `unknown`.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=TESSERA_BUILD_COMMIT");
    let commit = std::env::var("TESSERA_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=TESSERA_BUILD_COMMIT={}", commit.trim());
}

/// The abbreviated commit of the checkout. Uncommitted changes are not flagged: watching
/// the index would rebuild the server on every `git add`.
fn git_commit() -> Option<String> {
    let git_dir = git(&["rev-parse", "--absolute-git-dir"])?;
    // Rebuilt when HEAD moves: a commit on the branch or a checkout.
    println!(
        "cargo:rerun-if-changed={}",
        Path::new(&git_dir).join("HEAD").display()
    );
    if let Ok(head) = std::fs::read_to_string(Path::new(&git_dir).join("HEAD"))
        && let Some(branch) = head.trim().strip_prefix("ref: ")
    {
        println!(
            "cargo:rerun-if-changed={}",
            Path::new(&git_dir).join(branch).display()
        );
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}
