//! Mail: transport, sender, templates and SMTP.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileMail {
    pub(crate) transport: Option<MailTransport>,
    pub(crate) from: Option<String>,
    pub(crate) app_name: Option<String>,
    pub(crate) template_dir: Option<PathBuf>,
    #[serde(default)]
    pub(crate) smtp: FileSmtp,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSmtp {
    pub(crate) host: Option<String>,
    pub(crate) port: Option<u16>,
    pub(crate) security: Option<SmtpSecurity>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// No mail: the features that need it answer as upstream without a sender callback.
    None,
    /// Print each mail, links included, to the log. Development only.
    Log,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: only for a relay on localhost or tests.
    None,
}

#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Extra trusted CA certificates (PEM) besides the webpki roots.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: MailTransport,
    pub from: String,
    /// Shown in the built-in templates.
    pub app_name: String,
    pub template_dir: Option<PathBuf>,
    pub smtp: SmtpConfig,
}

impl MailConfig {
    /// Whether mail can be sent (upstream: a sender callback is configured).
    pub fn enabled(&self) -> bool {
        self.transport != MailTransport::None
    }
}
