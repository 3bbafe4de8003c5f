//! `cold-start invoke FUNCTION EVENT_FILE`: one function binary, one sample event, the
//! function's answer on stdout. The world is the benchmark's ([`World`]): fresh tables on moto,
//! the SES sender identity verified, the sample user with a real session, and the function's
//! environment as Lambda gives it. Then the event's placeholders get real values
//! (`events/README.md` lists them):
//!
//! - `${ACCESS_TOKEN}`, `${SESSION_TOKEN}`: the sample user's session;
//! - `${WS_TICKET}`: a ticket stored as `ws-ticket` stores one (one per run, so the same value in
//!   every event of the run);
//! - `${SESSION_ID}`: another live session of the user; `${RESET_TOKEN}`, `${VERIFY_TOKEN}`: the
//!   tokens the reset and verification mails carry;
//! - `${CONVERSATION_ID}`, `${TICKET_ID}`: taken from the answers of the sample events that make
//!   them (`chat/post-new-conversation.json`, `escalation/post-escalation.json`), run first
//!   through their own function binaries;
//! - `${REPLY_ADDRESS}`: that ticket's signed reply address. A `mail-inbound` event's message is
//!   the `.eml` file beside it, filled in the same way and stored in the inbound bucket under the
//!   event's message id first, as SES receiving's S3 action does.
//!
//! A few sample events need more than that to show what they are for (an account that does not
//! exist yet, an expired ticket, a ticket already spent…): [`tailored`] says what, by file name.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::process::Child;

use crate::runtime::RuntimeApi;
use crate::world::{Account, FUNCTIONS, World};

/// `cold-start invoke`.
#[derive(clap::Args)]
pub struct Args {
    /// moto on loopback (scripts/invoke starts one, or uses $MOTO_ENDPOINT).
    #[arg(long, env = "MOTO_ENDPOINT")]
    moto: String,
    /// Where the function binaries are (cargo build -p FUNCTION).
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    /// Check the answer: a dotted path into it and the value, e.g. `statusCode=201`,
    /// `body.ticket.mail.user=sent` (a JSON string on the way is parsed), `due=0`.
    #[arg(long, value_name = "PATH=VALUE")]
    expect: Vec<String>,
    /// Keep the functions' logs out of stderr.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    target: Target,
}

/// A function and an event file.
#[derive(clap::Args)]
pub struct Target {
    /// The sample events (setup events are read from here).
    #[arg(long, default_value = "events")]
    events: PathBuf,
    /// The function, by binary name.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(FUNCTIONS))]
    function: String,
    /// The API Gateway (or EventBridge) event, e.g. events/login/register.json.
    event: PathBuf,
}

/// A placeholder whose value comes from another sample event's answer: that event, and where the
/// value is in its response body.
const PRODUCERS: [(&str, &str, &str); 2] = [
    ("${CONVERSATION_ID}", "chat/post-new-conversation.json", "/conversation_id"),
    ("${TICKET_ID}", "escalation/post-escalation.json", "/ticket/id"),
];

/// What one event needs beyond a verified, signed-in sample user, by its place in `events/`:
/// the account's state, whether `${WS_TICKET}` is an expired ticket, and events to run first
/// (besides the producers of its placeholders, which are found from its text). This mirrors the
/// order `tests/events.rs` replays them in.
fn tailored(key: Option<&str>) -> (Account, bool, &'static [&'static str]) {
    let verified = Account::Verified;
    match key.unwrap_or_default() {
        "login/register.json" => (Account::Absent, false, &[]),
        "login/resend-verification.json"
        | "login/verify-email.json"
        | "escalation/post-escalation-unverified.json" => (Account::Unverified, false, &[]),
        "ws-connect/connect-ticket-expired.json" => (verified, true, &[]),
        // The ticket is spent by a first connect.
        "ws-connect/connect-ticket-reused.json" => (verified, false, &["ws-connect/connect-ticket.json"]),
        // The connection it ends (`connect-ticket.json`'s).
        "ws-connect/disconnect.json" => (verified, false, &["ws-connect/connect-ticket.json"]),
        // Four messages, so a page of two has a next cursor.
        "chat/get-messages.json" => (verified, false, &["chat/post-follow-up.json"]),
        "escalation/post-escalation-same-key.json"
        | "escalation/post-escalation-same-conversation.json"
        | "escalation/list-escalations.json" => (verified, false, &["escalation/post-escalation.json"]),
        // A reply to the ticket's mails.
        key if key.starts_with("mail-inbound/") => (verified, false, &["escalation/post-escalation.json"]),
        _ => (verified, false, &[]),
    }
}

/// Everything one invoke runs.
struct Plan {
    account: Account,
    expired_ticket: bool,
    /// Events (`<function>/<file>` under the events folder) run before the target, in order.
    steps: Vec<String>,
}

