//! The Microsoft Graph client: one place for tokens, `client-request-id`s, retries that honour
//! `Retry-After`, a concurrency limit that adapts to 429s (`limit`), timeouts and `@odata.nextLink` paging.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::error::GraphError;
use super::limit::{AdaptiveLimit, Kind};
use crate::auth::SharedCredential;

/// How hard to try before giving up.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts for a failure (503, 504, a lost connection).
    pub max_attempts: u32,
    /// Attempts while Graph answers 429: each says how long to wait, so these are bounded by
    /// `max_wait` above all.
    pub max_throttled_attempts: u32,
    /// The most time spent waiting between attempts, in all.
    pub max_wait: Duration,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_throttled_attempts: 40,
            max_wait: Duration::from_secs(120),
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
        }
    }
}

/// A Graph answer that succeeded.
#[derive(Debug)]
pub struct GraphResponse {
    pub status: StatusCode,
    pub request_id: Option<String>,
    pub body: Value,
}

#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: Url,
    credential: SharedCredential,
    /// One token request at a time: when the cache is empty (at start, after expiry), the first
    /// request signs in and the others wait for its token instead of each signing in too.
    token_gate: Arc<tokio::sync::Mutex<()>>,
    limit: AdaptiveLimit,
    retry: RetryPolicy,
    sent: Arc<AtomicU64>,
}

/// An error on one readable line, the cause first: reqwest, hyper and the Azure SDK wrap the one
/// fact an administrator needs ("connection refused", "certificate not trusted") in several layers
/// of context. The whole chain goes to the log.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![];
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cur {
        let text = c
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = c.source();
    }
    tracing::debug!(error = %parts.join(": "), "error chain");
    let Some(root) = parts.last() else {
        return String::new();
    };
    let cause = plain_cause(root);
    // What was being done, when the outermost layer says more than "error sending request".
    let context = parts
        .first()
        .filter(|_| parts.len() > 1)
        .filter(|t| !t.starts_with("error sending request"))
        .map(|t| t.split(". ").next().unwrap_or(t).trim_end_matches('.'));
    match context {
        Some(c) if !cause.contains(c) => format!("{cause} ({c})"),
        _ => cause,
    }
}

/// The innermost cause, in the words an administrator searches for.
fn plain_cause(root: &str) -> String {
    let has = |s: &str| root.to_ascii_lowercase().contains(&s.to_ascii_lowercase());
    if has("UnknownIssuer") {
        format!(
            "certificate not trusted ({root}); behind a TLS-inspecting proxy, give the profile its ca_file"
        )
    } else if has("NotValidForName") {
        format!("the certificate names another host ({root})")
    } else if has("Connection refused") {
        format!("connection refused: nothing answers there ({root})")
    } else if has("failed to lookup address") || has("dns error") || has("No such host") {
        format!("host not found ({root})")
    } else if has("timed out") {
        format!("no answer in time ({root})")
    } else {
        root.to_string()
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .to_string();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let when =
        time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc2822).ok()?;
    let secs = (when - time::OffsetDateTime::now_utc()).as_seconds_f64();
    Some(Duration::from_secs_f64(secs.clamp(0.0, 3600.0)))
}

