//! Passwords: the rules a new one must meet, and Argon2id hashing (the crate's defaults
//! are OWASP's: m=19 MiB, t=2, p=1) on a bounded pool of its own.
//!
//! Each hash needs 19 MiB and a core for ~25 ms, so hashing on demand is a memory sink
//! anyone can fill: 160 concurrent attempts once took the server to 4 GB, and glibc kept
//! it (every blocking-pool thread kept its hash's memory in its own arena). [`Hasher`]
//! instead runs `--hash-concurrency` threads of its own, each reusing one 19 MiB block
//! for every hash, and lets `--hash-queue` more requests wait; anything beyond gets
//! 503 and `Retry-After` at once. Memory is bounded by the thread count, the async
//! workers (refreshes) never wait on a hash, and an idle thread gives its block back.

use std::{
    sync::{
        Arc, Mutex,
        mpsc::{self, RecvTimeoutError, SyncSender, TrySendError},
    },
    time::Duration,
};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng},
};
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Shortest password accepted for a new user or a change (ASVS 2.1.1).
pub const MIN_LEN: usize = 12;
/// Longest: bounds the work one request can ask of the hasher.
pub const MAX_LEN: usize = 1024;

/// Length, and strength as `zxcvbn` estimates it, which also refuses the passwords
/// found in breach corpora and their close variants (its frequency lists) and ones
/// built from the username (ASVS 2.1.7).
pub fn check_strength(password: &str, username: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(Error::BadRequest(format!(
            "The password must have at least {MIN_LEN} characters."
        )));
    }
    if password.len() > MAX_LEN {
        return Err(Error::BadRequest(format!(
            "The password must have at most {MAX_LEN} bytes."
        )));
    }
    let estimate = zxcvbn::zxcvbn(password, &[username]);
    if estimate.score() < zxcvbn::Score::Three {
        let why = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(" {w}"))
            .unwrap_or_default();
        return Err(Error::BadRequest(format!(
            "This password is too easy to guess.{why} A few unrelated words make a strong one."
        )));
    }
    Ok(())
}

/// A hashing thread lets go of its memory after this long without work.
const IDLE_RELEASE: Duration = Duration::from_secs(30);

enum Task {
    Hash(String),
    Verify { password: String, hash: String },
}

enum Done {
    Hashed(String),
    Verified(bool),
}

struct Job {
    task: Task,
    done: oneshot::Sender<Result<Done>>,
}

/// The bounded hashing pool; clones share it.
#[derive(Clone, Debug)]
pub struct Hasher {
    jobs: SyncSender<Job>,
}

impl Hasher {
    /// Starts `threads` hashing threads; `queue` more requests may wait for one.
    pub fn new(threads: usize, queue: usize) -> Self {
        let (jobs, waiting) = mpsc::sync_channel::<Job>(queue);
        let waiting = Arc::new(Mutex::new(waiting));
        for i in 0..threads.max(1) {
            let waiting = waiting.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&waiting))
                .expect("start a hashing thread");
        }
        Self { jobs }
    }

    async fn run(&self, task: Task) -> Result<Done> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .try_send(Job { task, done })
            .map_err(|e| match e {
                TrySendError::Full(_) => Error::Busy { retry_after: 1 },
                TrySendError::Disconnected(_) => {
                    Error::Internal(anyhow::anyhow!("the hashing threads are gone"))
                }
            })?;
        answer
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("a hashing thread died")))?
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        match self.run(Task::Hash(password)).await? {
            Done::Hashed(hash) => Ok(hash),
            Done::Verified(_) => unreachable!("a hash task answers with a hash"),
        }
    }

    /// `true` when `password` matches `hash`. A malformed stored hash is an error, not
    /// a mismatch, so it shows up in the logs.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool> {
        if password.len() > MAX_LEN {
            return Ok(false);
        }
        match self.run(Task::Verify { password, hash }).await? {
            Done::Verified(ok) => Ok(ok),
            Done::Hashed(_) => unreachable!("a verify task answers with a verdict"),
        }
    }
}

/// A hashing thread: takes jobs until the [`Hasher`] is dropped.
fn work(waiting: &Mutex<mpsc::Receiver<Job>>) {
    yield_to_other_work();
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = waiting
            .lock()
            .expect("hash queue lock")
            .recv_timeout(IDLE_RELEASE);
        let job = match job {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                memory = Vec::new();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let done = match job.task {
            Task::Hash(password) => hash_with(&mut memory, &password).map(Done::Hashed),
            Task::Verify { password, hash } => {
                verify_with(&mut memory, &password, &hash).map(Done::Verified)
            }
        };
        // The caller may have gone (a client that hung up): nothing to tell then.
        let _ = job.done.send(done);
    }
}

/// How much lower than the rest of the server the hashing threads run (a nice value).
/// Not 19, the lowest: under a flood of other work a thread at 19 gets ~1.5 % of a
/// core, and sign-ins would time out; at 10 it still gets ~10 %.
#[cfg(target_os = "linux")]
const HASHING_NICE: i32 = 10;

