//! SES receiving, locally: a message written to `<data-dir>/inbox/*.eml` is taken as SES would
//! deliver it, with the verdicts its own `Authentication-Results` header states (`spf=pass`,
//! `dkim=pass`, `dmarc=pass`), then moved to `inbox/done/`, or to `inbox/rejected/` with a
//! `<name>.reason` file. Write a message elsewhere and move it in, so it is never read half
//! written. A store failure leaves it in place for the next look.

use std::path::{Path, PathBuf};
use std::time::Duration;

use shared::services::{InboundError, InboundService, Received, header_verdicts};

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Taken into its ticket's conversation.
    Done,
    /// Refused, with the reason.
    Rejected(String),
    /// Left for the next look (the store failed).
    Retry,
}

/// Looks into `inbox` every `every` and takes what is there.
pub async fn watch(inbox: PathBuf, service: InboundService, every: Duration) {
    let mut every = tokio::time::interval(every);
    loop {
        every.tick().await;
        take_all(&inbox, &service).await;
    }
}

/// Takes every `.eml` now in `inbox`, oldest name first.
pub async fn take_all(inbox: &Path, service: &InboundService) -> Vec<(String, Outcome)> {
    let Ok(entries) = std::fs::read_dir(inbox) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    let mut outcomes = Vec::new();
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let outcome = take(&path, service).await;
        if let Err(e) = file(inbox, &path, &name, &outcome) {
            tracing::error!(file = %name, error = %e, "inbox: moving the message failed");
        }
        outcomes.push((name, outcome));
    }
    outcomes
}

async fn take(path: &Path, service: &InboundService) -> Outcome {
    let Ok(raw) = std::fs::read(path) else { return Outcome::Retry };
    let received = Received { raw: &raw, verdicts: header_verdicts(&raw), recipients: &[] };
    match service.receive(received).await {
        Ok(accepted) => {
            tracing::info!(ticket = %accepted.ticket.number, status = accepted.ticket.status.as_str(), "inbound mail taken");
            Outcome::Done
        }
        Err(InboundError::Refused(why)) => {
            tracing::warn!(reason = %why, "inbound mail refused");
            Outcome::Rejected(why.to_string())
        }
        Err(InboundError::Internal(why)) => {
            tracing::error!(error = %why, "inbound mail failed");
            Outcome::Rejected(format!("internal error: {why}"))
        }
        Err(e) => {
            tracing::warn!(error = %e, "inbound mail: will try again");
            Outcome::Retry
        }
    }
}

fn file(inbox: &Path, path: &Path, name: &str, outcome: &Outcome) -> std::io::Result<()> {
    let folder = match outcome {
        Outcome::Done => inbox.join("done"),
        Outcome::Rejected(_) => inbox.join("rejected"),
        Outcome::Retry => return Ok(()),
    };
    std::fs::create_dir_all(&folder)?;
    if let Outcome::Rejected(reason) = outcome {
        std::fs::write(folder.join(format!("{name}.reason")), format!("{reason}\n"))?;
    }
    std::fs::rename(path, folder.join(name))
}
