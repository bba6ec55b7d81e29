//! An HTTP request (path variables, query string, JSON body) → the RPC's request message.
//!
//! Everything is gathered into one JSON object first, then checked against the message's
//! descriptor field by field (so a wrong type or an unknown field is named by its path,
//! as the gRPC answer names a bad field), then decoded as canonical proto3 JSON.

use prost_reflect::{DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value};

use crate::rules::{BodyRule, Route};

/// A field of the request that is wrong, and why: a `google.rpc.BadRequest` violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub description: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// The request message for `route` from the path's variables, the query string and the
/// body (already read, `None` when empty).
pub fn build(
    route: &Route,
    vars: Vec<(String, String)>,
    query: Option<&str>,
    body: Option<&[u8]>,
) -> Result<DynamicMessage, Violation> {
    let input = route.rpc.input();
    let mut root = match (&route.body, body) {
        (BodyRule::None, Some(_)) => {
            return Err(Violation::new(
                "body",
                format!("{} {} takes no body", route.method, route.template.as_str()),
            ));
        }
        (_, None) => Map::new(),
        (BodyRule::Whole, Some(bytes)) => match parse_json(bytes)? {
            Value::Object(m) => m,
            _ => return Err(Violation::new("body", "must be a JSON object")),
        },
        (BodyRule::Field(field), Some(bytes)) => {
            let mut m = Map::new();
            m.insert(field.clone(), parse_json(bytes)?);
            m
        }
    };
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        if route.body == BodyRule::Whole {
            return Err(Violation::new(
                "query",
                "this method takes its fields in the JSON body, not the query string",
            ));
        }
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let path: Vec<&str> = key.split('.').collect();
            if let BodyRule::Field(body_field) = &route.body
                && same_field(&input, path[0], body_field)
            {
                return Err(Violation::new(
                    key.as_ref(),
                    "is the body of this method, not a query parameter",
                ));
            }
            set(&mut root, &input, &path, &value, Source::Query)?;
        }
    }
    for (field, value) in vars {
        let path: Vec<&str> = field.split('.').collect();
        set(&mut root, &input, &path, &value, Source::Path)?;
    }
    let root = Value::Object(root);
    check(&root, &input, "")?;
    DynamicMessage::deserialize_with_options(input, root, &DeserializeOptions::new())
        .map_err(|e| Violation::new("body", e.to_string()))
}

/// A message of type `message` from name–value pairs (a query string, a form's text
/// fields), named in violations under `prefix` (`metadata.request_id`).
pub fn from_pairs<'a>(
    message: &MessageDescriptor,
    prefix: &str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<DynamicMessage, Violation> {
    let named = |v: Violation| Violation::new(format!("{prefix}.{}", v.field), v.description);
    let mut root = Map::new();
    for (key, value) in pairs {
        let path: Vec<&str> = key.split('.').collect();
        set(&mut root, message, &path, value, Source::Query).map_err(named)?;
    }
    let root = Value::Object(root);
    check(&root, message, "").map_err(named)?;
    DynamicMessage::deserialize_with_options(message.clone(), root, &DeserializeOptions::new())
        .map_err(|e| Violation::new(prefix, e.to_string()))
}

/// The body as JSON; malformed JSON or invalid UTF-8 is refused with where it broke.
fn parse_json(bytes: &[u8]) -> Result<Value, Violation> {
    serde_json::from_slice(bytes).map_err(|e| Violation::new("body", format!("not JSON: {e}")))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Path,
    Query,
}

fn same_field(message: &MessageDescriptor, name: &str, field: &str) -> bool {
    find_field(message, name).is_some_and(|f| f.name() == field)
}

/// A field by its proto name (`ticket_id`) or its JSON name (`ticketId`).
fn find_field(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message
        .get_field_by_name(name)
        .or_else(|| message.get_field_by_json_name(name))
}