/// The hashing threads run at a lower priority: a hash is ~25 ms of CPU that would
/// otherwise take a core from refreshes and bearer calls for its whole time slice,
/// and a sign-in a few milliseconds slower costs nobody anything. They still get every
/// cycle nothing else wants. Linux keeps the nice value per thread; elsewhere it would
/// be the whole process's, so it is left alone there.
fn yield_to_other_work() {
    #[cfg(target_os = "linux")]
    {
        use rustix::{process, thread};
        let me = Some(thread::gettid());
        // Never above what the process was started with (`nice server serve`).
        let nice = process::getpriority_process(me).map_or(HASHING_NICE, |n| n.max(HASHING_NICE));
        if let Err(e) = process::setpriority_process(me, nice) {
            tracing::warn!(error = %e, "could not lower the hashing thread's priority");
        }
    }
}

/// Argon2 into `memory`, grown to what `params` need and kept for the next hash.
fn argon2_into(
    memory: &mut Vec<Block>,
    argon2: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
) -> Result<()> {
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    argon2
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
        .map_err(|e| Error::Internal(anyhow::anyhow!("hashing failed: {e}")))
}

fn hash_with(memory: &mut Vec<Block>, password: &str) -> Result<String> {
    let internal = |e: argon2::password_hash::Error| Error::Internal(anyhow::anyhow!("{e}"));
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(internal)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(memory, &argon2, &params, password, salt_bytes, &mut out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(internal)?),
    };
    Ok(phc.to_string())
}

fn verify_with(memory: &mut Vec<Block>, password: &str, stored: &str) -> Result<bool> {
    let malformed = |e: argon2::password_hash::Error| {
        Error::Internal(anyhow::anyhow!("stored hash is malformed: {e}"))
    };
    let parsed = PasswordHash::new(stored).map_err(malformed)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(malformed)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored hash is malformed: {e}")))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(malformed)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(Error::Internal(anyhow::anyhow!(
            "stored hash is malformed: no salt or output"
        )));
    };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(malformed)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    argon2_into(memory, &argon2, &params, password, salt_bytes, &mut out)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(malformed)? == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(thread name, nice)` of every thread of this process, from `/proc`.
    #[cfg(target_os = "linux")]
    fn threads_and_nice() -> Vec<(String, i32)> {
        let mut found = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // After the name in parentheses: state is field 3, nice field 19.
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let nice = rest.split(' ').nth(16).and_then(|n| n.parse().ok());
            if let Some(nice) = nice {
                found.push((comm.trim().to_owned(), nice));
            }
        }
        found
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_a_lower_priority_and_nothing_else_does() {
        let me = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let expected = me.max(HASHING_NICE);
        let hasher = Hasher::new(1, 1);
        // A hash done means a thread is up and has set its priority (other tests'
        // threads may be starting: any, not all).
        hasher.hash("correct horse".into()).await.unwrap();
        let threads = threads_and_nice();
        let lowered = threads
            .iter()
            .any(|(n, nice)| n.starts_with("argon2-") && *nice == expected);
        assert!(lowered, "{threads:?}");
        let after = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert_eq!(
            after, me,
            "only the hashing threads are lowered, not the process"
        );
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let hasher = Hasher::new(1, 1);
        let h = hasher.hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(
            hasher
                .verify("correct horse".into(), h.clone())
                .await
                .unwrap()
        );
        assert!(!hasher.verify("wrong horse".into(), h).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_from_the_argon2_crate_verify_here_and_back() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let hasher = Hasher::new(1, 1);
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(hasher.verify("correct horse".into(), theirs).await.unwrap());
        let ours = hasher.hash("correct horse".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            hasher
                .verify("x".into(), "not a hash".into())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_with_retry_after() {
        let hasher = Hasher::new(1, 1);
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        let attempts = (0..6).map(|_| hasher.verify("guess".into(), hash.clone()));
        let results = futures::future::join_all(attempts).await;
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(Error::Busy { retry_after: 1 })))
            .count();
        // One runs and one may wait (whether the thread took the first before the
        // second arrived is a race); the rest are turned away at once.
        let checked = results.iter().filter(|r| matches!(r, Ok(false))).count();
        assert!((1..=2).contains(&checked), "{results:?}");
        assert_eq!(busy + checked, 6, "{results:?}");
    }

    #[test]
    fn short_huge_common_and_name_based_passwords_are_refused() {
        for weak in [
            "short",
            "Password1234!",
            "qwertyuiop123",
            "aaaaaaaaaaaa",
            "carol-carol-carol",
        ] {
            assert!(check_strength(weak, "carol").is_err(), "{weak}");
        }
        assert!(check_strength(&"x".repeat(MAX_LEN + 1), "carol").is_err());
        assert!(check_strength("plum-ferry-cactus-violet", "carol").is_ok());
        let err = check_strength("Password1234!", "carol").unwrap_err();
        assert!(err.to_string().contains("commonly used"), "{err}");
    }
}
