//! Passwords: the policy (NIST 800-63B style: length, no composition rules, refuse
//! guessable ones) and hashing with argon2id.

use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::phc::Output;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher as _, Version};
use unicode_normalization::UnicodeNormalization;

use crate::random::{Random, bytes};
use crate::{DomainError, FieldProblem};

/// Fewest characters (Unicode code points after NFKC).
pub const MIN_CHARS: usize = 16;
/// Most characters.
pub const MAX_CHARS: usize = 256;

/// Words the password must not be built from: email, names, clinic name.
#[derive(Debug, Default, Clone)]
pub struct PersonalWords<'a> {
    /// The account's email.
    pub email: &'a str,
    /// Names and other words (clinic name).
    pub words: Vec<&'a str>,
}

/// NFKC-normalises a password (so visually equal inputs hash equally).
pub fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

/// Why a new password's length is refused (code, message), if it is: counted in the
/// characters given, before normalisation, as the contract's `minLength` and
/// `maxLength` count them.
pub fn length_refusal(password: &str) -> Option<(&'static str, String)> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Some((
            "too_short",
            format!(
                "must be at least {MIN_CHARS} characters; a passphrase of several words is easiest"
            ),
        ));
    }
    if chars > MAX_CHARS {
        return Some((
            "too_long",
            format!("must be at most {MAX_CHARS} characters"),
        ));
    }
    None
}

/// Checks a new password; the error says why it is refused.
pub fn check_policy(
    field: &str,
    password: &str,
    personal: &PersonalWords<'_>,
) -> Result<(), DomainError> {
    let normalised = normalise(password);
    let refuse = |code, message: String| {
        Err(DomainError::Invalid(vec![FieldProblem::new(
            field, code, message,
        )]))
    };
    if let Some((code, message)) = length_refusal(password) {
        return refuse(code, message);
    }
    let lower = normalised.to_lowercase();
    let mut inputs: Vec<String> = Vec::new();
    if let Some((local, domain)) = personal.email.split_once('@') {
        inputs.push(local.to_lowercase());
        inputs.push(domain.split('.').next().unwrap_or_default().to_lowercase());
    }
    for word in &personal.words {
        inputs.extend(
            word.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.chars().count() >= 3)
                .map(str::to_lowercase),
        );
    }
    if inputs
        .iter()
        .any(|w| w.chars().count() >= 4 && lower.contains(w.as_str()))
    {
        return refuse(
            "personal_information",
            "must not contain your email address, your name or the clinic's name".to_owned(),
        );
    }
    let user_inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(&normalised, &user_inputs);
    if u8::from(estimate.score()) < 3 {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "it is too easy to guess".to_owned());
        return refuse(
            "too_weak",
            format!("is too easy to guess ({hint}); use several unrelated words"),
        );
    }
    Ok(())
}

/// argon2id parameters (OWASP: m = 19456 KiB, t = 2, p = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Parallelism.
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Argon2 working memory kept between verifications. argon2 needs `memory_kib` of
/// it per hash; allocated afresh each time, the freed block stays in the malloc
/// arena of whichever thread ran the hash, so a server that verified on many
/// threads held many copies (measured by `make bench`: 355 MiB after 25 sign-ins).
#[derive(Clone, Default)]
struct WorkingMemory(Arc<Mutex<Vec<Vec<Block>>>>);

/// Buffers kept; at most `PASSWORD_HASH_CONCURRENCY` hashes run at once (the
/// hasher's permits), and more than this are allocated for the moment and then
/// dropped.
const KEPT_BUFFERS: usize = 4;

impl WorkingMemory {
    /// Runs `work` on a buffer of `blocks` blocks, taken from the pool or allocated.
    fn with<T>(&self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        let taken = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .filter(|b| b.len() == blocks);
        let mut buffer = taken.unwrap_or_else(|| vec![Block::new(); blocks]);
        let out = work(&mut buffer);
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < KEPT_BUFFERS {
            kept.push(buffer);
        }
        out
    }
}

impl std::fmt::Debug for WorkingMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkingMemory")
    }
}

/// At most so many argon2 computations at once (`PASSWORD_HASH_CONCURRENCY`):
/// a permit is held around the computation only, never across database work, so
/// a sign-in's queries overlap another's hashing and the cores stay busy with it.
#[derive(Debug)]
struct Permits {
    free: Mutex<usize>,
    freed: std::sync::Condvar,
}

