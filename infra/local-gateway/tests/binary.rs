//! The `local-gateway` binary as a user runs it: flags, the printed URL, the key file, health,
//! a 404 problem for unknown routes, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn starts_serves_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-gateway"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("local-gateway listening on ").expect("prints its URL").to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let key = dir.path().join("data").join("signing-key.pem");
    assert!(key.exists(), "key generated on first start");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(dir.path().join("data").join("app.db").exists());

    let http = reqwest::Client::new();
    let health = http.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let missing = http.get(format!("{url}/no/such/route")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    assert!(missing.text().await.unwrap().contains("\"code\":\"not_found\""));

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "did not stop within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(http.get(format!("{url}/health")).send().await.is_err(), "no longer listening");
}

#[test]
fn refuses_a_bad_flag_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_local-gateway"))
        .args(["--listen", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
}

#[test]
fn refuses_a_corrupt_key_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("signing-key.pem"), "garbage").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_local-gateway"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "never starts with a key it cannot read");
    assert!(String::from_utf8_lossy(&out.stderr).contains("signing-key.pem"));
}
