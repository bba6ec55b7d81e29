//! `application/x-www-form-urlencoded` bodies and query strings, decoded by hand.
//!
//! Why not `form_urlencoded` or axum's `Form`: both decode invalid UTF-8 lossily (or fail
//! the whole body with one generic message), and the edge must answer 400 naming the very
//! field whose bytes are not UTF-8.

use std::collections::BTreeMap;
use std::ops::Bound;

use wuzhang_domain::FieldError;

/// The fields of a form or query string: each name with every value it was given, in
/// order. Names and values that were not UTF-8 are kept out and reported in `errors`.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    values: BTreeMap<String, Vec<String>>,
    /// One error per field that had bytes which are not UTF-8.
    pub(crate) errors: Vec<FieldError>,
}

impl Fields {
    /// Splits `input` on `&`, then each pair on its first `=`, decoding `+` and `%XX`.
    /// A `%` not followed by two hex digits stays as it is, as browsers do.
    pub(crate) fn parse(input: &[u8]) -> Self {
        let mut fields = Fields::default();
        for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            let name = match String::from_utf8(decode(name, true)) {
                Ok(name) => name,
                Err(e) => {
                    let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    fields.invalid_utf8(lossy);
                    continue;
                }
            };
            match String::from_utf8(decode(value, true)) {
                Ok(value) => fields.values.entry(name).or_default().push(value),
                Err(_) => fields.invalid_utf8(name),
            }
        }
        fields
    }

    fn invalid_utf8(&mut self, name: String) {
        if !self.errors.iter().any(|e| e.field == name) {
            self.errors
                .push(FieldError::new(name, "is not valid UTF-8"));
        }
    }

    /// Whether the field was sent with bytes that are not UTF-8.
    pub(crate) fn is_garbled(&self, name: &str) -> bool {
        self.errors.iter().any(|e| e.field == name)
    }

    /// A field that may appear once. Empty means absent (the spec's "Optional Arguments").
    pub(crate) fn single(&self, name: &str) -> Result<Option<&str>, FieldError> {
        match self.values.get(name).map(Vec::as_slice) {
            None => Ok(None),
            Some([one]) => Ok(Some(one.as_str()).filter(|v| !v.is_empty())),
            Some(_) => Err(FieldError::new(name, "was given more than once")),
        }
    }

    /// A field that may be repeated and whose values may be comma-separated
    /// (`status=open,closed` or `status=open&status=closed`): every non-empty item, trimmed.
    pub(crate) fn list(&self, name: &str) -> Vec<&str> {
        self.values
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Every field whose name starts with `prefix`, with its values.
    pub(crate) fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a [String])> + 'a {
        self.values
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

/// Percent-decodes `input`; with `plus_is_space`, `+` is a space (forms and queries, not
/// paths).
pub(crate) fn decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => match (input.get(i + 1), input.get(i + 2)) {
                (Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    out.push(hex(h) << 4 | hex(l));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_percent_and_utf8() {
        let f = Fields::parse(b"a=1+2&b=%E6%9A%B4%E9%9C%B2&c=&d&e=50%&e=x");
        assert_eq!(f.single("a"), Ok(Some("1 2")));
        assert_eq!(f.single("b"), Ok(Some("暴露")));
        assert_eq!(f.single("c"), Ok(None), "empty means absent");
        assert_eq!(f.single("d"), Ok(None));
        assert_eq!(f.single("e").unwrap_err().field, "e");
        assert_eq!(f.single("zz"), Ok(None));
        assert!(f.errors.is_empty());
        assert_eq!(decode(b"50%+%zz%4", false), b"50%+%zz%4");
    }

    #[test]
    fn invalid_utf8_names_the_field() {
        let f = Fields::parse(b"description=%FF%FE&service_code=ok&%C3=1");
        assert_eq!(f.single("service_code"), Ok(Some("ok")));
        assert_eq!(f.single("description"), Ok(None));
        assert!(f.is_garbled("description"));
        let names: Vec<_> = f.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["description", "\u{FFFD}"]);
    }

    #[test]
    fn lists_split_on_commas_and_repeats() {
        let f = Fields::parse(
            b"status=open,+closed&status=open&attribute[a]=1&attribute[b][]=2&attributes=3",
        );
        assert_eq!(f.list("status"), ["open", "closed", "open"]);
        let attrs: Vec<_> = f.with_prefix("attribute[").map(|(k, _)| k).collect();
        assert_eq!(attrs, ["attribute[a]", "attribute[b][]"]);
    }
}
