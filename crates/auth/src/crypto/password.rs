//! Password hashes: argon2id for new hashes, Better Auth's scrypt format still verified.
//!
//! Hashing is CPU- and memory-heavy (12 MiB for argon2id, 32 MiB for scrypt), so it runs on a
//! fixed set of dedicated threads, one per core: a flood of sign-ins queues here instead of
//! starving the async workers that answer `get-session`, and memory stays bounded. (On
//! Tokio's blocking pool the buffers spread over many threads, each keeping its own malloc
//! arena: the side-by-side bench measured 1.4 GiB of RSS during a sign-up flood.)

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

use crate::config::PasswordHashing;
use crate::error::ApiError;

/// argon2id with 12 MiB, 3 passes, 1 lane: one of the five configurations OWASP's Password
/// Storage Cheat Sheet lists as its minimum ("an equal level of defense" as 19 MiB with 2
/// passes). Same CPU per hash (m x t: 36 Mi vs 38 Mi block passes) and 7 MiB less per
/// concurrent hash, and memory is what a sign-in flood multiplies: peak RSS is about
/// hashing threads x m. Stored hashes carry their own parameters, so 19 MiB hashes (and
/// any stronger ones) still verify.
const ARGON2_MEMORY_KIB: u32 = 12 * 1024;
const ARGON2_ITERATIONS: u32 = 3;
const ARGON2_LANES: u32 = 1;

/// Better Auth's scrypt parameters (`@better-auth/utils` `password.node.ts`): N=2^14, r=16, p=1.
const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 16;
const SCRYPT_P: u32 = 1;
const SCRYPT_KEY_LEN: usize = 64;

/// What a successful verification says about the stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    Yes { legacy_scrypt: bool },
    No,
}

fn internal(what: &str) -> impl FnOnce(argon2::password_hash::Error) -> ApiError + '_ {
    move |e| ApiError::Internal(format!("{what}: {e}"))
}

thread_local! {
    /// Each hashing thread keeps one argon2 work area (12 MiB) and reuses it: memory stays
    /// at threads x 12 MiB under any load. (Allocating it per hash, or freeing it whenever
    /// the queue empties, fragmented malloc's arenas: 150 MiB to 1.4 GiB in the bench.)
    static WORK_AREA: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Computes an argon2 output into `out`, in this thread's reusable work area. `salt` is
/// the PHC (B64) form, as generated or as stored.
fn argon2_into(
    (algorithm, version, params): (Algorithm, Version, &Params),
    password: &[u8],
    salt: Salt<'_>,
    out: &mut [u8],
) -> Result<(), ApiError> {
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut raw_salt)
        .map_err(internal("argon2 salt"))?;
    let ctx = Argon2::new(algorithm, version, params.clone());
    let blocks = params.block_count();
    WORK_AREA.with(|area| {
        let mut area = area.borrow_mut();
        if area.len() < blocks {
            area.resize(blocks, Block::default());
        }
        ctx.hash_password_into_with_memory(password, raw_salt, out, &mut area[..blocks])
            .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
    })
}

/// Better Auth normalises passwords to NFKC before hashing; we do the same for both formats.
fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// Hashes a password in the given format (blocking; call through [`PasswordHasher`]).
pub fn hash_blocking(password: &str, mode: PasswordHashing) -> Result<String, ApiError> {
    let password = normalize(password);
    match mode {
        PasswordHashing::Argon2id => {
            let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
                .map_err(|e| ApiError::Internal(format!("argon2 params: {e}")))?;
            let salt = SaltString::generate(&mut OsRng);
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            argon2_into(
                (Algorithm::Argon2id, Version::V0x13, &params),
                password.as_bytes(),
                salt.as_salt(),
                &mut out,
            )?;
            // The PHC string is assembled by the password-hash crate.
            let hash = PasswordHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: (&params).try_into().map_err(internal("argon2 params"))?,
                salt: Some(salt.as_salt()),
                hash: Some(Output::new(&out).map_err(internal("argon2 output"))?),
            };
            Ok(hash.to_string())
        }
        PasswordHashing::Scrypt => {
            let salt = hex::encode(crate::crypto::random::bytes::<16>());
            let key = scrypt_key(&password, &salt)?;
            Ok(format!("{salt}:{}", hex::encode(key)))
        }
    }
}

