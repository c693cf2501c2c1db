//! Loading the configuration as a whole: precedence, defaults, errors.
use super::*;

fn args(dir: &Path) -> ConfigArgs {
    ConfigArgs {
        data_dir: Some(dir.to_owned()),
        ..ConfigArgs::default()
    }
}

#[test]
fn redis_url_makes_redis_the_rate_limit_storage() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path());
    a.secret = Some("x".repeat(32));
    assert_eq!(
        Config::load(&a).unwrap().rate_limit.storage,
        RateLimitStorage::Memory
    );
    a.rate_limit_storage = Some(RateLimitStorage::Redis);
    assert!(matches!(Config::load(&a), Err(ConfigError::Invalid(m)) if m.contains("REDIS_URL")));
    a.rate_limit_storage = None;
    a.redis.redis_url = Some("redis://:hunter2@127.0.0.1:6379/0".into());
    let c = Config::load(&a).unwrap();
    assert_eq!(c.rate_limit.storage, RateLimitStorage::Redis);
    assert_eq!(c.redis.as_ref().unwrap().prefix, "");
    assert!(!format!("{c:?}").contains("hunter2"));
    a.rate_limit_storage = Some(RateLimitStorage::Database);
    assert_eq!(
        Config::load(&a).unwrap().rate_limit.storage,
        RateLimitStorage::Database
    );
    a.redis.redis_url = Some("http://:hunter2@x".into());
    let err = Config::load(&a).unwrap_err().to_string();
    assert!(
        err.contains("REDIS_URL") && !err.contains("hunter2"),
        "{err}"
    );
    // Upstream's name for it, in the file.
    let file: FileRateLimit = toml::from_str(r#"storage = "secondary-storage""#).unwrap();
    assert_eq!(file.storage, Some(RateLimitStorage::Redis));
}

#[test]
fn generates_and_keeps_a_private_dev_secret() {
    let dir = tempfile::tempdir().unwrap();
    let first = Config::load(&args(dir.path())).unwrap();
    let second = Config::load(&args(dir.path())).unwrap();
    assert_eq!(first.secrets.current(), second.secrets.current());
    assert_eq!(first.secrets.current().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(first.database_url.starts_with("sqlite://"));
    assert_eq!(first.base_url.as_str(), "http://localhost:3001/api/auth");
    assert_eq!(first.port, 3001);
}

#[test]
fn refuses_short_and_default_secrets_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path());
    a.secret = Some("short".into());
    assert!(matches!(Config::load(&a), Err(ConfigError::WeakSecret(5))));
    a.allow_weak_secret = Some(true);
    assert!(Config::load(&a).is_ok());
    a.allow_weak_secret = None;
    a.secret = Some(UPSTREAM_DEFAULT_SECRET.into());
    assert!(matches!(Config::load(&a), Err(ConfigError::DefaultSecret)));
}

#[test]
fn flags_beat_file_and_file_beats_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.toml");
    std::fs::write(
        &file,
        "port = 4000\nhost = \"0.0.0.0\"\nbase_url = \"https://auth.example.com\"\n\
         trusted_origins = [\"https://app.example.com\"]\n[password]\nmin_length = 10\n",
    )
    .unwrap();
    let mut a = args(dir.path());
    a.config = Some(file);
    a.port = Some(5000);
    a.trusted_origins = Some("http://localhost:3000, *.example.org".into());
    let c = Config::load(&a).unwrap();
    assert_eq!(c.port, 5000);
    assert_eq!(c.host, "0.0.0.0");
    assert_eq!(c.password.min_length, 10);
    assert!(c.secure_cookies());
    assert_eq!(c.origin(), "https://auth.example.com");
    assert_eq!(
        c.trusted_origins,
        vec![
            "https://app.example.com",
            "http://localhost:3000",
            "*.example.org"
        ]
    );
}

#[test]
fn time_spans() {
    assert_eq!(parse_time_span("15m"), Some(900));
    assert_eq!(parse_time_span("1 hour"), Some(3600));
    assert_eq!(parse_time_span("7d"), Some(604_800));
    assert_eq!(parse_time_span("30"), Some(30));
    assert_eq!(parse_time_span("2 weeks"), Some(1_209_600));
    assert_eq!(parse_time_span("soon"), None);
}

