//! Passwords: the policy a new password must meet, and Argon2id hashing on a bounded pool.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use base64::Engine as _;

type Job = Box<dyn FnOnce() + Send>;

/// Password evaluations that may wait per hashing thread (about 1.5 s of work each at
/// the default parameters).
const QUEUE_PER_THREAD: usize = 64;

/// A hashing thread idle this long gives its Argon2 memory back.
const KEEP_MEMORY_IDLE: std::time::Duration = std::time::Duration::from_secs(10);

/// Nice value of the hashing threads: under contention the scheduler runs request
/// handling first, so a login flood slows logins rather than every verification.
const HASHING_NICE: i32 = 10;

thread_local! {
    /// The Argon2 memory of a hashing thread, kept between evaluations: allocating (and
    /// page-faulting) `memory_kib` for every login costs about a tenth of the hash.
    static ARGON_MEMORY: std::cell::RefCell<ArgonMemory> =
        const { std::cell::RefCell::new(ArgonMemory::EMPTY) };
}

/// Argon2 blocks mapped straight from the operating system, so that releasing them gives
/// the memory back at once whatever the global allocator keeps for reuse.
struct ArgonMemory {
    blocks: *mut argon2::Block,
    len: usize,
}

impl ArgonMemory {
    const EMPTY: Self = Self {
        blocks: std::ptr::NonNull::dangling().as_ptr(),
        len: 0,
    };

    /// Exactly `len` blocks: these, or freshly mapped (zeroed) ones. `None` when the
    /// system refuses the mapping.
    fn blocks(&mut self, len: usize) -> Option<&mut [argon2::Block]> {
        if self.len != len {
            *self = Self::EMPTY;
            let bytes = len.checked_mul(std::mem::size_of::<argon2::Block>())?;
            if bytes > 0 {
                // SAFETY: an anonymous private mapping: no file, no aliasing; checked below.
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        bytes,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                };
                if p == libc::MAP_FAILED {
                    return None;
                }
                self.blocks = p.cast();
            }
            self.len = len;
        }
        // SAFETY: `blocks` maps `len` blocks (page-aligned, so aligned for `Block`), zeroed
        // by the kernel or written by earlier hashes; all-zero bytes are a valid `Block`
        // (plain `u64`s). The `&mut self` borrow makes the slice unique.
        Some(unsafe { std::slice::from_raw_parts_mut(self.blocks, self.len) })
    }
}

impl Drop for ArgonMemory {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmaps exactly the mapping made in `blocks`.
            unsafe {
                libc::munmap(
                    self.blocks.cast(),
                    self.len * std::mem::size_of::<argon2::Block>(),
                );
            }
        }
    }
}

/// Checks `password` against `hash` on this thread's kept Argon2 memory. `None` when the
/// hash is not one this path understands (then the caller verifies the ordinary way).
fn verify_on_kept_memory(password: &[u8], hash: &PasswordHash) -> Option<bool> {
    let algorithm = Algorithm::try_from(hash.algorithm.as_str()).ok()?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(hash).ok()?;
    let salt = hash.salt.as_ref()?;
    let expected = hash.hash.as_ref()?;
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = [0u8; 64];
    let out = out.get_mut(..expected.len())?;
    ARGON_MEMORY.with_borrow_mut(|memory| {
        let memory = memory.blocks(blocks)?;
        argon
            .hash_password_into_with_memory(password, salt.as_ref(), out, memory)
            .ok()
    })?;
    Some(crate::secret::constant_time_eq(out, expected.as_ref()))
}

/// Lowers the calling thread's scheduling priority (Linux: the nice value is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority has no memory-safety preconditions; with `who` 0 it changes
    // only the calling thread. Failure (e.g. forbidden by a seccomp policy) is harmless.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, HASHING_NICE);
    }
}

use crate::error::{Error, PasswordProblem, Result};

/// Longest password accepted anywhere, in characters. Longer ones are refused before any
/// hashing, so nobody can make the server hash megabytes.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A password as typed. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// A password as received; nothing is checked here (see [`PasswordPolicy::check`]).
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The password itself, for hashing and checking only: never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// What a new password must satisfy. Deliberately no composition rules (NIST SP 800-63B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters a new password may have (12 by default).
    pub min_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_length: 12 }
    }
}