impl Permits {
    fn new(count: usize) -> Self {
        Self {
            free: Mutex::new(count.max(1)),
            freed: std::sync::Condvar::new(),
        }
    }

    /// Runs `work` once a permit is free.
    fn with<T>(&self, work: impl FnOnce() -> T) -> T {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        drop(free);
        let out = work();
        *self.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.freed.notify_one();
        out
    }
}

/// Hashes and verifies passwords with the configured argon2id parameters.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: HashParams,
    permits: Arc<Permits>,
    /// A hash of a random password, verified when the account does not exist so
    /// unknown emails cost the same work as known ones.
    dummy_hash: String,
    memory: WorkingMemory,
    /// Argon2 computations run (hashes and verifications): how the equal work
    /// of known and unknown accounts is proven, counted where it is done.
    computed: Arc<std::sync::atomic::AtomicU64>,
}

/// The outcome of verifying a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password.
    No,
    /// Right password, hash current.
    Yes,
    /// Right password, but hashed with older parameters: re-hash it.
    YesRehash,
}

impl PasswordHasher {
    /// A hasher with these parameters (checked), and its dummy hash.
    pub fn new(params: HashParams, random: &dyn Random) -> Result<Self, DomainError> {
        let mut hasher = Self {
            params,
            permits: Arc::new(Permits::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            )),
            dummy_hash: String::new(),
            memory: WorkingMemory::default(),
            computed: Arc::default(),
        };
        let dummy = crate::random::secret_token(random);
        hasher.dummy_hash = hasher.hash(&dummy, random)?;
        Ok(hasher)
    }

    fn argon2(&self) -> Result<Argon2<'static>, DomainError> {
        let params = Params::new(
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
            None,
        )
        .map_err(|e| DomainError::Internal(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// The same hasher computing at most `concurrency` hashes at once (the
    /// default: one per CPU).
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.permits = Arc::new(Permits::new(concurrency));
        self
    }

    /// How many argon2 computations (hashes and verifications) this hasher has
    /// run since it was made.
    pub fn computations(&self) -> u64 {
        self.computed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Hashes a (policy-checked) password to a PHC string.
    pub fn hash(&self, password: &str, random: &dyn Random) -> Result<String, DomainError> {
        self.computed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let salt = bytes(random, 16);
        let argon2 = self.argon2()?;
        self.permits
            .with(|| argon2.hash_password_with_salt(normalise(password).as_bytes(), &salt))
            .map(|h| h.to_string())
            .map_err(|e| DomainError::Internal(format!("argon2 hash: {e}")))
    }

    /// Verifies a password against a stored hash (or the dummy hash when `stored`
    /// is `None`, which always answers `No`).
    pub fn verify(&self, password: &str, stored: Option<&str>) -> Verified {
        let hash_text = stored.unwrap_or(&self.dummy_hash);
        let Ok(parsed) = PasswordHash::new(hash_text) else {
            return Verified::No;
        };
        if !self.matches(normalise(password).as_bytes(), &parsed) || stored.is_none() {
            return Verified::No;
        }
        let current = Params::try_from(&parsed).ok().is_some_and(|p| {
            p.m_cost() == self.params.memory_kib
                && p.t_cost() == self.params.iterations
                && p.p_cost() == self.params.parallelism
        }) && parsed.algorithm.as_str() == "argon2id";
        if current {
            Verified::Yes
        } else {
            Verified::YesRehash
        }
    }

    /// What argon2's `verify_password` does (the stored hash's own algorithm,
    /// version, parameters and salt; a constant-time comparison of the outputs), on
    /// pooled working memory.
    fn matches(&self, password: &[u8], stored: &PasswordHash) -> bool {
        let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
            return false;
        };
        let (Ok(params), Ok(algorithm)) = (
            Params::try_from(stored),
            Algorithm::try_from(stored.algorithm.as_str()),
        ) else {
            return false;
        };
        let version = match stored.version.map(Version::try_from).transpose() {
            Ok(version) => version.unwrap_or_default(),
            Err(_) => return false,
        };
        let blocks = params.block_count();
        let argon2 = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        self.computed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let computed = self.permits.with(|| {
            self.memory.with(blocks, |memory| {
                argon2.hash_password_into_with_memory(password, salt, &mut out, memory)
            })
        });
        computed.is_ok() && Output::new(&out).is_ok_and(|out| out == *expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(std::sync::atomic::AtomicU8);
    impl Random for Counter {
        fn fill(&self, buf: &mut [u8]) {
            for b in buf {
                *b = self.0.fetch_add(37, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    fn personal() -> PersonalWords<'static> {
        PersonalWords {
            email: "ada.lovelace@clinic.test",
            words: vec!["Ada", "Lovelace", "Harbour Clinic"],
        }
    }

    fn code(result: Result<(), DomainError>) -> &'static str {
        match result {
            Err(DomainError::Invalid(problems)) => problems[0].code,
            Ok(()) => "ok",
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_the_examples_of_the_issue() {
        assert_eq!(
            code(check_policy(
                "password",
                "passwordpassword1234",
                &personal()
            )),
            "too_weak"
        );
        assert_eq!(
            code(check_policy("password", "short", &personal())),
            "too_short"
        );
        assert_eq!(
            code(check_policy("password", &"x".repeat(257), &personal())),
            "too_long"
        );
    }

    #[test]
    fn refuses_personal_words() {
        assert_eq!(
            code(check_policy(
                "password",
                "lovelace-quantum-sparrow-91",
                &personal()
            )),
            "personal_information"
        );
        assert_eq!(
            code(check_policy(
                "password",
                "harbour violet engine tundra",
                &personal()
            )),
            "personal_information"
        );
    }

    #[test]
    fn accepts_a_random_four_word_passphrase() {
        assert_eq!(
            code(check_policy(
                "password",
                "correct orbit lantern psalm",
                &personal()
            )),
            "ok"
        );
        assert_eq!(
            code(check_policy(
                "password",
                "tangerine wobble fjord cactus",
                &personal()
            )),
            "ok"
        );
    }

    #[test]
    fn length_counts_code_points_after_nfkc() {
        // 16 full-width letters normalise to 16 ASCII letters: length is fine.
        let wide = "ｑｗｅｒｔｙｕｉｏｐａｓｄｆｇｈ";
        assert_ne!(
            code(check_policy("password", wide, &personal())),
            "too_short"
        );
        assert_eq!(normalise(wide), "qwertyuiopasdfgh");
    }

    #[test]
    fn pooled_verification_agrees_with_argon2s_own_on_other_algorithms_versions_and_lanes() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let random = Counter(std::sync::atomic::AtomicU8::new(7));
        let hasher = PasswordHasher::new(
            HashParams {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            &random,
        )
        .unwrap();
        for (algorithm, version, lanes, out_len) in [
            (Algorithm::Argon2id, Version::V0x13, 1, 32),
            (Algorithm::Argon2id, Version::V0x13, 2, 16),
            (Algorithm::Argon2i, Version::V0x10, 1, 32),
            (Algorithm::Argon2d, Version::V0x13, 3, 64),
        ] {
            let params = Params::new(96, 2, lanes, Some(out_len)).unwrap();
            let theirs = Argon2::new(algorithm, version, params)
                .hash_password_with_salt(b"lantern psalm orbit", b"sixteen byte sal")
                .unwrap()
                .to_string();
            let parsed = PasswordHash::new(&theirs).unwrap();
            for password in [&b"lantern psalm orbit"[..], b"lantern psalm orbiT", b""] {
                let expected = Argon2::default().verify_password(password, &parsed).is_ok();
                assert_eq!(
                    hasher.matches(password, &parsed),
                    expected,
                    "{theirs} with {password:?}"
                );
            }
        }
        assert_eq!(hasher.memory.0.lock().unwrap().len(), 1, "memory is reused");
    }

    #[test]
    fn hashes_verify_and_outdated_parameters_ask_for_a_rehash() {
        let random = Counter(std::sync::atomic::AtomicU8::new(1));
        let small = HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        let old = PasswordHasher::new(small, &random).unwrap();
        let hash = old.hash("correct orbit lantern psalm", &random).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert_eq!(
            old.verify("correct orbit lantern psalm", Some(&hash)),
            Verified::Yes
        );
        assert_eq!(
            old.verify("correct orbit lantern psalm!", Some(&hash)),
            Verified::No
        );
        let newer = PasswordHasher::new(
            HashParams {
                memory_kib: 2048,
                ..small
            },
            &random,
        )
        .unwrap();
        assert_eq!(
            newer.verify("correct orbit lantern psalm", Some(&hash)),
            Verified::YesRehash
        );
        assert_eq!(newer.verify("anything", None), Verified::No);
    }
}
