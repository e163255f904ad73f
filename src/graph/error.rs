//! Graph errors keep what an administrator and Microsoft support need: status, Graph's code and
//! message, the `request-id` and the date.

use reqwest::{Method, StatusCode};
use url::Url;

use crate::auth::AuthError;
use crate::graph::models::GraphErrorBody;

/// An error answer from Graph, with what support asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub date: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: HTTP {} {}: {}",
            self.method, self.path, self.status, self.code, self.message
        )?;
        if let Some(r) = &self.request_id {
            write!(
                f,
                " (request-id {r}{})",
                self.date
                    .as_ref()
                    .map(|d| format!(", {d}"))
                    .unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("{0}")]
    Api(Box<ApiError>),
    #[error("{method} {path}: {detail}{}", if *outcome_unknown { " — the request may have been applied: read the state back before deciding" } else { "" })]
    Transport {
        method: String,
        path: String,
        detail: String,
        outcome_unknown: bool,
    },
    #[error("{method} {path}: the answer could not be read: {detail}")]
    Decode {
        method: String,
        path: String,
        detail: String,
    },
    #[error("{0}")]
    BadUrl(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl GraphError {
    pub(crate) fn from_response(
        method: &Method,
        url: &Url,
        status: StatusCode,
        request_id: Option<String>,
        body: &str,
    ) -> GraphError {
        let parsed = serde_json::from_str::<GraphErrorBody>(body)
            .ok()
            .filter(|b| !b.error.code.is_empty());
        let (code, message, date, rid) = match parsed {
            Some(b) => {
                let inner = b.error.inner_error.unwrap_or_default();
                (b.error.code, b.error.message, inner.date, inner.request_id)
            }
            // Not Graph's JSON (a proxy's HTML page, say): keep the status and a piece of the body.
            None => (
                status.canonical_reason().unwrap_or("error").to_string(),
                body.chars()
                    .take(200)
                    .collect::<String>()
                    .trim()
                    .to_string(),
                None,
                None,
            ),
        };
        GraphError::Api(Box::new(ApiError {
            method: method.to_string(),
            path: url.path().to_string(),
            status: status.as_u16(),
            code,
            message,
            request_id: request_id.or(rid),
            date,
        }))
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Api(a) => Some(a.status),
            _ => None,
        }
    }

    /// Graph's `request-id` of an error answer, for support.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            GraphError::Api(a) => a.request_id.as_deref(),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Api(a) => Some(&a.code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_status_when_the_body_is_not_json() {
        let url = Url::parse("https://graph.microsoft.com/v1.0/domains").unwrap();
        let e = GraphError::from_response(
            &Method::GET,
            &url,
            StatusCode::BAD_GATEWAY,
            Some("r1".into()),
            "<html>Bad gateway</html>",
        );
        let text = e.to_string();
        assert!(text.contains("HTTP 502"), "{text}");
        assert!(text.contains("request-id r1"), "{text}");
        let body = r#"{"error":{"code":"Request_ResourceNotFound","message":"gone","innerError":{"date":"2024-01-01T00:00:00","request-id":"abc"}}}"#;
        let e = GraphError::from_response(&Method::GET, &url, StatusCode::NOT_FOUND, None, body);
        assert!(e.is_not_found());
        assert_eq!(e.code(), Some("Request_ResourceNotFound"));
        assert!(
            e.to_string()
                .contains("request-id abc, 2024-01-01T00:00:00")
        );
    }
}