impl GraphClient {
    /// `base` is Graph's root, e.g. `https://graph.microsoft.com`; `concurrency` is the most requests
    /// in flight, which the adaptive limit approaches from below.
    pub fn new(
        http: reqwest::Client,
        base: Url,
        credential: SharedCredential,
        concurrency: usize,
    ) -> GraphClient {
        GraphClient {
            http,
            base,
            credential,
            token_gate: Arc::new(tokio::sync::Mutex::new(())),
            limit: AdaptiveLimit::new(concurrency),
            retry: RetryPolicy::default(),
            sent: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> GraphClient {
        self.retry = retry;
        self
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn credential(&self) -> &SharedCredential {
        &self.credential
    }

    /// The time requests have spent in flight, summed (over a wall time: the mean in flight).
    pub fn busy(&self) -> Duration {
        self.limit.held()
    }

    /// The adaptive limit now.
    pub fn limit(&self) -> usize {
        self.limit.limit()
    }

    /// How many HTTP requests this client (and its clones) has sent.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> Result<Url, GraphError> {
        if path.starts_with("https://") || path.starts_with("http://") {
            let u = Url::parse(path).map_err(|e| GraphError::BadUrl(format!("{path}: {e}")))?;
            // A nextLink must stay on the scheme, host and port we talk to: never send our token
            // elsewhere, nor in the clear.
            if u.scheme() != self.base.scheme()
                || u.host_str() != self.base.host_str()
                || u.port_or_known_default() != self.base.port_or_known_default()
            {
                return Err(GraphError::BadUrl(format!(
                    "{path} is not on {}",
                    self.base
                )));
            }
            return Ok(u);
        }
        self.base
            .join(path)
            .map_err(|e| GraphError::BadUrl(format!("{path}: {e}")))
    }

    /// Sends one request, retrying what may be retried; answers the successful response or the error.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<GraphResponse, GraphError> {
        self.send_with(method, path, body, &[]).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<GraphResponse, GraphError> {
        let url = self.url(path)?;
        let kind = match method {
            Method::GET | Method::HEAD => Kind::Read,
            _ => Kind::Write,
        };
        let mut attempt = 0u32;
        let mut throttled = 0u32;
        let mut waited = Duration::ZERO;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = {
                let _one = self.token_gate.lock().await;
                self.credential.token().await?
            };
            // A place is held for one attempt: none while waiting to retry.
            let permit = self.limit.acquire(kind).await;
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let mut rb = self
                .http
                .request(method.clone(), url.clone())
                .timeout(self.retry.timeout)
                .bearer_auth(token.token.expose_secret())
                .header("client-request-id", &client_request_id)
                .header("return-client-request-id", "true");
            for (k, v) in headers {
                rb = rb.header(*k, *v);
            }
            if let Some(b) = body {
                rb = rb.json(b);
            }
            self.sent.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let outcome = rb.send().await;
            tracing::debug!(%method, path = url.path(), attempt, elapsed_ms = started.elapsed().as_millis() as u64, "graph request");
            let wait = match outcome {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let request_id = headers
                        .get("request-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let text = resp.text().await.unwrap_or_default();
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        permit.throttled(retry_after(&headers));
                    } else {
                        permit.success();
                    }
                    if status.is_success() {
                        let body = if text.trim().is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).map_err(|e| GraphError::Decode {
                                method: method.to_string(),
                                path: url.path().to_string(),
                                detail: e.to_string(),
                            })?
                        };
                        return Ok(GraphResponse {
                            status,
                            request_id,
                            body,
                        });
                    }
                    let err = GraphError::from_response(&method, &url, status, request_id, &text);
                    if status == StatusCode::UNAUTHORIZED && !refreshed {
                        // A token that expired mid-run: get a fresh one, once.
                        refreshed = true;
                        self.credential.invalidate();
                        continue;
                    }
                    let retryable = matches!(status.as_u16(), 429 | 503 | 504);
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        throttled += 1;
                    }
                    let failures = attempt - throttled;
                    if !retryable
                        || failures >= self.retry.max_attempts
                        || attempt >= self.retry.max_throttled_attempts
                    {
                        return Err(err);
                    }
                    let wait = retry_after(&headers).unwrap_or_else(|| self.backoff(attempt));
                    if waited + wait > self.retry.max_wait {
                        return Err(err);
                    }
                    tracing::info!(%status, wait_ms = wait.as_millis() as u64, "graph asked to retry");
                    wait
                }
                Err(e) => {
                    drop(permit);
                    // A request that never left is safe to repeat; one that may have reached Graph is
                    // repeated only when doing it twice changes nothing more than doing it once.
                    let never_sent = e.is_connect();
                    let idempotent = method != Method::POST;
                    let err = GraphError::Transport {
                        method: method.to_string(),
                        path: url.path().to_string(),
                        detail: error_chain(&e),
                        outcome_unknown: !never_sent && !idempotent,
                    };
                    if !(never_sent || idempotent) || attempt >= self.retry.max_attempts {
                        return Err(err);
                    }
                    let wait = self.backoff(attempt);
                    if waited + wait > self.retry.max_wait {
                        return Err(err);
                    }
                    wait
                }
            };
            waited += wait;
            tokio::time::sleep(wait).await;
        }
    }

    /// Exponential backoff with full jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .base_backoff
            .saturating_mul(1u32 << attempt.min(10));
        let cap = exp.min(self.retry.max_backoff);
        cap.mul_f64(0.5 + fastrand::f64() * 0.5)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, GraphError> {
        let resp = self.send(Method::GET, path, None).await?;
        decode(&resp.body, path)
    }

    /// Every item of a collection, following `@odata.nextLink`.
    pub async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, GraphError> {
        use futures_util::TryStreamExt;
        self.stream(path)
            .and_then(|v| std::future::ready(decode(&v, path)))
            .try_collect()
            .await
    }

    /// The items of a collection as a stream: one page is requested when the last is used up.
    pub fn stream<'a>(
        &'a self,
        path: &str,
    ) -> impl futures_util::Stream<Item = Result<Value, GraphError>> + 'a {
        use futures_util::{StreamExt, TryStreamExt, stream};
        stream::try_unfold(self.pages(path), |mut pages| async move {
            let page = pages.next_page().await?;
            Ok::<_, GraphError>(page.map(|items| {
                (
                    stream::iter(items.into_iter().map(Ok::<Value, GraphError>)),
                    pages,
                )
            }))
        })
        .try_flatten()
        .boxed()
    }

    /// The pages of a collection, one request each.
    pub fn pages(&self, path: &str) -> Pages<'_> {
        Pages {
            client: self,
            next: Some(path.to_string()),
            seen: 0,
        }
    }
}

