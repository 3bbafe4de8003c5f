//! `openapi.yaml` describes exactly the routes the functions serve: every `ROUTES` entry is an
//! operation of the document and every operation is served, and each operation documents its
//! errors as problem+json. Its problem codes are exactly the ones `ApiError` has, each error
//! response names codes of its own status with the headers those problems carry, routes with a
//! body document the body errors, and `User` has exactly the fields the API shows. The test
//! command converts the YAML to JSON (`OPENAPI_JSON`) as it does for the template; schemathesis
//! (`scripts/api-fuzz`) then checks the responses against it.

use std::collections::BTreeSet;

use serde_json::Value;
use shared::domain::LifecycleError;
use shared::error::{ApiError, Challenge, FieldError};

fn document() -> Value {
    let path = std::env::var("OPENAPI_JSON").expect(
        "OPENAPI_JSON is not set: run the tests with scripts/test, which converts openapi.yaml first",
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("openapi json")).expect("json")
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[test]
fn the_document_lists_exactly_the_served_routes() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter(|m| item.get(**m).is_some()).map(move |m| (m.to_uppercase(), path.clone()))
        })
        .filter(|(_, path)| path.starts_with("/api/"))
        .collect();
    let served: BTreeSet<(String, String)> =
        e2e::all_routes().into_iter().map(|(method, path)| (method.to_owned(), path.to_owned())).collect();
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(missing.is_empty(), "served but not in openapi.yaml: {missing:?}");
    assert!(extra.is_empty(), "in openapi.yaml but not served: {extra:?}");
}

#[test]
fn every_operation_documents_problem_json_errors() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            let responses = item[*method]["responses"].as_object().expect("responses");
            let errors: Vec<&String> =
                responses.keys().filter(|code| code.starts_with('4') || code.starts_with('5')).collect();
            assert!(!errors.is_empty(), "{method} {path}: no error responses");
            for code in errors {
                let response = resolve(&doc, &responses[code]);
                assert!(
                    response["content"].get("application/problem+json").is_some(),
                    "{method} {path} {code}: not problem+json"
                );
            }
        }
    }
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local ref");
            resolve(doc, doc.pointer(pointer).unwrap_or_else(|| panic!("dangling {reference}")))
        }
        None => value,
    }
}

/// One of every problem the code can answer. The `match` is exhaustive on purpose: a new
/// `ApiError` variant stops this test compiling until it is listed here (and documented).
fn every_problem() -> Vec<ApiError> {
    let all = vec![
        ApiError::BadRequest("malformed"),
        ApiError::Validation(vec![FieldError::new("field", "message")]),
        ApiError::Unauthenticated(Challenge::Bare),
        ApiError::Unauthenticated(Challenge::InvalidToken),
        ApiError::InvalidCredentials,
        ApiError::SessionInvalid,
        ApiError::OriginNotAllowed,
        ApiError::NotFound,
        ApiError::MethodNotAllowed("GET, OPTIONS".into()),
        ApiError::EmailTaken,
        ApiError::InvalidResetToken,
        ApiError::InvalidVerificationToken,
        ApiError::AlreadyVerified,
        ApiError::EmailUnverified,
        ApiError::TicketState(LifecycleError::Closed),
        ApiError::TicketState(LifecycleError::NotResolved),
        ApiError::TicketState(LifecycleError::AlreadyRated),
        ApiError::TooManyConnections,
        ApiError::PayloadTooLarge,
        ApiError::UnsupportedMediaType,
        ApiError::TooManyAttempts { retry_after: 60 },
        ApiError::RateLimited { retry_after: 60 },
        ApiError::Unavailable,
        ApiError::Busy,
        ApiError::UriTooLong,
        ApiError::RequestTimeout,
        ApiError::Internal,
    ];
    for e in &all {
        match e {
            ApiError::BadRequest(_)
            | ApiError::Validation(_)
            | ApiError::Unauthenticated(_)
            | ApiError::InvalidCredentials
            | ApiError::SessionInvalid
            | ApiError::OriginNotAllowed
            | ApiError::NotFound
            | ApiError::MethodNotAllowed(_)
            | ApiError::EmailTaken
            | ApiError::InvalidResetToken
            | ApiError::InvalidVerificationToken
            | ApiError::AlreadyVerified
            | ApiError::EmailUnverified
            | ApiError::TicketState(_)
            | ApiError::TooManyConnections
            | ApiError::PayloadTooLarge
            | ApiError::UnsupportedMediaType
            | ApiError::TooManyAttempts { .. }
            | ApiError::RateLimited { .. }
            | ApiError::Unavailable
            | ApiError::Busy
            | ApiError::UriTooLong
            | ApiError::RequestTimeout
            | ApiError::Internal => {}
        }
    }
    all
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
}

