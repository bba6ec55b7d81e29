//! The OpenAPI 3 document of the HTTP/JSON API, generated from the same descriptor set
//! and rules the routes come from; the protos' comments become its descriptions.

use std::collections::{BTreeMap, HashMap, HashSet};

use prost_reflect::{DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use crate::request::is_scalar_message;
use crate::rules::{BodyRule, Route};

/// How deep a query parameter's dotted path goes into nested messages (`point.lat`).
const QUERY_DEPTH: usize = 3;

/// The document for `routes`.
pub fn document(pool: &DescriptorPool, routes: &[Route]) -> Value {
    let comments = Comments::new(pool);
    let mut schemas = Schemas {
        comments: &comments,
        done: BTreeMap::new(),
    };
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    // An RPC's additional bindings need operation ids of their own.
    let mut bindings: HashMap<String, usize> = HashMap::new();
    for route in routes {
        let nth = bindings.entry(route.rpc_name()).or_default();
        *nth += 1;
        let operation_id = match *nth {
            1 => format!("{}_{}", route.rpc.parent_service().name(), route.rpc.name()),
            n => format!(
                "{}_{}_{n}",
                route.rpc.parent_service().name(),
                route.rpc.name()
            ),
        };
        let input = route.rpc.input();
        let output = route.rpc.output();
        let path_fields: Vec<&str> = route.template.variables().collect();
        let mut parameters: Vec<Value> = path_fields
            .iter()
            .map(|name| {
                let field = input.get_field_by_name(name);
                json!({
                    "name": name,
                    "in": "path",
                    "required": true,
                    "description": field.as_ref().map(|f| comments.of_field(f)).unwrap_or_default(),
                    "schema": field.as_ref().map_or(json!({"type": "string"}), |f| schemas.scalar(f)),
                })
            })
            .collect();
        if route.body != BodyRule::Whole {
            query_parameters(
                &input,
                "",
                &path_fields,
                &route.body,
                &mut schemas,
                &mut parameters,
                0,
            );
        }
        let mut op = json!({
            "operationId": operation_id,
            "tags": [route.rpc.parent_service().name()],
            "summary": route.rpc_name(),
            "description": comments.of(route.rpc.parent_file().file_descriptor_proto(), route.rpc.path()),
            "parameters": parameters,
            "responses": {
                "200": response(&route.rpc, &output, &mut schemas),
                "default": {
                    "description": "An error: a google.rpc.Status with the HTTP status of its code (docs/http.md).",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}},
                },
            },
        });
        if route.body != BodyRule::None {
            let schema = match &route.body {
                BodyRule::Field(f) => input
                    .get_field_by_name(f)
                    .map_or(json!({}), |f| schemas.field(&f)),
                _ => schemas.reference(&input),
            };
            op["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": schema}},
            });
        }
        paths
            // Variables are single fields, so the template is already an OpenAPI path.
            .entry(route.template.as_str().to_owned())
            .or_default()
            .insert(route.method.as_str().to_ascii_lowercase(), op);
    }
    let mut components: Map<String, Value> = schemas.done.into_iter().collect();
    components.insert("google.rpc.Status".into(), status_schema());
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "wuzhang 五长",
            "version": "v1",
            "description": "Incident dispatch for grid-based urban governance: every RPC of wuzhang.v1 over HTTP/JSON (canonical proto3 JSON). Bearer tokens as over gRPC.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}],
    })
}

fn response(
    rpc: &prost_reflect::MethodDescriptor,
    output: &MessageDescriptor,
    schemas: &mut Schemas<'_>,
) -> Value {
    if rpc.is_server_streaming() {
        json!({
            "description": format!(
                "Server-Sent Events: each event's data a {} as JSON, its id the position to resume from (Last-Event-ID).",
                output.name()
            ),
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        })
    } else {
        json!({
            "description": output.name(),
            "content": {"application/json": {"schema": schemas.reference(output)}},
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn query_parameters(
    message: &MessageDescriptor,
    prefix: &str,
    path_fields: &[&str],
    body: &BodyRule,
    schemas: &mut Schemas<'_>,
    out: &mut Vec<Value>,
    depth: usize,
) {
    for field in message.fields() {
        let name = format!("{prefix}{}", field.json_name());
        let proto_name = format!("{prefix}{}", field.name());
        if path_fields.contains(&proto_name.as_str())
            || matches!(body, BodyRule::Field(f) if *f == proto_name)
            || field.is_map()
        {
            continue;
        }
        match field.kind() {
            Kind::Message(m) if !is_scalar_message(&m) => {
                if !field.is_list() && depth < QUERY_DEPTH {
                    query_parameters(
                        &m,
                        &format!("{name}."),
                        &[],
                        &BodyRule::None,
                        schemas,
                        out,
                        depth + 1,
                    );
                }
            }
            _ => {
                let schema = if field.is_list() {
                    json!({"type": "array", "items": schemas.scalar(&field)})
                } else {
                    schemas.scalar(&field)
                };
                let mut p = json!({
                    "name": name,
                    "in": "query",
                    "required": false,
                    "description": schemas.comments.of_field(&field),
                    "schema": schema,
                });
                if field.is_list() {
                    p["explode"] = Value::Bool(true);
                }
                out.push(p);
            }
        }
    }
}

/// The messages' and enums' schemas, each written once under its full name.
struct Schemas<'a> {
    comments: &'a Comments,
    done: BTreeMap<String, Value>,
}

impl Schemas<'_> {
    /// `$ref` to `message`, writing its schema (and those it uses) if not yet written.
    fn reference(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(wk) = well_known(message.full_name()) {
            return wk;
        }
        let name = message.full_name().to_owned();
        if !self.done.contains_key(&name) {
            // A placeholder first: a message that contains itself refers to itself.
            self.done.insert(name.clone(), Value::Null);
            let mut properties = Map::new();
            for field in message.fields() {
                let mut schema = self.field(&field);
                let description = self.comments.of_field(&field);
                if !description.is_empty() && schema.get("$ref").is_none() {
                    schema["description"] = Value::String(description);
                }
                properties.insert(field.json_name().to_owned(), schema);
            }
            let schema = json!({
                "type": "object",
                "description": self.comments.of(message.parent_file().file_descriptor_proto(), message.path()),
                "properties": properties,
            });
            self.done.insert(name.clone(), schema);
        }
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// A field's schema: its value's, in an array if repeated, an object if a map.
    fn field(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map()
            && let Kind::Message(entry) = field.kind()
        {
            let value = entry.map_entry_value_field();
            return json!({"type": "object", "additionalProperties": self.value(&value)});
        }
        let one = self.value(field);
        if field.is_list() {
            json!({"type": "array", "items": one})
        } else {
            one
        }
    }

    fn value(&mut self, field: &FieldDescriptor) -> Value {
        match field.kind() {
            Kind::Message(m) => self.reference(&m),
            _ => self.scalar(field),
        }
    }

    /// The schema of a scalar (or enum, or well-known single-value message) field.
    fn scalar(&mut self, field: &FieldDescriptor) -> Value {
        match field.kind() {
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "format": "byte"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32"})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int32", "minimum": 0})
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": "string", "format": "int64"})
            }
            Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
            Kind::Float => json!({"type": "number", "format": "float"}),
            Kind::Double => json!({"type": "number", "format": "double"}),
            Kind::Enum(e) => enum_schema(&e),
            Kind::Message(m) => well_known(m.full_name()).unwrap_or_else(|| self.reference(&m)),
        }
    }
}