#[test]
fn jwt_settings() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::load(&args(dir.path())).unwrap();
    assert_eq!(c.jwt.issuer, "http://localhost:3001");
    assert_eq!(c.jwt.audience, vec!["http://localhost:3001"]);
    assert_eq!(c.jwt.expires_in, 900);
    assert_eq!(c.jwt.algorithm, JwtAlgorithm::EdDsa);

    let file = dir.path().join("auth.toml");
    std::fs::write(
        &file,
        "[jwt]\nexpiration = \"1h\"\naudience = [\"https://api.example.com\", \"https://b.example.com\"]\n\
         user_fields = [\"email\"]\nclaims = { tier = \"gold\" }\n",
    )
    .unwrap();
    let mut a = args(dir.path());
    a.config = Some(file);
    let c = Config::load(&a).unwrap();
    assert_eq!(c.jwt.expires_in, 3600);
    assert_eq!(c.jwt.audience.len(), 2);
    assert_eq!(c.jwt.claims["tier"], "gold");

    a.jwt_algorithm = Some(JwtAlgorithm::Hs256);
    assert!(Config::load(&a).is_err(), "HS256 needs its own secret");
    a.jwt_hs256_secret = Some(c.secrets.current().to_owned());
    assert!(Config::load(&a).is_err(), "never the cookie secret");
    a.jwt_hs256_secret = Some("hs256-shared-secret-0123456789abcdef".into());
    assert!(Config::load(&a).is_ok());
}

/// `[plugins.jwt]` carries the jwt options as every plugin table does (`[jwt]` still read);
/// both at once, or an unknown option, is an error naming the place.
#[test]
fn jwt_options_in_the_plugin_table() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.toml");
    let load = |toml: &str| {
        std::fs::write(&file, toml).unwrap();
        let mut a = args(dir.path());
        a.config = Some(file.clone());
        Config::load(&a)
    };
    let c =
        load("[plugins.jwt]\nexpiration_time = \"1h\"\nissuer = \"https://auth.example.com\"\n")
            .unwrap();
    assert_eq!(c.jwt.expires_in, 3600);
    assert_eq!(c.jwt.issuer, "https://auth.example.com");
    assert!(c.plugins.is_enabled("jwt"));
    let c = load("[plugins.jwt]\nenabled = false\nexpiration = 60\n").unwrap();
    assert!(!c.plugins.is_enabled("jwt"));
    assert_eq!(c.jwt.expires_in, 60);
    let Err(ConfigError::Invalid(both)) =
        load("[jwt]\nexpiration = 60\n[plugins.jwt]\nexpiration = 120\n")
    else {
        panic!("options in both places were accepted");
    };
    assert!(both.contains("[plugins.jwt] and [jwt]"), "{both}");
    let Err(ConfigError::Invalid(unknown)) = load("[plugins.jwt]\nexpiry = 60\n") else {
        panic!("an unknown jwt option was accepted");
    };
    assert!(unknown.starts_with("plugins.jwt: "), "{unknown}");
}

/// A configured path that another endpoint already has is refused at start (actix would
/// send every request for it to the first one).
#[test]
fn a_path_two_endpoints_claim_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.toml");
    std::fs::write(&file, "[plugins.open_api]\npath = \"/sign-in/email\"\n").unwrap();
    let mut a = args(dir.path());
    a.config = Some(file.clone());
    let Err(ConfigError::Invalid(message)) = Config::load(&a) else {
        panic!("a reference page over /sign-in/email was accepted");
    };
    assert!(message.contains("/sign-in/email"), "{message}");
    std::fs::write(&file, "[plugins.open_api]\npath = \"/docs\"\n").unwrap();
    assert!(Config::load(&a).is_ok());
}

#[test]
fn empty_values_mean_unset() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path());
    a.database_url = Some(String::new());
    a.base_url = Some(" ".into());
    let c = Config::load(&a).unwrap();
    assert!(c.database_url.starts_with("sqlite://"));
    assert_eq!(c.origin(), "http://localhost:3001");
}

#[test]
fn account_and_mail_settings() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = Config::load(&args(dir.path())).unwrap();
    assert!(!defaults.mail.enabled());
    assert!(!defaults.account.require_email_verification);
    assert!(defaults.account.auto_sign_in);
    assert!(!defaults.email_verification.send_on_sign_up);
    assert_eq!(defaults.email_verification.expires_in, 3_600);
    assert_eq!(defaults.user.delete_token_expires_in, 86_400);
    assert_eq!(defaults.session.fresh_age, 86_400);

    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        r#"
