//! A real SMTP server on loopback (Python's aiosmtpd, `tests/python/smtp_capture.py`) that
//! keeps every mail it accepts, so that tests can read the mail and follow its link.
//!
//! The Python comes from `BETTER_AUTH_TEST_PYTHON`, else `target/py-venv` as
//! `scripts/test.sh` makes it. Without it the test skips, except in CI
//! (`BETTER_AUTH_REQUIRE_POSTGRES=1`), where it fails.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use better_auth_server::config::{Config, MailTransport, SmtpSecurity};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    pub rcpt_to: Vec<String>,
    /// The SMTP login the client authenticated with, if any.
    pub login: Option<String>,
    /// Whether the message came over TLS (STARTTLS or implicit).
    pub tls: bool,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// The first http(s) link of the plain-text part.
    pub fn link(&self) -> String {
        let start = self.text.find("http").expect("a link in the mail");
        self.text[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }
}

pub struct Mailbox {
    pub port: u16,
    security: SmtpSecurity,
    credentials: Option<(String, String)>,
    child: Child,
    dir: tempfile::TempDir,
    seen: Mutex<HashSet<PathBuf>>,
}

fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("BETTER_AUTH_TEST_PYTHON") {
        if !p.is_empty() {
            return Some(PathBuf::from(p));
        }
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/py-venv/bin/python");
    venv.exists().then_some(venv)
}

fn unavailable(why: &str) -> Option<Mailbox> {
    assert!(
        std::env::var("BETTER_AUTH_REQUIRE_POSTGRES").as_deref() != Ok("1"),
        "the SMTP capture server is required in CI but {why} (run scripts/test.sh, which \
         builds target/py-venv with aiosmtpd)"
    );
    eprintln!("{why}: skipping a test that needs the SMTP capture server");
    None
}

impl Mailbox {
    /// On a free port.
    pub fn start() -> Option<Mailbox> {
        Self::start_on(0)
    }

    pub fn start_on(port: u16) -> Option<Mailbox> {
        Self::start_with(port, SmtpSecurity::None, None)
    }

    /// With TLS (a throwaway CA, see `ca_file`) and, optionally, required credentials.
    pub fn start_with(
        port: u16,
        security: SmtpSecurity,
        credentials: Option<(&str, &str)>,
    ) -> Option<Mailbox> {
        let Some(python) = python() else {
            return unavailable("no Python with aiosmtpd found");
        };
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/smtp_capture.py");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = match Command::new(&python)
            .arg(&script)
            .arg(dir.path())
            .arg(port.to_string())
            .arg(match security {
                SmtpSecurity::None => "none",
                SmtpSecurity::Starttls => "starttls",
                SmtpSecurity::Tls => "tls",
            })
            .args(credentials.map(|(u, p)| format!("{u}:{p}")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => return unavailable(&format!("cannot run {}: {e}", python.display())),
        };
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the port");
        let Ok(port) = line.trim().parse() else {
            let _ = child.kill();
            return unavailable("the SMTP capture server did not start (is aiosmtpd installed?)");
        };
        Some(Mailbox {
            port,
            security,
            credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
            child,
            dir,
            seen: Mutex::new(HashSet::new()),
        })
    }

    /// Points the server's SMTP transport at this mailbox, with its security and login.
    pub fn configure(&self, config: &mut Config) {
        configure_smtp(config, self.port);
        if self.security != SmtpSecurity::None {
            // The certificate names localhost; the CA is the one the server just made.
            config.mail.smtp.host = "localhost".into();
            config.mail.smtp.security = self.security;
            config.mail.smtp.ca_file = Some(self.dir.path().join("ca.pem"));
        }
        if let Some((user, password)) = &self.credentials {
            config.mail.smtp.username = Some(user.clone());
            config.mail.smtp.password = Some(password.clone());
        }
    }

    /// The next mail to `to` not returned before; fails after 15 s.
    pub async fn wait_for(&self, to: &str) -> Mail {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(mail) = self.take(to) {
                return mail;
            }
            assert!(Instant::now() < deadline, "no mail to {to} arrived");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn take(&self, to: &str) -> Option<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read mail dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let mut seen = self.seen.lock().unwrap();
        for path in files {
            if seen.contains(&path) {
                continue;
            }
            let mail: Mail =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if mail.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(to)) {
                seen.insert(path);
                return Some(mail);
            }
        }
        None
    }

    /// How many mails arrived in total.
    pub fn count(&self) -> usize {
        std::fs::read_dir(self.dir.path())
            .expect("read mail dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count()
    }
}

pub fn configure_smtp(config: &mut Config, port: u16) {
    config.mail.transport = MailTransport::Smtp;
    config.mail.from = "Acme Auth <auth@acme.test>".into();
    config.mail.smtp.host = "127.0.0.1".into();
    config.mail.smtp.port = port;
    config.mail.smtp.security = SmtpSecurity::None;
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
