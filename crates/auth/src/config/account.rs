//! Accounts and users: sign-up and sign-in rules, email verification, change-email and
//! delete-user (upstream `emailAndPassword`, `emailVerification`, `user`).

use super::*;

/// Environment and flags for the account lifecycle and mail settings.
#[derive(Debug, Clone, Default, Args)]
pub struct AccountArgs {
    /// Refuse sign-in until the email address is verified (`requireEmailVerification`).
    #[arg(long, env = "BETTER_AUTH_REQUIRE_EMAIL_VERIFICATION", global = true)]
    pub require_email_verification: Option<bool>,
    /// How mail leaves: none (mail features off), log (prints links; development) or smtp.
    #[arg(long, env = "BETTER_AUTH_MAIL_TRANSPORT", global = true)]
    pub mail_transport: Option<MailTransport>,
    /// Sender address, e.g. `Example <no-reply@example.com>`.
    #[arg(long, env = "BETTER_AUTH_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,
    /// Directory with template overrides (`<kind>.subject`, `<kind>.txt`, `<kind>.html`).
    #[arg(long, env = "BETTER_AUTH_MAIL_TEMPLATES", global = true)]
    pub mail_templates: Option<PathBuf>,
    /// SMTP server host name.
    #[arg(long, env = "SMTP_HOST", global = true)]
    pub smtp_host: Option<String>,
    /// SMTP port (default: 587 for starttls, 465 for tls, 25 for none).
    #[arg(long, env = "SMTP_PORT", global = true)]
    pub smtp_port: Option<u16>,
    /// SMTP connection security: starttls (default), tls or none.
    #[arg(long, env = "SMTP_SECURITY", global = true)]
    pub smtp_security: Option<SmtpSecurity>,
    /// SMTP user name.
    #[arg(long, env = "SMTP_USERNAME", global = true)]
    pub smtp_username: Option<String>,
    /// SMTP password. Prefer the environment variable over the flag.
    #[arg(long, env = "SMTP_PASSWORD", hide_env_values = true, global = true)]
    pub smtp_password: Option<String>,
    /// PEM file of extra CA certificates to trust for the SMTP server (a private relay).
    #[arg(long, env = "SMTP_CA_FILE", global = true)]
    pub smtp_ca_file: Option<PathBuf>,
}

