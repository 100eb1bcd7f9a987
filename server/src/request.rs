//! One HTTP request as plain Rust data, decoded before the VM is involved: the query string, the
//! JSON / urlencoded / multipart body, the headers. Handlers see it through the request-scoped
//! built-ins (`body form args files req headers request`), built from this under the VM lock.

use bytes::Bytes;
use hyper::HeaderMap;

use crate::json::Json;
use crate::router::parse_query;

/// An uploaded file of a multipart request.
#[derive(Clone, Debug)]
pub struct UploadedFile {
    pub field: String,
    pub filename: String,
    pub content_type: String,
    pub data: Bytes,
}

/// Everything a handler may look at.
#[derive(Debug)]
pub struct RequestData {
    pub method: String,
    /// The path without the query string, still percent-encoded as sent.
    pub path: String,
    pub query: String,
    pub remote_addr: String,
    pub headers: HeaderMap,
    /// The parsed JSON body (`None` without a JSON body).
    pub json: Option<Json>,
    /// Query parameters in order (decoded).
    pub args: Vec<(String, String)>,
    /// Form fields in order (urlencoded and multipart text fields).
    pub form: Vec<(String, String)>,
    pub files: Vec<UploadedFile>,
    /// The raw body bytes.
    pub raw: Bytes,
}

impl RequestData {
    /// `http://host/path?query` as the client addressed it (built on demand: few handlers ask).
    pub fn url(&self) -> String {
        let host = self.headers.get(hyper::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let mut url = String::with_capacity(8 + host.len() + self.path.len() + self.query.len() + 1);
        for part in ["http://", host, self.path.as_str()] {
            url.push_str(part);
        }
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&self.query);
        }
        url
    }
}

/// What kind of body a `Content-Type` announces.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
    /// Multipart with its boundary.
    Multipart(String),
    Other,
}

pub fn body_kind(content_type: Option<&str>) -> BodyKind {
    let Some(ct) = content_type else { return BodyKind::Other };
    let mut parts = ct.split(';');
    // Compared without lowering a copy (this runs for every request with a body).
    let mime = parts.next().unwrap_or("").trim();
    let is = |m: &str| mime.eq_ignore_ascii_case(m);
    let has_prefix = |p: &str| mime.len() >= p.len() && mime.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    let has_suffix = |x: &str| mime.len() >= x.len() && mime.as_bytes()[mime.len() - x.len()..].eq_ignore_ascii_case(x.as_bytes());
    if is("application/json") || (has_prefix("application/") && has_suffix("+json")) {
        return BodyKind::Json;
    }
    if is("application/x-www-form-urlencoded") {
        return BodyKind::Form;
    }
    if is("multipart/form-data") {
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("boundary") {
                    return BodyKind::Multipart(v.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    BodyKind::Other
}

/// Why a body was refused (the framework answers 400).
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    InvalidJson,
    InvalidMultipart,
}

/// Decode the body according to its content type into `req`.
pub fn decode_body(req: &mut RequestData, content_type: Option<&str>) -> Result<(), BodyError> {
    if req.raw.is_empty() {
        return Ok(());
    }
    match body_kind(content_type) {
        BodyKind::Json => {
            // A JSON body that is only whitespace counts as no body.
            if req.raw.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(());
            }
            let text = req.raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&req.raw);
            req.json = Some(crate::json::parse(text).map_err(|_| BodyError::InvalidJson)?);
        }
        BodyKind::Form => {
            let text = String::from_utf8_lossy(&req.raw);
            req.form = parse_query(&text);
        }
        BodyKind::Multipart(boundary) => {
            let (fields, files) = parse_multipart(&req.raw, &boundary).ok_or(BodyError::InvalidMultipart)?;
            req.form = fields;
            req.files = files;
        }
        BodyKind::Other => {}
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// A `name="value"` parameter of a `Content-Disposition` header.
fn disposition_param(h: &str, name: &str) -> Option<String> {
    let mut rest = h;
    while let Some(i) = rest.find(';') {
        rest = &rest[i + 1..];
        let part = rest.split(';').next().unwrap_or("").trim();
        if let Some((k, v)) = part.split_once('=') {
            if k.trim().eq_ignore_ascii_case(name) {
                let v = v.trim();
                if let Some(q) = v.strip_prefix('"') {
                    // Quoted: up to the closing quote (quotes inside are escaped as \").
                    let full = &rest[rest.find('"').map(|x| x + 1).unwrap_or(0)..];
                    let mut out = String::new();
                    let mut chars = full.chars();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some(n) = chars.next() {
                                    out.push(n)
                                }
                            }
                            '"' => return Some(out),
                            c => out.push(c),
                        }
                    }
                    let _ = q;
                    return Some(out);
                }
                return Some(v.to_string());
            }
        }
    }
    None
}

