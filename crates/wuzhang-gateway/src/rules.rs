//! The HTTP routes of the API, read from the protos' `google.api.http` rules (AIP-127) in
//! the descriptor set: one per binding, none written by hand.

use http::Method;
use prost_reflect::{DescriptorPool, MethodDescriptor, Value};

/// Where a route's request message comes from besides its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyRule {
    /// No body: every field not in the path comes from the query string.
    None,
    /// `body: "*"`: every field not in the path comes from the JSON body; no query string.
    Whole,
    /// `body: "field"`: that field is the body; the others come from the query string.
    Field(String),
}

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{field}`: one segment into the named field (a dotted path into the request).
    Variable(String),
}

/// A path template as `google.api.http` writes it, in the forms this API uses: literal
/// segments, `{field}` variables of one segment, and a custom verb (`:verify`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
    verb: Option<String>,
    text: String,
}

/// Why a template or a rule cannot be served; a build of the gateway fails with it, so a
/// proto change that breaks a route is caught by the first test, not by a caller.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{method}: path template {template:?}: {why}")]
    Template {
        method: String,
        template: String,
        why: String,
    },
    #[error("{method}: {why}")]
    Rule { method: String, why: String },
    #[error("the descriptor set does not decode: {0}")]
    Descriptors(String),
}

impl Template {
    /// Parses `text` (`/v1/tickets/{ticket_id}:verify`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| "must start with /".to_owned())?;
        // The verb follows the last segment's `:`, outside any variable.
        let (path, verb) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('}') => (&rest[..i], Some(rest[i + 1..].to_owned())),
            _ => (rest, None),
        };
        if verb.as_deref() == Some("") {
            return Err("empty verb".into());
        }
        let mut segments = Vec::new();
        for part in path.split('/') {
            if part.is_empty() {
                return Err("empty segment".into());
            }
            if let Some(inner) = part.strip_prefix('{') {
                let field = inner
                    .strip_suffix('}')
                    .ok_or_else(|| format!("unclosed variable {part:?}"))?;
                // `{field=*}` is `{field}`; longer sub-templates are not used by this API.
                let field = field.strip_suffix("=*").unwrap_or(field);
                if field.is_empty()
                    || !field.split('.').all(|p| {
                        !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
                {
                    return Err(format!("variable {part:?} is not a field path"));
                }
                segments.push(Segment::Variable(field.to_owned()));
            } else if part.contains(['{', '}', '*']) {
                return Err(format!("segment {part:?} is not supported"));
            } else {
                segments.push(Segment::Literal(part.to_owned()));
            }
        }
        Ok(Self {
            segments,
            verb,
            text: text.to_owned(),
        })
    }

    /// The variables' values if `path` (percent-decoded segment by segment) matches.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => rest.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => rest,
        };
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut vars = Vec::new();
        for (part, segment) in parts.iter().zip(&self.segments) {
            match segment {
                Segment::Literal(l) => {
                    if part != l {
                        return None;
                    }
                }
                Segment::Variable(field) => {
                    let value = percent_encoding::percent_decode_str(part)
                        .decode_utf8()
                        .ok()?
                        .into_owned();
                    // A variable without a verb must not swallow another route's verb.
                    if value.is_empty() || (self.verb.is_none() && value.contains(':')) {
                        return None;
                    }
                    vars.push((field.clone(), value));
                }
            }
        }
        Some(vars)
    }

    /// The fields the path binds.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Variable(f) => Some(f.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The template as written in the proto.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// One HTTP binding of one RPC.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub template: Template,
    pub body: BodyRule,
    pub rpc: MethodDescriptor,
    /// The gRPC path the call is made on: `/wuzhang.v1.IntakeService/SubmitIncident`.
    pub grpc_path: String,
    /// For a server stream, how a reconnect resumes it (`None` if it cannot).
    pub resume: Option<Resume>,
}

/// How a server stream resumes: a request field `after_X` where the streamed message has a
/// field `X` (`after_seq` ↔ `seq`, `after_cursor` ↔ `cursor`). `X` is each event's id,
/// and a `Last-Event-ID` sets `after_X`.
#[derive(Debug, Clone)]
pub struct Resume {
    /// The request field, by proto name (`after_seq`) and JSON name (`afterSeq`).
    pub after: (String, String),
    /// The streamed message's field that is each event's id (`seq`).
    pub id: String,
}

impl Resume {
    fn of(rpc: &MethodDescriptor) -> Option<Self> {
        if !rpc.is_server_streaming() {
            return None;
        }
        let output = rpc.output();
        rpc.input().fields().find_map(|f| {
            let id = f.name().strip_prefix("after_")?;
            output.get_field_by_name(id)?;
            Some(Self {
                after: (f.name().to_owned(), f.json_name().to_owned()),
                id: id.to_owned(),
            })
        })
    }
}

impl Route {
    /// `IntakeService.SubmitIncident`.
    pub fn rpc_name(&self) -> String {
        format!("{}.{}", self.rpc.parent_service().name(), self.rpc.name())
    }
}

/// Every binding of every RPC of `package` in the encoded descriptor set. An RPC without a
/// rule is an error: the whole API is served over HTTP, so a new RPC must say where.
pub fn routes(
    descriptor_set: &[u8],
    package: &str,
) -> Result<(DescriptorPool, Vec<Route>), RuleError> {
    let pool = DescriptorPool::decode(descriptor_set)
        .map_err(|e| RuleError::Descriptors(e.to_string()))?;
    let http = pool
        .get_extension_by_name("google.api.http")
        .ok_or_else(|| RuleError::Descriptors("google.api.http is not in the set".into()))?;
    let mut out = Vec::new();
    for service in pool.services().filter(|s| s.package_name() == package) {
        for rpc in service.methods() {
            let name = rpc.full_name().to_owned();
            let options = rpc.options();
            if !options.has_extension(&http) {
                return Err(RuleError::Rule {
                    method: name,
                    why: "has no google.api.http rule".into(),
                });
            }
            let rule = options.get_extension(&http);
            let Value::Message(rule) = rule.as_ref() else {
                return Err(RuleError::Rule {
                    method: name,
                    why: "google.api.http is not a message".into(),
                });
            };
            let grpc_path = format!("/{}/{}", service.full_name(), rpc.name());
            out.push(binding(&rpc, rule, &grpc_path)?);
            if let Some(Value::List(more)) =
                rule.get_field_by_name("additional_bindings").as_deref()
            {
                for more in more {
                    if let Value::Message(m) = more {
                        out.push(binding(&rpc, m, &grpc_path)?);
                    }
                }
            }
        }
    }
    // A route with a verb is tried before one without, so `/v1/areas:locate` is not read
    // as an area named `areas:locate`.
    out.sort_by_key(|r| r.template.verb.is_none());
    Ok((pool, out))
}

fn binding(
    rpc: &MethodDescriptor,
    rule: &prost_reflect::DynamicMessage,
    grpc_path: &str,
) -> Result<Route, RuleError> {
    let name = rpc.full_name().to_owned();
    let text = |field: &str| -> Option<String> {
        rule.has_field_by_name(field).then(|| {
            rule.get_field_by_name(field)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
    };
    let (method, path) = [
        (Method::GET, "get"),
        (Method::PUT, "put"),
        (Method::POST, "post"),
        (Method::DELETE, "delete"),
        (Method::PATCH, "patch"),
    ]
    .into_iter()
    .find_map(|(m, f)| text(f).map(|p| (m, p)))
    .ok_or_else(|| RuleError::Rule {
        method: name.clone(),
        why: "the rule names no HTTP method (custom methods are not served)".into(),
    })?;
    let template = Template::parse(&path).map_err(|why| RuleError::Template {
        method: name.clone(),
        template: path.clone(),
        why,
    })?;
    let input = rpc.input();
    for var in template.variables() {
        if input.get_field_by_name(var).is_none() {
            return Err(RuleError::Template {
                method: name.clone(),
                template: path.clone(),
                why: format!("{} has no field {var}", input.full_name()),
            });
        }
    }
    let body = match text("body").unwrap_or_default().as_str() {
        "" => BodyRule::None,
        "*" => BodyRule::Whole,
        field => {
            if input.get_field_by_name(field).is_none() {
                return Err(RuleError::Rule {
                    method: name,
                    why: format!("body names {field}, which {} lacks", input.full_name()),
                });
            }
            BodyRule::Field(field.to_owned())
        }
    };
    Ok(Route {
        method,
        template,
        body,
        rpc: rpc.clone(),
        grpc_path: grpc_path.to_owned(),
        resume: Resume::of(rpc),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_their_paths_and_no_other() {
        let verify = Template::parse("/v1/tickets/{ticket_id}:verify").unwrap();
        let get = Template::parse("/v1/tickets/{ticket_id}").unwrap();
        let locate = Template::parse("/v1/areas:locate").unwrap();
        assert_eq!(
            verify.matches("/v1/tickets/abc:verify"),
            Some(vec![("ticket_id".into(), "abc".into())])
        );
        assert_eq!(verify.matches("/v1/tickets/abc"), None);
        assert_eq!(verify.matches("/v1/tickets/:verify"), None);
        assert_eq!(get.matches("/v1/tickets/abc:verify"), None);
        assert_eq!(
            get.matches("/v1/tickets/a%20b"),
            Some(vec![("ticket_id".into(), "a b".into())])
        );
        assert_eq!(get.matches("/v1/tickets/abc/more"), None);
        assert_eq!(locate.matches("/v1/areas:locate"), Some(vec![]));
        assert_eq!(locate.matches("/v1/areas"), None);
    }

    #[test]
    fn bad_templates_are_refused_with_why() {
        for bad in ["v1/x", "/v1//x", "/v1/{x", "/v1/{}", "/v1/x:", "/v1/**"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_rpc_of_the_api_has_a_route() {
        let (pool, routes) = routes(wuzhang_proto::FILE_DESCRIPTOR_SET, "wuzhang.v1").unwrap();
        let rpcs: usize = pool
            .services()
            .filter(|s| s.package_name() == "wuzhang.v1")
            .map(|s| s.methods().len())
            .sum();
        assert!(rpcs > 40, "{rpcs}");
        let mut routed: Vec<String> = routes
            .iter()
            .map(|r| r.rpc.full_name().to_owned())
            .collect();
        routed.dedup();
        routed.sort();
        routed.dedup();
        assert_eq!(routed.len(), rpcs);
        // No two bindings answer the same method and path.
        for (i, a) in routes.iter().enumerate() {
            for b in &routes[i + 1..] {
                assert!(
                    !(a.method == b.method && a.template == b.template),
                    "{} and {} share {} {}",
                    a.rpc_name(),
                    b.rpc_name(),
                    a.method,
                    a.template.as_str()
                );
            }
        }
    }

    #[test]
    fn docs_list_every_route() {
        let docs = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/http.md"),
        )
        .unwrap();
        let (_, routes) = routes(wuzhang_proto::FILE_DESCRIPTOR_SET, "wuzhang.v1").unwrap();
        for r in &routes {
            let row = format!(
                "| `{}` | `{} {}` |",
                r.rpc_name(),
                r.method,
                r.template.as_str()
            );
            assert!(docs.contains(&row), "docs/http.md lacks {row}");
        }
    }
}