/// Puts `value` (a path variable or query parameter, as text) at `path` in `root`, as the
/// JSON the field's type takes. A path variable replaces what the body said of the same
/// field only if they agree; a repeated field's query parameter may repeat.
fn set(
    root: &mut Map<String, Value>,
    message: &MessageDescriptor,
    path: &[&str],
    value: &str,
    source: Source,
) -> Result<(), Violation> {
    let full = path.join(".");
    let mut object = root;
    let mut message = message.clone();
    for (i, name) in path.iter().enumerate() {
        let field = find_field(&message, name)
            .ok_or_else(|| Violation::new(full.clone(), "no such field"))?;
        // The body may have spelled the field either way: one key, the proto name.
        let other = [field.name().to_owned(), field.json_name().to_owned()];
        let existing = other.iter().find_map(|k| object.remove(k));
        let last = i + 1 == path.len();
        if !last {
            let Kind::Message(inner) = field.kind() else {
                return Err(Violation::new(full, format!("{name} is not a message")));
            };
            if field.is_list() || field.is_map() {
                return Err(Violation::new(full, format!("{name} is repeated")));
            }
            let entry = match existing {
                Some(Value::Object(m)) => m,
                None | Some(Value::Null) => Map::new(),
                Some(_) => return Err(Violation::new(full, format!("{name} is not an object"))),
            };
            let slot = object
                .entry(field.name().to_owned())
                .or_insert(Value::Object(entry));
            let Value::Object(inner_object) = slot else {
                return Err(Violation::new(full, format!("{name} is not an object")));
            };
            object = inner_object;
            message = inner;
            continue;
        }
        if field.is_map() {
            return Err(Violation::new(
                full,
                "a map is set in the body, not the URL",
            ));
        }
        let scalar =
            text_to_json(&field, value).map_err(|why| Violation::new(full.clone(), why))?;
        let new = if field.is_list() {
            let mut list = match existing {
                Some(Value::Array(l)) => l,
                None | Some(Value::Null) => Vec::new(),
                Some(_) => return Err(Violation::new(full, "must be a list")),
            };
            list.push(scalar);
            Value::Array(list)
        } else {
            match (source, existing) {
                (Source::Path, Some(old)) if !old.is_null() && old != scalar => {
                    return Err(Violation::new(
                        full,
                        "is given in the path and, differently, in the body",
                    ));
                }
                (Source::Query, Some(old)) if !old.is_null() => {
                    return Err(Violation::new(full, "is given twice"));
                }
                _ => scalar,
            }
        };
        object.insert(field.name().to_owned(), new);
    }
    Ok(())
}

/// A URL's text as the JSON a field of this type takes: numbers and booleans as such,
/// everything else (enums by name, 64-bit integers, timestamps, durations, bytes in
/// base64) as the string canonical JSON already uses for it.
fn text_to_json(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    Ok(match field.kind() {
        Kind::Bool => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("{text:?} is not true or false")),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::from(
            text.parse::<i32>()
                .map_err(|_| format!("{text:?} is not a 32-bit integer"))?,
        ),
        Kind::Uint32 | Kind::Fixed32 => Value::from(
            text.parse::<u32>()
                .map_err(|_| format!("{text:?} is not an unsigned 32-bit integer"))?,
        ),
        Kind::Float | Kind::Double => match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Value::from(v),
            _ => Value::String(text.to_owned()),
        },
        Kind::Message(m) if !is_scalar_message(&m) => {
            return Err(format!("{} is set in the body, not the URL", m.name()));
        }
        _ => Value::String(text.to_owned()),
    })
}

/// Well-known messages whose JSON is a single string or number (set from a URL; a
/// parameter, not an object, in the OpenAPI document).
pub(crate) fn is_scalar_message(m: &MessageDescriptor) -> bool {
    matches!(
        m.full_name(),
        "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.Int32Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.FloatValue"
            | "google.protobuf.BoolValue"
    )
}