/// Checks a password against a stored hash of either format (blocking).
pub fn verify_blocking(password: &str, stored: &str) -> Result<Verified, ApiError> {
    let password = normalize(password);
    if stored.starts_with("$argon2") {
        let parsed =
            PasswordHash::new(stored).map_err(internal("stored argon2 hash unreadable"))?;
        // The parameters come from the stored hash, so older or stronger settings still verify.
        let params = Params::try_from(&parsed).map_err(internal("stored argon2 params"))?;
        let algorithm =
            Algorithm::try_from(parsed.algorithm).map_err(internal("stored argon2 variant"))?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(|e| ApiError::Internal(format!("stored argon2 version: {e}")))?
            .unwrap_or_default();
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(ApiError::Internal(
                "stored argon2 hash without salt or output".into(),
            ));
        };
        let mut out = vec![0u8; expected.len()];
        argon2_into(
            (algorithm, version, &params),
            password.as_bytes(),
            salt,
            &mut out,
        )?;
        let ok = bool::from(out.as_slice().ct_eq(expected.as_bytes()));
        return Ok(if ok {
            Verified::Yes {
                legacy_scrypt: false,
            }
        } else {
            Verified::No
        });
    }
    // Better Auth's format: "<salt hex>:<key hex>", the salt being the hex *text*.
    let (salt, key_hex) = stored
        .split_once(':')
        .ok_or_else(|| ApiError::Internal("stored password hash has an unknown format".into()))?;
    let expected = hex::decode(key_hex)
        .map_err(|_| ApiError::Internal("stored scrypt key is not hex".into()))?;
    let actual = scrypt_key(&password, salt)?;
    Ok(if bool::from(actual.as_slice().ct_eq(&expected)) {
        Verified::Yes {
            legacy_scrypt: true,
        }
    } else {
        Verified::No
    })
}

fn scrypt_key(password: &str, salt: &str) -> Result<[u8; SCRYPT_KEY_LEN], ApiError> {
    let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, SCRYPT_KEY_LEN)
        .map_err(|e| ApiError::Internal(format!("scrypt params: {e}")))?;
    let mut key = [0u8; SCRYPT_KEY_LEN];
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut key)
        .map_err(|e| ApiError::Internal(format!("scrypt: {e}")))?;
    Ok(key)
}

type Job = Box<dyn FnOnce() + Send>;

/// One request in the hashing queue, for [`PasswordHasher::queue_depth`].
struct QueueSlot<'a>(&'a AtomicUsize);

impl<'a> QueueSlot<'a> {
    fn take(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        QueueSlot(counter)
    }
}

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs hashing on `threads` dedicated threads; callers wait asynchronously.
#[derive(Clone)]
pub struct PasswordHasher {
    mode: PasswordHashing,
    jobs: Sender<Job>,
    queued: Arc<AtomicUsize>,
    /// A hash of a random password in the configured format: verified against when the email
    /// is unknown, so that both failures cost the same time.
    dummy_hash: Arc<str>,
}

fn worker(jobs: Arc<Mutex<Receiver<Job>>>) {
    loop {
        // The lock is held only while waiting for the next job, not while running it.
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return; // every sender is gone: the server stopped
        };
        job();
    }
}