impl PasswordPolicy {
    /// Checks a new password for the account `login`: between `min_length` and
    /// [`MAX_PASSWORD_CHARS`] characters, not on the list of common passwords, and not
    /// mostly made of the login. The error names the rule it breaks.
    pub fn check(&self, password: &Password, login: &str) -> Result<(), PasswordProblem> {
        let pw = password.expose();
        let chars = pw.chars().count();
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordProblem::TooLong {
                max: MAX_PASSWORD_CHARS,
            });
        }
        if chars < self.min_length {
            return Err(PasswordProblem::TooShort {
                min: self.min_length,
            });
        }
        let folded = pw.trim().to_lowercase();
        if COMMON.contains(folded.as_str()) {
            return Err(PasswordProblem::Common);
        }
        // Mostly made of the login ("joe", "joejoejoejoe", "joe2026joe!"): what remains
        // once the login is taken out must be at least half of the password.
        let login = login.to_lowercase();
        if login.chars().count() >= 3 {
            let rest = folded.replace(&login, "").chars().count();
            if rest * 2 < chars {
                return Err(PasswordProblem::SameAsLogin);
            }
        }
        Ok(())
    }
}

/// Argon2id cost parameters (OWASP's m=19456 KiB, t=2, p=1 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordParams {
    /// Memory per evaluation, in KiB (`m`).
    pub memory_kib: u32,
    /// Passes over that memory (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordParams {
    fn argon2(&self) -> Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| Error::Invalid {
                field: "password hashing parameters",
                reason: argon_reason(e),
            })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

fn argon_reason(e: argon2::Error) -> &'static str {
    match e {
        argon2::Error::MemoryTooLittle => "memory_kib is too small (at least 8 per lane)",
        argon2::Error::TimeTooSmall => "iterations must be at least 1",
        argon2::Error::ThreadsTooFew | argon2::Error::ThreadsTooMany => {
            "parallelism must be between 1 and 16777215"
        }
        _ => "rejected by Argon2",
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is right. `needs_rehash`: the hash uses other parameters than the
    /// configured ones and should be replaced now that the password is known.
    Match {
        /// The hash uses other parameters than the configured ones.
        needs_rehash: bool,
    },
    /// The password is wrong, or there was no stored hash to check it against.
    Mismatch,
}

/// Hashes and verifies passwords off the async workers.
///
/// Each Argon2id evaluation holds `memory_kib` of memory and a core for tens of
/// milliseconds, so evaluations run on a fixed pool of threads, one per core by default:
/// a flood of logins queues here instead of starving other requests, and memory stays
/// bounded (a fresh blocking thread per hash would leave each thread's allocator arena
/// holding its own Argon2 block: hundreds of MiB under a login flood).
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    argon: Argon2<'static>,
    params: PasswordParams,
    jobs: flume::Sender<Job>,
    /// A PHC string with the current parameters, a random salt and a random output,
    /// verified when the login is unknown so that an unknown login costs the same time
    /// as a wrong password (and never matches).
    dummy: String,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.params)
            .finish()
    }
}

