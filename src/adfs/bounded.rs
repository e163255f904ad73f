//! A farm's answer read no further than its bound: metadata, WS-Trust answers and probes come from
//! servers the tool does not control, and a chunked answer has no `Content-Length` to refuse early.

/// Why an answer could not be read within its bound (worded to follow "the answer").
#[derive(Debug, thiserror::Error)]
pub enum Bounded {
    #[error("is larger than {0} bytes")]
    TooLarge(usize),
    #[error("is not UTF-8 text")]
    NotUtf8,
    #[error("broke off: {0}")]
    Broken(String),
}

/// A farm's answer as text, read chunk by chunk and never past `max` bytes, whatever its
/// `Content-Length` says (a chunked answer has none and could otherwise grow without end).
pub async fn read_bounded(resp: &mut reqwest::Response, max: usize) -> Result<String, Bounded> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(Bounded::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Bounded::Broken(crate::graph::client::error_chain(&e)))?
    {
        if body.len() + chunk.len() > max {
            return Err(Bounded::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| Bounded::NotUtf8)
}