impl PasswordHasher {
    pub fn new(mode: PasswordHashing, threads: usize) -> Result<Self, ApiError> {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || worker(rx))
                .map_err(|e| ApiError::Internal(format!("starting a hashing thread: {e}")))?;
        }
        // The dummy hash is made on a hashing thread too, so that no other thread keeps a
        // work area.
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let dummy = hex::encode(crate::crypto::random::bytes::<16>());
        tx.send(Box::new(move || {
            let _ = done.send(hash_blocking(&dummy, mode));
        }))
        .map_err(|_| ApiError::Internal("hashing threads are gone".into()))?;
        let dummy_hash = result
            .recv()
            .map_err(|_| ApiError::Internal("hashing thread stopped".into()))??;
        Ok(Self {
            mode,
            jobs: tx,
            queued: Arc::new(AtomicUsize::new(0)),
            dummy_hash: dummy_hash.into(),
        })
    }

    pub fn mode(&self) -> PasswordHashing {
        self.mode
    }

    /// Requests waiting for or holding a hashing thread.
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        // Counted until this future ends, also when it is dropped (the client went away).
        let _in_queue = QueueSlot::take(&self.queued);
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| ApiError::Internal("hashing threads are gone".into()))?;
        result
            .await
            .map_err(|_| ApiError::Internal("hashing thread stopped".into()))?
    }

    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_owned();
        let mode = self.mode;
        self.run(move || hash_blocking(&password, mode)).await
    }

    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified, ApiError> {
        let password = password.to_owned();
        let stored = stored.to_owned();
        self.run(move || verify_blocking(&password, &stored)).await
    }

    /// Burns the same time as a real verification; always fails.
    pub async fn verify_dummy(&self, password: &str) -> Result<Verified, ApiError> {
        let password = password.to_owned();
        let stored = self.dummy_hash.clone();
        self.run(move || verify_blocking(&password, &stored).map(|_| Verified::No))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Produced by the real `better-auth` 1.7 package:
    /// `(await import("better-auth/crypto")).hashPassword("correct horse battery staple")`.
    const BETTER_AUTH_SCRYPT_VECTOR: &str = include_str!("../../tests/vectors/scrypt-hash.txt");

    #[test]
    fn argon2id_roundtrip_with_owasp_parameters() {
        let h = hash_blocking("hunter22hunter22", PasswordHashing::Argon2id).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"), "{h}");
        assert_eq!(
            verify_blocking("hunter22hunter22", &h).unwrap(),
            Verified::Yes {
                legacy_scrypt: false
            }
        );
        assert_eq!(
            verify_blocking("hunter22hunter2", &h).unwrap(),
            Verified::No
        );
    }

    #[test]
    fn interoperates_with_the_argon2_crate_api() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(8 * 1024, 3, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"hunter22hunter22", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(matches!(
            verify_blocking("hunter22hunter22", &theirs).unwrap(),
            Verified::Yes { .. }
        ));
        assert_eq!(
            verify_blocking("wrong-password", &theirs).unwrap(),
            Verified::No
        );
        let ours = hash_blocking("hunter22hunter22", PasswordHashing::Argon2id).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"hunter22hunter22", &parsed)
            .is_ok());
    }

    #[test]
    fn scrypt_roundtrip_in_better_auth_format() {
        let h = hash_blocking("pässword-ﬁ", PasswordHashing::Scrypt).unwrap();
        let (salt, key) = h.split_once(':').unwrap();
        assert_eq!(salt.len(), 32);
        assert_eq!(key.len(), 128);
        // NFKC: the "ﬁ" ligature and "fi" are the same password.
        assert!(matches!(
            verify_blocking("pässword-fi", &h).unwrap(),
            Verified::Yes {
                legacy_scrypt: true
            }
        ));
    }

    #[test]
    fn verifies_a_hash_made_by_the_typescript_package() {
        let stored = BETTER_AUTH_SCRYPT_VECTOR.trim();
        assert!(matches!(
            verify_blocking("correct horse battery staple", stored).unwrap(),
            Verified::Yes {
                legacy_scrypt: true
            }
        ));
        assert_eq!(
            verify_blocking("correct horse battery stapler", stored).unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn a_cancelled_hash_leaves_the_queue() {
        let hasher = PasswordHasher::new(PasswordHashing::Argon2id, 1).unwrap();
        let pending = hasher.hash("a-password-to-hash");
        let cancelled = tokio::time::timeout(std::time::Duration::from_micros(1), pending).await;
        assert!(cancelled.is_err(), "the hash cannot be that fast");
        assert_eq!(hasher.queue_depth(), 0);
        hasher.hash("another-password").await.unwrap();
        assert_eq!(hasher.queue_depth(), 0);
    }

    #[test]
    fn unknown_format_is_an_error_not_a_panic() {
        assert!(verify_blocking("x", "plaintext").is_err());
        assert!(verify_blocking("x", "abc:zz").is_err());
    }
}
