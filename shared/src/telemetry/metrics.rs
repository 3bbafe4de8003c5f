//! Business metrics in CloudWatch Embedded Metric Format: one JSON line per data point on the
//! log stream (stdout in Lambda), which CloudWatch turns into metrics with no API call and no
//! added latency. One namespace, two dimensions (`function`, `outcome`); the names and outcomes
//! are listed in `docs/metrics.md`, and `tests/metrics.rs` checks every line an end-to-end run
//! writes against that list.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "SupportBackend";

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Sign-in attempts: `ok`, `failed` (wrong email or password), `throttled`.
    SignIns,
    /// Registrations: `ok`, `taken`, `throttled`, `mail_failed` (undone).
    Registrations,
    /// Escalations: `created`, `existing` (the conversation's open ticket, or a repeated key).
    Escalations,
    /// Mail hand-offs to the mail service: `sent`, `queued` (to retry), `failed` (given up).
    Mails,
    /// Retries of queued mails by the worker: `sent`, `requeued`, `failed`.
    MailRetries,
    /// Pushes to WebSocket clients: `ok`, `gone`, `failed`.
    Pushes,
    /// WebSocket connects refused, by the problem's code (`origin_not_allowed`,
    /// `unauthenticated`, `rate_limited`, `too_many_connections`, …).
    WebSocketRefusals,
    /// Assistant replies, by mode: `retrieval` (the knowledge base) or `model`; `forwarded`
    /// when a person handles the conversation.
    AssistantTurns,
    /// Replies by mail: `taken`, or the refusal's code (`untrusted`, `no_reply_address`, …).
    InboundMails,
}

impl Metric {
    /// The metric's CloudWatch name.
    pub fn name(self) -> &'static str {
        match self {
            Self::SignIns => "SignIns",
            Self::Registrations => "Registrations",
            Self::Escalations => "Escalations",
            Self::Mails => "Mails",
            Self::MailRetries => "MailRetries",
            Self::Pushes => "Pushes",
            Self::WebSocketRefusals => "WebSocketRefusals",
            Self::AssistantTurns => "AssistantTurns",
            Self::InboundMails => "InboundMails",
        }
    }
}

type Sink = Box<dyn Fn(&str) + Send + Sync>;

static SINK: OnceLock<Sink> = OnceLock::new();
static FUNCTION: OnceLock<&'static str> = OnceLock::new();

/// Where the lines go: the log writer (`telemetry::init_with` sets it); stdout otherwise.
pub(super) fn set_sink(sink: Sink) {
    let _ = SINK.set(sink);
}

/// The `function` dimension of this process (the Lambda's name in `template.yaml`'s terms, or
/// `local-gateway`); the first call wins.
pub fn set_function(name: &'static str) {
    let _ = FUNCTION.set(name);
}

/// Counts one `outcome` of `metric`.
pub fn count(metric: Metric, outcome: &str) {
    add(metric, outcome, 1);
}

/// Counts `n` of `outcome` (nothing when `n` is 0).
pub fn add(metric: Metric, outcome: &str, n: usize) {
    if n == 0 {
        return;
    }
    let line = line(metric, outcome, n, now_millis());
    match SINK.get() {
        Some(sink) => sink(&line),
        None => println!("{line}"),
    }
}

fn now_millis() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// One EMF document: the directive under `_aws`, the dimensions and the value at the top level.
fn line(metric: Metric, outcome: &str, n: usize, timestamp: u128) -> String {
    let name = metric.name();
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["function", "outcome"]],
                "Metrics": [{ "Name": name, "Unit": "Count" }],
            }],
        },
        "function": FUNCTION.get().copied().unwrap_or("unknown"),
        "outcome": outcome,
        name: n,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_an_emf_document() {
        let v: serde_json::Value =
            serde_json::from_str(&line(Metric::Pushes, "gone", 3, 1_767_952_800_000)).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_767_952_800_000_u64);
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], serde_json::json!([["function", "outcome"]]));
        assert_eq!(directive["Metrics"][0]["Name"], "Pushes");
        assert_eq!(v["outcome"], "gone");
        assert_eq!(v["Pushes"], 3);
        assert!(v["function"].is_string());
    }
}
