//! The kernel every Graph resource family shares: the call (its request, version and answers), the
//! outcome of a write, the caller's token, `$filter` and the skiptokens of paged lists.

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use crate::emulator::Shared;
use crate::emulator::http::{Req, Resp, graph_error, json as json_resp};
use crate::emulator::schema::{self, Invalid};
use crate::emulator::state::Tenant;
use crate::emulator::tokens::{self, Claims, TokenError};

/// The outcome of one Graph call: the response, and whether the tenant changed.
pub struct Outcome {
    pub resp: Resp,
    pub changed: bool,
}

impl From<Resp> for Outcome {
    fn from(resp: Resp) -> Self {
        Outcome {
            resp,
            changed: false,
        }
    }
}

pub(crate) struct Call<'a> {
    pub(super) sh: &'a Shared,
    pub(super) req: &'a Req,
    pub(super) version: &'a str,
}

impl Call<'_> {
    /// The advanced query's parts: whether `ConsistencyLevel: eventual` was sent, and whether
    /// `$count=true` was asked (which Graph refuses without that header).
    pub(crate) fn advanced_query(&self) -> Result<(bool, bool), Resp> {
        let eventual = self
            .req
            .header("consistencylevel")
            .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
        let count = match self.req.query("$count") {
            None => false,
            Some(c) if c.eq_ignore_ascii_case("true") => true,
            Some(c) if c.eq_ignore_ascii_case("false") => false,
            Some(c) => return Err(self.bad(&format!("Invalid value '{}' for $count.", short(c)))),
        };
        if count && !eventual {
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                self.req,
                "Request_BadRequest",
                "$count is not currently supported without the 'ConsistencyLevel: eventual' header.",
            ));
        }
        Ok((eventual, count))
    }

    pub(super) fn bad(&self, message: &str) -> Resp {
        graph_error(
            StatusCode::BAD_REQUEST,
            self.req,
            "Request_BadRequest",
            message,
        )
    }

    pub(crate) fn invalid(&self, i: Invalid) -> Resp {
        self.bad(&i.0)
    }

    pub(super) fn not_found(&self, what: &str) -> Resp {
        graph_error(
            StatusCode::NOT_FOUND,
            self.req,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{what}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    pub(super) fn denied(&self) -> Resp {
        graph_error(
            StatusCode::FORBIDDEN,
            self.req,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    pub(super) fn context(&self, fragment: &str) -> String {
        format!("{}/{}/$metadata#{fragment}", self.sh.base_url, self.version)
    }

    pub(super) fn ok(&self, body: Value) -> Resp {
        json_resp(StatusCode::OK, self.req, &body)
    }

    /// Checks the caller holds one of `perms`; for a delegated write also one of `roles`.
    pub(super) fn allow(
        &self,
        who: &Claims,
        perms: &[&str],
        roles: Option<&[&str]>,
    ) -> Result<(), Resp> {
        let granted = if who.is_app() {
            who.roles
                .iter()
                .flatten()
                .any(|r| perms.contains(&r.as_str()))
        } else {
            let scoped = who
                .scopes()
                .any(|s| perms.contains(&s) || s == "Directory.AccessAsUser.All");
            let role_ok =
                roles.is_none_or(|rs| who.wids.iter().flatten().any(|w| rs.contains(&w.as_str())));
            scoped && role_ok
        };
        if granted { Ok(()) } else { Err(self.denied()) }
    }

    pub(super) fn body(&self) -> Result<Value, Resp> {
        if self.req.body.is_empty() {
            return Err(self.bad("Empty Payload. JSON content expected."));
        }
        serde_json::from_slice(&self.req.body).map_err(|e| {
            self.bad(&format!(
                "Invalid JSON. The request body could not be read as JSON: {}",
                short(&e.to_string())
            ))
        })
    }

    pub(crate) fn select(&self, entity: &str, known: &[&str]) -> Result<Option<Vec<String>>, Resp> {
        match self.req.query("$select") {
            None => Ok(None),
            Some(s) => schema::check_select(entity, known, s)
                .map(|v| Some(v.into_iter().map(str::to_string).collect()))
                .map_err(|i| self.invalid(i)),
        }
    }

    /// A page of a collection, with `@odata.nextLink` when more remain.
    pub(super) fn page(
        &self,
        items: Vec<Value>,
        page_size: usize,
        context: String,
        count: Option<usize>,
    ) -> Result<Resp, Resp> {
        let total = items.len();
        self.page_of(total, page_size, context, count, move |range| {
            items
                .into_iter()
                .skip(range.start)
                .take(range.len())
                .collect()
        })
    }

    /// A page of a collection of `total` items, where `shape` makes only the page's items: a list of
    /// 5,000 domains builds 100 JSON objects a request, not 5,000.
    pub(super) fn page_of(
        &self,
        total: usize,
        page_size: usize,
        context: String,
        count: Option<usize>,
        shape: impl FnOnce(std::ops::Range<usize>) -> Vec<Value>,
    ) -> Result<Resp, Resp> {
        let top = match self.req.query("$top") {
            None => page_size,
            Some(t) => match t.parse::<usize>() {
                Ok(n) if (1..=999).contains(&n) => n,
                _ => {
                    return Err(self.bad(&format!(
                        "Invalid page size specified: '{}'. Must be between 1 and 999 inclusive.",
                        short(t)
                    )));
                }
            },
        };
        let offset = match self.req.query("$skiptoken") {
            None => 0,
            Some(tok) => decode_skiptoken(tok).ok_or_else(|| {
                graph_error(
                    StatusCode::BAD_REQUEST,
                    self.req,
                    "Directory_ExpiredPageToken",
                    "The specified page token value has expired and can no longer be included in your request.",
                )
            })?,
        };
        let page = shape(offset.min(total)..offset.saturating_add(top).min(total));
        let mut body = Map::new();
        body.insert("@odata.context".into(), Value::String(context));
        if let Some(c) = count {
            body.insert("@odata.count".into(), json!(c));
        }
        if offset.saturating_add(top) < total {
            let mut q: Vec<(String, String)> = self
                .req
                .query
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken"))
                .cloned()
                .collect();
            if self.req.query("$top").is_none() {
                q.push(("$top".into(), top.to_string()));
            }
            q.push(("$skiptoken".into(), encode_skiptoken(offset + top)));
            let qs: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(q)
                .finish();
            body.insert(
                "@odata.nextLink".into(),
                Value::String(format!("{}{}?{qs}", self.sh.base_url, self.req.raw_path)),
            );
        }
        body.insert("value".into(), Value::Array(page));
        Ok(self.ok(Value::Object(body)))
    }
}

pub(crate) fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

pub(crate) fn encode_skiptoken(offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("RFNwdAIAAQAAAB{offset:08x}"))
}

pub(crate) fn decode_skiptoken(tok: &str) -> Option<usize> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tok)
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    usize::from_str_radix(s.strip_prefix("RFNwdAIAAQAAAB")?, 16).ok()
}

