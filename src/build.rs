//! Names the commit in `--version`: `ENTRA_FAILOVER_COMMIT` when the build sets it (a source archive
//! has no git), else the checkout's HEAD, else "unknown".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=ENTRA_FAILOVER_COMMIT");
    let from_env = std::env::var("ENTRA_FAILOVER_COMMIT")
        .ok()
        .filter(|c| !c.is_empty());
    let commit = from_env.or_else(|| {
        // Build again when HEAD moves: HEAD itself, and the branch it points at.
        if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
            println!("cargo:rerun-if-changed={dir}/HEAD");
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                println!("cargo:rerun-if-changed={dir}/{branch}");
            }
        }
        git(&["rev-parse", "--short=12", "HEAD"])
    });
    println!(
        "cargo:rustc-env=ENTRA_FAILOVER_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
}
