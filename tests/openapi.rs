//! `openapi.yaml` describes exactly the routes the functions serve: every `ROUTES` entry is an
//! operation of the document and every operation is served, and each operation documents its
//! errors as problem+json. The test command converts the YAML to JSON (`OPENAPI_JSON`) as it does
//! for the template; schemathesis (`scripts/api-fuzz`) then checks the responses against it.

use std::collections::BTreeSet;

use serde_json::Value;

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
        [login::ROUTES, ws_ticket::ROUTES, chat::ROUTES, escalation::ROUTES]
            .concat()
            .into_iter()
            .map(|(method, path)| (method.to_owned(), path.to_owned()))
            .collect();
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
