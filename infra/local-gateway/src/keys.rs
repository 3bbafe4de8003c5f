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

/// The PEM text of `<data_dir>/signing-key.pem` (checked to be a valid key), creating the file
/// first if absent. The functions read it as `AUTH_SIGNING_KEY`, as in Lambda.
pub fn load_or_create(data_dir: &Path) -> Result<String> {
    let path = data_dir.join(KEY_FILE);
    if path.exists() {
        let pem = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        SigningKey::from_pem(KEY_ID, &pem)
            .with_context(|| format!("{} is not a valid key", path.display()))?;
        return Ok(pem);
    }
    let (_, pem) = SigningKey::generate(KEY_ID)?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new signing key");
    Ok(pem)
}

/// File name of the reply-address key inside the data dir.
pub const REPLY_KEY_FILE: &str = "inbound-reply.key";

/// The hex text of `<data_dir>/inbound-reply.key` (32 random bytes), creating it first if
/// absent: the key that signs ticket mails' reply addresses, as `INBOUND_REPLY_KEY` in Lambda.
pub fn reply_key(data_dir: &Path) -> Result<String> {
    let path = data_dir.join(REPLY_KEY_FILE);
    if path.exists() {
        let hex = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(hex.trim().to_owned());
    }
    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key).map_err(|_| anyhow::anyhow!("no randomness for the reply key"))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(hex::encode(key).as_bytes())?;
    file.sync_all()?;
    Ok(hex::encode(key))
}