[account]
require_email_verification = true
reset_password_token_expires_in = "30m"
[email_verification]
expires_in = 600
[user]
delete_user = true
[mail]
transport = "smtp"
from = "Acme <auth@acme.test>"
[mail.smtp]
host = "smtp.acme.test"
security = "tls"
username = "u"
password = "p"
"#,
    )
    .unwrap();
    let mut a = args(dir.path());
    a.config = Some(path);
    let c = Config::load(&a).unwrap();
    assert!(c.account.require_email_verification);
    assert!(
        c.email_verification.send_on_sign_up,
        "follows requireEmailVerification"
    );
    assert_eq!(c.account.reset_password_token_expires_in, 1_800);
    assert_eq!(c.email_verification.expires_in, 600);
    assert!(c.user.delete_user_enabled);
    assert_eq!(c.mail.transport, MailTransport::Smtp);
    assert_eq!(c.mail.smtp.port, 465, "the port follows the security");
    assert!(
        !format!("{c:?}").contains("\"p\""),
        "the SMTP password stays out of logs"
    );

    a.accounts.smtp_port = Some(2525);
    a.accounts.smtp_security = Some(SmtpSecurity::Starttls);
    let c = Config::load(&a).unwrap();
    assert_eq!(
        (c.mail.smtp.port, c.mail.smtp.security),
        (2525, SmtpSecurity::Starttls)
    );
    a.accounts.mail_transport = Some(MailTransport::Smtp);
    a.accounts.smtp_host = None;
    a.config = None;
    assert!(Config::load(&a).is_err(), "smtp without a host");
}

#[test]
fn unknown_file_keys_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.toml");
    std::fs::write(&file, "prot = 1\n").unwrap();
    let mut a = args(dir.path());
    a.config = Some(file);
    assert!(matches!(
        Config::load(&a),
        Err(ConfigError::ParseFile { .. })
    ));
}

#[test]
fn debug_output_hides_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::load(&args(dir.path())).unwrap();
    assert!(!format!("{c:?}").contains(c.secrets.current()));
}

#[test]
fn cookie_cache_defaults_follow_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path());
    let c = Config::load(&a).unwrap();
    let cache = &c.session.cookie_cache;
    assert!(!c.stateless);
    assert!(!cache.enabled);
    assert_eq!(cache.strategy, CookieCacheStrategy::Compact);
    assert_eq!((cache.max_age, cache.version.as_str()), (300, "1"));
    assert_eq!(cache.refresh_update_age, None);

    // No database: on, jwe, the session's lifetime, refreshed in its last fifth.
    a.database_url = Some("none".into());
    let c = Config::load(&a).unwrap();
    let cache = &c.session.cookie_cache;
    assert!(c.stateless);
    assert_eq!(c.database_url, MEMORY_DATABASE_URL);
    assert!(cache.enabled);
    assert_eq!(cache.strategy, CookieCacheStrategy::Jwe);
    assert_eq!(cache.max_age, 604_800);
    assert_eq!(cache.refresh_update_age, Some(604_800 / 5));
    a.cookie_cache.cookie_cache = Some(false);
    assert!(matches!(Config::load(&a), Err(ConfigError::Invalid(m)) if m.contains("none")));

    // refresh_cache beside a database is ignored, as upstream does.
    a.database_url = None;
    a.cookie_cache.cookie_cache = Some(true);
    a.cookie_cache.cookie_cache_max_age = Some("1m".into());
    let file = dir.path().join("auth.toml");
    std::fs::write(
        &file,
        "[session.cookie_cache]\nrefresh_cache = true\nstrategy = \"jwt\"\n",
    )
    .unwrap();
    a.config = Some(file);
    let c = Config::load(&a).unwrap();
    let cache = &c.session.cookie_cache;
    assert_eq!(cache.strategy, CookieCacheStrategy::Jwt);
    assert_eq!((cache.max_age, cache.refresh_update_age), (60, None));
    a.cookie_cache.cookie_cache_max_age = Some("0".into());
    assert!(Config::load(&a).is_err());
}