fn enum_schema(e: &EnumDescriptor) -> Value {
    json!({
        "type": "string",
        "enum": e.values().map(|v| v.name().to_owned()).collect::<Vec<_>>(),
    })
}

/// The JSON form of the well-known types the API uses.
fn well_known(full_name: &str) -> Option<Value> {
    Some(match full_name {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$", "example": "1.5s"})
        }
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.Struct" => json!({"type": "object", "additionalProperties": true}),
        "google.protobuf.FieldMask" => json!({"type": "string"}),
        "google.protobuf.StringValue" => json!({"type": "string"}),
        "google.protobuf.BoolValue" => json!({"type": "boolean"}),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => json!({"type": "integer"}),
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => json!({"type": "number"}),
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({"type": "string", "format": "int64"})
        }
        "google.protobuf.Value" => json!({}),
        _ => return None,
    })
}

fn status_schema() -> Value {
    json!({
        "type": "object",
        "description": "google.rpc.Status: the gRPC code, a message, and details (google.rpc.BadRequest with the fields at fault).",
        "properties": {
            "code": {"type": "integer", "format": "int32"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {"type": "object", "additionalProperties": true}},
        },
    })
}

/// The protos' comments by file and descriptor path.
struct Comments {
    by_path: HashMap<(String, Vec<i32>), String>,
}

impl Comments {
    fn new(pool: &DescriptorPool) -> Self {
        let mut by_path = HashMap::new();
        let mut seen = HashSet::new();
        for file in pool.files() {
            let proto = file.file_descriptor_proto();
            if !seen.insert(proto.name().to_owned()) {
                continue;
            }
            let Some(info) = &proto.source_code_info else {
                continue;
            };
            for loc in &info.location {
                if let Some(c) = loc.leading_comments.as_deref() {
                    let text = c
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ");
                    by_path.insert((proto.name().to_owned(), loc.path.clone()), text);
                }
            }
        }
        Self { by_path }
    }

    fn of(&self, file: &prost_types::FileDescriptorProto, path: &[i32]) -> String {
        self.by_path
            .get(&(file.name().to_owned(), path.to_vec()))
            .cloned()
            .unwrap_or_default()
    }

    fn of_field(&self, field: &FieldDescriptor) -> String {
        self.of(field.parent_file().file_descriptor_proto(), field.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::routes;

    #[test]
    fn every_route_is_in_the_document_with_its_comments() {
        let (pool, routes) = routes(wuzhang_proto::FILE_DESCRIPTOR_SET, "wuzhang.v1").unwrap();
        let doc = document(&pool, &routes);
        for r in &routes {
            let op = &doc["paths"][r.template.as_str()][r.method.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{} {}", r.method, r.template.as_str());
        }
        let submit = &doc["paths"]["/v1/incidents"]["post"];
        assert!(
            submit["description"]
                .as_str()
                .unwrap()
                .contains("Reports an incident"),
            "{submit}"
        );
        let ticket = &doc["components"]["schemas"]["wuzhang.v1.Ticket"];
        assert_eq!(
            ticket["properties"]["version"]["type"], "string",
            "int64 as a string"
        );
        assert_eq!(ticket["properties"]["createdAt"]["format"], "date-time");
        let list = &doc["paths"]["/v1/tickets"]["get"]["parameters"];
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "states" && p["schema"]["type"] == "array"),
            "{list}"
        );
        let locate = &doc["paths"]["/v1/areas:locate"]["get"]["parameters"];
        assert!(
            locate
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "point.lat"),
            "{locate}"
        );
    }
}