/// Checks `value` against `message` field by field, so what prost-reflect would refuse
/// with a position in the text is refused here with the field's path instead.
fn check(value: &Value, message: &MessageDescriptor, at: &str) -> Result<(), Violation> {
    let Value::Object(fields) = value else {
        return Err(Violation::new(or_body(at), "must be a JSON object"));
    };
    let mut seen: Vec<u32> = Vec::new();
    for (key, v) in fields {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        let field =
            find_field(message, key).ok_or_else(|| Violation::new(&path, "unknown field"))?;
        if seen.contains(&field.number()) {
            return Err(Violation::new(
                path,
                "is given twice (as its proto and its JSON name)",
            ));
        }
        seen.push(field.number());
        if v.is_null() {
            continue;
        }
        if field.is_map() {
            let Value::Object(entries) = v else {
                return Err(Violation::new(path, "must be a JSON object (a map)"));
            };
            let Kind::Message(entry) = field.kind() else {
                continue;
            };
            let value_field = entry.map_entry_value_field();
            for (k, item) in entries {
                check_one(item, &value_field, &format!("{path}.{k}"))?;
            }
        } else if field.is_list() {
            let Value::Array(items) = v else {
                return Err(Violation::new(path, "must be a JSON array"));
            };
            for (i, item) in items.iter().enumerate() {
                check_one(item, &field, &format!("{path}[{i}]"))?;
            }
        } else {
            check_one(v, &field, &path)?;
        }
    }
    Ok(())
}

fn or_body(at: &str) -> &str {
    if at.is_empty() { "body" } else { at }
}

