//! Every resource in both formats and every error path, through the router as a server
//! would call it, against the in-memory backend.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::Value;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;
use wuzhang_domain::category::{Category, CategoryCode, CategoryKind, DeadlineKind};
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::clock::ManualClock;
use wuzhang_open311::memory::MemoryBackend;
use wuzhang_open311::{BackendError, MAX_BODY_BYTES, Options, router_with};

const KEY: &str = "key-civic-app";
const OTHER_KEY: &str = "key-other-app";
const START: OffsetDateTime = datetime!(2026-05-01 08:00 UTC);

fn category(code: &str, name: &str, parent: Option<&str>, active: bool) -> Category {
    Category {
        code: CategoryCode::new(code).unwrap(),
        name: name.into(),
        parent_code: parent.map(|p| CategoryCode::new(p).unwrap()),
        kind: CategoryKind::Event,
        start_level: ChiefLevel::Grid,
        accept_within: Duration::hours(2),
        resolve_within: Duration::hours(24),
        deadline_kind: DeadlineKind::Natural,
        urgent: false,
        calendar_code: "cn".into(),
        duplicate_radius_m: 0.0,
        duplicate_window: Duration::ZERO,
        active,
        reopen_on_not_solved: false,
        organization_type: None,
    }
}

struct App {
    router: Router,
    backend: Arc<MemoryBackend>,
    clock: ManualClock,
}

