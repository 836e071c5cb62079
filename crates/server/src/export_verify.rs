//! `salus export verify FILE`: checks a downloaded clinic export offline. It
//! decrypts the age archive (with the owner's identity file, or the passphrase
//! Salus showed once), then reads it line by line: every part's row count and
//! SHA-256 against the manifest, and the manifest's Ed25519 signature by one of
//! the platform's keys. Nothing is written to disk.

use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::Context;
use salus_domain::export::archive::{self, Manifest};

/// How to open the archive.
pub enum Key<'a> {
    /// An age identity file (`AGE-SECRET-KEY-1...` lines).
    Identity(&'a Path),
    /// The passphrase.
    Passphrase(String),
}

/// Decrypts and verifies `file`: its manifest.
pub fn verify(file: &Path, key: Key<'_>, trusted: &[(String, String)]) -> anyhow::Result<Manifest> {
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let decryptor = age::Decryptor::new(BufReader::new(input))
        .with_context(|| format!("{} is not an age file", file.display()))?;
    let reader: Box<dyn Read> = match key {
        Key::Identity(path) => {
            let identities = age::IdentityFile::from_file(path.display().to_string())
                .with_context(|| format!("cannot read the identity file {}", path.display()))?
                .into_identities()
                .context("the identity file holds no usable identity")?;
            Box::new(
                decryptor
                    .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
                    .context("the archive does not open with this identity")?,
            )
        }
        Key::Passphrase(passphrase) => {
            let identity = age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase));
            Box::new(
                decryptor
                    .decrypt(std::iter::once(&identity as &dyn age::Identity))
                    .context("the archive does not open with this passphrase")?,
            )
        }
    };
    let mut lines = BufReader::with_capacity(256 * 1024, reader);
    archive::verify(&mut lines, trusted)
        .map_err(|reason| anyhow::anyhow!("{}: {reason}", file.display()))
}
