//! Validation at the edge: form fields and query parameters become typed values, or a list
//! of errors each naming its field. Every error the request has is reported at once.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use wuzhang_domain::FieldError;
use wuzhang_domain::category::CategoryCode;
use wuzhang_domain::point::{Crs, GeoPoint};
use wuzhang_domain::ticket::{MAX_DESCRIPTION_CHARS, check_text};

use crate::backend::{DEFAULT_WINDOW, MAX_REQUESTS, NewServiceRequest, RequestFilter};
use crate::form::Fields;
use crate::render::parse_w3c;

/// Longest `media_url`.
pub const MAX_MEDIA_URL_CHARS: usize = 512;
/// Longest `address_string`.
pub const MAX_ADDRESS_CHARS: usize = 500;
/// Longest identifier: `address_id`, `device_id`, `account_id`, request ids and tokens.
pub const MAX_ID_CHARS: usize = 128;
/// Longest `first_name` or `last_name`.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest `email` (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest `phone`.
pub const MAX_PHONE_CHARS: usize = 32;
/// Most `attribute[…]` fields in one request, and the longest value of one.
pub const MAX_ATTRIBUTES: usize = 50;
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 500;

/// A POST requests form, api_key aside (the caller has checked it first).
pub(crate) fn new_request(fields: &Fields) -> Result<NewServiceRequest, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = fields
        .errors
        .iter()
        .filter(|e| e.field != "api_key")
        .cloned()
        .collect();

    let service_code = match required(fields, "service_code", &mut errors) {
        Some(v) => CategoryCode::new(v)
            .map_err(|e| errors.push(FieldError::new("service_code", e.reason)))
            .ok(),
        None => None,
    };

    let lat = coordinate(fields, "lat", 90.0, &mut errors);
    let long = coordinate(fields, "long", 180.0, &mut errors);
    let point = match (lat, long) {
        (Some(lat), Some(long)) => match GeoPoint::new(lat, long, Crs::Wgs84) {
            Ok(p) => Some(p),
            Err(e) => {
                let field = if e.field == "lng" { "long" } else { "lat" };
                errors.push(FieldError::new(field, e.reason));
                None
            }
        },
        (Some(_), None) if !errors.iter().any(|e| e.field == "long") => {
            errors.push(FieldError::new("long", "is required when lat is given"));
            None
        }
        (None, Some(_)) if !errors.iter().any(|e| e.field == "lat") => {
            errors.push(FieldError::new("lat", "is required when long is given"));
            None
        }
        _ => None,
    };

    let address_string = text(fields, "address_string", MAX_ADDRESS_CHARS, &mut errors);
    let address_id = text(fields, "address_id", MAX_ID_CHARS, &mut errors);
    let location_fields = ["lat", "long", "address_string", "address_id"];
    let location_errors = errors
        .iter()
        .any(|e| location_fields.contains(&e.field.as_str()));
    if point.is_none() && address_string.is_none() && address_id.is_none() && !location_errors {
        errors.push(FieldError::new(
            "location",
            "is required: give lat and long, address_string or address_id",
        ));
    }

    let description = match required(fields, "description", &mut errors) {
        Some(v) => {
            let v = v.trim();
            match check_text("description", v, MAX_DESCRIPTION_CHARS, true) {
                Ok(()) => Some(v.to_owned()),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        }
        None => None,
    };

    let email = checked(fields, "email", &mut errors, check_email);
    let phone = checked(fields, "phone", &mut errors, check_phone);
    let media_url = checked(fields, "media_url", &mut errors, check_media_url);
    let device_id = text(fields, "device_id", MAX_ID_CHARS, &mut errors);
    let account_id = text(fields, "account_id", MAX_ID_CHARS, &mut errors);
    let first_name = text(fields, "first_name", MAX_NAME_CHARS, &mut errors);
    let last_name = text(fields, "last_name", MAX_NAME_CHARS, &mut errors);
    let attributes = attributes(fields, &mut errors);

    match (service_code, description) {
        (Some(service_code), Some(description)) if errors.is_empty() => Ok(NewServiceRequest {
            service_code,
            point,
            address_string,
            address_id,
            email,
            device_id,
            account_id,
            first_name,
            last_name,
            phone,
            description,
            media_url,
            attributes,
        }),
        _ => {
            debug_assert!(!errors.is_empty(), "a missing field was reported");
            Err(errors)
        }
    }
}

