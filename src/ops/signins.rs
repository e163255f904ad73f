//! The sign-in watch after a cutover: from the sign-in log (`/auditLogs/signIns`), how many
//! sign-ins of the converted domains succeeded and failed since a time, the top AADSTS failures
//! with what they mean, and the users they hit. Graph filters sign-ins by time but not by a UPN's
//! domain (`userPrincipalName` takes only `eq` and `startsWith`), so the domain is matched here.
//! A tenant without the licence or the permission is told so plainly.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use time::OffsetDateTime;

use super::{OpsError, Session};
use crate::graph::models::graph_time;

/// Users named per failure; the rest are counted.
const USERS_SHOWN: usize = 5;
/// Sign-in events reach the log within 5 minutes (99%): a following look re-reads that much.
const LATE: time::Duration = time::Duration::minutes(5);

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Failure {
    /// The AADSTS code (`status.errorCode`).
    pub code: i32,
    pub count: usize,
    pub meaning: String,
    /// The users it hit (the first few, by name).
    pub users: Vec<String>,
    pub more_users: usize,
}

impl Failure {
    /// The users it hit, as a line: the first few by name, the rest counted.
    pub fn who(&self) -> String {
        let mut t = self.users.join(", ");
        if self.more_users > 0 {
            t.push_str(&format!(" and {} more", self.more_users));
        }
        t
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub domains: Vec<String>,
    pub since: String,
    pub until: String,
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Of those that succeeded, how many by Seamless single sign-on (no password typed): what
    /// `status.additionalDetails` says of each sign-in.
    pub single_sign_on: usize,
    /// Most frequent first.
    pub failures: Vec<Failure>,
    /// Graph requests the last look made.
    pub requests: usize,
}

impl Summary {
    pub fn text(&self) -> String {
        let mut t = format!(
            "Sign-ins of {} since {} (to {}): {} — {} succeeded{}, {} failed.",
            self.domains.join(", "),
            self.since,
            self.until,
            self.total,
            self.succeeded,
            if self.single_sign_on > 0 {
                format!(" ({} by Seamless single sign-on)", self.single_sign_on)
            } else {
                String::new()
            },
            self.failed
        );
        if !self.failures.is_empty() {
            t.push_str("\nTop failures:");
        }
        for f in &self.failures {
            t.push_str(&format!(
                "\n  AADSTS{} × {}: {}\n    {}",
                f.code,
                f.count,
                f.meaning,
                f.who()
            ));
        }
        t
    }
}

/// Why the log cannot be read, in words; `None` for any other error.
pub fn unavailable(e: &OpsError) -> Option<String> {
    let OpsError::Graph(g) = e else { return None };
    match (g.status(), g.code()) {
        (Some(403), Some("Authentication_RequestFromNonPremiumTenantOrB2CTenant")) => Some(
            "the tenant has no Microsoft Entra ID P1 or P2 licence, and Graph serves sign-in logs only with one".into(),
        ),
        (Some(403), _) => Some(
            "the signed-in identity may not read sign-in logs: it needs AuditLog.Read.All (and, as a user, a role such as Reports Reader, Security Reader or Global Reader)".into(),
        ),
        _ => None,
    }
}

/// What `test-signin` proves instead, when the log cannot be read.
pub const FALLBACK: &str =
    "Prove sign-ins one user at a time instead: `entra-failover test-signin --upn USER`.";

/// A user's domain is one of these, or under one (subdomains follow their root).
fn of_domains(upn: &str, domains: &[String]) -> bool {
    let Some((_, d)) = upn.rsplit_once('@') else {
        return false;
    };
    let d = d.to_ascii_lowercase();
    domains.iter().any(|root| {
        let root = root.to_ascii_lowercase();
        d == root || d.ends_with(&format!(".{root}"))
    })
}

#[derive(Clone, Debug)]
struct Seen {
    upn: String,
    code: i32,
    /// Signed in by Seamless SSO, as `status.additionalDetails` says.
    sso: bool,
}

/// Whether a sign-in's `status.additionalDetails` says it was Seamless single sign-on.
fn by_seamless_sso(details: &str) -> bool {
    details
        .to_ascii_lowercase()
        .contains("seamless single sign-on")
        || details.to_ascii_lowercase().contains("seamless sso")
}

/// The watch: a first look, then (following) each look reads only the window since the last,
/// with the minutes late events may still arrive in.
pub struct Watch {
    domains: Vec<String>,
    since: OffsetDateTime,
    read_from: OffsetDateTime,
    seen: HashSet<String>,
    events: Vec<Seen>,
}

impl Watch {
    pub fn new(domains: Vec<String>, since: OffsetDateTime) -> Watch {
        Watch {
            domains,
            since,
            read_from: since,
            seen: HashSet::new(),
            events: vec![],
        }
    }