/// Parse a `multipart/form-data` body: text fields and files, in order.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Option<(Vec<(String, String)>, Vec<UploadedFile>)> {
    if boundary.is_empty() || boundary.len() > 200 {
        return None;
    }
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut fields = Vec::new();
    let mut files = Vec::new();
    let mut pos = find(body, delim, 0)? + delim.len();
    loop {
        // After a delimiter: "--" ends the body, otherwise CRLF and a part.
        if body[pos..].starts_with(b"--") {
            return Some((fields, files));
        }
        if body[pos..].starts_with(b"\r\n") {
            pos += 2;
        } else if body[pos..].starts_with(b"\n") {
            pos += 1;
        }
        let head_end = find(body, b"\r\n\r\n", pos).map(|i| (i, 4)).or_else(|| find(body, b"\n\n", pos).map(|i| (i, 2)))?;
        let head = String::from_utf8_lossy(&body[pos..head_end.0]).into_owned();
        let data_start = head_end.0 + head_end.1;
        let mut next_delim = Vec::with_capacity(delim.len() + 2);
        next_delim.extend_from_slice(b"\r\n");
        next_delim.extend_from_slice(delim);
        let (data_end, after) = match find(body, &next_delim, data_start) {
            Some(i) => (i, i + next_delim.len()),
            None => {
                let mut nl = vec![b'\n'];
                nl.extend_from_slice(delim);
                let i = find(body, &nl, data_start)?;
                (i, i + nl.len())
            }
        };
        let data = &body[data_start..data_end];
        let mut name = None;
        let mut filename = None;
        let mut ctype = String::from("application/octet-stream");
        for line in head.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = disposition_param(v, "name");
                filename = disposition_param(v, "filename");
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                ctype = v.trim().to_string();
            }
        }
        if let Some(name) = name {
            match filename {
                Some(f) => files.push(UploadedFile { field: name, filename: f, content_type: ctype, data: Bytes::copy_from_slice(data) }),
                None => fields.push((name, String::from_utf8_lossy(data).into_owned())),
            }
        }
        pos = after;
        if pos >= body.len() {
            return Some((fields, files));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(body_kind(Some("application/json; charset=utf-8")), BodyKind::Json);
        assert_eq!(body_kind(Some("application/vnd.api+json")), BodyKind::Json);
        assert_eq!(body_kind(Some("text/plain")), BodyKind::Other);
        assert_eq!(body_kind(Some(" Application/JSON ")), BodyKind::Json);
        assert_eq!(body_kind(Some("APPLICATION/Problem+JSON")), BodyKind::Json);
        assert_eq!(body_kind(Some("+json")), BodyKind::Other);
        assert_eq!(body_kind(Some("Application/X-WWW-Form-Urlencoded")), BodyKind::Form);
        assert_eq!(body_kind(Some("Multipart/Form-Data; Boundary=x")), BodyKind::Multipart("x".into()));
        assert_eq!(body_kind(Some("multipart/form-data; boundary=\"abc\"")), BodyKind::Multipart("abc".into()));
    }

    #[test]
    fn multipart() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a b.txt\"\r\nContent-Type: text/plain\r\n\r\nline1\r\nline2\r\n--XyZ--\r\n";
        let (fields, files) = parse_multipart(body, "XyZ").unwrap();
        assert_eq!(fields, vec![("title".to_string(), "Hello".to_string())]);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].filename, "a b.txt");
        assert_eq!(files[0].content_type, "text/plain");
        assert_eq!(&files[0].data[..], b"line1\r\nline2");
        assert!(parse_multipart(b"garbage", "XyZ").is_none());
    }
}
