//! The OpenAPI 3.1 document served at `/v1/openapi.json`: every path of the API, its
//! parameters and answers, and the schemas of the bodies. This is the one place the API is
//! described; a field added to [`crate::core::present::UseView`] or `ZoneView` is added to its
//! schema here, or the tests that check every answer against this document fail (the schemas
//! admit no field they do not name).

use serde_json::{Value, json};

/// A reference to the schema `name`.
fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A JSON body of schema `name`, described as `what`, with the caching headers.
fn body(what: &str, name: &str) -> Value {
    json!({
        "description": what,
        "headers": {
            "ETag": { "$ref": "#/components/headers/ETag" },
            "Cache-Control": { "$ref": "#/components/headers/Cache-Control" }
        },
        "content": { "application/json": { "schema": schema(name) } }
    })
}

/// The answers of a GET whose success is `ok`, and which fails with 400 when `bad` says why
/// and 404 when `missing` does.
fn answers(ok: Value, bad: Option<&str>, missing: Option<&str>) -> Value {
    let mut answers = json!({
        "200": ok,
        "304": { "description": "The client's copy (If-None-Match) is current." },
        "405": { "$ref": "#/components/responses/MethodNotAllowed" },
        "429": { "$ref": "#/components/responses/TooManyRequests" }
    });
    if let Some(bad) = bad {
        answers["400"] = body(bad, "Error");
    }
    if let Some(missing) = missing {
        answers["404"] = body(missing, "Error");
    }
    answers
}

/// A path parameter.
fn parameter(name: &str, what: &str, value: Value) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": what, "schema": value })
}

fn port_parameter() -> Value {
    parameter(
        "port",
        "A port number.",
        json!({ "type": "string", "pattern": "^[0-9]{1,5}$", "examples": ["443"] }),
    )
}

fn protocol_parameter() -> Value {
    parameter(
        "protocol",
        "The transport protocol.",
        json!({ "type": "string", "enum": ["tcp", "udp", "sctp", "dccp"] }),
    )
}

fn service_parameter() -> Value {
    parameter(
        "name",
        "A service name, as IANA's registry or the system's services database write it.",
        json!({ "type": "string", "examples": ["https"] }),
    )
}

/// A GET operation.
fn get(id: &str, summary: &str, parameters: Vec<Value>, answers: Value) -> Value {
    json!({ "get": {
        "operationId": id,
        "summary": summary,
        "parameters": parameters,
        "responses": answers
    } })
}

fn paths() -> Value {
    let uses = || {
        body(
            "The uses found, as `portsd lookup --json` prints them.",
            "Uses",
        )
    };
    json!({
        "/v1/ports/{port}": get(
            "port",
            "The uses of a port on every protocol (a port nobody lists is answered as such).",
            vec![port_parameter()],
            answers(uses(), Some("Not a port number."), None)
        ),
        "/v1/ports/{port}/{protocol}": get(
            "portOn",
            "The uses of a port on one protocol.",
            vec![port_parameter(), protocol_parameter()],
            answers(uses(), Some("Not a port number, or an unknown protocol."), None)
        ),
        "/v1/services/{name}": get(
            "service",
            "The uses of a service name on every protocol.",
            vec![service_parameter()],
            answers(uses(), Some("Not a service name."), Some("No service by that name."))
        ),
        "/v1/services/{name}/{protocol}": get(
            "serviceOn",
            "The uses of a service name on one protocol.",
            vec![service_parameter(), protocol_parameter()],
            answers(
                uses(),
                Some("Not a service name, or an unknown protocol."),
                Some("No service by that name on that protocol.")
            )
        ),
        "/v1/search": get(
            "search",
            "The uses whose names or descriptions hold every word (at most 10, as over DNS).",
            vec![
                json!({ "name": "q", "in": "query", "required": true,
                        "description": "Words, separated by blanks.",
                        "schema": { "type": "string", "examples": ["minecraft"] } }),
                json!({ "name": "limit", "in": "query", "required": false,
                        "description": "The most uses to answer.",
                        "schema": { "type": "integer", "minimum": 1 } })
            ],
            answers(
                body("The uses found, as `portsd search --json` prints them.", "Uses"),
                Some("No words, or a bad limit."),
                Some("No use matches every word.")
            )
        ),
        "/v1/zone": get(
            "zone",
            "What the server holds: the zone, its serial, counts, sources and the data's date.",
            vec![],
            answers(body("The zone.", "Zone"), None, None)
        ),
        "/v1/openapi.json": get(
            "openapi",
            "This document.",
            vec![],
            answers(json!({ "description": "This document.",
                            "content": { "application/json": {} } }), None, None)
        )
    })
}