#[test]
fn the_problem_codes_are_exactly_the_codes_the_code_answers() {
    let doc = document();
    let documented = strings(&doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]);
    let answered: BTreeSet<String> = every_problem().iter().map(|e| e.code().to_owned()).collect();
    let missing: Vec<_> = answered.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&answered).collect();
    assert!(missing.is_empty(), "problem codes missing from Problem.code: {missing:?}");
    assert!(extra.is_empty(), "Problem.code lists codes no ApiError has: {extra:?}");
}

/// Every documented error response, `(where, status key, response)`: the operations' and the
/// shared ones in `components.responses` (some are only referenced from the description).
fn error_responses(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            for (status, response) in item[*method]["responses"].as_object().expect("responses") {
                if status.starts_with('4') || status.starts_with('5') {
                    found.push((format!("{method} {path}"), status.clone(), resolve(doc, response)));
                }
            }
        }
    }
    for (name, response) in doc["components"]["responses"].as_object().expect("components.responses") {
        let status = response["content"]["application/problem+json"]["schema"]["allOf"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|part| part["properties"]["status"]["enum"][0].as_u64())
            .unwrap_or_else(|| panic!("components.responses.{name}: no status enum"));
        found.push((format!("components.responses.{name}"), status.to_string(), response));
    }
    found
}

/// The `code` and `status` enums a problem response narrows `Problem` to.
fn narrowed(response: &Value) -> (BTreeSet<String>, Vec<u64>) {
    let parts = response["content"]["application/problem+json"]["schema"]["allOf"].as_array();
    let mut codes = BTreeSet::new();
    let mut statuses = Vec::new();
    for part in parts.into_iter().flatten() {
        codes.extend(strings(&part["properties"]["code"]["enum"]));
        statuses.extend(
            part["properties"]["status"]["enum"].as_array().into_iter().flatten().filter_map(Value::as_u64),
        );
    }
    (codes, statuses)
}

#[test]
fn every_error_response_names_problems_of_its_status_with_their_headers() {
    let doc = document();
    for (place, status, response) in error_responses(&doc) {
        let (codes, statuses) = narrowed(response);
        assert!(!codes.is_empty(), "{place} {status}: no `code` enum narrowing Problem");
        assert_eq!(
            statuses,
            [status.parse::<u64>().expect("numeric status")],
            "{place} {status}: status enum"
        );
        let documented_headers: BTreeSet<String> = response["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, h)| resolve(&doc, h)["required"] == Value::Bool(true))
            .map(|(name, _)| name.to_ascii_lowercase())
            .collect();
        for code in &codes {
            let answers: Vec<_> = every_problem().into_iter().filter(|e| e.code() == code).collect();
            assert!(!answers.is_empty(), "{place} {status}: no ApiError has code {code:?}");
            for e in answers {
                assert_eq!(e.status().as_str(), status, "{place}: {code:?} is answered with {}", e.status());
                let answered = e.into_response();
                for header in ["retry-after", "www-authenticate", "allow"] {
                    if answered.headers().contains_key(header) {
                        assert!(
                            documented_headers.contains(header),
                            "{place} {status}: {code:?} carries {header}, not documented as required"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn every_operation_with_a_body_documents_the_body_errors() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            let operation = &item[*method];
            if operation.get("requestBody").is_none() {
                continue;
            }
            for status in ["400", "413", "415"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} reads a JSON body but does not document {status}"
                );
            }
        }
    }
}

#[test]
fn the_user_schema_has_exactly_the_fields_the_api_shows() {
    let doc = document();
    let schema = &doc["components"]["schemas"]["User"];
    let profile = shared::domain::UserProfile {
        id: shared::domain::UserId::generate(),
        email: shared::domain::Email::parse("someone@example.com").expect("email"),
        display_name: None,
        created_at: chrono::Utc::now(),
        email_verified: false,
    };
    let shown = serde_json::to_value(profile.view()).expect("user view");
    let shown: BTreeSet<String> = shown.as_object().expect("object").keys().cloned().collect();
    let properties: BTreeSet<String> =
        schema["properties"].as_object().expect("User.properties").keys().cloned().collect();
    assert_eq!(properties, shown, "User.properties against the serialized UserView");
    assert_eq!(strings(&schema["required"]), shown, "User.required against the serialized UserView");
    assert_eq!(schema["additionalProperties"], Value::Bool(false), "User is closed");
}