impl PasswordHasher {
    /// `concurrency` bounds simultaneous evaluations; `None` means one per core.
    pub fn new(params: PasswordParams, concurrency: Option<usize>) -> Result<Self> {
        let argon = params.argon2()?;
        // The dummy needs the current parameters and a salt, not a known password: a
        // random output is never matched and costs a full evaluation, like any hash.
        let (mut salt, mut output) = ([0u8; 16], [0u8; 32]);
        crate::secret::fill_random(&mut salt);
        crate::secret::fill_random(&mut output);
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD_NO_PAD.encode(b);
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.memory_kib,
            params.iterations,
            params.parallelism,
            b64(&salt),
            b64(&output)
        );
        PasswordHash::new(&dummy)
            .map_err(|e| Error::Internal(format!("argon2 dummy hash: {e}")))?;
        let threads = concurrency
            .unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
            })
            .max(1);
        // A bounded queue: past it, logins are refused at once (503) rather than waiting
        // minutes behind a flood.
        // Many consumers, each waiting with its own timeout (to give its memory back).
        let (jobs, queue) = flume::bounded::<Job>(threads * QUEUE_PER_THREAD);
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("tessera-argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match queue.recv_timeout(KEEP_MEMORY_IDLE) {
                            Ok(job) => job,
                            Err(flume::RecvTimeoutError::Timeout) => {
                                ARGON_MEMORY.with_borrow_mut(|m| *m = ArgonMemory::EMPTY);
                                continue;
                            }
                            Err(flume::RecvTimeoutError::Disconnected) => return,
                        };
                        // A panicking job must not take a worker with it.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .map_err(|e| Error::Internal(format!("cannot start a password thread: {e}")))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                argon,
                params,
                jobs,
                dummy,
            }),
        })
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> PasswordParams {
        self.inner.params
    }

    /// Checks parameters without building a hasher (which costs one hash).
    pub fn validate_params(params: PasswordParams) -> Result<()> {
        params.argon2().map(drop)
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) for `password`.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        if password.expose().chars().count() > MAX_PASSWORD_CHARS {
            return Err(Error::WeakPassword(PasswordProblem::TooLong {
                max: MAX_PASSWORD_CHARS,
            }));
        }
        let pw = password.clone();
        self.run(move |inner| {
            inner
                .argon
                .hash_password(pw.expose().as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("argon2: {e}")))
        })
        .await
    }

    /// Checks `password` against `stored`, or against the dummy hash when `stored` is
    /// `None` (unknown user), which then always answers `Mismatch` in the same time.
    /// The password is compared exactly as received: no trimming, no case folding.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<Verification> {
        if password.expose().chars().count() > MAX_PASSWORD_CHARS {
            return Ok(Verification::Mismatch);
        }
        let pw = password.clone();
        let stored = stored.map(str::to_owned);
        self.run(move |inner| {
            let known = stored.is_some();
            let phc = stored.as_deref().unwrap_or(&inner.dummy);
            let Ok(parsed) = PasswordHash::new(phc) else {
                return Err(Error::Internal(
                    "stored password hash is not a PHC string".into(),
                ));
            };
            // Both use the parameters recorded in the hash itself.
            let ok = verify_on_kept_memory(pw.expose().as_bytes(), &parsed).unwrap_or_else(|| {
                inner
                    .argon
                    .verify_password(pw.expose().as_bytes(), &parsed)
                    .is_ok()
            });
            if !(ok && known) {
                return Ok(Verification::Mismatch);
            }
            Ok(Verification::Match {
                needs_rehash: !inner.is_current(&parsed),
            })
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let inner = Arc::clone(&self.inner);
        let queued = std::time::Instant::now();
        let job: Job = Box::new(move || {
            metrics::histogram!("tessera_password_hash_wait_seconds")
                .record(queued.elapsed().as_secs_f64());
            // The caller went away (client disconnected): do not hash for nobody.
            if !done.is_closed() {
                let _ = done.send(work(&inner));
            }
        });
        let sent = self.inner.jobs.try_send(job);
        metrics::gauge!("tessera_password_hash_queue_depth").set(self.inner.jobs.len() as f64);
        sent.map_err(|e| match e {
            flume::TrySendError::Full(_) => Error::Busy("too many password checks in progress"),
            flume::TrySendError::Disconnected(_) => Error::Internal("password pool closed".into()),
        })?;
        result
            .await
            .map_err(|_| Error::Internal("password task failed".into()))?
    }
}

