//! Requests and responses as the emulator's surfaces see them, and the two error formats Microsoft
//! uses: Graph's `{"error":{…}}` and the token endpoint's AADSTS body.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};
use serde::Serialize;
use time::OffsetDateTime;

use crate::graph::models::{AadstsError, GraphErrorBody, GraphErrorDetail, GraphInnerError};

pub type Resp = Response<Full<Bytes>>;

/// The largest request body Graph accepts.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// A request whose body has been read and whose path has been split and decoded.
pub struct Req {
    pub method: Method,
    /// The path as sent (still percent-encoded), for logs and fault matching.
    pub raw_path: String,
    pub raw_query: String,
    /// Decoded path segments; `None` for a segment that is not UTF-8 once decoded.
    pub segments: Vec<Option<String>>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub request_id: String,
    pub client_request_id: Option<String>,
    pub now: OffsetDateTime,
}

impl Req {
    pub fn new(
        method: Method,
        raw_path: &str,
        raw_query: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Req {
        let segments = raw_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .ok()
                    .map(|c| c.into_owned())
            })
            .collect();
        let query = url::form_urlencoded::parse(raw_query.as_bytes())
            .into_owned()
            .collect();
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 200)
            .map(str::to_string);
        Req {
            method,
            raw_path: raw_path.to_string(),
            raw_query: raw_query.to_string(),
            segments,
            query,
            headers,
            body,
            request_id: uuid::Uuid::new_v4().to_string(),
            client_request_id,
            now: OffsetDateTime::now_utc(),
        }
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn bearer(&self) -> Option<&str> {
        let h = self.header("authorization")?;
        let (scheme, token) = h.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
    }

    /// The form fields of an `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    /// The path and query as a log line shows them.
    pub fn target(&self) -> String {
        if self.raw_query.is_empty() {
            self.raw_path.clone()
        } else {
            format!("{}?{}", self.raw_path, self.raw_query)
        }
    }
}

pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Date as Graph writes it in `innerError.date` (no fraction, no offset).
pub fn inner_date(now: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    now.format(&f).unwrap_or_default()
}

fn base(status: StatusCode, req: &Req, content_type: &'static str, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&req.request_id) {
        h.insert("request-id", v);
    }
    if let Some(c) = &req.client_request_id
        && let Ok(v) = HeaderValue::from_str(c)
    {
        h.insert("client-request-id", v);
    }
    r
}

pub fn json<T: Serialize>(status: StatusCode, req: &Req, body: &T) -> Resp {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    base(
        status,
        req,
        "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8",
        bytes.into(),
    )
}

pub fn no_content(req: &Req) -> Resp {
    let mut r = base(StatusCode::NO_CONTENT, req, "text/plain", Bytes::new());
    r.headers_mut().remove("content-type");
    r
}

pub fn text(status: StatusCode, req: &Req, content_type: &'static str, body: String) -> Resp {
    base(status, req, content_type, body.into())
}

/// Whether a presented secret (the control token, the app's client secret, a password) equals the
/// one held, in time that does not depend on where they first differ: a caller that can time the
/// answers learns nothing of the secret's prefix.
pub fn same_secret(presented: &str, held: &str) -> bool {
    let (a, b) = (presented.as_bytes(), held.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// A Graph error, as Graph sends it.
pub fn graph_error(status: StatusCode, req: &Req, code: &str, message: &str) -> Resp {
    let body = GraphErrorBody {
        error: GraphErrorDetail {
            code: code.to_string(),
            message: message.to_string(),
            inner_error: Some(GraphInnerError {
                date: Some(inner_date(req.now)),
                request_id: Some(req.request_id.clone()),
                client_request_id: Some(
                    req.client_request_id
                        .clone()
                        .unwrap_or_else(|| req.request_id.clone()),
                ),
            }),
        },
    };
    json(status, req, &body)
}

/// Graph's answer for a status injected or imposed on it (throttling, outages).
pub fn graph_status_error(status: StatusCode, req: &Req, retry_after: Option<&str>) -> Resp {
    let (code, message) = match status.as_u16() {
        429 => ("TooManyRequests", "Please retry again later."),
        503 => (
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        504 => (
            "GatewayTimeout",
            "The gateway did not receive a response in time.",
        ),
        502 => ("BadGateway", "The gateway received an invalid response."),
        500 => ("InternalServerError", "An internal server error occurred."),
        401 => (
            "InvalidAuthenticationToken",
            "Access token validation failure.",
        ),
        403 => (
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        404 => ("Request_ResourceNotFound", "Resource not found."),
        409 => (
            "Request_MultipleObjectsWithSameKeyValue",
            "Another object with the same value already exists.",
        ),
        _ => ("Request_BadRequest", "The request could not be processed."),
    };
    let body = serde_json::json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "code": status.as_u16().to_string(),
                "date": inner_date(req.now),
                "message": "Please retry after",
                "request-id": req.request_id,
                "client-request-id": req.client_request_id.clone().unwrap_or_else(|| req.request_id.clone()),
                "status": status.as_u16().to_string(),
            }
        }
    });
    let mut r = json(status, req, &body);
    if let Some(v) = retry_after.and_then(|ra| HeaderValue::from_str(ra).ok()) {
        r.headers_mut().insert("retry-after", v);
    }
    r
}

/// A token endpoint error in Entra's format, with the AADSTS code in the description.
pub fn aadsts(
    status: StatusCode,
    req: &Req,
    error: &str,
    code: u32,
    message: &str,
    login_url: &str,
) -> Resp {
    let ts = {
        let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
        req.now.format(&f).unwrap_or_default()
    };
    let correlation = req
        .client_request_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let body = AadstsError {
        error: error.to_string(),
        error_description: format!(
            "AADSTS{code}: {message}\r\nTrace ID: {}\r\nCorrelation ID: {correlation}\r\nTimestamp: {ts}",
            req.request_id
        ),
        error_codes: vec![code],
        timestamp: ts,
        trace_id: req.request_id.clone(),
        correlation_id: correlation,
        error_uri: Some(format!("{login_url}/error?code={code}")),
    };
    let mut r = json(status, req, &body);
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_compare_whole() {
        assert!(super::same_secret("rehearsal~abc", "rehearsal~abc"));
        for other in [
            "rehearsal~abd",
            "rehearsal~ab",
            "rehearsal~abcd",
            "",
            "xehearsal~abc",
        ] {
            assert!(!super::same_secret(other, "rehearsal~abc"), "{other}");
        }
    }
}
