//! Outgoing mail through lettre: SMTP (STARTTLS, TLS or plain; rustls) or the log.
//!
//! Handlers never wait for a mail server: `Mailer::send` renders the mail and puts it on a
//! bounded queue; a background task delivers it, retrying with backoff, and logs every
//! failure. Log lines never contain the links (they carry tokens), except with the `log`
//! transport, whose purpose in development is to show them.

mod templates;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::{mpsc, Semaphore};

pub use templates::{MailKind, MailVars, Rendered, Templates};

use crate::config::{MailConfig, MailTransport, SmtpSecurity};

/// Mails waiting for delivery; beyond this, new ones are refused (and logged).
const QUEUE_CAPACITY: usize = 1024;
/// Deliveries running at once.
const PARALLEL_DELIVERIES: usize = 4;
/// Waits between attempts: five attempts over about a minute.
const RETRY_DELAYS: [Duration; 4] = [
    Duration::from_secs(2),
    Duration::from_secs(6),
    Duration::from_secs(18),
    Duration::from_secs(54),
];

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail templates: {0}")]
    Templates(#[from] std::io::Error),
    #[error("invalid mail sender address {0:?}")]
    From(String),
    #[error("SMTP setup: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("SMTP CA file: {0}")]
    CaFile(std::io::Error),
}

struct Outgoing {
    kind: MailKind,
    to: Mailbox,
    mail: Rendered,
}

#[derive(Clone)]
enum Transport {
    Log,
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// The handle the handlers use. Cheap to share.
pub struct Mailer {
    queue: Option<mpsc::Sender<Outgoing>>,
    templates: Templates,
    /// Mails accepted by `send` and not yet delivered or given up.
    pending: Arc<AtomicUsize>,
}

impl Mailer {
    /// Checks the settings and starts the delivery task (needs a tokio runtime). With the
    /// `none` transport nothing is started and `enabled()` is false.
    pub fn start(config: &MailConfig) -> Result<Mailer, MailError> {
        let templates = Templates::load(config.template_dir.as_deref(), &config.app_name)?;
        let transport = match config.transport {
            MailTransport::None => {
                return Ok(Mailer {
                    queue: None,
                    templates,
                    pending: Arc::default(),
                })
            }
            MailTransport::Log => Transport::Log,
            MailTransport::Smtp => Transport::Smtp(smtp_transport(config)?),
        };
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| MailError::From(config.from.clone()))?;
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let pending = Arc::new(AtomicUsize::new(0));
        tokio::spawn(deliver_all(rx, transport, from, pending.clone()));
        Ok(Mailer {
            queue: Some(tx),
            templates,
            pending,
        })
    }

    /// Mails queued or being delivered.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// At shutdown: waits up to `within` for pending mails, then says how many are lost.
    pub async fn drain(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.pending() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let lost = self.pending();
        if lost > 0 {
            tracing::error!(lost, "stopping with mails not yet delivered");
        }
    }

    /// Whether mail can be sent (upstream: a sender callback is configured).
    pub fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues a mail and returns at once.
    pub fn send(&self, kind: MailKind, to: &str, vars: &MailVars) {
        let Some(queue) = &self.queue else {
            tracing::error!(kind = kind.name(), "mail is not configured; not sent");
            return;
        };
        let Ok(to) = to.parse::<Mailbox>() else {
            tracing::error!(
                kind = kind.name(),
                "invalid recipient address; mail not sent"
            );
            return;
        };
        let mail = self.templates.render(kind, vars);
        self.pending.fetch_add(1, Ordering::AcqRel);
        if let Err(e) = queue.try_send(Outgoing { kind, to, mail }) {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            tracing::error!(kind = kind.name(), error = %e, "mail queue unavailable; mail not sent");
        }
    }
}

fn smtp_transport(config: &MailConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let smtp = &config.smtp;
    let builder = match smtp.security {
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?,
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
    };
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(20)));
    if let Some(path) = &smtp.ca_file {
        // A private relay: its CA joins the webpki roots.
        let pem = std::fs::read(path).map_err(MailError::CaFile)?;
        let params = TlsParameters::builder(smtp.host.clone())
            .add_root_certificate(Certificate::from_pem(&pem)?)
            .build()?;
        builder = match smtp.security {
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(params)),
            SmtpSecurity::Starttls => builder.tls(Tls::Required(params)),
            SmtpSecurity::None => builder,
        };
    }
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

async fn deliver_all(
    mut rx: mpsc::Receiver<Outgoing>,
    transport: Transport,
    from: Mailbox,
    pending: Arc<AtomicUsize>,
) {
    let slots = Arc::new(Semaphore::new(PARALLEL_DELIVERIES));
    while let Some(out) = rx.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let transport = transport.clone();
        let from = from.clone();
        let pending = pending.clone();
        tokio::spawn(async move {
            deliver(&transport, from, out).await;
            pending.fetch_sub(1, Ordering::AcqRel);
            drop(slot);
        });
    }
}

async fn deliver(transport: &Transport, from: Mailbox, out: Outgoing) {
    let kind = out.kind.name();
    let message = Message::builder()
        .from(from)
        .to(out.to.clone())
        .subject(out.mail.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            out.mail.text.clone(),
            out.mail.html.clone(),
        ));
    let message = match message {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(kind, error = %e, "could not build a mail; not sent");
            return;
        }
    };
    let Transport::Smtp(smtp) = transport else {
        // Development transport: the link is the point of it.
        tracing::info!(
            kind,
            to = %out.to,
            subject = %out.mail.subject,
            "mail (log transport):\n{}",
            out.mail.text
        );
        return;
    };
    let mut attempt = 1;
    loop {
        match smtp.send(message.clone()).await {
            Ok(_) => {
                tracing::debug!(kind, attempt, "mail delivered");
                return;
            }
            Err(e) => {
                let Some(delay) = RETRY_DELAYS.get(attempt - 1) else {
                    tracing::error!(kind, attempt, error = %e, "mail delivery failed; giving up");
                    return;
                };
                // A permanent refusal (5xx: bad address, rejected sender) will not improve.
                if e.is_permanent() {
                    tracing::error!(kind, attempt, error = %e, "mail refused by the server; giving up");
                    return;
                }
                tracing::warn!(kind, attempt, error = %e, retry_in = ?delay, "mail delivery failed; will retry");
                tokio::time::sleep(*delay).await;
                attempt += 1;
            }
        }
    }
}
