//! The binary as a user runs it: `serve` on a fresh machine and the `migrate` commands.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{fresh_database_url, Backend};
use crate::on_both_databases;

const BIN: &str = env!("CARGO_BIN_EXE_better-auth-server");

/// The binary with a clean environment: no inherited secret or database settings.
pub(crate) fn command(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    for var in [
        "BETTER_AUTH_SECRET",
        "DATABASE_URL",
        "BETTER_AUTH_URL",
        "BETTER_AUTH_CONFIG",
        "BETTER_AUTH_TRUSTED_ORIGINS",
        "HOST",
        "PORT",
        "REDIS_URL",
        "BETTER_AUTH_REDIS_PREFIX",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("BETTER_AUTH_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn");
    cmd
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) async fn wait_until_up(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if reqwest::get(url).await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server did not come up at {url}");
}

#[actix_web::test]
async fn serve_on_a_fresh_machine_keeps_its_dev_secret() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/api/auth");
    let start = || {
        Running(
            command(dir.path())
                .env("PORT", port.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let server = start();
    wait_until_up(&format!("{base}/ok")).await;
    let secret_file = dir.path().join("secret");
    assert!(
        dir.path().join("auth.db").exists(),
        "SQLite database in the data directory"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/sign-up/email"))
        .json(
            &serde_json::json!({"name": "N", "email": "n@example.com", "password": "password123"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    drop(server);

    // Restarted: same secret, so the session cookie from before still works.
    let _server = start();
    wait_until_up(&format!("{base}/ok")).await;
    let body = client
        .get(format!("{base}/get-session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("n@example.com"), "{body}");
}

/// Log lines written to a file (or a pipe) carry no terminal colour codes.
#[actix_web::test]
async fn logs_to_a_file_are_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let server = Running(
        command(dir.path())
            .env("PORT", port.to_string())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_until_up(&format!("http://127.0.0.1:{port}/api/auth/ok")).await;
    drop(server);
    let text = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(text.contains("better-auth-server listening"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a log file: {text:?}"
    );
}

#[test]
fn refuses_a_weak_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .env("BETTER_AUTH_SECRET", "too-short")
        .arg("migrate")
        .arg("status")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("too short"), "{stderr}");
    assert!(
        !stderr.contains("too-short"),
        "the secret itself is never printed"
    );
}

/// Runs a subcommand on `database_url`; it must succeed. Returns its stdout.
pub(crate) fn run_ok(data_dir: &std::path::Path, database_url: &str, args: &[&str]) -> String {
    let out = command(data_dir)
        .env("DATABASE_URL", database_url)
        .env("BETTER_AUTH_SECRET", crate::harness::SECRET)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn migrate_up_status_down(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_database_url(b, dir.path()).await else {
        return;
    };
    let run = |args: &[&str]| run_ok(dir.path(), &url, args);
    assert!(run(&["migrate", "status"]).contains("Pending"));
    run(&["migrate", "up"]);
    assert!(run(&["migrate", "status"]).contains("Applied"));
    let db = better_auth_server::store::connect(&url).await.unwrap();
    let store = better_auth_server::store::Store::new(db.clone())
        .await
        .unwrap();
    assert!(
        store
            .users()
            .find_by_email("x@example.com")
            .await
            .unwrap()
            .is_none(),
        "tables exist"
    );
    // Down goes newest first: the column completion (a no-op: added columns stay) and
    // rateLimit leave the core tables; one more step removes everything.
    run(&["migrate", "down", "--steps", "2"]);
    assert!(store.users().find_by_email("x@example.com").await.is_ok());
    run(&["migrate", "down", "--steps", "1"]);
    assert!(!run(&["migrate", "status"]).contains("Applied"));
    assert!(
        store.users().find_by_email("x@example.com").await.is_err(),
        "tables dropped"
    );
    run(&["migrate", "fresh"]);
    assert!(store
        .users()
        .find_by_email("x@example.com")
        .await
        .unwrap()
        .is_none());
}

async fn keys_rotate_and_list(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_database_url(b, dir.path()).await else {
        return;
    };
    let run = |args: &[&str]| run_ok(dir.path(), &url, args);
    let first = run(&["keys", "rotate"]).trim().to_owned();
    assert_eq!(first.len(), 32, "prints the new kid: {first:?}");
    let second = run(&["keys", "rotate"]).trim().to_owned();
    assert_ne!(first, second);
    let list = run(&["keys", "list"]);
    let lines: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[0].starts_with(&second) && lines[0].ends_with("signing"),
        "{list}"
    );
    assert!(
        lines[1].starts_with(&first) && lines[1].ends_with("retired, published"),
        "{list}"
    );
}

on_both_databases!(migrate_up_status_down, keys_rotate_and_list);