/// Authenticates the bearer token against the emulated STS.
pub fn authenticate(sh: &Shared, t: &Tenant, req: &Req) -> Result<Claims, Resp> {
    let fail = |m: &str| {
        let mut r = graph_error(
            StatusCode::UNAUTHORIZED,
            req,
            "InvalidAuthenticationToken",
            m,
        );
        r.headers_mut().insert(
            "www-authenticate",
            hyper::header::HeaderValue::from_static(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            ),
        );
        r
    };
    let Some(token) = req.bearer() else {
        return Err(fail("Access token is empty."));
    };
    let claims =
        tokens::verify(token, &sh.token_public, t.now().unix_timestamp()).map_err(|e| match e {
            TokenError::Malformed => fail("IDX14100: JWT is not well formed."),
            TokenError::BadSignature => fail("Access token validation failure. Invalid signature."),
            TokenError::Expired => fail("Lifetime validation failed, the token is expired."),
            TokenError::NotYetValid => {
                fail("Lifetime validation failed, the token is not yet valid.")
            }
        })?;
    if claims.tid != t.tenant_id {
        return Err(fail("Access token validation failure. Invalid issuer."));
    }
    if claims.aud != tokens::GRAPH_AUDIENCE && claims.aud != "00000003-0000-0000-c000-000000000000"
    {
        return Err(fail("Access token validation failure. Invalid audience."));
    }
    Ok(claims)
}

