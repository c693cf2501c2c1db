//! Mail texts: built-in defaults, each part replaceable by a file in a template directory
//! (`<kind>.subject`, `<kind>.txt`, `<kind>.html`). Placeholders are `{{url}}`, `{{name}}`,
//! `{{email}}`, `{{new_email}}` and `{{app_name}}`; values are HTML-escaped in HTML parts.

use std::path::Path;

/// The mails the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// Link that verifies an address (after sign-up, on request, or a new address).
    VerifyEmail,
    /// Link to the password reset page.
    ResetPassword,
    /// Sent to the current address: confirm moving the account to `new_email`.
    ChangeEmailConfirmation,
    /// Link that confirms deleting the account.
    DeleteAccount,
}

impl MailKind {
    pub const ALL: [MailKind; 4] = [
        MailKind::VerifyEmail,
        MailKind::ResetPassword,
        MailKind::ChangeEmailConfirmation,
        MailKind::DeleteAccount,
    ];

    /// File stem of the overrides, also used in log lines.
    pub fn name(self) -> &'static str {
        match self {
            MailKind::VerifyEmail => "verify-email",
            MailKind::ResetPassword => "reset-password",
            MailKind::ChangeEmailConfirmation => "change-email-confirmation",
            MailKind::DeleteAccount => "delete-account",
        }
    }

    fn defaults(self) -> (&'static str, &'static str, &'static str) {
        match self {
            MailKind::VerifyEmail => (
                "Verify your email address",
                "Hello {{name}},\n\nPlease verify your email address {{email}} for {{app_name}} by opening this link:\n\n{{url}}\n\nIf you did not ask for this, you can ignore this message.\n",
                "<p>Hello {{name}},</p><p>Please verify your email address {{email}} for {{app_name}}:</p><p><a href=\"{{url}}\">Verify my email address</a></p><p>If you did not ask for this, you can ignore this message.</p>",
            ),
            MailKind::ResetPassword => (
                "Reset your password",
                "Hello {{name}},\n\nSomeone asked to reset the password of your {{app_name}} account ({{email}}). To choose a new password, open this link:\n\n{{url}}\n\nIf it was not you, ignore this message: your password stays as it is.\n",
                "<p>Hello {{name}},</p><p>Someone asked to reset the password of your {{app_name}} account ({{email}}).</p><p><a href=\"{{url}}\">Choose a new password</a></p><p>If it was not you, ignore this message: your password stays as it is.</p>",
            ),
            MailKind::ChangeEmailConfirmation => (
                "Confirm your new email address",
                "Hello {{name}},\n\nSomeone asked to change the email address of your {{app_name}} account from {{email}} to {{new_email}}. To approve, open this link:\n\n{{url}}\n\nIf it was not you, ignore this message and consider changing your password.\n",
                "<p>Hello {{name}},</p><p>Someone asked to change the email address of your {{app_name}} account from {{email}} to {{new_email}}.</p><p><a href=\"{{url}}\">Approve the change</a></p><p>If it was not you, ignore this message and consider changing your password.</p>",
            ),
            MailKind::DeleteAccount => (
                "Confirm deleting your account",
                "Hello {{name}},\n\nSomeone asked to delete your {{app_name}} account ({{email}}). To delete it for good, open this link:\n\n{{url}}\n\nIf it was not you, ignore this message and consider changing your password.\n",
                "<p>Hello {{name}},</p><p>Someone asked to delete your {{app_name}} account ({{email}}).</p><p><a href=\"{{url}}\">Delete my account</a></p><p>If it was not you, ignore this message and consider changing your password.</p>",
            ),
        }
    }
}

/// What a mail says about its recipient and the link it carries.
#[derive(Debug, Clone, Default)]
pub struct MailVars {
    pub name: String,
    pub email: String,
    pub new_email: String,
    pub url: String,
}

#[derive(Debug, Clone)]
struct Template {
    subject: String,
    text: String,
    html: String,
}

/// The texts of every kind, loaded once at start-up.
#[derive(Debug, Clone)]
pub struct Templates {
    app_name: String,
    /// In `MailKind::ALL` order, so a kind's discriminant is its index.
    templates: Vec<Template>,
}

/// A mail ready to go.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Templates {
    /// Built-in texts, with the files found in `dir` taking their place.
    pub fn load(dir: Option<&Path>, app_name: &str) -> std::io::Result<Templates> {
        let mut templates = Vec::new();
        for kind in MailKind::ALL {
            let (subject, text, html) = kind.defaults();
            let part = |ext: &str, default: &str| -> std::io::Result<String> {
                let Some(dir) = dir else {
                    return Ok(default.to_owned());
                };
                match std::fs::read_to_string(dir.join(format!("{}.{ext}", kind.name()))) {
                    Ok(text) => Ok(text),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(default.to_owned()),
                    Err(e) => Err(e),
                }
            };
            templates.push(Template {
                subject: part("subject", subject)?.trim().to_owned(),
                text: part("txt", text)?,
                html: part("html", html)?,
            });
        }
        if let Some(dir) = dir {
            // A typo in the directory name would otherwise silently keep the defaults.
            if !dir.is_dir() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("mail template directory {} not found", dir.display()),
                ));
            }
        }
        Ok(Templates {
            app_name: app_name.to_owned(),
            templates,
        })
    }

    pub fn render(&self, kind: MailKind, vars: &MailVars) -> Rendered {
        let t = &self.templates[kind as usize];
        let fill = |text: &str, escape: fn(&str) -> String| {
            text.replace("{{url}}", &escape(&vars.url))
                .replace("{{name}}", &escape(&vars.name))
                .replace("{{email}}", &escape(&vars.email))
                .replace("{{new_email}}", &escape(&vars.new_email))
                .replace("{{app_name}}", &escape(&self.app_name))
        };
        Rendered {
            // Header values cannot carry line breaks.
            subject: fill(&t.subject, |s| s.replace(['\r', '\n'], " ")),
            text: fill(&t.text, str::to_owned),
            html: fill(&t.html, escape_html),
        }
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> MailVars {
        MailVars {
            name: "Ann <b>".into(),
            email: "ann@example.com".into(),
            new_email: String::new(),
            url: "http://x/verify-email?token=a&callbackURL=%2F".into(),
        }
    }

    #[test]
    fn defaults_fill_placeholders_and_escape_html() {
        let t = Templates::load(None, "Acme").unwrap();
        let r = t.render(MailKind::VerifyEmail, &vars());
        assert_eq!(r.subject, "Verify your email address");
        assert!(r
            .text
            .contains("http://x/verify-email?token=a&callbackURL=%2F"));
        assert!(r.text.contains("Ann <b>") && r.text.contains("Acme"));
        assert!(r
            .html
            .contains("href=\"http://x/verify-email?token=a&amp;callbackURL=%2F\""));
        assert!(r.html.contains("Ann &lt;b&gt;"));
        assert!(!r.text.contains("{{"));
    }

    #[test]
    fn files_override_parts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("reset-password.subject"),
            "Reset {{app_name}}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("reset-password.txt"), "Go: {{url}}").unwrap();
        let t = Templates::load(Some(dir.path()), "Acme").unwrap();
        let r = t.render(MailKind::ResetPassword, &vars());
        assert_eq!(r.subject, "Reset Acme");
        assert_eq!(r.text, "Go: http://x/verify-email?token=a&callbackURL=%2F");
        assert!(r.html.contains("Choose a new password"));
        assert!(Templates::load(Some(&dir.path().join("missing")), "Acme").is_err());
    }
}