impl Inner {
    fn is_current(&self, hash: &PasswordHash) -> bool {
        if hash.algorithm != argon2::ARGON2ID_IDENT {
            return false;
        }
        match Params::try_from(hash) {
            Ok(p) => {
                p.m_cost() == self.params.memory_kib
                    && p.t_cost() == self.params.iterations
                    && p.p_cost() == self.params.parallelism
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_memory_verification_agrees_with_the_library() {
        let hashes: Vec<String> = [
            (Algorithm::Argon2id, 64, 1),
            (Algorithm::Argon2id, 256, 2),
            (Algorithm::Argon2i, 128, 1),
            (Algorithm::Argon2id, 64, 1),
        ]
        .into_iter()
        .map(|(alg, m, t)| {
            Argon2::new(alg, Version::V0x13, Params::new(m, t, 1, None).unwrap())
                .hash_password(b"right password")
                .unwrap()
                .to_string()
        })
        .collect();
        // One thread, so the kept memory is reused and resized between the hashes.
        for phc in &hashes {
            let parsed = PasswordHash::new(phc).unwrap();
            assert_eq!(
                verify_on_kept_memory(b"right password", &parsed),
                Some(true)
            );
            assert_eq!(
                verify_on_kept_memory(b"wrong password", &parsed),
                Some(false)
            );
            assert_eq!(verify_on_kept_memory(b"", &parsed), Some(false));
        }
        let kept = ARGON_MEMORY.with_borrow(|m| m.len);
        assert_eq!(kept, 64, "the memory of the last parameters is kept");
    }

    fn cheap() -> PasswordParams {
        PasswordParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn policy() {
        let policy = PasswordPolicy::default();
        let check = |pw: &str| policy.check(&Password::new(pw), "joe");
        assert_eq!(check("short"), Err(PasswordProblem::TooShort { min: 12 }));
        assert_eq!(check("correct horse battery staple"), Ok(()));
        assert_eq!(check("1234567890123"), Err(PasswordProblem::Common));
        assert_eq!(
            check("PASSWORD1234"),
            Err(PasswordProblem::Common),
            "case-folded lookup"
        );
        assert_eq!(check("joejoejoejoe"), Err(PasswordProblem::SameAsLogin));
        assert_eq!(check("JoeJoe2026joe"), Err(PasswordProblem::SameAsLogin));
        assert_eq!(check("joe likes long walks"), Ok(()));
        assert_eq!(
            check(&"x".repeat(1025)),
            Err(PasswordProblem::TooLong { max: 1024 })
        );
        // Twelve characters of anything, counted as characters rather than bytes.
        assert_eq!(
            check("ééééééééééé"),
            Err(PasswordProblem::TooShort { min: 12 })
        );
        assert_eq!(check("éééééééééééé"), Ok(()));
    }

    #[test]
    fn default_parameters_are_owasp() {
        let h = PasswordHasher::new(PasswordParams::default(), Some(1)).unwrap();
        assert!(h.inner.dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[tokio::test]
    async fn verifies_exactly_as_received() {
        let h = PasswordHasher::new(cheap(), None).unwrap();
        let hash = h.hash(&Password::new("Correct Horse ")).await.unwrap();
        let v = |pw: &'static str| {
            let h = h.clone();
            let hash = hash.clone();
            async move { h.verify(&Password::new(pw), Some(&hash)).await.unwrap() }
        };
        assert_eq!(
            v("Correct Horse ").await,
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            v("Correct Horse").await,
            Verification::Mismatch,
            "no trimming"
        );
        assert_eq!(
            v("correct horse ").await,
            Verification::Mismatch,
            "no case folding"
        );
    }

    #[tokio::test]
    async fn unknown_user_never_matches_and_old_params_need_rehash() {
        let old = PasswordHasher::new(cheap(), None).unwrap();
        let hash = old.hash(&Password::new("a long passphrase")).await.unwrap();
        let new = PasswordHasher::new(
            PasswordParams {
                memory_kib: 128,
                ..cheap()
            },
            None,
        )
        .unwrap();
        assert_eq!(
            new.verify(&Password::new("a long passphrase"), Some(&hash))
                .await
                .unwrap(),
            Verification::Match { needs_rehash: true }
        );
        assert_eq!(
            new.verify(&Password::new("a long passphrase"), None)
                .await
                .unwrap(),
            Verification::Mismatch
        );
        assert_eq!(
            new.verify(&Password::new("x".repeat(2000)), Some(&hash))
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Password::new("hunter2hunter2")),
            "Password([redacted])"
        );
    }

    #[test]
    fn bad_parameters_are_an_error() {
        let err = PasswordHasher::new(
            PasswordParams {
                memory_kib: 1,
                ..cheap()
            },
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("memory_kib"), "{err}");
    }
}
