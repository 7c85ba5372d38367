//! Password hashing (argon2id) on a small pool of dedicated threads.
//!
//! An argon2 check costs about 19 MiB and tens of milliseconds of one core. Run on the request
//! workers or tokio's blocking pool (up to 512 threads, each keeping its own malloc arena), a
//! burst of logins took gigabytes and stalled every other request. Here at most one hash runs
//! per thread, each thread reuses one memory buffer, and jobs beyond a short queue are refused
//! at once ([`PasswordError::Busy`]), so a login flood costs bounded memory and CPU. Per node.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    thread,
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version,
    password_hash::{SaltString, rand_core::OsRng},
};

/// Hashes with a memory cost above this (KiB) are refused rather than computed: they come from
/// the database, and one crafted row must not make every login allocate gigabytes.
const MAX_M_COST_KIB: u32 = 256 * 1024;
/// Jobs waiting per thread before new ones are refused.
const QUEUE_PER_THREAD: usize = 32;
/// What an unknown user's password is checked against, so that refusing one costs what
/// refusing a known user does: Arca's parameters ([`Argon2::default`]), a hash nobody knows a
/// password for. A constant, so that starting costs no hash.
const DECOY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too many password checks are waiting: the caller should retry shortly.
    #[error("too many password checks in progress; retry shortly")]
    Busy,
    #[error("hashing password: {0}")]
    Hash(String),
}

enum Job {
    Verify {
        password: String,
        hash: String,
        reply: tokio::sync::oneshot::Sender<bool>,
    },
    Hash {
        password: String,
        reply: tokio::sync::oneshot::Sender<Result<String, PasswordError>>,
    },
}

/// The pool. Cloning shares it.
#[derive(Clone)]
pub struct Passwords {
    tx: mpsc::SyncSender<Job>,
    stats: Arc<Stats>,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Stats {
    /// Passwords checked (argon2 runs, decoys included).
    pub checked: AtomicU64,
    /// Checks refused because the queue was full.
    pub refused: AtomicU64,
}

impl Passwords {
    /// Starts `threads` hashing threads (at least one).
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::sync_channel::<Job>(threads * QUEUE_PER_THREAD);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = thread::Builder::new()
                .name(format!("arca-argon2-{i}"))
                .spawn(move || worker(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Self {
            tx,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Half the machine's cores (at least one): a login flood leaves the other half to
    /// requests that need no hash, and each thread keeps one argon2 buffer (19 MiB) for good.
    pub fn for_this_machine() -> Self {
        Self::new(thread::available_parallelism().map_or(1, |n| n.get()) / 2)
    }

    /// Whether `password` matches the PHC string `hash`; `None` (the user does not exist)
    /// checks against a decoy at the same cost and answers false.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, PasswordError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let real = hash.is_some();
        self.submit(Job::Verify {
            password: password.to_owned(),
            hash: hash.unwrap_or(DECOY).to_owned(),
            reply,
        })?;
        self.stats.checked.fetch_add(1, Ordering::Relaxed);
        Ok(rx.await.unwrap_or(false) && real)
    }

    /// A new argon2id PHC string for `password`.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.submit(Job::Hash {
            password: password.to_owned(),
            reply,
        })?;
        rx.await
            .map_err(|_| PasswordError::Hash("hashing thread gone".into()))?
    }

    fn submit(&self, job: Job) -> Result<(), PasswordError> {
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                PasswordError::Busy
            }
            mpsc::TrySendError::Disconnected(_) => {
                PasswordError::Hash("no hashing thread running".into())
            }
        })
    }
}

fn worker(rx: &Mutex<mpsc::Receiver<Job>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = match rx.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        match job {
            Ok(Job::Verify {
                password,
                hash,
                reply,
            }) => {
                // The caller may have gone (client disconnected): skip the work then.
                if !reply.is_closed() {
                    let _ = reply.send(verify_with(&password, &hash, &mut memory));
                }
            }
            Ok(Job::Hash { password, reply }) => {
                let _ = reply.send(hash_into(&password, &mut memory));
            }
            Err(_) => return,
        }
    }
}