    pub async fn look(&mut self, s: &Session) -> Result<Summary, OpsError> {
        let until = OffsetDateTime::now_utc();
        let filter: String = url::form_urlencoded::byte_serialize(
            format!(
                "createdDateTime ge {}",
                graph_time(
                    self.read_from
                        .replace_nanosecond(0)
                        .unwrap_or(self.read_from)
                )
            )
            .as_bytes(),
        )
        .collect();
        let mut pages = s.graph.pages(&format!(
            "/v1.0/auditLogs/signIns?$filter={filter}&$top=999"
        ));
        let mut requests = 0;
        while let Some(page) = pages.next_page().await? {
            requests += 1;
            for v in page {
                let id = v["id"].as_str().unwrap_or_default().to_string();
                let upn = v["userPrincipalName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if !of_domains(&upn, &self.domains) || !self.seen.insert(id) {
                    continue;
                }
                let code = v["status"]["errorCode"].as_i64().unwrap_or(0) as i32;
                let sso = v["status"]["additionalDetails"]
                    .as_str()
                    .is_some_and(by_seamless_sso);
                self.events.push(Seen { upn, code, sso });
            }
        }
        self.read_from = (until - LATE).max(self.since);
        Ok(self.summary(until, requests))
    }

    fn summary(&self, until: OffsetDateTime, requests: usize) -> Summary {
        let mut by_code: BTreeMap<i32, Vec<String>> = BTreeMap::new();
        let mut succeeded = 0;
        let mut single_sign_on = 0;
        for e in &self.events {
            if e.code == 0 {
                succeeded += 1;
                single_sign_on += usize::from(e.sso);
            } else {
                by_code.entry(e.code).or_default().push(e.upn.clone());
            }
        }
        let mut failures: Vec<Failure> = by_code
            .into_iter()
            .map(|(code, mut users)| {
                let count = users.len();
                users.sort();
                users.dedup();
                let more = users.len().saturating_sub(USERS_SHOWN);
                users.truncate(USERS_SHOWN);
                Failure {
                    code,
                    count,
                    meaning: u32::try_from(code)
                        .ok()
                        .and_then(crate::login::explain)
                        .unwrap_or("see Microsoft's AADSTS error code reference")
                        .to_string(),
                    users,
                    more_users: more,
                }
            })
            .collect();
        failures.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
        Summary {
            domains: self.domains.clone(),
            since: graph_time(self.since),
            until: graph_time(until),
            total: self.events.len(),
            succeeded,
            failed: self.events.len() - succeeded,
            single_sign_on,
            failures,
            requests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_takes_its_subdomains_and_nothing_else() {
        let d = vec!["contoso.com".to_string()];
        assert!(of_domains("a@contoso.com", &d));
        assert!(of_domains("a@EU.Contoso.com", &d));
        assert!(!of_domains("a@notcontoso.com", &d));
        assert!(!of_domains("a@contoso.com.evil", &d));
        assert!(!of_domains("nobody", &d));
    }

    #[test]
    fn failures_are_counted_ranked_and_explained() {
        let mut w = Watch::new(vec!["contoso.com".into()], OffsetDateTime::UNIX_EPOCH);
        for (upn, code) in [
            ("a@contoso.com", 0),
            ("b@contoso.com", 50126),
            ("b@contoso.com", 50126),
            ("c@contoso.com", 50056),
            ("d@contoso.com", 50126),
        ] {
            w.events.push(Seen {
                upn: upn.into(),
                code,
                sso: false,
            });
        }
        let s = w.summary(OffsetDateTime::UNIX_EPOCH, 1);
        assert_eq!((s.total, s.succeeded, s.failed), (5, 1, 4));
        assert_eq!(s.failures[0].code, 50126);
        assert_eq!(s.failures[0].count, 3);
        assert_eq!(s.failures[0].users, ["b@contoso.com", "d@contoso.com"]);
        assert!(s.failures[1].meaning.contains("no password hash"));
        assert!(s.text().contains("AADSTS50126 × 3"));
    }
}