impl Target {
    /// `<function>/<file>` when the event file sits in a function's folder.
    fn key(&self) -> Option<String> {
        let file = self.event.file_name()?.to_str()?;
        let folder = self.event.parent()?.file_name()?.to_str()?;
        FUNCTIONS.contains(&folder).then(|| format!("{folder}/{file}"))
    }

    fn text(&self) -> Result<String> {
        if !self.event.is_file() {
            bail!("no event file {}", self.event.display());
        }
        let text = std::fs::read_to_string(&self.event)
            .with_context(|| format!("reading {}", self.event.display()))?;
        serde_json::from_str::<Value>(&text)
            .with_context(|| format!("{} is not JSON", self.event.display()))?;
        Ok(text)
    }

    fn plan(&self, text: &str) -> Result<Plan> {
        let key = self.key();
        let (account, expired_ticket, before) = tailored(key.as_deref());
        let mut plan = Plan { account, expired_ticket, steps: Vec::new() };
        let mut produced = HashSet::new();
        for step in before {
            self.add(step, &mut plan.steps, &mut produced)?;
        }
        self.producers_for(text, &mut plan.steps, &mut produced)?;
        Ok(plan)
    }

    /// Adds `step`, after the producers of its own placeholders.
    fn add(&self, step: &str, steps: &mut Vec<String>, produced: &mut HashSet<&'static str>) -> Result<()> {
        let path = self.events.join(step);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        self.producers_for(&text, steps, produced)?;
        if let Some((placeholder, ..)) = PRODUCERS.iter().find(|(_, producer, _)| *producer == step) {
            produced.insert(placeholder);
        }
        steps.push(step.to_owned());
        Ok(())
    }

    fn producers_for(
        &self,
        text: &str,
        steps: &mut Vec<String>,
        produced: &mut HashSet<&'static str>,
    ) -> Result<()> {
        for (placeholder, producer, _) in PRODUCERS {
            if text.contains(placeholder) && !produced.contains(placeholder) {
                self.add(producer, steps, produced)?;
            }
        }
        Ok(())
    }

    /// The function binaries an invoke of this event runs: its own first, then its setup's.
    pub fn binaries(&self) -> Result<Vec<String>> {
        let plan = self.plan(&self.text()?)?;
        let mut binaries = vec![self.function.clone()];
        for step in &plan.steps {
            let function = function_of(step);
            if !binaries.iter().any(|b| b == function) {
                binaries.push(function.to_owned());
            }
        }
        Ok(binaries)
    }
}

fn function_of(step: &str) -> &str {
    step.split('/').next().unwrap_or(step)
}

/// One function process under its own Runtime API.
struct Process {
    api: RuntimeApi,
    child: Child,
    name: String,
}

impl Process {
    /// Execs the binary and waits until it asks for its first event (or exits trying).
    async fn start(world: &World, function: &str, bin_dir: &Path, logs: bool) -> Result<Self> {
        let binary = bin_dir.join(function);
        if !binary.is_file() {
            bail!("no binary {} (build it: cargo build -p {function})", binary.display());
        }
        let api = RuntimeApi::start().await?;
        let mut child = world.spawn(function, &binary, &api, &[], logs)?;
        let seen = if logs { ": its log is above" } else { " (run without --quiet to see its log)" };
        tokio::select! {
            at = api.first_next() => {
                at.with_context(|| format!("{function} did not ask for an event within 10 s{seen}"))?;
            }
            status = child.wait() => bail!("{function} stopped during init ({}){seen}", status?),
        }
        Ok(Self { api, child, name: function.to_owned() })
    }

    /// Hands it one event; its answer.
    async fn call(&mut self, event: String) -> Result<String> {
        tokio::select! {
            answer = self.api.invoke(event) => Ok(answer.with_context(|| format!("{}'s answer", self.name))?.1),
            status = self.child.wait() => bail!("{} stopped while handling the event ({})", self.name, status?),
        }
    }

    async fn stop(mut self) {
        self.child.kill().await.ok();
    }
}

/// Values for the placeholders, made on first use and kept for the run.
struct Values {
    expired_ticket: bool,
    known: HashMap<&'static str, String>,
    foreign_seeded: bool,
}

impl Values {
    /// `text` with every placeholder replaced; an error names one left without a value.
    async fn fill(&mut self, world: &World, text: &str) -> Result<String> {
        let mut text = text.to_owned();
        for placeholder in [
            "${ACCESS_TOKEN}",
            "${SESSION_TOKEN}",
            "${VERIFY_TOKEN}",
            "${WS_TICKET}",
            "${SESSION_ID}",
            "${RESET_TOKEN}",
            "${CONVERSATION_ID}",
            "${TICKET_ID}",
            "${REPLY_ADDRESS}",
        ] {
            if text.contains(placeholder) {
                let value = self.value(world, placeholder).await?;
                text = text.replace(placeholder, &value);
            }
        }
        if let Some(at) = text.find("${") {
            let name: String = text[at..].chars().take_while(|c| *c != '}').chain(['}']).collect();
            bail!("no value for {name} (events/README.md lists the placeholders)");
        }
        if text.contains("conv_foreign") && !self.foreign_seeded {
            world.foreign_conversation().await?;
            self.foreign_seeded = true;
        }
        Ok(text)
    }