/// The filters of GET requests at `now`, with the spec's defaults: the last 90 days when
/// no date is given, 90 days from the one date given, never more than 90 days apart.
pub(crate) fn request_filter(
    fields: &Fields,
    now: OffsetDateTime,
) -> Result<RequestFilter, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = fields
        .errors
        .iter()
        .filter(|e| e.field != "api_key")
        .cloned()
        .collect();

    let ids: Vec<String> = fields
        .list("service_request_id")
        .into_iter()
        .filter_map(|id| match check_id("service_request_id", id) {
            Ok(()) => Some(id.to_owned()),
            Err(e) => {
                errors.push(e);
                None
            }
        })
        .collect();
    if ids.len() > MAX_REQUESTS {
        errors.push(FieldError::new(
            "service_request_id",
            format!("at most {MAX_REQUESTS} ids at once"),
        ));
    }

    let mut service_codes = Vec::new();
    for code in fields.list("service_code") {
        match CategoryCode::new(code) {
            Ok(c) if !service_codes.contains(&c) => service_codes.push(c),
            Ok(_) => {}
            Err(e) => errors.push(FieldError::new("service_code", e.reason)),
        }
    }
    let mut statuses = Vec::new();
    for status in fields.list("status") {
        match status.parse() {
            Ok(s) if !statuses.contains(&s) => statuses.push(s),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }

    let mut date = |name: &str| match fields.single(name) {
        Ok(Some(v)) => parse_w3c(v)
            .map_err(|reason| errors.push(FieldError::new(name, reason)))
            .ok(),
        Ok(None) => None,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let (start, end) = (date("start_date"), date("end_date"));
    let (start_date, end_date) = match (start, end) {
        (None, None) => (now - DEFAULT_WINDOW, now),
        (Some(s), None) => (s, s + DEFAULT_WINDOW),
        (None, Some(e)) => (e - DEFAULT_WINDOW, e),
        (Some(s), Some(e)) => {
            if e < s {
                errors.push(FieldError::new("end_date", "is before start_date"));
            } else if e - s > DEFAULT_WINDOW {
                errors.push(FieldError::new(
                    "end_date",
                    "is more than 90 days after start_date",
                ));
            }
            (s, e)
        }
    };

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RequestFilter {
        service_request_ids: ids,
        service_codes,
        start_date,
        end_date,
        statuses,
        limit: MAX_REQUESTS,
    })
}

/// A request id or token from a path: non-empty, bounded, printable.
pub(crate) fn check_id(field: &str, id: &str) -> Result<(), FieldError> {
    if id.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_ID_CHARS} characters"),
        ));
    }
    if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(FieldError::new(
            field,
            "must not contain spaces or control characters",
        ));
    }
    Ok(())
}