fn schemas() -> Value {
    let text = || json!({ "type": "string" });
    let port = || json!({ "type": "integer", "minimum": 0, "maximum": 65535 });
    let fact = |what: &str| json!({ "type": ["string", "null"], "description": what });
    json!({
        "Use": {
            "type": "object",
            "description": "One use of a port or range on a protocol.",
            "additionalProperties": false,
            "required": ["port", "first", "last", "protocol", "status", "service", "aliases",
                         "description", "sources", "text", "references", "assignee", "contact",
                         "registered", "modified", "service_code", "unauthorized_use",
                         "assignment_notes", "frequency"],
            "properties": {
                "port": { "type": "string", "description": "The port or range: 443, 6881-6887." },
                "first": port(),
                "last": port(),
                "protocol": { "enum": ["tcp", "udp", "sctp", "dccp", "any"] },
                "status": { "enum": ["Local", "Yes", "Unofficial", "Assigned", "No", "Reserved",
                                     "N/A", "System", "Unassigned"] },
                "service": { "type": ["string", "null"] },
                "aliases": { "type": "array", "items": text() },
                "description": text(),
                "sources": { "type": "array", "items": {
                    "enum": ["local", "excerpt", "port-list", "iana", "services", "vendor"] } },
                "text": { "type": "string", "description": "The TXT record's text, as DNS answers it." },
                "references": { "type": "array", "items": text(),
                    "description": "IANA's references: `RFC 9110`, or a handle as IANA gives it." },
                "assignee": fact("IANA's assignee handle."),
                "contact": fact("IANA's contact handle."),
                "registered": fact("IANA's registration date (YYYY-MM-DD)."),
                "modified": fact("IANA's modification date (YYYY-MM-DD)."),
                "service_code": fact("The DCCP service code IANA records."),
                "unauthorized_use": fact("IANA's note of unauthorized use reported."),
                "assignment_notes": fact("IANA's assignment notes."),
                "frequency": { "type": ["number", "null"], "minimum": 0, "maximum": 1,
                    "description": "How often nmap found this port open (nmap-services), when known." },
                "unused_words": { "type": "array", "items": text(),
                    "description": "For a search: its words this use does not match; absent when it matches them all." }
            }
        },
        "Uses": { "type": "array", "minItems": 1, "items": schema("Use") },
        "Zone": {
            "type": "object",
            "additionalProperties": false,
            "required": ["zone", "serial", "ttl", "data", "entries", "ranges", "services",
                         "sources", "data_date"],
            "properties": {
                "zone": text(),
                "serial": { "type": "integer", "minimum": 0, "maximum": 4_294_967_295_u64 },
                "ttl": { "type": "integer", "minimum": 0 },
                "data": { "type": "string", "pattern": "^[0-9a-f]{16}$" },
                "entries": { "type": "integer", "minimum": 0 },
                "ranges": { "type": "integer", "minimum": 0 },
                "services": { "type": "integer", "minimum": 0 },
                "sources": { "type": "object",
                             "additionalProperties": { "type": "integer", "minimum": 0 } },
                "data_date": { "type": ["string", "null"], "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" }
            }
        },
        "Error": {
            "type": "object",
            "additionalProperties": false,
            "required": ["status", "error"],
            "properties": {
                "status": { "type": "integer", "minimum": 400, "maximum": 599 },
                "error": text()
            }
        }
    })
}

/// The document.
pub(super) fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "portsd",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "What port numbers are used for: the answers portsd serves over DNS, \
                            as JSON. Errors are JSON too; every answer from the data carries an \
                            ETag and lives as long as the zone's TTL."
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "headers": {
                "ETag": { "description": "The serial, the data's fingerprint and the version.",
                          "schema": { "type": "string" } },
                "Cache-Control": { "description": "public, max-age= the zone's TTL.",
                                   "schema": { "type": "string" } }
            },
            "responses": {
                "MethodNotAllowed": {
                    "description": "Only GET and HEAD (and OPTIONS, for CORS) are answered.",
                    "content": { "application/json": { "schema": schema("Error") } }
                },
                "TooManyRequests": {
                    "description": "Past the rate limit of the client's network; try again after Retry-After seconds.",
                    "content": { "application/json": { "schema": schema("Error") } }
                }
            }
        }
    })
}