    async fn value(&mut self, world: &World, placeholder: &'static str) -> Result<String> {
        if let Some(value) = self.known.get(placeholder) {
            return Ok(value.clone());
        }
        let value = match placeholder {
            "${ACCESS_TOKEN}" => world.signed_in()?.access_token.clone(),
            "${SESSION_TOKEN}" => world.signed_in()?.session_token.clone(),
            "${VERIFY_TOKEN}" => world
                .signed_in()?
                .verify_token
                .clone()
                .context("${VERIFY_TOKEN}: the address is verified already in this setup")?,
            "${WS_TICKET}" => world.ws_ticket(self.expired_ticket).await?,
            "${SESSION_ID}" => world.other_session().await?,
            "${RESET_TOKEN}" => world.reset_token().await?,
            "${REPLY_ADDRESS}" => {
                let ticket =
                    self.known.get("${TICKET_ID}").context("${REPLY_ADDRESS}: no ticket was made")?;
                world.reply_address(ticket)
            }
            other => bail!("no value for {other}: no setup event made it"),
        };
        self.known.insert(placeholder, value.clone());
        Ok(value)
    }
}

/// Runs the invoke: prints the answer on stdout, a summary line on stderr.
pub async fn run(args: Args) -> Result<ExitCode> {
    let target = &args.target;
    let text = target.text()?;
    let plan = target.plan(&text)?;
    let world = World::create(&args.moto, "invoke", plan.account).await?;
    let mut processes: Vec<Process> = Vec::new();
    let answer = serve(&args, &world, &plan, &text, &mut processes).await;
    for process in processes {
        process.stop().await;
    }
    if let Err(e) = world.drop_tables().await {
        eprintln!("note: the tables were not deleted: {e}");
    }
    let answer = answer?;

    match serde_json::from_str::<Value>(&answer) {
        Ok(json) => println!("{}", serde_json::to_string_pretty(&json)?),
        Err(_) => println!("{answer}"),
    }
    let json: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
    eprintln!("{} {}: {}", target.function, target.event.display(), summary(&json));
    let mut failed = false;
    for expectation in &args.expect {
        let (path, wanted) =
            expectation.split_once('=').with_context(|| format!("--expect {expectation}: PATH=VALUE"))?;
        let found = lookup(&json, path);
        let found_text = match &found {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "(absent)".into(),
        };
        if found_text != wanted {
            eprintln!("expected {path} = {wanted}, got {found_text}");
            failed = true;
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The setup events, then the target; the target's answer.
async fn serve(
    args: &Args,
    world: &World,
    plan: &Plan,
    text: &str,
    processes: &mut Vec<Process>,
) -> Result<String> {
    let logs = !args.quiet;
    let mut values =
        Values { expired_ticket: plan.expired_ticket, known: HashMap::new(), foreign_seeded: false };
    // The target's process first: its cold start comes before any setup events it serves.
    processes.push(Process::start(world, &args.target.function, &args.bin_dir, logs).await?);
    for step in &plan.steps {
        let function = function_of(step);
        let path = args.target.events.join(step);
        let raw = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let event = values.fill(world, &raw).await?;
        let index = match processes.iter().position(|p| p.name == function) {
            Some(index) => index,
            None => {
                processes.push(Process::start(world, function, &args.bin_dir, logs).await?);
                processes.len() - 1
            }
        };
        let answer = processes[index].call(event).await?;
        let json: Value = serde_json::from_str(&answer).with_context(|| format!("setup {step}: {answer}"))?;
        let status = json["statusCode"].as_u64().unwrap_or(0);
        eprintln!("setup: {function} {step}: {}", summary(&json));
        if !(200..300).contains(&status) {
            bail!("setup event {step} failed: {answer}");
        }
        if let Some((placeholder, _, pointer)) = PRODUCERS.iter().find(|(_, producer, _)| producer == step) {
            let body: Value = serde_json::from_str(json["body"].as_str().unwrap_or("null"))?;
            let value = body.pointer(pointer).and_then(Value::as_str).with_context(|| {
                format!("setup {step}: no {pointer} in its answer for {placeholder}: {answer}")
            })?;
            values.known.insert(placeholder, value.to_owned());
        }
    }
    let event = values.fill(world, text).await?;
    if args.target.function == "mail-inbound" {
        store_message(world, &mut values, &args.target.event, &event).await?;
    }
    processes[0].call(event).await
}

/// The `.eml` beside a `mail-inbound` event, filled, stored under the event's message id.
async fn store_message(world: &World, values: &mut Values, event_file: &Path, event: &str) -> Result<()> {
    let message = event_file.with_extension("eml");
    let raw = std::fs::read_to_string(&message)
        .with_context(|| format!("reading {} (the message this event delivers)", message.display()))?;
    let raw = values.fill(world, &raw).await?;
    let json: Value = serde_json::from_str(event)?;
    let id = json
        .pointer("/Records/0/ses/mail/messageId")
        .and_then(Value::as_str)
        .context("the event has no Records[0].ses.mail.messageId")?;
    world.store_received(id, raw.as_bytes()).await
}

/// `statusCode 201` (and the problem's `code`), or the whole answer when it is not an HTTP one.
fn summary(json: &Value) -> String {
    match json.get("statusCode") {
        Some(status) => {
            let body: Value =
                json["body"].as_str().and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default();
            match body.get("code").and_then(Value::as_str) {
                Some(code) => format!("statusCode {status} ({code})"),
                None => format!("statusCode {status}"),
            }
        }
        None => json.to_string(),
    }
}

/// A dotted path into a JSON value; a string met on the way that holds JSON is parsed (`body`).
fn lookup(json: &Value, path: &str) -> Option<Value> {
    let mut current = json.clone();
    for part in path.split('.') {
        if let Value::String(s) = &current {
            current = serde_json::from_str(s).ok()?;
        }
        current = match &current {
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?.clone(),
            other => other.get(part)?.clone(),
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(event: &str) -> Target {
        let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
        Target { events: events.clone(), function: function_of(event).to_owned(), event: events.join(event) }
    }

    #[test]
    fn placeholders_made_by_other_events_are_made_first() {
        let t = target("escalation/get-escalation.json");
        let plan = t.plan(&t.text().unwrap()).unwrap();
        assert_eq!(plan.steps, ["chat/post-new-conversation.json", "escalation/post-escalation.json"]);
        assert_eq!(t.binaries().unwrap(), ["escalation", "chat"]);

        let t = target("escalation/post-escalation-same-key.json");
        let plan = t.plan(&t.text().unwrap()).unwrap();
        assert_eq!(plan.steps, ["chat/post-new-conversation.json", "escalation/post-escalation.json"]);

        let t = target("chat/get-messages.json");
        let plan = t.plan(&t.text().unwrap()).unwrap();
        assert_eq!(plan.steps, ["chat/post-new-conversation.json", "chat/post-follow-up.json"]);
        assert_eq!(t.binaries().unwrap(), ["chat"]);

        let t = target("mail-inbound/reply-from-support.json");
        let plan = t.plan(&t.text().unwrap()).unwrap();
        assert_eq!(plan.steps, ["chat/post-new-conversation.json", "escalation/post-escalation.json"]);
        assert_eq!(t.binaries().unwrap(), ["mail-inbound", "chat", "escalation"]);
    }

    #[test]
    fn events_that_need_nothing_else_run_alone() {
        for event in [
            "login/me.json",
            "ws-ticket/mint.json",
            "ws-connect/connect-ticket.json",
            "mail-retry/scheduled-event.json",
        ] {
            let t = target(event);
            let plan = t.plan(&t.text().unwrap()).unwrap();
            assert!(plan.steps.is_empty(), "{event}: {:?}", plan.steps);
            assert_eq!(plan.account, Account::Verified, "{event}");
        }
        let t = target("login/register.json");
        assert_eq!(t.plan(&t.text().unwrap()).unwrap().account, Account::Absent);
    }

    #[test]
    fn every_sample_event_has_a_plan() {
        for function in FUNCTIONS {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events").join(function);
            for entry in std::fs::read_dir(dir).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                if !name.ends_with(".json") {
                    continue;
                }
                let t = target(&format!("{function}/{name}"));
                t.binaries().unwrap_or_else(|e| panic!("{function}/{name}: {e}"));
            }
        }
    }

    #[test]
    fn expectations_look_into_the_body() {
        let answer = serde_json::json!({
            "statusCode": 201,
            "body": "{\"ticket\":{\"mail\":{\"user\":\"sent\"}},\"list\":[{\"id\":\"a\"}]}"
        });
        assert_eq!(lookup(&answer, "statusCode"), Some(serde_json::json!(201)));
        assert_eq!(lookup(&answer, "body.ticket.mail.user"), Some(serde_json::json!("sent")));
        assert_eq!(lookup(&answer, "body.list.0.id"), Some(serde_json::json!("a")));
        assert_eq!(lookup(&answer, "body.missing"), None);
    }
}