fn app() -> App {
    let clock = ManualClock::new(START);
    let backend = Arc::new(
        MemoryBackend::new(
            Arc::new(clock.clone()),
            vec![
                category("0102", "违规停车", Some("01"), true),
                category("0101", "暴露垃圾", Some("01"), true),
                category("01", "市容环境", None, true),
                category("0199", "已停用", Some("01"), false),
                category("0201", "井盖缺失", Some("02"), true),
            ],
        )
        .with_key(KEY, "civic-app")
        .with_key(OTHER_KEY, "other-app"),
    );
    let options = Options {
        clock: Arc::new(clock.clone()),
        ..Options::default()
    };
    App {
        router: router_with(Arc::<MemoryBackend>::clone(&backend), options),
        backend,
        clock,
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn xml(&self) -> Xml {
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "text/xml; charset=utf-8"
        );
        assert!(
            self.body
                .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
            "{}",
            self.body
        );
        let doc = roxmltree::Document::parse(&self.body)
            .unwrap_or_else(|e| panic!("not well-formed: {e}: {}", self.body));
        Xml::of(doc.root_element())
    }

    /// The error descriptions of a JSON error answer, after checking its shape and codes.
    fn json_errors(&self, status: StatusCode) -> Vec<String> {
        assert_eq!(self.status, status, "{}", self.body);
        let v = self.json();
        v.as_array()
            .unwrap_or_else(|| panic!("errors are a list: {v}"))
            .iter()
            .map(|e| {
                assert_eq!(e["code"], status.as_u16(), "{v}");
                e["description"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    fn xml_errors(&self, status: StatusCode) -> Vec<String> {
        assert_eq!(self.status, status, "{}", self.body);
        let x = self.xml();
        assert_eq!(x.name, "errors");
        x.children
            .iter()
            .map(|e| {
                assert_eq!(e.name, "error");
                assert_eq!(e.text_of("code"), status.as_u16().to_string());
                e.text_of("description")
            })
            .collect()
    }
}

/// An owned copy of an XML element: enough to compare answers.
#[derive(Debug)]
struct Xml {
    name: String,
    text: String,
    children: Vec<Xml>,
}

impl Xml {
    fn of(n: roxmltree::Node<'_, '_>) -> Self {
        Self {
            name: n.tag_name().name().to_owned(),
            text: n.text().unwrap_or_default().to_owned(),
            children: n
                .children()
                .filter(|c| c.is_element())
                .map(Xml::of)
                .collect(),
        }
    }

    fn child(&self, name: &str) -> &Xml {
        self.children
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no <{name}> in <{}>", self.name))
    }

    fn text_of(&self, name: &str) -> String {
        self.child(name).text.clone()
    }
}

/// The spec's examples list fields in one order; answers keep it.
fn assert_in_order(body: &str, keys: &[&str]) {
    let at: Vec<usize> = keys
        .iter()
        .map(|k| {
            body.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("no {k}"))
        })
        .collect();
    assert!(at.is_sorted(), "{keys:?} out of order in {body}");
}

async fn send(router: &Router, req: Request<Body>) -> Answer {
    let response = router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("answers are UTF-8"),
    }
}

async fn get(app: &App, uri: &str) -> Answer {
    send(&app.router, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(app: &App, uri: &str, body: impl Into<Vec<u8>>) -> Answer {
    send(
        &app.router,
        Request::post(uri)
            .header(
                header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(Body::from(body.into()))
            .unwrap(),
    )
    .await
}

const GOOD: &str = "service_code=0101&lat=43.8868&long=125.3245&address_string=%E6%9C%9D%E9%98%B3%E5%8C%BA%E4%BA%BA%E6%B0%91%E5%A4%A7%E8%A1%97&description=%E6%A5%BC%E4%B8%8B%E6%9C%89%E6%9A%B4%E9%9C%B2%E5%9E%83%E5%9C%BE&email=li%40example.cn&phone=13800000000&media_url=https%3A%2F%2Fimg.example.cn%2Fa.jpg&jurisdiction_id=changchun.gov.cn&account_id=acct-7";

/// Submits the GOOD request with `key`; returns its id and token.
async fn submit(app: &App, key: &str) -> (String, String) {
    let a = post(
        app,
        "/open311/v2/requests.json",
        format!("api_key={key}&{GOOD}"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = a.json();
    let r = &v[0];
    (
        r["service_request_id"].as_str().unwrap().to_owned(),
        r["token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn services_in_both_formats() {
    let app = app();
    let a = get(&app, "/open311/v2/services.json?jurisdiction_id=x").await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    let codes: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service_code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["01", "0101", "0102", "0201"],
        "active only, by code"
    );
    let s = &v[1];
    assert_eq!(s["service_name"], "暴露垃圾");
    assert_eq!(s["description"], "事件类，2小时内签收，24小时内处置");
    assert_eq!(s["metadata"], false);
    assert_eq!(s["type"], "realtime");
    assert_eq!(s["group"], "市容环境");
    assert_eq!(s["keywords"], "暴露垃圾, 市容环境, 事件, event");
    assert_eq!(
        v[0]["group"],
        Value::Null,
        "a top-level category has no group"
    );
    assert_eq!(
        v[3]["group"], "02",
        "an unlisted parent is named by its code"
    );
    assert_in_order(
        &a.body,
        &[
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        ],
    );

    let x = get(&app, "/open311/v2/services.xml").await.xml();
    assert_eq!(x.name, "services");
    assert_eq!(x.children.len(), 4);
    let s = &x.children[1];
    assert_eq!(s.name, "service");
    assert_eq!(s.text_of("service_code"), "0101");
    assert_eq!(s.text_of("service_name"), "暴露垃圾");
    assert_eq!(s.text_of("metadata"), "false");
    assert_eq!(s.text_of("type"), "realtime");
    assert_eq!(s.text_of("group"), "市容环境");
}

#[tokio::test]
async fn a_service_definition_has_no_attributes() {
    let app = app();
    let a = get(&app, "/open311/v2/services/0101.json").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.json(),
        serde_json::json!({"service_code": "0101", "attributes": []})
    );
    let x = get(&app, "/open311/v2/services/0101.xml").await.xml();
    assert_eq!(x.name, "service_definition");
    assert_eq!(x.text_of("service_code"), "0101");
    assert!(x.child("attributes").children.is_empty());

    for uri in [
        "/open311/v2/services/0199.json",
        "/open311/v2/services/9999.json",
        "/open311/v2/services/a.b.json",
    ] {
        let e = get(&app, uri).await.json_errors(StatusCode::NOT_FOUND);
        assert!(e[0].starts_with("service_code"), "{e:?}");
    }
    let e = get(&app, "/open311/v2/services/9999.xml")
        .await
        .xml_errors(StatusCode::NOT_FOUND);
    assert_eq!(e, ["service_code 9999 not found"]);
    let e = get(&app, "/open311/v2/services/%FF%FE.xml")
        .await
        .xml_errors(StatusCode::BAD_REQUEST);
    assert_eq!(e, ["service_code: is not valid UTF-8"]);
    let e = get(&app, "/open311/v2/services/no%20such.json")
        .await
        .json_errors(StatusCode::BAD_REQUEST);
    assert_eq!(
        e,
        ["service_code: must not contain spaces or control characters"]
    );
}

#[tokio::test]
async fn a_request_is_posted_and_read_back_in_both_formats() {
    let app = app();
    let a = post(
        &app,
        "/open311/v2/requests.json",
        format!("api_key={KEY}&{GOOD}"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = a.json();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let created = &v[0];
    let id = created["service_request_id"].as_str().unwrap().to_owned();
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(created["service_notice"], "已受理，由网格长处理");
    assert_eq!(created["account_id"], "acct-7");

    let x = post(
        &app,
        "/open311/v2/requests.xml",
        format!("api_key={KEY}&{GOOD}"),
    )
    .await
    .xml();
    assert_eq!(x.name, "service_requests");
    let r = x.child("request");
    assert!(!r.text_of("service_request_id").is_empty());
    assert_ne!(r.text_of("service_request_id"), id);
    assert!(!r.text_of("token").is_empty());

    let a = get(
        &app,
        &format!("/open311/v2/requests/{id}.json?api_key={KEY}"),
    )
    .await;
    let v = a.json();
    let r = &v[0];
    assert_eq!(r["service_request_id"], id.as_str());
    assert_eq!(r["status"], "open");
    assert_eq!(r["status_notes"], Value::Null);
    assert_eq!(r["service_name"], "暴露垃圾");
    assert_eq!(r["service_code"], "0101");
    assert_eq!(r["description"], "楼下有暴露垃圾");
    assert_eq!(r["agency_responsible"], "网格长");
    assert_eq!(r["requested_datetime"], "2026-05-01T08:00:00Z");
    assert_eq!(r["updated_datetime"], "2026-05-01T08:00:00Z");
    assert_eq!(r["expected_datetime"], "2026-05-02T08:00:00Z");
    assert_eq!(r["address"], "朝阳区人民大街");
    assert_eq!(r["address_id"], Value::Null);
    assert_eq!(r["zipcode"], Value::Null);
    assert_eq!(r["lat"], 43.8868);
    assert_eq!(r["long"], 125.3245);
    assert_eq!(r["media_url"], "https://img.example.cn/a.jpg");
    assert!(r.get("token").is_none(), "GET requests has no token field");
    assert_in_order(
        &a.body,
        &[
            "service_request_id",
            "status",
            "status_notes",
            "service_name",
            "service_code",
            "description",
            "agency_responsible",
            "service_notice",
            "requested_datetime",
            "updated_datetime",
            "expected_datetime",
            "address",
            "address_id",
            "zipcode",
            "lat",
            "long",
            "media_url",
        ],
    );

    let x = get(
        &app,
        &format!("/open311/v2/requests/{id}.xml?api_key={KEY}"),
    )
    .await
    .xml();
    let r = x.child("request");
    assert_eq!(r.text_of("service_request_id"), id);
    assert_eq!(r.text_of("status"), "open");
    assert_eq!(r.text_of("description"), "楼下有暴露垃圾");
    assert_eq!(r.text_of("lat"), "43.8868");
    assert_eq!(r.text_of("long"), "125.3245");
    assert_eq!(r.text_of("requested_datetime"), "2026-05-01T08:00:00Z");
    assert_eq!(r.text_of("zipcode"), "");

    let v = get(
        &app,
        &format!("/open311/v2/tokens/{token}.json?api_key={KEY}"),
    )
    .await
    .json();
    assert_eq!(
        v,
        serde_json::json!([{"service_request_id": id, "token": token}])
    );
    let x = get(
        &app,
        &format!("/open311/v2/tokens/{token}.xml?api_key={KEY}"),
    )
    .await
    .xml();
    assert_eq!(x.child("request").text_of("service_request_id"), id);
    assert_eq!(x.child("request").text_of("token"), token);
}

#[tokio::test]
async fn requests_are_listed_with_the_spec_filters() {
    let app = app();
    let (first, _) = submit(&app, KEY).await;
    app.clock.advance(Duration::hours(1));
    let (second, _) = submit(&app, KEY).await;
    let (others, _) = submit(&app, OTHER_KEY).await;
    app.clock.advance(Duration::hours(1));

    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |q: String| {
        let app = &app;
        async move {
            let a = get(app, &format!("/open311/v2/requests.json?api_key={KEY}&{q}")).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            ids(a.json())
        }
    };
    assert_eq!(
        list(String::new()).await,
        [second.as_str(), first.as_str()],
        "newest first"
    );
    assert_eq!(
        list(format!("service_request_id={first}")).await,
        [first.as_str()]
    );
    assert_eq!(
        list(format!("service_request_id={first},{others}&status=closed")).await,
        [first.as_str()],
        "ids override other filters, but never visibility"
    );
    assert_eq!(list("service_code=0102".into()).await, Vec::<String>::new());
    assert_eq!(list("service_code=0102,0101".into()).await.len(), 2);
    assert_eq!(list("status=open".into()).await.len(), 2);
    assert!(list("status=closed".into()).await.is_empty());
    assert_eq!(
        list("start_date=2026-05-01T08:30:00Z".into()).await,
        [second.as_str()]
    );
    assert_eq!(
        list("end_date=2026-05-01T16:30:00%2B08:00".into()).await,
        [first.as_str()]
    );

    assert!(app.backend.close(&first, "已处置"));
    let closed = get(
        &app,
        &format!("/open311/v2/requests.xml?api_key={KEY}&status=closed"),
    )
    .await
    .xml();
    assert_eq!(closed.children.len(), 1);
    let r = closed.child("request");
    assert_eq!(r.text_of("service_request_id"), first);
    assert_eq!(r.text_of("status"), "closed");
    assert_eq!(r.text_of("status_notes"), "已处置");
    assert_eq!(r.text_of("updated_datetime"), "2026-05-01T10:00:00Z");

    // The default window is the last 90 days.
    app.clock.advance(Duration::days(90));
    assert!(list(String::new()).await.is_empty());
    assert_eq!(
        list("start_date=2026-05-01".into()).await,
        [second.as_str(), first.as_str()]
    );

    // Nothing without a key, nothing of another client's.
    let anonymous = get(&app, "/open311/v2/requests.json?start_date=2026-05-01").await;
    assert_eq!(anonymous.json(), serde_json::json!([]));
    let x = get(&app, "/open311/v2/requests.xml?start_date=2026-05-01")
        .await
        .xml();
    assert_eq!(x.name, "service_requests");
    assert!(x.children.is_empty());
}

#[tokio::test]
async fn requests_of_others_are_not_found() {
    let app = app();
    let (id, token) = submit(&app, KEY).await;
    for uri in [
        format!("/open311/v2/requests/{id}.json"),
        format!("/open311/v2/requests/{id}.json?api_key={OTHER_KEY}"),
        format!("/open311/v2/requests/no-such-id.json?api_key={KEY}"),
    ] {
        let e = get(&app, &uri).await.json_errors(StatusCode::NOT_FOUND);
        assert!(e[0].starts_with("service_request_id "), "{e:?}");
    }
    let e = get(
        &app,
        &format!("/open311/v2/requests/{id}.xml?api_key={OTHER_KEY}"),
    )
    .await
    .xml_errors(StatusCode::NOT_FOUND);
    assert_eq!(e, [format!("service_request_id {id} not found")]);
    for uri in [
        format!("/open311/v2/tokens/{token}.json"),
        format!("/open311/v2/tokens/{token}.json?api_key={OTHER_KEY}"),
        format!("/open311/v2/tokens/nope.json?api_key={KEY}"),
    ] {
        let e = get(&app, &uri).await.json_errors(StatusCode::NOT_FOUND);
        assert!(e[0].starts_with("token "), "{e:?}");
    }
    let e = get(
        &app,
        &format!("/open311/v2/requests/{id}.json?api_key=stolen"),
    )
    .await
    .json_errors(StatusCode::FORBIDDEN);
    assert_eq!(e, ["api_key is not valid"]);
    for uri in [
        "/open311/v2/requests.xml?api_key=stolen",
        "/open311/v2/services.xml?api_key=stolen",
        "/open311/v2/services/0101.xml?api_key=stolen",
        "/open311/v2/tokens/abc.xml?api_key=stolen",
    ] {
        let e = get(&app, uri).await.xml_errors(StatusCode::FORBIDDEN);
        assert_eq!(e, ["api_key is not valid"], "{uri}");
    }
    let a = get(&app, &format!("/open311/v2/services.json?api_key={KEY}")).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn api_key_is_checked_on_post() {
    let app = app();
    let e = post(&app, "/open311/v2/requests.json", GOOD)
        .await
        .json_errors(StatusCode::FORBIDDEN);
    assert_eq!(e, ["api_key is missing: submitting a request needs one"]);
    let e = post(&app, "/open311/v2/requests.xml", format!("api_key=&{GOOD}"))
        .await
        .xml_errors(StatusCode::FORBIDDEN);
    assert!(e[0].starts_with("api_key is missing"), "{e:?}");
    let e = post(
        &app,
        "/open311/v2/requests.xml",
        format!("api_key=nope&{GOOD}"),
    )
    .await
    .xml_errors(StatusCode::FORBIDDEN);
    assert_eq!(e, ["api_key is not valid"]);
    let e = post(
        &app,
        "/open311/v2/requests.json",
        format!("api_key=%FF&{GOOD}"),
    )
    .await
    .json_errors(StatusCode::BAD_REQUEST);
    assert_eq!(e, ["api_key: is not valid UTF-8"]);
    let long = "k".repeat(300);
    let e = post(
        &app,
        "/open311/v2/requests.json",
        format!("api_key={long}&{GOOD}"),
    )
    .await
    .json_errors(StatusCode::FORBIDDEN);
    assert_eq!(e, ["api_key is not valid"]);

    // In the query string of the POST, as some clients send it.
    let a = post(
        &app,
        &format!("/open311/v2/requests.json?api_key={KEY}"),
        GOOD,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // Nothing was created by the refused ones.
    let v = get(&app, &format!("/open311/v2/requests.json?api_key={KEY}"))
        .await
        .json();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

/// `GOOD` with `field` replaced by `value` (raw, already encoded), or removed when None.
fn good_with(field: &str, value: Option<&str>) -> String {
    let mut parts: Vec<String> = GOOD
        .split('&')
        .filter(|p| !p.starts_with(&format!("{field}=")))
        .map(str::to_owned)
        .collect();
    if let Some(v) = value {
        parts.push(format!("{field}={v}"));
    }
    format!("api_key={KEY}&{}", parts.join("&"))
}

async fn bad_fields(app: &App, body: String) -> Vec<String> {
    let json = post(app, "/open311/v2/requests.json", body.clone())
        .await
        .json_errors(StatusCode::BAD_REQUEST);
    let xml = post(app, "/open311/v2/requests.xml", body)
        .await
        .xml_errors(StatusCode::BAD_REQUEST);
    assert_eq!(json, xml, "one error list in both formats");
    json.iter()
        .map(|d| d.split(':').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_bad_field_is_named() {
    let app = app();
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("description", Some("%E6%9A%B4%FF%FE"), "description"),
        ("service_code", Some("01%C3%28"), "service_code"),
        ("service_code", Some("01%2F02"), "service_code"),
        ("service_code", None, "service_code"),
        ("description", None, "description"),
        ("description", Some("+%0A+"), "description"),
        ("lat", Some("NaN"), "lat"),
        ("lat", Some("inf"), "lat"),
        ("lat", Some("90.0001"), "lat"),
        ("lat", Some("north"), "lat"),
        ("long", Some("-180.5"), "long"),
        ("lat", None, "lat"),
        ("media_url", Some("ftp%3A%2F%2Fx%2Fy.jpg"), "media_url"),
        ("email", Some("not-an-address"), "email"),
        ("phone", Some("call+me"), "phone"),
        ("first_name", Some("a%00b"), "first_name"),
    ];
    for (field, value, named) in cases {
        let got = bad_fields(&app, good_with(field, *value)).await;
        assert_eq!(got, [*named], "{field}={value:?}");
    }
    let too_long = "%E5%9E%83".repeat(2001);
    assert_eq!(
        bad_fields(&app, good_with("description", Some(&too_long))).await,
        ["description"]
    );
    let long_url = format!("https%3A%2F%2Fa.cn%2F{}", "x".repeat(512));
    assert_eq!(
        bad_fields(&app, good_with("media_url", Some(&long_url))).await,
        ["media_url"]
    );

    // No location at all, and several errors at once.
    let body = format!("api_key={KEY}&service_code=0101&description=x");
    assert_eq!(bad_fields(&app, body).await, ["location"]);
    let body = format!("api_key={KEY}&lat=NaN&long=500&description=%FF");
    assert_eq!(
        bad_fields(&app, body).await,
        ["description", "service_code", "lat", "long"]
    );
    // An address alone is a location.
    let body = format!("api_key={KEY}&service_code=0101&address_id=A-17&description=x");
    assert_eq!(
        post(&app, "/open311/v2/requests.json", body).await.status,
        StatusCode::OK
    );
    // Attributes reach the backend, which has none for this service.
    let body = format!("{}&attribute[WHISPAWN]=123", good_with("x", None));
    let e = post(&app, "/open311/v2/requests.json", body)
        .await
        .json_errors(StatusCode::BAD_REQUEST);
    assert_eq!(e, ["attribute[WHISPAWN]: this service has no attributes"]);
}

#[tokio::test]
async fn unknown_and_inactive_services_are_not_found_on_post() {
    let app = app();
    for code in ["9999", "0199"] {
        let body = good_with("service_code", Some(code));
        let e = post(&app, "/open311/v2/requests.json", body.clone())
            .await
            .json_errors(StatusCode::NOT_FOUND);
        assert_eq!(e, [format!("service_code {code} not found")]);
        let e = post(&app, "/open311/v2/requests.xml", body)
            .await
            .xml_errors(StatusCode::NOT_FOUND);
        assert_eq!(e, [format!("service_code {code} not found")]);
    }
}

#[tokio::test]
async fn oversize_and_foreign_bodies_are_refused() {
    let app = app();
    let big = format!(
        "{}&attribute[pad]={}",
        good_with("x", None),
        "x".repeat(MAX_BODY_BYTES)
    );
    let e = post(&app, "/open311/v2/requests.json", big.clone())
        .await
        .json_errors(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(e, ["the body is larger than 64 KiB"]);

    // Without a Content-Length, streamed: cut off at the limit all the same.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(4096)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let req = Request::post("/open311/v2/requests.xml")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    assert!(req.headers().get(header::CONTENT_LENGTH).is_none());
    send(&app.router, req)
        .await
        .xml_errors(StatusCode::PAYLOAD_TOO_LARGE);

    let req = Request::post("/open311/v2/requests.json")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"service_code":"0101"}"#))
        .unwrap();
    let e = send(&app.router, req)
        .await
        .json_errors(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(e, ["the body must be application/x-www-form-urlencoded"]);
}

#[tokio::test]
async fn unknown_formats_resources_and_methods() {
    let app = app();
    for uri in [
        "/open311/v2/services.html",
        "/open311/v2/services",
        "/open311/v2/services.JSON",
        "/open311/v2/services/0101.yaml",
        "/open311/v2/requests/abc",
        "/open311/v2/tokens/abc.csv",
        "/open311/v2/nothing.json",
        "/open311/v2/a/b/c.json",
    ] {
        let e = get(&app, uri).await.json_errors(StatusCode::NOT_FOUND);
        assert_eq!(e, [format!("resource {uri} not found")]);
    }
    let e = get(&app, "/open311/v2/nothing.xml")
        .await
        .xml_errors(StatusCode::NOT_FOUND);
    assert_eq!(e, ["resource /open311/v2/nothing.xml not found"]);
    let e = post(&app, "/open311/v2/requests.yaml", GOOD)
        .await
        .json_errors(StatusCode::NOT_FOUND);
    assert_eq!(e.len(), 1);

    let a = post(&app, "/open311/v2/services.xml", "").await;
    assert_eq!(a.headers[header::ALLOW], "GET");
    a.xml_errors(StatusCode::METHOD_NOT_ALLOWED);
    let req = Request::builder()
        .method(Method::DELETE)
        .uri("/open311/v2/requests.json")
        .body(Body::empty())
        .unwrap();
    let a = send(&app.router, req).await;
    assert_eq!(a.headers[header::ALLOW], "GET, POST");
    a.json_errors(StatusCode::METHOD_NOT_ALLOWED);
    let a = post(&app, "/open311/v2/requests/abc.json", GOOD).await;
    assert_eq!(a.headers[header::ALLOW], "GET");
    a.json_errors(StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn bad_query_parameters_are_named() {
    let app = app();
    let e = get(
        &app,
        "/open311/v2/requests.json?status=pending&start_date=yesterday&service_code=%FF",
    )
    .await
    .json_errors(StatusCode::BAD_REQUEST);
    let fields: Vec<_> = e.iter().map(|d| d.split(':').next().unwrap()).collect();
    assert_eq!(fields, ["service_code", "status", "start_date"]);
    let e = get(
        &app,
        "/open311/v2/requests.xml?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
    )
    .await
    .xml_errors(StatusCode::BAD_REQUEST);
    assert_eq!(e, ["end_date: is more than 90 days after start_date"]);
    let e = get(&app, "/open311/v2/requests/a%01b.json")
        .await
        .json_errors(StatusCode::BAD_REQUEST);
    assert_eq!(
        e,
        ["service_request_id: must not contain spaces or control characters"]
    );
    let e = get(&app, "/open311/v2/tokens/%C3.xml")
        .await
        .xml_errors(StatusCode::BAD_REQUEST);
    assert_eq!(e, ["token: is not valid UTF-8"]);
}

#[tokio::test]
async fn text_survives_both_formats() {
    let app = app();
    let nasty = "<b>\"窨井盖\" & 'cover'</b>\r\n]]> ?>";
    let encoded: String = nasty.bytes().map(|b| format!("%{b:02X}")).collect();
    let (id, _) = {
        let a = post(
            &app,
            "/open311/v2/requests.json",
            good_with("description", Some(&encoded)),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        (
            a.json()[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_owned(),
            (),
        )
    };
    let v = get(
        &app,
        &format!("/open311/v2/requests/{id}.json?api_key={KEY}"),
    )
    .await
    .json();
    assert_eq!(v[0]["description"], nasty);
    let x = get(
        &app,
        &format!("/open311/v2/requests/{id}.xml?api_key={KEY}"),
    )
    .await
    .xml();
    assert_eq!(x.child("request").text_of("description"), nasty);
}

#[tokio::test]
async fn backend_failures_map_to_status_codes() {
    let app = app();
    app.backend
        .fail_next(BackendError::Unavailable("store down".into()));
    let e = get(&app, "/open311/v2/services.json")
        .await
        .json_errors(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(e, ["the service is unavailable, try again later"]);

    app.backend
        .fail_next(BackendError::Internal("secret detail".into()));
    let a = get(&app, "/open311/v2/services.xml").await;
    assert!(!a.body.contains("secret"), "internals are logged, not sent");
    assert_eq!(
        a.xml_errors(StatusCode::INTERNAL_SERVER_ERROR),
        ["internal error"]
    );

    app.backend
        .fail_next(BackendError::Forbidden("this app may not submit".into()));
    let e = post(&app, "/open311/v2/requests.json", good_with("x", None))
        .await
        .json_errors(StatusCode::FORBIDDEN);
    assert_eq!(e, ["this app may not submit"]);
}

#[tokio::test]
async fn discovery_in_both_formats() {
    let app = app();
    let req = Request::get("/open311/v2/discovery.json")
        .header(header::HOST, "wuzhang.example.cn:8080")
        .body(Body::empty())
        .unwrap();
    let v = send(&app.router, req).await.json();
    let e = &v["endpoints"][0];
    assert_eq!(e["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(e["url"], "http://wuzhang.example.cn:8080/open311/v2");
    assert_eq!(e["type"], "production");
    assert_eq!(
        e["formats"],
        serde_json::json!(["text/xml", "application/json"])
    );
    for field in ["changeset", "contact", "key_service"] {
        assert!(v[field].as_str().is_some_and(|s| !s.is_empty()), "{field}");
    }
    let x = get(&app, "/open311/v2/discovery.xml").await.xml();
    assert_eq!(x.name, "discovery");
    let e = x.child("endpoints").child("endpoint");
    assert_eq!(e.text_of("url"), "http://localhost/open311/v2");
    let formats: Vec<_> = e
        .child("formats")
        .children
        .iter()
        .map(|f| f.text.as_str())
        .collect();
    assert_eq!(formats, ["text/xml", "application/json"]);
}
