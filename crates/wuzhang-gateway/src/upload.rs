//! A client-streaming upload (`UploadMedia`) from one HTTP request: its metadata from the
//! query string (or a form's text fields), its bytes from the raw body (or the form's file
//! part), sent to the RPC as the stream it takes: the metadata message, then the bytes in
//! pieces of at most 1 MiB. Read from the request message's shape, not its name: a oneof
//! of one message field (the metadata) and one `bytes` field (a piece).

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

use crate::request::{Violation, from_pairs};

/// The largest piece a message carries (the RPC's own limit per message).
const PIECE: usize = 1024 * 1024;

/// The two fields of an upload's request message.
#[derive(Debug, Clone)]
pub struct UploadShape {
    metadata: FieldDescriptor,
    chunk: FieldDescriptor,
}

impl UploadShape {
    /// The shape of `input` if it is an upload's: a oneof holding one message field and
    /// one bytes field.
    pub fn of(input: &MessageDescriptor) -> Option<Self> {
        input.oneofs().find_map(|oneof| {
            let fields: Vec<FieldDescriptor> = oneof.fields().collect();
            let metadata = fields
                .iter()
                .find(|f| matches!(f.kind(), Kind::Message(_)))?;
            let chunk = fields.iter().find(|f| f.kind() == Kind::Bytes)?;
            Some(Self {
                metadata: metadata.clone(),
                chunk: chunk.clone(),
            })
        })
    }

    fn metadata_type(&self) -> Option<MessageDescriptor> {
        match self.metadata.kind() {
            Kind::Message(m) => Some(m),
            _ => None,
        }
    }

    /// The framed stream for a raw body: the metadata from `query`, its content type from
    /// the request's `Content-Type` when the query does not name one.
    pub fn from_raw(
        &self,
        input: &MessageDescriptor,
        query: &str,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Bytes, Violation> {
        let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let meta = self
            .metadata_type()
            .ok_or_else(|| Violation::new("metadata", "no type"))?;
        if let Some(field) = meta.get_field_by_name("content_type")
            && !pairs
                .iter()
                .any(|(k, _)| k == field.name() || k == field.json_name())
            && let Some(ct) = headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
        {
            pairs.push(("content_type".into(), ct.to_owned()));
        }
        let metadata = from_pairs(
            &meta,
            self.metadata.name(),
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )?;
        self.frames(input, metadata, body)
    }

    /// The metadata message, then the bytes in pieces, each framed as gRPC frames it.
    pub fn frames(
        &self,
        input: &MessageDescriptor,
        metadata: DynamicMessage,
        body: &Bytes,
    ) -> Result<Bytes, Violation> {
        let mut out = BytesMut::new();
        let mut push = |m: DynamicMessage| -> Result<(), Violation> {
            let frame = crate::call::frame(&m.encode_to_vec())
                .map_err(|s| Violation::new("body", s.message().to_owned()))?;
            out.extend_from_slice(&frame);
            Ok(())
        };
        let mut first = DynamicMessage::new(input.clone());
        first.set_field(&self.metadata, Value::Message(metadata));
        push(first)?;
        for piece in body.chunks(PIECE) {
            let mut m = DynamicMessage::new(input.clone());
            m.set_field(&self.chunk, Value::Bytes(Bytes::copy_from_slice(piece)));
            push(m)?;
        }
        Ok(out.freeze())
    }

    /// The metadata message type, for a form's text fields.
    pub fn metadata(&self) -> (&str, Option<MessageDescriptor>) {
        (self.metadata.name(), self.metadata_type())
    }
}

/// The framed stream for a `multipart/form-data` body: text fields are the metadata's
/// (by proto or JSON name); the one file part is the bytes, and gives the metadata its
/// content type and file name where the text fields do not.
pub async fn from_form(
    shape: &UploadShape,
    input: &MessageDescriptor,
    content_type: &str,
    body: Bytes,
) -> Result<Bytes, Violation> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| {
        Violation::new("content-type", format!("multipart without a boundary: {e}"))
    })?;
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let (prefix, meta) = shape.metadata();
    let meta = meta.ok_or_else(|| Violation::new(prefix, "no type"))?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut file: Option<(Bytes, Option<String>, Option<String>)> = None;
    let broken = |e: multer::Error| Violation::new("body", format!("malformed multipart: {e}"));
    while let Some(part) = form.next_field().await.map_err(broken)? {
        let name = part.name().unwrap_or_default().to_owned();
        if part.file_name().is_some() || name == "file" {
            if file.is_some() {
                return Err(Violation::new("file", "one file per upload"));
            }
            let ct = part.content_type().map(ToString::to_string);
            let filename = part.file_name().map(str::to_owned);
            let bytes = part.bytes().await.map_err(broken)?;
            file = Some((bytes, ct, filename));
        } else {
            let value = part.text().await.map_err(broken)?;
            pairs.push((name, value));
        }
    }
    let (bytes, ct, filename) =
        file.ok_or_else(|| Violation::new("file", "the form has no file part"))?;
    for (field, value) in [("content_type", ct), ("filename", filename)] {
        if let (Some(f), Some(v)) = (meta.get_field_by_name(field), value)
            && !pairs
                .iter()
                .any(|(k, _)| k == f.name() || k == f.json_name())
        {
            pairs.push((f.name().to_owned(), v));
        }
    }
    let metadata = from_pairs(
        &meta,
        prefix,
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )?;
    shape.frames(input, metadata, &bytes)
}