/// A field that must be there; reports it missing unless it was sent garbled (which is
/// reported already).
fn required<'a>(fields: &'a Fields, name: &str, errors: &mut Vec<FieldError>) -> Option<&'a str> {
    match fields.single(name) {
        Ok(Some(v)) => Some(v),
        Ok(None) if fields.is_garbled(name) => None,
        Ok(None) => {
            errors.push(FieldError::new(name, "is required"));
            None
        }
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// An optional free-text field: no control characters, at most `max` characters.
fn text(fields: &Fields, name: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    checked(fields, name, errors, |v| {
        check_text(name, v, max, false).map_err(|e| e.reason)
    })
}

/// An optional field checked by `check`, which says what is wrong with a value.
fn checked(
    fields: &Fields,
    name: &str,
    errors: &mut Vec<FieldError>,
    check: impl Fn(&str) -> Result<(), String>,
) -> Option<String> {
    match fields.single(name) {
        Ok(Some(v)) => match check(v) {
            Ok(()) => Some(v.to_owned()),
            Err(reason) => {
                errors.push(FieldError::new(name, reason));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// `lat` or `long`: a finite number within `±limit` degrees.
fn coordinate(
    fields: &Fields,
    name: &str,
    limit: f64,
    errors: &mut Vec<FieldError>,
) -> Option<f64> {
    let raw = match fields.single(name) {
        Ok(Some(v)) => v.trim(),
        Ok(None) => return None,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let reason = match raw.parse::<f64>() {
        Ok(v) if !v.is_finite() => "must be a finite number".to_owned(),
        Ok(v) if v.abs() > limit => format!("{v} is outside [-{limit}, {limit}]"),
        Ok(v) => return Some(v),
        Err(_) => format!("{raw:?} is not a number"),
    };
    errors.push(FieldError::new(name, reason));
    None
}

fn check_email(v: &str) -> Result<(), String> {
    let bad = || Err("is not an email address like name@example.com".to_owned());
    if v.chars().count() > MAX_EMAIL_CHARS {
        return Err(format!("must be at most {MAX_EMAIL_CHARS} characters"));
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad();
    }
    let Some((local, domain)) = v.split_once('@') else {
        return bad();
    };
    let labels_ok = domain.split('.').all(|l| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    if local.is_empty() || local.len() > 64 || !domain.contains('.') || !labels_ok {
        return bad();
    }
    Ok(())
}

fn check_phone(v: &str) -> Result<(), String> {
    if v.chars().count() > MAX_PHONE_CHARS {
        return Err(format!("must be at most {MAX_PHONE_CHARS} characters"));
    }
    let allowed = v
        .char_indices()
        .all(|(i, c)| c.is_ascii_digit() || " -().".contains(c) || (c == '+' && i == 0));
    let digits = v.chars().filter(char::is_ascii_digit).count();
    if !allowed || !(3..=20).contains(&digits) {
        return Err("is not a phone number: digits, spaces, - ( ) . and a leading +".into());
    }
    Ok(())
}

fn check_media_url(v: &str) -> Result<(), String> {
    if v.chars().count() > MAX_MEDIA_URL_CHARS {
        return Err(format!("must be at most {MAX_MEDIA_URL_CHARS} characters"));
    }
    let lower = v.get(..8).unwrap_or(v).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &v[8..]
    } else if lower.starts_with("http://") {
        &v[7..]
    } else {
        return Err("must be an http:// or https:// URL".into());
    };
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err("must name a host".into());
    }
    Ok(())
}

/// `attribute[code]=value` and `attribute[code][]=value` (a multivaluelist).
fn attributes(fields: &Fields, errors: &mut Vec<FieldError>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut count = 0;
    for (name, values) in fields.with_prefix("attribute[") {
        let inner = &name["attribute[".len()..];
        let code = match inner.split_once(']') {
            Some((code, "" | "[]")) => code,
            _ => {
                errors.push(FieldError::new(
                    name,
                    "must be attribute[code] or attribute[code][]",
                ));
                continue;
            }
        };
        if let Err(e) = check_id(name, code) {
            errors.push(FieldError::new(name, format!("code {}", e.reason)));
            continue;
        }
        for v in values.iter().filter(|v| !v.is_empty()) {
            count += 1;
            match check_text(name, v, MAX_ATTRIBUTE_VALUE_CHARS, false) {
                Ok(()) => out.entry(code.to_owned()).or_default().push(v.clone()),
                Err(e) => errors.push(e),
            }
        }
    }
    if count > MAX_ATTRIBUTES {
        errors.push(FieldError::new(
            "attribute",
            format!("at most {MAX_ATTRIBUTES} values"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    fn fields_of(form: &str) -> Vec<String> {
        match new_request(&Fields::parse(form.as_bytes())) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn a_good_request_passes() {
        let r = new_request(&Fields::parse(
            "service_code=0101&lat=43.88&long=125.32&description=++%E6%9C%89%E5%9E%83%E5%9C%BE+\
             &email=a%40b.cn&phone=%2B86+138-0000-0000&media_url=https%3A%2F%2Fimg.example.cn%2F1.jpg\
             &attribute[a]=1&attribute[b][]=2&attribute[b][]=3&jurisdiction_id=cc.gov.cn"
                .as_bytes(),
        ))
        .unwrap();
        assert_eq!(r.service_code.as_str(), "0101");
        assert_eq!(r.description, "有垃圾", "trimmed");
        assert_eq!(r.point.unwrap().lat(), 43.88);
        assert_eq!(r.attributes["b"], ["2", "3"]);
        assert_eq!(r.phone.as_deref(), Some("+86 138-0000-0000"));
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(fields_of(""), ["service_code", "location", "description"]);
        assert_eq!(
            fields_of("service_code=01&lat=NaN&long=1&description=x"),
            ["lat"]
        );
        assert_eq!(
            fields_of("service_code=01&lat=91&long=inf&description=x"),
            ["lat", "long"]
        );
        assert_eq!(fields_of("service_code=01&lat=1&description=x"), ["long"]);
        assert_eq!(
            fields_of("service_code=0+1&address_id=9&description=+++"),
            ["service_code", "description"]
        );
        assert_eq!(
            fields_of("service_code=01&address_string=x&description=%FF"),
            ["description"]
        );
        assert_eq!(
            fields_of("service_code=%C0%AF&address_string=x&description=d"),
            ["service_code"]
        );
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert_eq!(
            fields_of(&format!("service_code=01&address_id=1&description={long}")),
            ["description"]
        );
        assert_eq!(
            fields_of("service_code=01&address_id=1&description=d&description=e"),
            ["description"]
        );
        for bad in ["ftp://x/y", "https://", "http://a b", "javascript:alert(1)"] {
            let bad = bad.replace(' ', "%20");
            assert_eq!(
                fields_of(&format!(
                    "service_code=01&address_id=1&description=d&media_url={bad}"
                )),
                ["media_url"],
                "{bad}"
            );
        }
        let long_url = format!("https://a.cn/{}", "x".repeat(MAX_MEDIA_URL_CHARS));
        assert_eq!(
            fields_of(&format!(
                "service_code=01&address_id=1&description=d&media_url={long_url}"
            )),
            ["media_url"]
        );
        for bad in ["a", "a@b", "@b.cn", "a@b..cn", "a b@c.cn"] {
            assert_eq!(
                fields_of(&format!(
                    "service_code=01&address_id=1&description=d&email={bad}"
                )),
                ["email"],
                "{bad}"
            );
        }
        for bad in ["12", "call me", "138%2B000", &"1".repeat(33)] {
            assert_eq!(
                fields_of(&format!(
                    "service_code=01&address_id=1&description=d&phone={bad}"
                )),
                ["phone"],
                "{bad}"
            );
        }
        assert_eq!(
            fields_of("service_code=01&address_id=1&description=d&attribute[x=1"),
            ["attribute[x"]
        );
    }

    #[test]
    fn filters_get_the_spec_defaults() {
        let now = datetime!(2026-06-01 0:00 UTC);
        let f = request_filter(&Fields::parse(b""), now).unwrap();
        assert_eq!(f, RequestFilter::recent(now));

        let f = request_filter(
            &Fields::parse(
                b"start_date=2026-01-01T00:00:00Z&status=open,closed,open&service_code=01,02",
            ),
            now,
        )
        .unwrap();
        assert_eq!(f.start_date, datetime!(2026-01-01 0:00 UTC));
        assert_eq!(
            f.end_date,
            datetime!(2026-01-01 0:00 UTC) + Duration::days(90)
        );
        assert_eq!(f.statuses.len(), 2);
        assert_eq!(f.service_codes.len(), 2);

        let f =
            request_filter(&Fields::parse(b"end_date=2026-03-01T08:00:00%2B08:00"), now).unwrap();
        assert_eq!(f.end_date, datetime!(2026-03-01 0:00 UTC));
        assert_eq!(f.start_date, f.end_date - Duration::days(90));

        let f = request_filter(&Fields::parse(b"service_request_id=a,+b"), now).unwrap();
        assert_eq!(f.service_request_ids, ["a", "b"]);

        let errs = request_filter(
            &Fields::parse(
                b"start_date=2026-01-01T00:00:00Z&end_date=2026-05-01T00:00:00Z&status=gone&service_code=%2A",
            ),
            now,
        )
        .unwrap_err();
        let names: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["service_code", "status", "end_date"]);
        let errs = request_filter(&Fields::parse(b"start_date=soon"), now).unwrap_err();
        assert_eq!(errs[0].field, "start_date");
    }
}