/// A new PHC string; synchronous, for callers outside a runtime (tests, bootstrap tools).
pub fn hash_with(argon: &Argon2<'_>, password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// A new PHC string with Arca's parameters, computed in `memory` (kept between calls, so a
/// thread's hashes reuse one buffer instead of leaving one per call to the allocator).
fn hash_into(password: &str, memory: &mut Vec<Block>) -> Result<String, PasswordError> {
    use base64::Engine;
    let params = Params::default();
    let mut salt = [0u8; 16];
    argon2::password_hash::rand_core::RngCore::fill_bytes(&mut OsRng, &mut salt);
    let mut out = [0u8; 32];
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut memory[..blocks])
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    // PHC strings use standard base64 without padding.
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        b64.encode(salt),
        b64.encode(out)
    ))
}

/// Checks `password` against a PHC string, filling `memory` (kept between calls).
pub fn verify_with(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(h) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(alg) = Algorithm::try_from(h.algorithm) else {
        return false;
    };
    let version = match h.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&h) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB {
        tracing::warn!("a stored password hash asks for too much memory; refused");
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(alg, version, params);
    if argon
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_err()
    {
        return false;
    }
    // Constant time, so the comparison tells nothing of how much matched.
    out.iter()
        .zip(expected.as_bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_matches_argon2s_own() {
        let h = hash_with(&Argon2::default(), "s3cret").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        let mut mem = Vec::new();
        assert!(verify_with("s3cret", &h, &mut mem));
        assert!(!verify_with("s3cre", &h, &mut mem));
        assert!(!verify_with("x", "!", &mut mem));
        // Another algorithm and parameters still verify, with the buffer reused.
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(1024, 1, 1, None).expect("params"),
        );
        let h2 = hash_with(&other, "pw").expect("hash");
        assert!(verify_with("pw", &h2, &mut mem));
        assert!(!verify_with("pW", &h2, &mut mem));
    }

    #[test]
    fn own_hashes_are_argon2s_and_the_decoy_costs_the_same() {
        use argon2::{PasswordHash, PasswordVerifier};
        let mut mem = Vec::new();
        let h = hash_into("pässword", &mut mem).expect("hash");
        let parsed = PasswordHash::new(&h).expect("a PHC string");
        assert!(
            Argon2::default()
                .verify_password("pässword".as_bytes(), &parsed)
                .is_ok()
        );
        assert!(verify_with("pässword", &h, &mut mem));
        let decoy = PasswordHash::new(DECOY).expect("decoy parses");
        let own = Params::try_from(&parsed).expect("params");
        let dec = Params::try_from(&decoy).expect("params");
        assert_eq!(
            (own.m_cost(), own.t_cost(), own.p_cost()),
            (dec.m_cost(), dec.t_cost(), dec.p_cost())
        );
        assert_eq!(parsed.algorithm, decoy.algorithm);
    }

    #[test]
    fn greedy_hashes_are_refused() {
        let mut mem = Vec::new();
        let greedy = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";
        assert!(!verify_with("x", greedy, &mut mem));
        assert!(mem.is_empty());
    }

    #[tokio::test]
    async fn pool_verifies_hashes_and_refuses_when_full() {
        let p = Passwords::new(1);
        let h = p.hash("correct horse").await.expect("hash");
        assert!(p.verify("correct horse", Some(&h)).await.expect("verify"));
        assert!(!p.verify("wrong", Some(&h)).await.expect("verify"));
        // An unknown user never passes, even with the decoy's own password unknown to anyone.
        assert!(!p.verify("correct horse", None).await.expect("verify"));
        // Flood the queue without awaiting: beyond its bound, jobs are refused at once.
        let mut refused = 0;
        let mut pending = Vec::new();
        for _ in 0..(QUEUE_PER_THREAD * 4) {
            let (reply, rx) = tokio::sync::oneshot::channel();
            match p.submit(Job::Verify {
                password: "x".into(),
                hash: h.clone(),
                reply,
            }) {
                Ok(()) => pending.push(rx),
                Err(PasswordError::Busy) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(refused > 0, "the queue is bounded");
        drop(pending);
    }
}
