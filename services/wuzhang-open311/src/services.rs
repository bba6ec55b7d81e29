//! Categories as Open311 services, requests and tokens as the spec writes them: the
//! mapping from our types to answer trees, in one place.

use time::Duration;
use wuzhang_domain::category::{Category, CategoryKind, DeadlineKind};

use crate::backend::{ServiceRequest, TokenStatus};
use crate::render::{Document, Node};

/// GET services: every category the backend lists, each with `metadata=false` (our
/// categories have no extra attributes) and `type=realtime` (a POST answers with the
/// request id at once).
pub(crate) fn service_list(categories: &[Category]) -> Document {
    let items = categories
        .iter()
        .map(|c| {
            let parent = c
                .parent_code
                .as_ref()
                .map(|p| categories.iter().find(|x| &x.code == p).ok_or(p));
            let group = match parent {
                Some(Ok(p)) => Node::text(p.name.clone()),
                Some(Err(code)) => Node::text(code.to_string()),
                None => Node::Null,
            };
            let mut keywords = vec![c.name.clone()];
            if let Some(Ok(p)) = parent {
                keywords.push(p.name.clone());
            }
            keywords.push(kind_title(c.kind).to_owned());
            keywords.push(c.kind.as_str().to_owned());
            if c.urgent {
                keywords.extend(["紧急".to_owned(), "urgent".to_owned()]);
            }
            Node::Object(vec![
                ("service_code", Node::text(c.code.to_string())),
                ("service_name", Node::text(c.name.clone())),
                ("description", Node::text(describe(c))),
                ("metadata", Node::Bool(false)),
                ("type", Node::text("realtime")),
                ("keywords", Node::text(keywords.join(", "))),
                ("group", group),
            ])
        })
        .collect();
    Document::new(
        "services",
        Node::List {
            item: "service",
            items,
        },
    )
}

/// GET services/{code}: a service without metadata has no attributes, so its definition
/// is its code and an empty attribute list. The spec says such a call "is not needed", not
/// that it fails, and clients that always ask get a usable answer.
pub(crate) fn service_definition(c: &Category) -> Document {
    Document::new(
        "service_definition",
        Node::Object(vec![
            ("service_code", Node::text(c.code.to_string())),
            (
                "attributes",
                Node::List {
                    item: "attribute",
                    items: Vec::new(),
                },
            ),
        ]),
    )
}

/// POST requests: the new id, and the token too when the backend made one (see the crate
/// doc for why both), the notice, and the account_id the client sent.
pub(crate) fn created(r: &ServiceRequest, account_id: Option<&str>) -> Document {
    let mut fields = vec![(
        "service_request_id",
        Node::text(r.service_request_id.clone()),
    )];
    if let Some(token) = &r.token {
        fields.push(("token", Node::text(token.clone())));
    }
    fields.push(("service_notice", Node::opt_text(r.service_notice.clone())));
    fields.push(("account_id", Node::opt_text(account_id)));
    service_requests(vec![Node::Object(fields)])
}

/// GET requests and GET requests/{id}.
pub(crate) fn request_list(requests: &[ServiceRequest]) -> Document {
    service_requests(requests.iter().map(request).collect())
}

/// GET tokens/{token}.
pub(crate) fn token(t: &TokenStatus) -> Document {
    service_requests(vec![Node::Object(vec![
        (
            "service_request_id",
            Node::opt_text(t.service_request_id.clone()),
        ),
        ("token", Node::text(t.token.clone())),
    ])])
}

fn service_requests(items: Vec<Node>) -> Document {
    Document::new(
        "service_requests",
        Node::List {
            item: "request",
            items,
        },
    )
}

fn request(r: &ServiceRequest) -> Node {
    Node::Object(vec![
        (
            "service_request_id",
            Node::text(r.service_request_id.clone()),
        ),
        ("status", Node::text(r.status.as_str())),
        ("status_notes", Node::opt_text(r.status_notes.clone())),
        ("service_name", Node::text(r.service_name.clone())),
        ("service_code", Node::text(r.service_code.to_string())),
        ("description", Node::opt_text(r.description.clone())),
        (
            "agency_responsible",
            Node::opt_text(r.agency_responsible.clone()),
        ),
        ("service_notice", Node::opt_text(r.service_notice.clone())),
        ("requested_datetime", Node::time(r.requested_datetime)),
        ("updated_datetime", Node::time(r.updated_datetime)),
        ("expected_datetime", Node::opt_time(r.expected_datetime)),
        ("address", Node::opt_text(r.address.clone())),
        ("address_id", Node::opt_text(r.address_id.clone())),
        ("zipcode", Node::opt_text(r.zipcode.clone())),
        ("lat", Node::opt_number(r.lat)),
        ("long", Node::opt_number(r.long)),
        ("media_url", Node::opt_text(r.media_url.clone())),
    ])
}

fn kind_title(kind: CategoryKind) -> &'static str {
    match kind {
        CategoryKind::Component => "部件",
        CategoryKind::Event => "事件",
    }
}

/// What a resident wants to know before choosing: what kind of case it is and how long
/// the chiefs have, e.g. `事件类，2小时内签收，24小时内处置`.
fn describe(c: &Category) -> String {
    let mut s = format!(
        "{}类，{}内签收，{}内处置",
        kind_title(c.kind),
        span(c.accept_within, c.deadline_kind),
        span(c.resolve_within, c.deadline_kind)
    );
    if c.urgent {
        s.push_str("，紧急");
    }
    s
}

fn span(d: Duration, kind: DeadlineKind) -> String {
    let (days, hours, minutes) = (d.whole_days(), d.whole_hours(), d.whole_minutes());
    match kind {
        DeadlineKind::WorkingDays if d == Duration::days(days) => format!("{days}个工作日"),
        DeadlineKind::WorkingHours if d == Duration::hours(hours) => format!("{hours}个工作小时"),
        _ if d == Duration::days(days) && days >= 2 => format!("{days}天"),
        _ if d == Duration::hours(hours) => format!("{hours}小时"),
        _ => format!("{minutes}分钟"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(Duration::hours(2), DeadlineKind::Natural), "2小时");
        assert_eq!(span(Duration::hours(24), DeadlineKind::Natural), "24小时");
        assert_eq!(span(Duration::days(3), DeadlineKind::Natural), "3天");
        assert_eq!(
            span(Duration::minutes(30), DeadlineKind::UrgentHours),
            "30分钟"
        );
        assert_eq!(
            span(Duration::days(5), DeadlineKind::WorkingDays),
            "5个工作日"
        );
        assert_eq!(
            span(Duration::hours(8), DeadlineKind::WorkingHours),
            "8个工作小时"
        );
    }
}