pub(crate) enum Filter {
    EndsWith(String, String),
    StartsWith(String, String),
    Eq(String, Value),
}

/// Whether a property's value is what an `eq` filter names: strings without regard to case, as
/// Graph compares them; anything else exactly.
pub(crate) fn eq_matches(found: &Value, wanted: &Value) -> bool {
    match (found, wanted) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    }
}

pub(crate) fn parse_filter(f: &str) -> Result<Filter, String> {
    let f = f.trim();
    let quoted = |s: &str| -> Option<String> {
        let s = s.trim();
        let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
        Some(inner.replace("''", "'"))
    };
    for (name, ctor) in [("endswith", 0), ("startswith", 1)] {
        if let Some(head) = f
            .get(..name.len())
            .filter(|h| f.len() > name.len() && h.eq_ignore_ascii_case(name))
        {
            let rest = f[head.len()..].trim();
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("Syntax error at position {} in '{f}'.", name.len()))?;
            let (prop, lit) = inner
                .split_once(',')
                .ok_or_else(|| format!("Syntax error in '{f}'."))?;
            let lit = quoted(lit).ok_or_else(|| format!("Syntax error in '{f}'."))?;
            let prop = prop.trim().to_string();
            return Ok(if ctor == 0 {
                Filter::EndsWith(prop, lit)
            } else {
                Filter::StartsWith(prop, lit)
            });
        }
    }
    let parts: Vec<&str> = f.splitn(3, ' ').collect();
    if let [prop, op, lit] = parts.as_slice()
        && op.eq_ignore_ascii_case("eq")
    {
        let value = match quoted(lit) {
            Some(s) => Value::String(s),
            None if lit.eq_ignore_ascii_case("true") => Value::Bool(true),
            None if lit.eq_ignore_ascii_case("false") => Value::Bool(false),
            None => return Err(format!("Syntax error in '{f}'.")),
        };
        return Ok(Filter::Eq(prop.to_string(), value));
    }
    Err(format!(
        "Invalid filter clause: syntax error in '{}'.",
        short(f)
    ))
}

pub(crate) fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_object() && a.get(k).is_some_and(Value::is_object) {
                    if let Some(slot) = a.get_mut(k) {
                        merge(slot, v);
                    }
                } else {
                    a.insert(k.clone(), v.clone());
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

// ---- users and groups ----------------------------------------------------------------------------

impl From<Outcome> for Resp {
    fn from(o: Outcome) -> Resp {
        o.resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens_round_trip_and_reject_garbage() {
        assert_eq!(decode_skiptoken(&encode_skiptoken(300)), Some(300));
        assert_eq!(decode_skiptoken("not-a-token"), None);
    }

    #[test]
    fn filters_with_non_ascii_text_are_refused_not_a_panic() {
        // A multi-byte character across the function name's length once split a character.
        for f in ["endswit€(a,'b')", "startswit€x", "ééééééééé", "€"] {
            let _ = parse_filter(f);
        }
    }

    #[test]
    fn filters_parse() {
        assert!(
            matches!(parse_filter("endswith(userPrincipalName,'@contoso.com')"), Ok(Filter::EndsWith(p, s)) if p == "userPrincipalName" && s == "@contoso.com")
        );
        assert!(
            matches!(parse_filter("userPrincipalName eq 'o''brien@x.com'"), Ok(Filter::Eq(_, Value::String(s))) if s == "o'brien@x.com")
        );
        assert!(parse_filter("endswith(userPrincipalName").is_err());
        assert!(parse_filter("x gt 1").is_err());
    }
}
