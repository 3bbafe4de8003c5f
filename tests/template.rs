//! `template.yaml` agrees with the code. Reads the SAM-transformed template that
//! `scripts/check_template.py` writes (what CloudFormation deploys) and checks: every function's
//! binary exists; every HTTP route a function serves is routed to it and nothing else is; every
//! function gets every table name; only login gets the signing key; tunable settings reach
//! exactly the functions that read them; the auth routes are throttled (by route keys the API
//! has) and login's concurrency is capped; each role allows exactly what its function does;
//! tables match the adapters' key schemas, TTL and recovery settings; and the WebSocket API is
//! wired as API Gateway needs it (which cfn-lint does not check).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use shared::adapters::dynamodb::schema;
use shared::config::Tables;
use shared::http::Routed;
use shared::http::router::covers;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Value {
    let path = std::env::var("TEMPLATE_JSON").expect(
        "TEMPLATE_JSON is not set: run the tests with scripts/test, which transforms template.yaml first",
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A function: logical id, binary (crate), its route table, the API paths it declares.
struct Function {
    id: &'static str,
    binary: &'static str,
    routes: Vec<(&'static str, &'static str)>,
    api_paths: &'static [&'static str],
}

fn http<F: Routed>(id: &'static str, binary: &'static str) -> Function {
    Function { id, binary, routes: e2e::routes::<F>(), api_paths: F::API_PATHS }
}

fn event(id: &'static str, binary: &'static str) -> Function {
    Function { id, binary, routes: Vec::new(), api_paths: &[] }
}

/// Every function, from the code.
fn functions() -> Vec<Function> {
    vec![
        http::<login::Login>("LoginFunction", "login"),
        http::<ws_ticket::WsTicket>("WsTicketFunction", "ws-ticket"),
        event("WsConnectFunction", "ws-connect"),
        http::<chat::Chat>("ChatFunction", "chat"),
        http::<escalation::Escalation>("EscalationFunction", "escalation"),
        event("MailRetryFunction", "mail-retry"),
        event("MailInboundFunction", "mail-inbound"),
    ]
}

/// Table logical id → the `Tables` field its name goes to, by environment variable.
const TABLES: &[(&str, &str)] = &[
    ("UsersTable", "USERS_TABLE"),
    ("SessionsTable", "SESSIONS_TABLE"),
    ("RateLimitsTable", "RATE_LIMITS_TABLE"),
    ("WsTicketsTable", "WS_TICKETS_TABLE"),
    ("ConnectionsTable", "CONNECTIONS_TABLE"),
    ("ConversationsTable", "CONVERSATIONS_TABLE"),
    ("SupportTicketsTable", "SUPPORT_TICKETS_TABLE"),
    ("EventsTable", "EVENTS_TABLE"),
];

/// What each function's store, mail and push calls need, and nothing more. Resources are
/// table logical ids (`Table/index/name` for an index), `ses` for the sender identity and
/// `connections` for the WebSocket stage's `@connections`.
fn expected_permissions(function: &str) -> BTreeSet<(String, String)> {
    let allow = |actions: &[&str], resource: &str| -> Vec<(String, String)> {
        actions.iter().map(|a| ((*a).to_owned(), resource.to_owned())).collect()
    };
    let mut p = Vec::new();
    match function {
        "LoginFunction" => {
            // the signing key and the accepted keys, at cold start and every refresh interval.
            p.extend(allow(&["secretsmanager:GetSecretValue"], "signing-key-secret"));
            p.extend(allow(&["secretsmanager:GetSecretValue"], "public-keys-secret"));
            // register (transaction), login, rehash, verify, reset, change (mailed tokens live on
            // the user items), deletion; sessions.
            for table in ["UsersTable", "SessionsTable"] {
                p.extend(allow(
                    &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    table,
                ));
            }
            // counters: taken (conditional update), restarted (conditional put), cleared; the
            // delete also frees a closed socket's slot. Never read on their own.
            p.extend(allow(
                &["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                "RateLimitsTable",
            ));
            // a deleted account's tickets, conversations and support tickets.
            p.extend(allow(&["dynamodb:DeleteItem"], "WsTicketsTable"));
            p.extend(allow(&["dynamodb:Query", "dynamodb:DeleteItem"], "ConversationsTable"));
            p.extend(allow(&["dynamodb:Query", "dynamodb:DeleteItem"], "EventsTable"));
            p.extend(allow(&["dynamodb:UpdateItem", "dynamodb:DeleteItem"], "SupportTicketsTable"));
            for index in [
                "SessionsTable/index/by_user",
                "WsTicketsTable/index/by_user",
                "ConversationsTable/index/by_user",
                "SupportTicketsTable/index/by_user",
                "ConnectionsTable/index/by_session",
                "ConnectionsTable/index/by_user",
            ] {
                p.extend(allow(&["dynamodb:Query"], index));
            }
            // ending sessions closes their sockets; the verification and reset mails.
            p.extend(allow(&["dynamodb:DeleteItem"], "ConnectionsTable"));
            p.extend(allow(&["ses:SendEmail", "ses:SendRawEmail"], "ses"));
            p.extend(allow(&["execute-api:ManageConnections"], "connections"));
        }
        "WsTicketFunction" => {
            p.extend(allow(&["secretsmanager:GetSecretValue"], "public-keys-secret"));
            p.extend(allow(&["dynamodb:GetItem"], "SessionsTable"));
            p.extend(allow(&["dynamodb:PutItem"], "WsTicketsTable"));
            p.extend(allow(&["dynamodb:UpdateItem"], "RateLimitsTable"));
            // GET /api/events.
            p.extend(allow(&["dynamodb:GetItem", "dynamodb:Query"], "EventsTable"));
        }
        "WsConnectFunction" => {
            p.extend(allow(&["secretsmanager:GetSecretValue"], "public-keys-secret"));
            p.extend(allow(&["dynamodb:GetItem"], "SessionsTable"));
            p.extend(allow(&["dynamodb:GetItem", "dynamodb:DeleteItem"], "WsTicketsTable"));
            p.extend(allow(&["dynamodb:PutItem", "dynamodb:DeleteItem"], "ConnectionsTable"));
            // slots: read in a batch, claimed with the connection, freed on $disconnect; a bearer
            // connect's count against the ticket quota.
            p.extend(allow(
                &["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                "RateLimitsTable",
            ));
        }
        "ChatFunction" => {
            p.extend(allow(&["secretsmanager:GetSecretValue"], "public-keys-secret"));
            p.extend(allow(&["secretsmanager:GetSecretValue"], "reply-key-secret"));
            p.extend(allow(&["dynamodb:GetItem"], "SessionsTable"));
            p.extend(allow(
                &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                "ConversationsTable",
            ));
            // a message while a person handles the conversation: the ticket's change and the
            // forwarding mail, in the message's transaction.
            p.extend(allow(
                &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                "SupportTicketsTable",
            ));
            p.extend(allow(&["dynamodb:Query"], "ConversationsTable/index/by_user"));
        }
        "EscalationFunction" => {
            p.extend(allow(&["secretsmanager:GetSecretValue"], "public-keys-secret"));
            p.extend(allow(&["secretsmanager:GetSecretValue"], "reply-key-secret"));
            p.extend(allow(&["dynamodb:GetItem"], "SessionsTable"));
            // only a verified email may open a ticket.
            p.extend(allow(&["dynamodb:GetItem"], "UsersTable"));
            p.extend(allow(&["dynamodb:Query", "dynamodb:UpdateItem"], "ConversationsTable"));
            p.extend(allow(
                &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                "SupportTicketsTable",
            ));
            p.extend(allow(&["dynamodb:Query"], "SupportTicketsTable/index/by_user"));
            p.extend(allow(&["ses:SendEmail", "ses:SendRawEmail"], "ses"));
        }
        "MailRetryFunction" => {
            p.extend(allow(
                &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                "SupportTicketsTable",
            ));
            // closing a ticket frees its conversation.
            p.extend(allow(&["dynamodb:UpdateItem"], "ConversationsTable"));
            p.extend(allow(&["dynamodb:Query"], "SupportTicketsTable/index/by_due"));
            p.extend(allow(&["ses:SendEmail", "ses:SendRawEmail"], "ses"));
        }
        "MailInboundFunction" => {
            p.extend(allow(&["secretsmanager:GetSecretValue"], "reply-key-secret"));
            // the message SES stored, and nothing else of the bucket.
            p.extend(allow(&["s3:GetObject"], "InboundMailBucket/mail/*"));
            // the ticket's change with its mails and the appended message, in one transaction.
            for table in ["SupportTicketsTable", "ConversationsTable"] {
                p.extend(allow(&["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], table));
            }
            p.extend(allow(&["ses:SendEmail", "ses:SendRawEmail"], "ses"));
        }
        other => panic!("no expectation for {other}"),
    }
    // The notifier, in every function that pushes a user's events: finds their sockets, numbers
    // durable events in the catch-up log, forgets a gone connection and frees its slot.
    if ["ChatFunction", "EscalationFunction", "MailRetryFunction", "MailInboundFunction"].contains(&function)
    {
        p.extend(allow(&["dynamodb:Query"], "ConnectionsTable/index/by_user"));
        p.extend(allow(&["dynamodb:UpdateItem", "dynamodb:PutItem"], "EventsTable"));
        p.extend(allow(&["dynamodb:DeleteItem"], "ConnectionsTable"));
        p.extend(allow(&["dynamodb:DeleteItem"], "RateLimitsTable"));
        p.extend(allow(&["execute-api:ManageConnections"], "connections"));
    }
    p.into_iter().collect()
}

/// A policy resource as one of the tokens above.
fn resource_token(resource: &Value) -> String {
    if let Some([id, attr]) = resource["Fn::GetAtt"].as_array().map(Vec::as_slice) {
        assert_eq!(attr, "Arn", "{resource}");
        return id.as_str().unwrap().to_owned();
    }
    if let Some(sub) = resource["Fn::Sub"].as_str() {
        // A secret's ARN ends in a random six-character suffix; nothing wider is allowed.
        for (parameter, token) in [
            ("SigningKeySecretName", "signing-key-secret"),
            ("PublicKeysSecretName", "public-keys-secret"),
            ("InboundReplyKeySecretName", "reply-key-secret"),
        ] {
            if sub
                == format!(
                    "arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:${{{parameter}}}-??????"
                )
            {
                return token.to_owned();
            }
        }
        if let Some(rest) = sub.strip_prefix("${").and_then(|s| s.split_once(".Arn}")) {
            return format!("{}{}", rest.0, rest.1);
        }
        if sub.contains(":execute-api:")
            && sub.contains(":${WebSocketApi}/${WebSocketStageName}/")
            && sub.ends_with("/@connections/*")
        {
            return "connections".to_owned();
        }
    }
    // The sender's identity, derived from the address (see `mail_is_sent_as_the_identity_it_is_allowed`).
    if let Some([sub, vars]) = resource["Fn::Sub"].as_array().map(Vec::as_slice)
        && sub.as_str().is_some_and(|s| s.contains(":ses:") && s.ends_with(":identity/${Identity}"))
    {
        assert_eq!(vars["Identity"], sender_identity(), "{resource}");
        return "ses".to_owned();
    }
    panic!("resource not allowed in a function policy: {resource}");
}

/// The SES identity that covers `MailFromAddress`: its domain, or the address itself.
fn sender_identity() -> Value {
    serde_json::json!({"Fn::If": [
        "MailIdentityIsDomain",
        {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "MailFromAddress"}]}]},
        {"Ref": "MailFromAddress"}
    ]})
}

#[test]
fn mail_is_sent_as_the_identity_it_is_allowed() {
    let t = template();
    let r = resources(&t);
    // One address, one derived identity: a MailFrom its identity does not cover cannot be
    // configured (SES would refuse every mail on first use).
    for f in functions() {
        let env = &r[f.id]["Properties"]["Environment"]["Variables"];
        assert_eq!(env["MAIL_FROM"]["Fn::Sub"], "${MailFromName} <${MailFromAddress}>", "{}", f.id);
    }
    let parameters = &t["Parameters"];
    assert_eq!(parameters["MailIdentityType"]["AllowedValues"], serde_json::json!(["Domain", "Address"]));
    assert!(parameters.get("MailFromIdentity").is_none() && parameters.get("MailFrom").is_none());
    // The stack can own the identity; then a domain's DKIM records are an output.
    let identity = &r["MailIdentity"];
    assert_eq!(identity["Type"], "AWS::SES::EmailIdentity");
    assert_eq!(identity["Condition"], "CreatesMailIdentity");
    assert_eq!(identity["Properties"]["EmailIdentity"], sender_identity());
    assert_eq!(parameters["CreateMailIdentity"]["Default"], "No");
    let dkim = &t["Outputs"]["MailDkimRecords"];
    assert_eq!(dkim["Condition"], "CreatesDomainIdentity");
    for n in 1..=3 {
        assert!(
            dkim["Value"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .contains(&format!("${{MailIdentity.DkimDNSTokenValue{n}}}"))
        );
    }
}

#[test]
fn allowed_origins_are_a_trimmed_list_and_never_a_wildcard() {
    let t = template();
    let r = resources(&t);
    // A CommaDelimitedList trims each member; `!Split` kept the spaces.
    assert_eq!(t["Parameters"]["AllowedOrigins"]["Type"], "CommaDelimitedList");
    for f in functions() {
        let env = &r[f.id]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            env["ALLOWED_ORIGINS"]["Fn::Join"],
            serde_json::json!([",", {"Ref": "AllowedOrigins"}]),
            "{}",
            f.id
        );
    }
    // scripts/check_template.py transforms with AllowedOrigins = "https://app.example.com,
    // https://admin.example.com", as CloudFormation passes a list: the API's CORS gets both,
    // trimmed, as a list.
    let cors = &r["HttpApi"]["Properties"]["Body"]["x-amazon-apigateway-cors"]["Fn::If"];
    assert_eq!(cors[0], "HasAllowedOrigins");
    assert_eq!(
        cors[1]["allowOrigins"],
        serde_json::json!(["https://app.example.com", "https://admin.example.com"])
    );
    assert_eq!(cors[1]["allowCredentials"], true);
    // "*" with credentials fails the deploy late ("allow-credentials is not supported if
    // allow-origin is *"): a rule refuses it before anything is created.
    let rules = t["Rules"].as_object().expect("Rules");
    let refused = rules.values().flat_map(|rule| rule["Assertions"].as_array().unwrap()).any(|a| {
        a["Assert"] == serde_json::json!({"Fn::Not": [{"Fn::Contains": [{"Ref": "AllowedOrigins"}, "*"]}]})
    });
    assert!(refused, "no rule refuses AllowedOrigins = *");
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().unwrap()
}

#[test]
fn every_function_is_built_from_a_binary_of_this_workspace() {
    let t = template();
    let declared: BTreeSet<&str> = resources(&t)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::Function")
        .map(|(id, _)| id.as_str())
        .collect();
    let ours: BTreeSet<&str> = functions().iter().map(|f| f.id).collect();
    assert_eq!(declared, ours, "the template's functions are exactly the workspace's");
    for Function { id, binary, .. } in functions() {
        let function = &resources(&t)[id];
        assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
        assert_eq!(function["Metadata"]["BuildProperties"]["Binary"], *binary, "{id}");
        let props = &function["Properties"];
        assert_eq!(props["Runtime"], "provided.al2023", "{id}");
        assert_eq!(props["Architectures"], serde_json::json!(["arm64"]), "{id}");
        assert_eq!(props["Handler"], "bootstrap", "{id}");
        let manifest =
            std::fs::read_to_string(root().join("functions").join(binary).join("Cargo.toml")).unwrap();
        assert!(manifest.contains(&format!("[[bin]]\nname = \"{binary}\"")), "{binary} is a binary target");
    }
}

#[test]
fn every_http_route_is_routed_to_the_function_that_serves_it() {
    let t = template();
    let paths = resources(&t)["HttpApi"]["Properties"]["Body"]["paths"].as_object().unwrap();
    let mut routed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, methods) in paths {
        for (method, spec) in methods.as_object().unwrap() {
            assert_eq!(
                method, "x-amazon-apigateway-any-method",
                "{path}: routes are ANY, functions answer 405"
            );
            let uri = spec["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"].as_str().unwrap();
            let function = uri.split("/functions/${").nth(1).and_then(|s| s.split(".Arn}").next()).unwrap();
            assert_eq!(spec["x-amazon-apigateway-integration"]["payloadFormatVersion"], "2.0", "{path}");
            routed.entry(function.to_owned()).or_default().push(path.clone());
        }
    }
    for f in functions() {
        let mut template_paths = routed.remove(f.id).unwrap_or_default();
        template_paths.sort();
        let mut declared = f.api_paths.to_vec();
        declared.sort_unstable();
        assert_eq!(template_paths, declared, "{}: the template routes the paths the function declares", f.id);
        for (method, path) in &f.routes {
            assert!(
                declared.iter().any(|p| covers(p, path)),
                "{method} {path} is not under {}'s API paths",
                f.id
            );
        }
        for p in &declared {
            assert!(
                f.routes.iter().any(|(_, path)| covers(p, path)),
                "{p} is routed to {}, which serves nothing there",
                f.id
            );
        }
    }
    assert!(routed.is_empty(), "routes to unknown functions: {routed:?}");
}

#[test]
fn every_function_gets_every_table_and_only_login_can_read_the_signing_key() {
    let t = template();
    for id in functions().iter().map(|f| &f.id) {
        let env = &resources(&t)[*id]["Properties"]["Environment"]["Variables"];
        for (table, var) in TABLES {
            assert_eq!(env[*var]["Ref"], *table, "{id}: {var}");
            assert_eq!(resources(&t)[*table]["Type"], "AWS::DynamoDB::Table");
        }
        // Keys live in Secrets Manager and are read at run time (a rotation needs no deploy);
        // nothing about them is in the configuration but the secrets' names.
        for var in ["AUTH_PUBLIC_KEYS", "AUTH_SIGNING_KEY", "AUTH_SIGNING_KEY_ID"] {
            assert!(env.get(var).is_none(), "{id}: {var} is in the configuration");
        }
        let verifies = !["MailRetryFunction", "MailInboundFunction"].contains(id);
        assert_eq!(env.get("AUTH_PUBLIC_KEYS_SECRET").is_some(), verifies, "{id}");
        if verifies {
            assert_eq!(env["AUTH_PUBLIC_KEYS_SECRET"]["Ref"], "PublicKeysSecretName", "{id}");
            assert_eq!(env["KEYS_REFRESH_SECONDS"]["Ref"], "KeysRefreshSeconds", "{id}");
        }
        if *id == "LoginFunction" {
            assert_eq!(env["AUTH_SIGNING_KEY_SECRET"]["Ref"], "SigningKeySecretName");
        } else {
            assert!(env.get("AUTH_SIGNING_KEY_SECRET").is_none(), "{id} must not get the private key");
        }
    }
    // No dynamic reference but the front door's header value: one is read only when its
    // resource changes, so a rotated key secret would never reach the functions.
    let text = t.to_string();
    assert_eq!(
        text.matches("{{resolve:").count(),
        text.matches(FRONT_DOOR_SECRET_REF).count(),
        "a dynamic reference pins a value at deploy time"
    );
}

/// The one dynamic reference: the front door's header value, generated by the stack, fixed for
/// its life (the functions and CloudFront take it at the same deploy).
const FRONT_DOOR_SECRET_REF: &str = "{{resolve:secretsmanager:${FrontDoorSecret}:SecretString}}";

/// The managed CloudFront policies the front door uses, by id.
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const ALL_VIEWER_EXCEPT_HOST_HEADER: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

#[test]
fn the_front_door_serves_the_client_the_api_and_the_websocket_on_one_origin() {
    use shared::http::front_door::{HOST_HEADER, SECRET_HEADER};
    let t = template();
    let r = resources(&t);
    let config = &r["FrontDoor"]["Properties"]["DistributionConfig"];
    assert_eq!(r["FrontDoor"]["Type"], "AWS::CloudFront::Distribution");
    let origin = |id: &Value| {
        config["Origins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| &o["Id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
    };

    // The web client: a private bucket only this distribution reads, with the local gateway's
    // security headers.
    let default = &config["DefaultCacheBehavior"];
    let client = origin(&default["TargetOriginId"]);
    assert_eq!(
        client["DomainName"]["Fn::GetAtt"],
        serde_json::json!(["WebClientBucket", "RegionalDomainName"])
    );
    assert_eq!(client["OriginAccessControlId"]["Fn::GetAtt"][0], "WebClientOriginAccessControl");
    assert_eq!(default["ViewerProtocolPolicy"], "redirect-to-https");
    assert_eq!(default["CachePolicyId"], CACHING_OPTIMIZED);
    assert_eq!(config["DefaultRootObject"], "index.html");
    let block = &r["WebClientBucket"]["Properties"]["PublicAccessBlockConfiguration"];
    for setting in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[setting], true, "{setting}");
    }
    let statements =
        r["WebClientBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].as_array().unwrap();
    let allows: Vec<&Value> = statements.iter().filter(|s| s["Effect"] == "Allow").collect();
    assert_eq!(allows.len(), 1, "one reader");
    assert_eq!(allows[0]["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert_eq!(allows[0]["Action"], "s3:GetObject");
    let source = allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"].as_str().unwrap();
    assert!(source.ends_with(":distribution/${FrontDoor}"), "{source}");
    let headers = &r[default["ResponseHeadersPolicyId"]["Ref"].as_str().unwrap()]["Properties"]["ResponseHeadersPolicyConfig"]
        ["SecurityHeadersConfig"];
    assert_eq!(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"], local_gateway::web::CSP);
    assert_eq!(headers["ReferrerPolicy"]["ReferrerPolicy"], "no-referrer");

    // /api/* and /<stage> go to the two APIs, uncached, with every viewer header (and
    // CloudFront's) but Host, the viewer's host copied by the function, and the proof header.
    let behaviors = config["CacheBehaviors"].as_array().unwrap();
    let behavior = |pattern: &Value| {
        behaviors
            .iter()
            .find(|b| &b["PathPattern"] == pattern)
            .unwrap_or_else(|| panic!("no behavior for {pattern}"))
    };
    let api = behavior(&Value::from("/api/*"));
    let websocket = behavior(&serde_json::json!({"Fn::Sub": "/${WebSocketStageName}"}));
    for f in functions() {
        for path in f.api_paths {
            assert!(path.starts_with("/api/"), "{} serves {path}, outside the front door's /api/*", f.id);
        }
    }
    assert_eq!(api["AllowedMethods"].as_array().unwrap().len(), 7, "every method reaches the API");
    let function_code = r["FrontDoorHostFunction"]["Properties"]["FunctionCode"].as_str().unwrap();
    assert!(function_code.contains(&format!("request.headers['{HOST_HEADER}']")), "{function_code}");
    for (b, api_id) in [(api, "HttpApi"), (websocket, "WebSocketApi")] {
        assert_eq!(b["CachePolicyId"], CACHING_DISABLED, "{api_id}");
        assert_eq!(b["OriginRequestPolicyId"], ALL_VIEWER_EXCEPT_HOST_HEADER, "{api_id}");
        assert_eq!(b["ViewerProtocolPolicy"], "https-only", "{api_id}");
        let association = &b["FunctionAssociations"][0];
        assert_eq!(association["EventType"], "viewer-request");
        assert_eq!(association["FunctionARN"]["Fn::GetAtt"][0], "FrontDoorHostFunction");
        let o = origin(&b["TargetOriginId"]);
        assert_eq!(
            o["DomainName"]["Fn::Sub"],
            format!("${{{api_id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"),
            "{api_id}"
        );
        assert_eq!(o["CustomOriginConfig"]["OriginProtocolPolicy"], "https-only");
        assert_eq!(o["OriginCustomHeaders"][0]["HeaderName"], SECRET_HEADER);
        assert_eq!(o["OriginCustomHeaders"][0]["HeaderValue"]["Fn::Sub"], FRONT_DOOR_SECRET_REF);
    }
    // Every function that reads the viewer knows the value CloudFront sends.
    for id in ["LoginFunction", "WsTicketFunction", "ChatFunction", "EscalationFunction", "WsConnectFunction"]
    {
        let env = &r[id]["Properties"]["Environment"]["Variables"];
        assert_eq!(env["FRONT_DOOR_SECRET"]["Fn::Sub"], FRONT_DOOR_SECRET_REF, "{id}");
    }
    // The mails' pages: the parameter, else the front door's page on its domain, else unset
    // (login then links to the page on the site each request came through).
    let login = &r["LoginFunction"]["Properties"]["Environment"]["Variables"];
    for (var, parameter, page) in [
        ("PASSWORD_RESET_URL", "PasswordResetUrl", "reset-password"),
        ("EMAIL_VERIFY_URL", "EmailVerifyUrl", "verify-email"),
    ] {
        let chosen = &login[var]["Fn::If"];
        assert_eq!(chosen[1]["Ref"], parameter, "{var}");
        assert_eq!(chosen[2]["Fn::If"][0], "HasFrontDoorDomain", "{var}");
        assert_eq!(
            chosen[2]["Fn::If"][1]["Fn::Sub"],
            format!("https://${{FrontDoorDomainName}}/{page}"),
            "{var}"
        );
        assert_eq!(chosen[2]["Fn::If"][2]["Ref"], "AWS::NoValue", "{var}");
        assert_eq!(t["Parameters"][parameter]["Default"], "", "{parameter}");
    }
    // A custom domain needs its certificate, and the other way round.
    assert!(t["Rules"]["FrontDoorDomainWithCertificate"]["Assertions"].is_array());
    assert!(t["Outputs"]["FrontDoorUrl"].is_object());
    assert!(t["Outputs"]["WebClientBucketName"].is_object());
}

/// Settings the template passes from a parameter: function, variable, parameter. Each
/// function's other settings keep the code's defaults.
const SETTINGS: &[(&str, &str, &str)] = &[
    ("LoginFunction", "REGISTRATIONS_PER_ADDRESS", "RegistrationsPerAddress"),
    ("LoginFunction", "LOGINS_PER_ADDRESS", "LoginsPerAddress"),
    ("LoginFunction", "MAX_SESSIONS_PER_USER", "MaxSessionsPerUser"),
    ("WsTicketFunction", "WS_TICKETS_PER_MINUTE", "WsTicketsPerMinute"),
    ("WsConnectFunction", "MAX_SOCKETS_PER_USER", "MaxSocketsPerUser"),
    // Bearer connects count against the ticket quota, so ws-connect must see the same number.
    ("WsConnectFunction", "WS_TICKETS_PER_MINUTE", "WsTicketsPerMinute"),
];

#[test]
fn tunable_settings_reach_exactly_the_functions_that_read_them() {
    let t = template();
    let parameters = t["Parameters"].as_object().unwrap();
    for id in functions().iter().map(|f| &f.id) {
        let env = &resources(&t)[*id]["Properties"]["Environment"]["Variables"];
        for (function, var, parameter) in SETTINGS {
            if function == id {
                assert_eq!(env[*var]["Ref"], *parameter, "{id}: {var}");
                assert!(parameters.contains_key(*parameter), "{parameter} is a parameter");
            } else if !SETTINGS.iter().any(|(f, v, _)| f == id && v == var) {
                assert!(env.get(*var).is_none(), "{id} does not read {var}");
            }
        }
    }
    // The template's defaults are the code's (README's table, shared::config).
    for (parameter, default) in [
        ("RegistrationsPerAddress", 10),
        ("LoginsPerAddress", 30),
        ("MaxSessionsPerUser", 20),
        ("MaxSocketsPerUser", 10),
        ("WsTicketsPerMinute", 20),
    ] {
        let spec = &parameters[parameter];
        let number = |v: &Value| v.as_i64().or_else(|| v.as_str()?.parse().ok());
        assert_eq!(spec["Type"], "Number", "{parameter}");
        assert_eq!(number(&spec["Default"]), Some(default), "{parameter}");
        assert_eq!(number(&spec["MinValue"]), Some(1), "{parameter}");
    }
}

#[test]
fn every_route_is_throttled_the_auth_routes_harder_and_logins_are_capped() {
    let t = template();
    let r = resources(&t);
    // Route keys must name routes the API has, or the stage fails at deploy time (which
    // cfn-lint does not check): "ANY <path>" for the paths of the HTTP API's body.
    let paths = r["HttpApi"]["Properties"]["Body"]["paths"].as_object().unwrap();
    let stage = r
        .values()
        .find(|v| v["Type"] == "AWS::ApiGatewayV2::Stage" && v["Properties"]["ApiId"]["Ref"] == "HttpApi")
        .expect("the HTTP API's stage");
    let settings = stage["Properties"]["RouteSettings"].as_object().expect("route settings");
    for key in settings.keys() {
        let path = key.strip_prefix("ANY ").unwrap_or_else(|| panic!("{key}: routes are ANY"));
        assert!(paths.contains_key(path), "{key} is not a route of the HTTP API");
    }
    // Every path routed to login is throttled, from the parameters.
    let login_paths: Vec<&String> = paths
        .iter()
        .filter(|(_, methods)| {
            methods.as_object().unwrap().values().any(|spec| {
                spec["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
                    .as_str()
                    .is_some_and(|uri| uri.contains("/functions/${LoginFunction.Arn}/"))
            })
        })
        .map(|(path, _)| path)
        .collect();
    assert!(!login_paths.is_empty());
    for path in login_paths {
        let s = &settings[&format!("ANY {path}")];
        assert_eq!(s["ThrottlingRateLimit"]["Ref"], "AuthRouteRateLimit", "{path}");
        assert_eq!(s["ThrottlingBurstLimit"]["Ref"], "AuthRouteBurstLimit", "{path}");
    }
    // Every other route, and the WebSocket API, have a cost bound of their own.
    for (api, rate, burst) in [
        ("HttpApi", "ApiRateLimit", "ApiBurstLimit"),
        ("WebSocketApi", "WebSocketRateLimit", "WebSocketBurstLimit"),
    ] {
        let stage = r
            .values()
            .find(|v| v["Type"] == "AWS::ApiGatewayV2::Stage" && v["Properties"]["ApiId"]["Ref"] == api)
            .unwrap_or_else(|| panic!("{api}'s stage"));
        let defaults = &stage["Properties"]["DefaultRouteSettings"];
        assert_eq!(defaults["ThrottlingRateLimit"]["Ref"], rate, "{api}");
        assert_eq!(defaults["ThrottlingBurstLimit"]["Ref"], burst, "{api}");
        for parameter in [rate, burst] {
            assert_eq!(t["Parameters"][parameter]["Type"], "Number", "{parameter}");
        }
    }
    // Login's reserved concurrency comes from a parameter, and 0 reserves nothing: a reservation
    // of 0 would stop every login, and new accounts' quotas may leave no room for one.
    let reserved = &r["LoginFunction"]["Properties"]["ReservedConcurrentExecutions"]["Fn::If"];
    let condition = reserved[0].as_str().expect("ReservedConcurrentExecutions: !If [condition, …]");
    assert_eq!(reserved[1]["Ref"], "LoginReservedConcurrency");
    assert_eq!(reserved[2]["Ref"], "AWS::NoValue");
    let test = &t["Conditions"][condition]["Fn::Not"][0]["Fn::Equals"];
    assert_eq!(test[0]["Ref"], "LoginReservedConcurrency", "{condition}");
    assert_eq!(test[1], "0", "{condition}");
    for id in functions().iter().map(|f| f.id).filter(|id| *id != "LoginFunction") {
        assert!(r[id]["Properties"].get("ReservedConcurrentExecutions").is_none(), "{id}");
    }
}

#[test]
fn each_role_allows_exactly_what_its_function_does() {
    let t = template();
    for id in functions().iter().map(|f| &f.id) {
        let role = &resources(&t)[&format!("{id}Role")];
        let mut granted = BTreeSet::new();
        for policy in role["Properties"]["Policies"].as_array().unwrap() {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                assert_eq!(statement["Effect"], "Allow");
                let actions: Vec<&str> = match &statement["Action"] {
                    Value::String(a) => vec![a.as_str()],
                    Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
                    other => panic!("{id}: action {other}"),
                };
                let targets: Vec<&Value> = match &statement["Resource"] {
                    Value::Array(r) => r.iter().collect(),
                    one => vec![one],
                };
                for action in &actions {
                    assert!(!action.ends_with(":*") && *action != "*", "{id}: wildcard action {action}");
                    for target in &targets {
                        assert_ne!(**target, "*", "{id}: {action} on every resource");
                        granted.insert(((*action).to_owned(), resource_token(target)));
                    }
                }
            }
        }
        let expected = expected_permissions(id);
        let missing: Vec<_> = expected.difference(&granted).collect();
        let extra: Vec<_> = granted.difference(&expected).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{id}: missing {missing:?}, not needed {extra:?}");
        let managed = role["Properties"]["ManagedPolicyArns"].as_array().unwrap();
        assert_eq!(managed.len(), 1, "{id}: only the basic execution role (logs)");
    }
}

#[test]
fn tables_match_the_adapters() {
    let t = template();
    let names = Tables::with_prefix("x");
    let by_name: BTreeMap<String, &str> = [
        (&names.users, "UsersTable"),
        (&names.sessions, "SessionsTable"),
        (&names.rate_limits, "RateLimitsTable"),
        (&names.ws_tickets, "WsTicketsTable"),
        (&names.connections, "ConnectionsTable"),
        (&names.conversations, "ConversationsTable"),
        (&names.support_tickets, "SupportTicketsTable"),
        (&names.events, "EventsTable"),
    ]
    .into_iter()
    .map(|(n, id)| (n.clone(), id))
    .collect();
    for spec in schema::specs(&names) {
        let id = by_name[spec.name];
        let props = &resources(&t)[id]["Properties"];
        assert_eq!(props["BillingMode"], "PAY_PER_REQUEST", "{id}");
        assert!(props.get("TableName").is_none(), "{id}: no fixed table name");
        let keys: Vec<(&str, &str)> = props["KeySchema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k["AttributeName"].as_str().unwrap(), k["KeyType"].as_str().unwrap()))
            .collect();
        let mut expected = vec![("pk", "HASH")];
        if spec.sorted {
            expected.push(("sk", "RANGE"));
        }
        assert_eq!(keys, expected, "{id}");
        let indexes: BTreeMap<&str, Vec<&str>> = props["GlobalSecondaryIndexes"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|i| {
                        assert_eq!(i["Projection"]["ProjectionType"], "ALL", "{id}");
                        let keys = i["KeySchema"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|k| k["AttributeName"].as_str().unwrap())
                            .collect();
                        (i["IndexName"].as_str().unwrap(), keys)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let expected: BTreeMap<&str, Vec<&str>> = spec
            .indexes
            .iter()
            .map(|(name, hash, range)| (*name, std::iter::once(*hash).chain(*range).collect()))
            .collect();
        assert_eq!(indexes, expected, "{id}: indexes");
        let ttl = props["TimeToLiveSpecification"]["AttributeName"].as_str();
        assert_eq!(ttl, spec.ttl.then_some("expires_at"), "{id}: TTL");
        let recovery = props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] == true;
        let must_recover = ["UsersTable", "ConversationsTable", "SupportTicketsTable"].contains(&id);
        assert_eq!(recovery, must_recover, "{id}: point-in-time recovery");
    }
}

#[test]
fn the_websocket_api_is_wired_as_api_gateway_needs() {
    let t = template();
    let r = resources(&t);
    let api = &r["WebSocketApi"]["Properties"];
    assert_eq!(api["ProtocolType"], "WEBSOCKET");
    assert_eq!(api["RouteSelectionExpression"], "$request.body.action");
    let integration = &r["WsConnectIntegration"]["Properties"];
    assert_eq!(integration["ApiId"]["Ref"], "WebSocketApi");
    assert_eq!(integration["IntegrationType"], "AWS_PROXY");
    assert!(
        integration["IntegrationUri"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .contains("/functions/${WsConnectFunction.Arn}/invocations")
    );
    let mut route_ids = Vec::new();
    for (id, resource) in r.iter().filter(|(_, v)| v["Type"] == "AWS::ApiGatewayV2::Route") {
        let props = &resource["Properties"];
        assert_eq!(props["ApiId"]["Ref"], "WebSocketApi", "{id}");
        // A plain string target would be accepted by cfn-lint and fail at deploy time.
        assert_eq!(props["Target"]["Fn::Sub"], "integrations/${WsConnectIntegration}", "{id}");
        route_ids.push((props["RouteKey"].as_str().unwrap().to_owned(), id.clone()));
    }
    route_ids.sort();
    let keys: Vec<&str> = route_ids.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["$connect", "$default", "$disconnect"]);
    let default_route = &route_ids.iter().find(|(k, _)| k == "$default").unwrap().1;
    let responses: Vec<&Value> =
        r.values().filter(|v| v["Type"] == "AWS::ApiGatewayV2::RouteResponse").collect();
    assert_eq!(responses.len(), 1, "the $default route answers frames (pong)");
    assert_eq!(responses[0]["Properties"]["RouteId"]["Ref"], default_route.as_str());
    // A Deployment resource is created once: later route changes would never reach the stage.
    // AutoDeploy deploys every change; the stage waits for the routes of the first one.
    assert!(
        !r.values().any(|v| v["Type"] == "AWS::ApiGatewayV2::Deployment"),
        "a Deployment resource pins the stage to the first deploy"
    );
    let (stage_id, stage) = r
        .iter()
        .find(|(_, v)| {
            v["Type"] == "AWS::ApiGatewayV2::Stage" && v["Properties"]["ApiId"]["Ref"] == "WebSocketApi"
        })
        .unwrap();
    assert_eq!(stage["Properties"]["AutoDeploy"], true, "{stage_id}");
    assert!(stage["Properties"].get("DeploymentId").is_none(), "{stage_id}");
    let depends: BTreeSet<&str> =
        stage["DependsOn"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    for (_, id) in &route_ids {
        assert!(depends.contains(id.as_str()), "the stage must wait for {id}");
    }
    let permission = r
        .values()
        .find(|v| {
            v["Type"] == "AWS::Lambda::Permission"
                && v["Properties"]["FunctionName"]["Ref"] == "WsConnectFunction"
        })
        .expect("API Gateway may invoke ws-connect");
    assert_eq!(permission["Properties"]["Principal"], "apigateway.amazonaws.com");
    assert!(permission["Properties"]["SourceArn"]["Fn::Sub"].as_str().unwrap().contains(":${WebSocketApi}/"));
    let schedule =
        r.values().find(|v| v["Type"] == "AWS::Events::Rule").expect("mail-retry runs on a schedule");
    assert_eq!(schedule["Properties"]["ScheduleExpression"], "rate(1 minute)");
    assert!(
        schedule["Properties"]["Targets"].to_string().contains("MailRetryFunction"),
        "the schedule invokes mail-retry"
    );
}

/// Properties that give a resource its name in the account; a literal one means a second stack
/// in the same account and region cannot be created.
const NAME_PROPERTIES: &[&str] = &[
    "Name",
    "FunctionName",
    "RoleName",
    "TableName",
    "LogGroupName",
    "BucketName",
    "ScheduleName",
    "RuleName",
];

#[test]
fn no_resource_has_a_fixed_name() {
    let t = template();
    let mut fixed = Vec::new();
    for (id, resource) in resources(&t) {
        let props = &resource["Properties"];
        let mut named: Vec<(&str, &Value)> =
            NAME_PROPERTIES.iter().filter_map(|p| props.get(*p).map(|v| (*p, v))).collect();
        for config in ["OriginAccessControlConfig", "ResponseHeadersPolicyConfig"] {
            if let Some(v) = props[config].get("Name") {
                named.push((config, v));
            }
        }
        for (property, value) in named {
            // A literal, or a Sub that does not include the stack's name, is the same in every stack.
            // CloudFront's names are account-wide: they carry the stack's id (region and name).
            let unique = value["Fn::Sub"].as_str().is_some_and(|s| s.contains("${AWS::StackName}"))
                || value.get("Ref").is_some()
                || value.get("Fn::Join").is_some_and(|j| {
                    let j = j.to_string();
                    j.contains("AWS::StackName") || j.contains("AWS::StackId")
                });
            if !unique {
                fixed.push(format!("{id}.{property} = {value}"));
            }
        }
    }
    assert!(fixed.is_empty(), "fixed physical names: {fixed:?}");
}

#[test]
fn data_is_retained_unless_the_stack_says_otherwise() {
    let t = template();
    let r = resources(&t);
    // The DeletionPolicy below is a parameter reference, which needs this transform.
    assert_eq!(t["Transform"], "AWS::LanguageExtensions");
    let parameter = &t["Parameters"]["DataRetention"];
    assert_eq!(parameter["Default"], "Retain");
    assert_eq!(parameter["AllowedValues"], serde_json::json!(["Retain", "Delete"]));
    let stateful: Vec<(&String, &Value)> = r
        .iter()
        .filter(|(_, v)| {
            ["AWS::DynamoDB::Table", "AWS::Logs::LogGroup"].contains(&v["Type"].as_str().unwrap())
        })
        .collect();
    assert_eq!(stateful.len(), TABLES.len() + functions().len());
    for (id, resource) in stateful {
        for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
            assert_eq!(resource[policy]["Ref"], "DataRetention", "{id}: {policy}");
        }
    }
}

#[test]
fn each_function_logs_to_a_group_that_outlives_it() {
    let t = template();
    let r = resources(&t);
    for f in functions() {
        let group = r[f.id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no LoggingConfig.LogGroup", f.id));
        let group = &r[group];
        assert_eq!(group["Type"], "AWS::Logs::LogGroup", "{}", f.id);
        assert_eq!(group["Properties"]["RetentionInDays"]["Ref"], "LogRetentionDays", "{}", f.id);
        // The group must not depend on the function (e.g. a name built from it): then a stack
        // deletion would remove the group first, and a last invocation would recreate it
        // without retention.
        let text = group.to_string();
        assert!(!text.contains(f.id), "{}'s log group refers to it", f.id);
    }
}

#[test]
fn saved_queries_read_every_function_log_with_the_fields_the_logs_have() {
    let t = template();
    let r = resources(&t);
    let groups: BTreeSet<String> = functions()
        .iter()
        .map(|f| r[f.id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"].as_str().unwrap().to_owned())
        .collect();
    let queries: Vec<&Value> = r.values().filter(|v| v["Type"] == "AWS::Logs::QueryDefinition").collect();
    let names: BTreeSet<&str> =
        queries.iter().map(|q| q["Properties"]["Name"]["Fn::Sub"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "${AWS::StackName}/one request by id",
            "${AWS::StackName}/errors by code",
            "${AWS::StackName}/slowest requests"
        ])
    );
    for q in queries {
        let read: BTreeSet<String> = q["Properties"]["LogGroupNames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                // A conditional function's group is read when it exists.
                let g = g.get("Fn::If").map_or(g, |branches| &branches[1]);
                g["Ref"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(read, groups, "{}", q["Properties"]["Name"]);
        // The fields as the JSON logs name them (tests/logs.rs reads the same lines): the
        // request line's message and numbers, and the request span's id, method and path.
        let query = q["Properties"]["QueryString"].as_str().unwrap();
        for field in query.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_')) {
            if let Some(name) = field.strip_prefix("fields.") {
                assert!(
                    ["message", "status", "code", "micros", "error"].contains(&name),
                    "{field} in {query}"
                );
            } else if let Some(name) = field.strip_prefix("span.") {
                assert!(["request_id", "method", "path"].contains(&name), "{field} in {query}");
            }
        }
    }
}

/// The functions that build ticket mails (chat forwards, escalation opens, mail-inbound answers)
/// and so sign their reply addresses.
const SIGNS_REPLY_ADDRESSES: &[&str] = &["ChatFunction", "EscalationFunction", "MailInboundFunction"];

#[test]
fn replies_by_mail_are_received_as_ses_needs_and_only_with_a_domain() {
    let t = template();
    let r = resources(&t);
    // The reply key is read from its secret at cold start, by the functions that sign reply
    // addresses and by no other.
    for id in functions().iter().map(|f| f.id) {
        let env = &r[id]["Properties"]["Environment"]["Variables"];
        let signs = SIGNS_REPLY_ADDRESSES.contains(&id);
        assert_eq!(env.get("INBOUND_MAIL_DOMAIN").is_some(), signs, "{id}");
        assert_eq!(env.get("INBOUND_REPLY_KEY_SECRET").is_some(), signs, "{id}");
        assert!(env.get("INBOUND_REPLY_KEY").is_none(), "{id}: the key itself is in the configuration");
        if signs {
            assert_eq!(env["INBOUND_MAIL_DOMAIN"]["Ref"], "InboundMailDomain", "{id}");
            assert_eq!(env["INBOUND_REPLY_KEY_SECRET"]["Ref"], "InboundReplyKeySecretName", "{id}");
        }
    }
    assert_eq!(t["Parameters"]["InboundMailDomain"]["Default"], "", "receiving is opt-in");

    // Everything that receives exists only with a domain.
    let receiving = [
        "MailInboundFunction",
        "MailInboundLogGroup",
        "InboundMailBucket",
        "InboundMailBucketPolicy",
        "MailInboundPermission",
        "InboundRuleSet",
        "InboundRule",
    ];
    for id in receiving {
        assert_eq!(r[id]["Condition"], "ReceivesMail", "{id}");
    }
    assert_eq!(
        t["Conditions"]["ReceivesMail"],
        serde_json::json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "InboundMailDomain"}, ""]}]})
    );

    // The rule: every recipient at the domain, scanned, stored under the prefix the function
    // reads, then the function invoked asynchronously; created after SES may do both.
    let rule = &r["InboundRule"];
    assert_eq!(rule["Properties"]["RuleSetName"]["Ref"], "InboundRuleSet");
    let depends: BTreeSet<&str> =
        rule["DependsOn"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(depends.is_superset(&BTreeSet::from(["InboundMailBucketPolicy", "MailInboundPermission"])));
    let spec = &rule["Properties"]["Rule"];
    assert_eq!(spec["Enabled"], true);
    assert_eq!(spec["ScanEnabled"], true, "spam and virus verdicts are required");
    assert_eq!(spec["Recipients"], serde_json::json!([{"Ref": "InboundMailDomain"}]));
    let actions = spec["Actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2);
    let store = &actions[0]["S3Action"];
    let invoke = &actions[1]["LambdaAction"];
    assert_eq!(store["BucketName"]["Ref"], "InboundMailBucket", "the message is stored first");
    assert_eq!(invoke["FunctionArn"]["Fn::GetAtt"], serde_json::json!(["MailInboundFunction", "Arn"]));
    assert_eq!(invoke["InvocationType"], "Event");
    let env = &r["MailInboundFunction"]["Properties"]["Environment"]["Variables"];
    let prefix = store["ObjectKeyPrefix"].as_str().unwrap();
    assert_eq!(env["INBOUND_MAIL_PREFIX"], prefix);
    assert_eq!(env["INBOUND_MAIL_BUCKET"]["Ref"], "InboundMailBucket");
    assert!(env.get("SUPPORT_AGENTS").is_some());
    // The agent's reply to an offline user links to the web client: the front door's address.
    let url = &env["WEB_CLIENT_URL"]["Fn::If"];
    assert_eq!(url[0], "HasFrontDoorDomain");
    assert_eq!(url[2]["Fn::Sub"], "https://${FrontDoor.DomainName}");

    // Only this account's SES, for this stack's rule set, may store messages, and only under
    // the prefix; only SES of this account may invoke the function.
    let rule_arn = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:receipt-rule-set/${InboundRuleSet}:receipt-rule/*";
    let statements =
        r["InboundMailBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].as_array().unwrap();
    let ses = statements.iter().find(|s| s["Effect"] == "Allow").unwrap();
    assert_eq!(ses["Principal"]["Service"], "ses.amazonaws.com");
    assert_eq!(ses["Action"], "s3:PutObject");
    assert_eq!(ses["Resource"]["Fn::Sub"], format!("${{InboundMailBucket.Arn}}/{prefix}*"));
    assert_eq!(ses["Condition"]["StringEquals"]["aws:SourceAccount"]["Ref"], "AWS::AccountId");
    assert_eq!(ses["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"], rule_arn);
    assert!(statements.iter().filter(|s| s["Effect"] == "Allow").count() == 1, "SES alone may write");
    let permission = &r["MailInboundPermission"]["Properties"];
    assert_eq!(permission["Principal"], "ses.amazonaws.com");
    assert_eq!(permission["FunctionName"]["Ref"], "MailInboundFunction");
    assert_eq!(permission["SourceAccount"]["Ref"], "AWS::AccountId");
    assert_eq!(permission["SourceArn"]["Fn::Sub"], rule_arn);

    // Received mail is private and expires after the retention parameter.
    let bucket = &r["InboundMailBucket"]["Properties"];
    assert_eq!(bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"], true);
    let expiry = &bucket["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(expiry["Status"], "Enabled");
    assert_eq!(expiry["ExpirationInDays"]["Ref"], "InboundMailRetentionDays");
    for output in ["InboundMxRecord", "InboundRuleSetName", "InboundMailBucketName"] {
        assert_eq!(t["Outputs"][output]["Condition"], "ReceivesMail", "{output}");
    }
}
