//! One answer, two formats. Handlers build a [`Node`] tree once; it is written as XML
//! (the spec's required format) or as JSON following the spec's "Spark convention": an
//! XML list element becomes a JSON array of its items, an element with children becomes
//! an object, an empty element becomes `null`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

/// The format a client asked for with the resource's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Xml,
}

impl Format {
    /// Splits `services.json` into `services` and [`Format::Json`]. None for any other
    /// extension, or none at all: such a resource does not exist (404).
    pub(crate) fn split(file: &str) -> Option<(&str, Format)> {
        let (stem, ext) = file.rsplit_once('.')?;
        let format = match ext {
            "json" => Format::Json,
            "xml" => Format::Xml,
            _ => return None,
        };
        Some((stem, format))
    }

    /// The spec's content types, with the charset it asks for.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

/// A value in an answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// JSON `null`, an empty XML element.
    Null,
    Text(String),
    /// Only finite numbers are written as numbers; anything else is written as `Null`.
    Number(f64),
    /// Written without a fraction (`404`, not `404.0`).
    Integer(i64),
    Bool(bool),
    /// A JSON array; in XML, an element holding one `item` element per entry.
    List {
        item: &'static str,
        items: Vec<Node>,
    },
    /// A JSON object; in XML, an element holding one element per field, in order.
    Object(Vec<(&'static str, Node)>),
}

impl Node {
    pub(crate) fn text(s: impl Into<String>) -> Node {
        Node::Text(s.into())
    }

    pub(crate) fn opt_text(s: Option<impl Into<String>>) -> Node {
        s.map_or(Node::Null, Node::text)
    }

    pub(crate) fn opt_number(n: Option<f64>) -> Node {
        n.map_or(Node::Null, Node::Number)
    }

    pub(crate) fn time(t: OffsetDateTime) -> Node {
        Node::Text(w3c(t))
    }

    pub(crate) fn opt_time(t: Option<OffsetDateTime>) -> Node {
        t.map_or(Node::Null, Node::time)
    }

    /// Writes JSON by hand rather than through `serde_json::Value`, whose maps sort their
    /// keys: answers keep the spec's field order, as its examples show them.
    fn write_json(&self, out: &mut String) {
        match self {
            Node::Null => out.push_str("null"),
            Node::Text(s) => push_json_string(s, out),
            Node::Number(n) => match serde_json::Number::from_f64(*n) {
                Some(n) => out.push_str(&n.to_string()),
                None => out.push_str("null"),
            },
            Node::Integer(n) => out.push_str(&n.to_string()),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::List { items, .. } => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Node::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_json_string(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }

    fn write_xml(&self, name: &str, out: &mut String) {
        let inner = |out: &mut String, f: &dyn Fn(&mut String)| {
            out.push('<');
            out.push_str(name);
            out.push('>');
            f(out);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        };
        match self {
            Node::Null => {
                out.push('<');
                out.push_str(name);
                out.push_str("/>");
            }
            Node::Number(n) if !n.is_finite() => Node::Null.write_xml(name, out),
            Node::Text(s) => inner(out, &|out| escape_xml(s, out)),
            Node::Number(n) => inner(out, &|out| out.push_str(&n.to_string())),
            Node::Integer(n) => inner(out, &|out| out.push_str(&n.to_string())),
            Node::Bool(b) => inner(out, &|out| out.push_str(if *b { "true" } else { "false" })),
            Node::List { item, items } => inner(out, &|out| {
                for i in items {
                    i.write_xml(item, out);
                }
            }),
            Node::Object(fields) => inner(out, &|out| {
                for (k, v) in fields {
                    v.write_xml(k, out);
                }
            }),
        }
    }
}

/// A whole answer: the XML root element's name and its content.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    pub(crate) root: &'static str,
    pub(crate) body: Node,
}

impl Document {
    pub(crate) fn new(root: &'static str, body: Node) -> Self {
        Self { root, body }
    }

    pub(crate) fn render(&self, format: Format) -> String {
        match format {
            Format::Json => {
                let mut out = String::new();
                self.body.write_json(&mut out);
                out
            }
            Format::Xml => {
                let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
                self.body.write_xml(self.root, &mut out);
                out.push('\n');
                out
            }
        }
    }

    pub(crate) fn respond(&self, status: StatusCode, format: Format) -> Response {
        let mut response = (status, self.render(format)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        response
    }
}

fn push_json_string(s: &str, out: &mut String) {
    // Serialising a str cannot fail; the fallback is never taken.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "null".to_owned()));
}

/// Escapes text for an XML element. Characters XML 1.0 cannot carry at all, even
/// escaped (most C0 controls, U+FFFE, U+FFFF), become U+FFFD so the document stays
/// well-formed whatever the store holds.
pub(crate) fn escape_xml(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Kept as references so XML's line-end normalisation does not turn \r into \n.
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// A time as the spec's W3C profile of ISO 8601 writes it: whole seconds and an explicit
/// zone, `Z` for UTC (`2010-01-01T00:00:00Z`, `2010-01-01T08:00:00+08:00`).
pub(crate) fn w3c(t: OffsetDateTime) -> String {
    let offset = t.offset();
    let zone = if offset == UtcOffset::UTC {
        "Z".to_owned()
    } else {
        let secs = offset.whole_seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        let secs = secs.unsigned_abs();
        format!("{sign}{:02}:{:02}", secs / 3600, secs / 60 % 60)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Reads a `start_date`/`end_date`: RFC 3339 (the W3C profile with seconds, which the spec
/// asks for) or a bare date, taken as midnight UTC. A space where the offset's `+` should
/// be is read as `+`: clients that forget to escape it are common, and a space can never
/// be meant there.
pub(crate) fn parse_w3c(s: &str) -> Result<OffsetDateTime, String> {
    let fixed = s.trim().replace(' ', "+");
    if let Ok(t) = OffsetDateTime::parse(&fixed, &Rfc3339) {
        return Ok(t);
    }
    let date_only = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(&fixed, &date_only) {
        return Ok(d.midnight().assume_utc());
    }
    Err(format!(
        "{s:?} is not a W3C datetime like 2010-01-01T00:00:00Z"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_are_w3c() {
        assert_eq!(
            w3c(datetime!(2010-01-01 0:00:00.123456 UTC)),
            "2010-01-01T00:00:00Z"
        );
        assert_eq!(
            w3c(datetime!(1994-11-05 08:15:30 -05:00)),
            "1994-11-05T08:15:30-05:00"
        );
        assert_eq!(
            w3c(datetime!(2026-03-01 08:00 +08:00)),
            "2026-03-01T08:00:00+08:00"
        );
        assert_eq!(
            parse_w3c("1994-11-05T08:15:30 05:00").unwrap(),
            datetime!(1994-11-05 08:15:30 +05:00)
        );
        assert_eq!(
            parse_w3c("2010-01-01").unwrap(),
            datetime!(2010-01-01 0:00 UTC)
        );
        assert!(
            parse_w3c("2010-01-01T00:00:00").is_err(),
            "a zone is required"
        );
        assert!(parse_w3c("yesterday").is_err());
    }

    #[test]
    fn both_formats_from_one_tree() {
        let doc = Document::new(
            "services",
            Node::List {
                item: "service",
                items: vec![Node::Object(vec![
                    ("service_code", Node::text("01")),
                    ("description", Node::Null),
                    ("metadata", Node::Bool(false)),
                    ("lat", Node::Number(43.5)),
                    ("long", Node::Number(f64::NAN)),
                    ("name", Node::text("a<b & 'c' \"d\"\r\u{1}")),
                ])],
            },
        );
        assert_eq!(
            doc.render(Format::Json),
            r#"[{"service_code":"01","description":null,"metadata":false,"lat":43.5,"long":null,"name":"a<b & 'c' \"d\"\r\u0001"}]"#
        );
        assert_eq!(
            doc.render(Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<services><service>\
             <service_code>01</service_code><description/><metadata>false</metadata>\
             <lat>43.5</lat><long/><name>a&lt;b &amp; &apos;c&apos; &quot;d&quot;&#13;\u{FFFD}</name>\
             </service></services>\n"
        );
        assert_eq!(
            Format::split("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(Format::split("a.b.xml"), Some(("a.b", Format::Xml)));
        assert_eq!(Format::split("services.html"), None);
        assert_eq!(Format::split("services"), None);
    }
}