impl AccountArgs {
    pub(crate) fn without_empty_values(&self) -> AccountArgs {
        AccountArgs {
            require_email_verification: self.require_email_verification,
            mail_transport: self.mail_transport,
            mail_from: keep(&self.mail_from),
            mail_templates: self
                .mail_templates
                .clone()
                .filter(|p| !p.as_os_str().is_empty()),
            smtp_host: keep(&self.smtp_host),
            smtp_port: self.smtp_port,
            smtp_security: self.smtp_security,
            smtp_username: keep(&self.smtp_username),
            smtp_password: keep(&self.smtp_password),
            smtp_ca_file: self
                .smtp_ca_file
                .clone()
                .filter(|p| !p.as_os_str().is_empty()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileAccount {
    pub(crate) require_email_verification: Option<bool>,
    pub(crate) auto_sign_in: Option<bool>,
    pub(crate) reset_password_token_expires_in: Option<TimeSpan>,
    pub(crate) revoke_sessions_on_password_reset: Option<bool>,
    #[serde(default)]
    pub(crate) account_linking: crate::oauth::config::FileAccountLinking,
    pub(crate) encrypt_oauth_tokens: Option<bool>,
    pub(crate) skip_state_cookie_check: Option<bool>,
    pub(crate) update_account_on_sign_in: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileEmailVerification {
    pub(crate) send_on_sign_up: Option<bool>,
    pub(crate) send_on_sign_in: Option<bool>,
    pub(crate) auto_sign_in_after_verification: Option<bool>,
    pub(crate) expires_in: Option<TimeSpan>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileUser {
    pub(crate) change_email: Option<bool>,
    pub(crate) update_email_without_verification: Option<bool>,
    pub(crate) send_change_email_confirmation: Option<bool>,
    pub(crate) delete_user: Option<bool>,
    pub(crate) delete_user_verification: Option<bool>,
    pub(crate) delete_token_expires_in: Option<TimeSpan>,
    #[serde(default)]
    pub(crate) additional_fields: toml::Table,
}

/// Sign-up, sign-in and password reset options (upstream `emailAndPassword.*`).
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// Sign-in refuses unverified users (403 EMAIL_NOT_VERIFIED); sign-up then creates no
    /// session and answers an existing address like a new one.
    pub require_email_verification: bool,
    /// Sign-up signs the new user in (`autoSignIn`, default true).
    pub auto_sign_in: bool,
    /// Lifetime of a password reset token in seconds (default 1 hour).
    pub reset_password_token_expires_in: i64,
    /// A password reset signs the user out everywhere.
    pub revoke_sessions_on_password_reset: bool,
}

/// Upstream `emailVerification.*`.
#[derive(Debug, Clone)]
pub struct EmailVerificationConfig {
    /// Default: `require_email_verification`.
    pub send_on_sign_up: bool,
    /// Send a new link when an unverified user is refused at sign-in.
    pub send_on_sign_in: bool,
    /// Following the link signs the user in.
    pub auto_sign_in_after_verification: bool,
    /// Lifetime of a verification link in seconds (default 1 hour).
    pub expires_in: i64,
}

/// Upstream `user.changeEmail` and `user.deleteUser`.
#[derive(Debug, Clone)]
pub struct UserConfig {
    pub change_email_enabled: bool,
    /// An unverified user's address changes at once (then a link verifies the new one).
    pub update_email_without_verification: bool,
    /// A verified user first confirms the change from the current address.
    pub send_change_email_confirmation: bool,
    pub delete_user_enabled: bool,
    /// delete-user mails a confirmation link instead of deleting right away.
    pub delete_user_verification: bool,
    pub delete_token_expires_in: i64,
}

pub(crate) fn account_config(
    args: &AccountArgs,
    account: FileAccount,
    verification: FileEmailVerification,
    user: FileUser,
    mail: FileMail,
) -> Result<
    (
        AccountConfig,
        EmailVerificationConfig,
        UserConfig,
        MailConfig,
    ),
    ConfigError,
> {
    let span = |v: Option<TimeSpan>, name: &str, default: i64| -> Result<i64, ConfigError> {
        let seconds = v.map(|s| s.seconds(name)).transpose()?.unwrap_or(default);
        if seconds <= 0 {
            return Err(ConfigError::Invalid(format!("{name} must be positive")));
        }
        Ok(seconds)
    };
    let require = args
        .require_email_verification
        .or(account.require_email_verification)
        .unwrap_or(false);
    let account_config = AccountConfig {
        require_email_verification: require,
        auto_sign_in: account.auto_sign_in.unwrap_or(true),
        reset_password_token_expires_in: span(
            account.reset_password_token_expires_in,
            "account.reset_password_token_expires_in",
            3_600,
        )?,
        revoke_sessions_on_password_reset: account
            .revoke_sessions_on_password_reset
            .unwrap_or(false),
    };
    let verification_config = EmailVerificationConfig {
        send_on_sign_up: verification.send_on_sign_up.unwrap_or(require),
        send_on_sign_in: verification.send_on_sign_in.unwrap_or(false),
        auto_sign_in_after_verification: verification
            .auto_sign_in_after_verification
            .unwrap_or(false),
        expires_in: span(
            verification.expires_in,
            "email_verification.expires_in",
            3_600,
        )?,
    };
    let user_config = UserConfig {
        change_email_enabled: user.change_email.unwrap_or(false),
        update_email_without_verification: user.update_email_without_verification.unwrap_or(false),
        send_change_email_confirmation: user.send_change_email_confirmation.unwrap_or(false),
        delete_user_enabled: user.delete_user.unwrap_or(false),
        delete_user_verification: user.delete_user_verification.unwrap_or(false),
        delete_token_expires_in: span(
            user.delete_token_expires_in,
            "user.delete_token_expires_in",
            86_400,
        )?,
    };
    let transport = args
        .mail_transport
        .or(mail.transport)
        .unwrap_or(MailTransport::None);
    let security = args
        .smtp_security
        .or(mail.smtp.security)
        .unwrap_or(SmtpSecurity::Starttls);
    let smtp = SmtpConfig {
        host: args
            .smtp_host
            .clone()
            .or(mail.smtp.host)
            .unwrap_or_default(),
        port: args.smtp_port.or(mail.smtp.port).unwrap_or(match security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }),
        security,
        username: args.smtp_username.clone().or(mail.smtp.username),
        password: args.smtp_password.clone().or(mail.smtp.password),
        ca_file: args.smtp_ca_file.clone().or(mail.smtp.ca_file),
    };
    if transport == MailTransport::Smtp && smtp.host.is_empty() {
        return Err(ConfigError::Invalid(
            "mail transport smtp needs SMTP_HOST (mail.smtp.host)".into(),
        ));
    }
    if smtp.username.is_some() != smtp.password.is_some() {
        return Err(ConfigError::Invalid(
            "SMTP_USERNAME and SMTP_PASSWORD go together".into(),
        ));
    }
    let from = args
        .mail_from
        .clone()
        .or(mail.from)
        .unwrap_or_else(|| "Better Auth <no-reply@localhost>".into());
    let mail_config = MailConfig {
        transport,
        from,
        app_name: mail.app_name.unwrap_or_else(|| "Better Auth".into()),
        template_dir: args.mail_templates.clone().or(mail.template_dir),
        smtp,
    };
    Ok((
        account_config,
        verification_config,
        user_config,
        mail_config,
    ))
}
