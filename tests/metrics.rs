//! The business metrics are what `docs/metrics.md` says: one user's journey through the gateway
//! (sign-ins that work and fail, a chat, a socket refused and one accepted, an escalation and
//! its repeat, the mails) with the log stream captured; every EMF line in it must name the
//! documented namespace, dimensions, metric and outcome, and the journey's events must all
//! have been counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use e2e::gateway::TestGateway;
use serde_json::{Value, json};

/// The documented namespace and, per metric, its outcomes (the table's first two columns).
fn documented() -> (String, BTreeMap<String, BTreeSet<String>>) {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md")).unwrap();
    let ticked =
        |cell: &str| -> Vec<String> { cell.split('`').skip(1).step_by(2).map(str::to_owned).collect() };
    let namespace = text
        .lines()
        .find_map(|l| l.strip_prefix("Namespace: "))
        .map(|rest| ticked(rest)[0].clone())
        .expect("a Namespace: line");
    let metrics = text
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').collect();
            (ticked(cells[1])[0].clone(), ticked(cells[2]).into_iter().collect())
        })
        .collect();
    (namespace, metrics)
}

#[tokio::test]
async fn every_metric_line_is_documented_and_the_journey_is_counted() {
    let capture = e2e::Capture::install();

    let gw = TestGateway::start().await;
    let account = gw.register_verified("metrics@example.com").await;
    gw.login("metrics@example.com").await;
    gw.post_json("/api/auth/login", &json!({"email": "metrics@example.com", "password": "a wrong password"}))
        .await;
    let conversation = gw.start_conversation(&account, "How do I reset my password?").await;
    let ticket = gw.mint(&account).await;
    let socket = gw.connect_ticket(&ticket).await.expect("the ticket connects");
    assert_eq!(gw.connect_ticket(&ticket).await.err(), Some(401), "a spent ticket is refused");
    let body = json!({"conversation_id": conversation, "priority": "normal"});
    assert_eq!(gw.escalate(&account, &body, Some("metrics-key-1")).await.status(), 201);
    assert_eq!(gw.escalate(&account, &body, Some("metrics-key-1")).await.status(), 200);
    drop(socket);

    let (namespace, documented) = documented();
    let text = capture.text();
    let mut counted: BTreeMap<(String, String), u64> = BTreeMap::new();
    for line in text.lines().filter(|l| l.contains("\"_aws\"")) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let directives = v["_aws"]["CloudWatchMetrics"].as_array().expect("directives");
        assert!(v["_aws"]["Timestamp"].is_u64(), "{line}");
        assert_eq!(directives.len(), 1, "{line}");
        let directive = &directives[0];
        assert_eq!(directive["Namespace"], namespace.as_str(), "{line}");
        assert_eq!(directive["Dimensions"], json!([["function", "outcome"]]), "{line}");
        let metric = directive["Metrics"][0]["Name"].as_str().expect("a name");
        assert_eq!(directive["Metrics"][0]["Unit"], "Count", "{line}");
        assert_eq!(v["function"], "local-gateway", "{line}");
        let outcome = v["outcome"].as_str().expect("an outcome");
        let outcomes = documented.get(metric).unwrap_or_else(|| panic!("{metric} is not in docs/metrics.md"));
        assert!(outcomes.contains(outcome), "{metric}: outcome {outcome} is not in docs/metrics.md");
        let n = v[metric].as_u64().filter(|n| *n > 0).unwrap_or_else(|| panic!("a positive count: {line}"));
        *counted.entry((metric.to_owned(), outcome.to_owned())).or_default() += n;
    }
    for (metric, outcome) in [
        ("Registrations", "ok"),
        ("SignIns", "ok"),
        ("SignIns", "failed"),
        ("AssistantTurns", "retrieval"),
        ("WebSocketRefusals", "unauthenticated"),
        ("Escalations", "created"),
        ("Escalations", "existing"),
        ("Mails", "sent"),
        ("Pushes", "ok"),
    ] {
        assert!(
            counted.contains_key(&(metric.to_owned(), outcome.to_owned())),
            "{metric}/{outcome} was not counted: {counted:?}"
        );
    }
    // One of each here, and the registration's verification mail plus the ticket's two.
    assert_eq!(counted[&("SignIns".to_owned(), "failed".to_owned())], 1);
    assert_eq!(counted[&("Escalations".to_owned(), "created".to_owned())], 1);
    assert_eq!(counted[&("Mails".to_owned(), "sent".to_owned())], 3);
}