/// A collection read page by page (`@odata.nextLink`).
pub struct Pages<'a> {
    client: &'a GraphClient,
    next: Option<String>,
    seen: usize,
}

impl Pages<'_> {
    pub async fn next_page(&mut self) -> Result<Option<Vec<Value>>, GraphError> {
        let Some(path) = self.next.take() else {
            return Ok(None);
        };
        self.seen += 1;
        if self.seen > 100_000 {
            return Err(GraphError::BadUrl(
                "more than 100000 pages: the nextLink chain does not end".into(),
            ));
        }
        let mut resp = self.client.send(Method::GET, &path, None).await?;
        self.next = resp
            .body
            .get("@odata.nextLink")
            .and_then(Value::as_str)
            .map(str::to_string);
        // The page's items are moved out, not copied.
        let items = match resp.body.get_mut("value").map(Value::take) {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(GraphError::Decode {
                    method: "GET".into(),
                    path,
                    detail: "the answer has no \"value\" array".into(),
                });
            }
        };
        Ok(Some(items))
    }
}

/// Reads `v` as `T` without copying it first (thousands of domains are decoded in a row).
pub fn decode<T: DeserializeOwned>(v: &Value, path: &str) -> Result<T, GraphError> {
    T::deserialize(v).map_err(|e| GraphError::Decode {
        method: "GET".into(),
        path: path.to_string(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }
    fn chain(layers: &[&'static str]) -> Layer {
        layers
            .iter()
            .rev()
            .fold(None, |inner, t| Some(Layer(t, inner.map(Box::new))))
            .unwrap()
    }

    struct NoToken;
    #[async_trait::async_trait]
    impl crate::auth::Credential for NoToken {
        async fn token(&self) -> Result<crate::auth::AccessToken, crate::auth::AuthError> {
            Err(crate::auth::AuthError::Config("none".into()))
        }
        fn describe(&self) -> String {
            "none".into()
        }
    }

    #[test]
    fn a_next_link_stays_on_the_scheme_host_and_port() {
        let base = Url::parse("https://graph.microsoft.com/").unwrap();
        let http = crate::ops::session::http_client(None).unwrap();
        let c = GraphClient::new(http, base, std::sync::Arc::new(NoToken), 1);
        assert!(
            c.url("https://graph.microsoft.com/v1.0/domains?$skiptoken=x")
                .is_ok()
        );
        for elsewhere in [
            "http://graph.microsoft.com/v1.0/domains?$skiptoken=x",
            "https://evil.example/v1.0/domains",
            "https://graph.microsoft.com:8443/v1.0/domains",
        ] {
            assert!(c.url(elsewhere).is_err(), "{elsewhere}");
        }
    }

    #[test]
    fn an_error_is_one_line_with_the_cause_first() {
        let refused = chain(&[
            "error sending request for url (https://sts.contoso.com/adfs/ls/)",
            "client error (Connect)",
            "tcp connect error",
            "Connection refused (os error 111)",
        ]);
        assert_eq!(
            error_chain(&refused),
            "connection refused: nothing answers there (Connection refused (os error 111))"
        );
        let tls = chain(&[
            "ClientSecretCredential authentication failed. retry policy expired and the request will no longer be retried\nTo troubleshoot, visit https://aka.ms/azsdk",
            "error sending request for url (https://login.microsoftonline.com/t/oauth2/v2.0/token)",
            "client error (Connect)",
            "invalid peer certificate: UnknownIssuer",
        ]);
        let line = error_chain(&tls);
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with("certificate not trusted (invalid peer certificate: UnknownIssuer)"),
            "{line}"
        );
        assert!(
            line.contains("ca_file")
                && line.ends_with("(ClientSecretCredential authentication failed)"),
            "{line}"
        );
        assert_eq!(error_chain(&chain(&["HTTP 403"])), "HTTP 403");
    }

    #[test]
    fn retry_after_takes_fractions_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "2.128".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs_f64(2.128)));
        h.insert("retry-after", "-1".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
