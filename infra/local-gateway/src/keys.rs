//! The gateway's signing key: generated on first start, kept in the data dir so tokens survive
//! restarts. The file is created owner-read/write only.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use shared::auth::SigningKey;

/// File name of the key inside the data dir.
pub const KEY_FILE: &str = "signing-key.pem";
/// Key id of the gateway's key (one key per data dir).
pub const KEY_ID: &str = "local-1";

/// Loads `<data_dir>/signing-key.pem`, creating it first if absent.
pub fn load_or_create(data_dir: &Path) -> Result<SigningKey> {
    let path = data_dir.join(KEY_FILE);
    if path.exists() {
        let pem = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        return SigningKey::from_pem(KEY_ID, &pem)
            .with_context(|| format!("{} is not a valid key", path.display()));
    }
    let (key, pem) = SigningKey::generate(KEY_ID)?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new signing key");
    Ok(key)
}
