//! The local mail transport: each message becomes `<outbox>/<name>.eml`, written whole (temp
//! file, then rename) so a reader never sees half a message.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::ports::{MailError, MailTransport, OutgoingMail, Sent};

/// Writes messages into a folder.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// An outbox in `dir` (created on first send).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

#[async_trait]
impl MailTransport for Outbox {
    async fn send(&self, mail: &OutgoingMail<'_>) -> Result<Sent, MailError> {
        let safe: String =
            mail.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let (dir, raw) = (self.dir.clone(), mail.raw.to_vec());
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            let tmp = dir.join(format!(".{safe}.eml.tmp"));
            std::fs::write(&tmp, raw)?;
            std::fs::rename(&tmp, dir.join(format!("{safe}.eml")))
        })
        .await
        .map_err(|e| MailError(e.to_string()))?
        .map_err(|e| MailError(format!("writing to the outbox: {e}")))?;
        // The file is the message as built, its own Message-ID included.
        Ok(Sent::default())
    }
}