/// One value of `field`'s type.
fn check_one(v: &Value, field: &FieldDescriptor, path: &str) -> Result<(), Violation> {
    let wrong = |what: &str| Err(Violation::new(path, format!("must be {what}")));
    let integer = |v: &Value, signed: bool, bits: u32| -> bool {
        let text = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return false,
        };
        // Canonical JSON allows an integral float (`1.0`) and exponents; keep to plain
        // integers, then the range.
        match (signed, bits) {
            (true, 32) => text.parse::<i32>().is_ok(),
            (false, 32) => text.parse::<u32>().is_ok(),
            (true, _) => text.parse::<i64>().is_ok(),
            (false, _) => text.parse::<u64>().is_ok(),
        }
    };
    match field.kind() {
        Kind::Bool if !v.is_boolean() => wrong("true or false"),
        Kind::String if !v.is_string() => wrong("a string"),
        Kind::Bytes if !v.is_string() => wrong("a base64 string"),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 if !integer(v, true, 32) => {
            wrong("a 32-bit integer")
        }
        Kind::Uint32 | Kind::Fixed32 if !integer(v, false, 32) => {
            wrong("an unsigned 32-bit integer")
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 if !integer(v, true, 64) => {
            wrong("a 64-bit integer (a string or a number)")
        }
        Kind::Uint64 | Kind::Fixed64 if !integer(v, false, 64) => {
            wrong("an unsigned 64-bit integer (a string or a number)")
        }
        Kind::Float | Kind::Double
            if !(v.is_number()
                || v.as_str().is_some_and(|s| {
                    matches!(s, "NaN" | "Infinity" | "-Infinity") || s.parse::<f64>().is_ok()
                })) =>
        {
            wrong("a number")
        }
        Kind::Enum(e) => match v {
            Value::String(name) if e.get_value_by_name(name).is_some() => Ok(()),
            Value::Number(n)
                if n.as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .is_some_and(|n| e.get_value(n).is_some()) =>
            {
                Ok(())
            }
            _ => Err(Violation::new(
                path,
                format!(
                    "must be one of {}",
                    e.values()
                        .map(|v| v.name().to_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        },
        Kind::Message(m) => match m.full_name() {
            "google.protobuf.Timestamp" => match v.as_str() {
                Some(s)
                    if time::OffsetDateTime::parse(
                        s,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .is_ok() =>
                {
                    Ok(())
                }
                _ => wrong("an RFC 3339 time such as \"2026-12-08T09:30:00+08:00\""),
            },
            "google.protobuf.Duration" => match v.as_str() {
                Some(s)
                    if s.strip_suffix('s')
                        .is_some_and(|n| n.parse::<f64>().is_ok_and(f64::is_finite)) =>
                {
                    Ok(())
                }
                _ => wrong("a duration in seconds such as \"1.5s\""),
            },
            // Other well-known types are left to the decoder, which knows their forms.
            name if name.starts_with("google.protobuf.") => Ok(()),
            _ => check(v, &m, path),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::routes;

    fn route(name: &str) -> Route {
        let (_, routes) = routes(wuzhang_proto::FILE_DESCRIPTOR_SET, "wuzhang.v1").unwrap();
        routes.into_iter().find(|r| r.rpc.name() == name).unwrap()
    }

    fn field(m: &DynamicMessage, name: &str) -> String {
        format!("{:?}", m.get_field_by_name(name).unwrap())
    }

    #[test]
    fn the_body_the_path_and_the_query_make_one_message() {
        let verify = route("VerifyTicket");
        let m = build(
            &verify,
            vec![("ticket_id".into(), "t-1".into())],
            None,
            Some(br#"{"requestId": "r1", "pass": true}"#),
        )
        .unwrap();
        assert!(field(&m, "ticket_id").contains("t-1"));
        assert!(field(&m, "request_id").contains("r1"));
        assert_eq!(field(&m, "pass"), "Bool(true)");

        let list = route("ListTickets");
        let m = build(
            &list,
            vec![],
            Some("subdistrictCode=220102007&states=TICKET_STATE_ASSIGNED&states=TICKET_STATE_ACCEPTED&overdue_only=true&created_after=2026-12-01T00:00:00Z&page_size=20"),
            None,
        )
        .unwrap();
        assert!(
            field(&m, "states").contains("List"),
            "{}",
            field(&m, "states")
        );
        assert_eq!(field(&m, "overdue_only"), "Bool(true)");
        assert_eq!(field(&m, "page_size"), "I32(20)");
    }

    #[test]
    fn bad_input_is_named_by_its_field() {
        let submit = route("SubmitIncident");
        let cases: [(&[u8], &str); 7] = [
            (b"{not json", "body"),
            (b"[1]", "body"),
            (br#"{"nosuch": 1}"#, "nosuch"),
            (br#"{"description": 5}"#, "description"),
            (
                br#"{"location": {"latitude": "north"}}"#,
                "location.latitude",
            ),
            // Either spelling is named: the object's keys come in their sorted order.
            (br#"{"request_id": "a", "requestId": "b"}"#, "request_id"),
            (b"\xff\xfe", "body"),
        ];
        for (body, named) in cases {
            let e = build(&submit, vec![], None, Some(body)).unwrap_err();
            assert_eq!(e.field, named, "{:?}: {e:?}", String::from_utf8_lossy(body));
        }
        let verify = route("VerifyTicket");
        let e = build(
            &verify,
            vec![("ticket_id".into(), "t-1".into())],
            None,
            Some(br#"{"ticketId": "t-2"}"#),
        )
        .unwrap_err();
        assert_eq!(e.field, "ticket_id");
        let list = route("ListTickets");
        for (q, named) in [
            ("nosuch=1", "nosuch"),
            ("page_size=many", "page_size"),
            ("overdue_only=yes", "overdue_only"),
            ("states=NOPE", "states[0]"),
            ("created_after=yesterday", "created_after"),
        ] {
            let e = build(&list, vec![], Some(q), None).unwrap_err();
            assert_eq!(e.field, named, "{q}: {e:?}");
        }
        let e = build(&list, vec![], None, Some(b"{}")).unwrap_err();
        assert_eq!(e.field, "body");
    }
}
