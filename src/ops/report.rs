//! The change record change management asks for: from the journal and the backups, each change
//! with its times, outcome, backup (and its SHA-256), Graph's request-id, and each domain's
//! federation settings before (the backup) and now (as the run's confirming reads saw it, or read from
//! the tenant). No secret is in any of
//! these sources, so none can reach the report.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::journal::{self, Entry};
use super::{OpsError, Session, backup};

#[derive(Debug, Serialize)]
pub struct Report {
    pub tenant: String,
    pub profile: String,
    pub simulated: bool,
    pub signed_in_as: String,
    pub generated_at: String,
    /// Changes started at or after this time (none: the whole journal).
    pub since: Option<String>,
    pub changes: Vec<Change>,
    /// Each domain a change touched: its settings before (the backup) and now.
    pub domains: Vec<DomainState>,
    /// The checks made in the same time: each run's pre-flight, `verify`, `test-signin`.
    pub checks: Vec<super::evidence::Evidence>,
}

#[derive(Debug, Serialize)]
pub struct Change {
    pub operation: String,
    pub domain: String,
    pub started: String,
    pub ended: Option<String>,
    /// `done`, `failed`, `noop`, or `interrupted` (an intent with no outcome yet).
    pub outcome: String,
    pub detail: String,
    pub backup: Option<String>,
    pub backup_sha256: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DomainState {
    pub domain: String,
    pub before: Option<Value>,
    pub now_authentication_type: Option<String>,
    pub now: Option<Value>,
}

/// Pairs each intent with the outcome that follows it (the journal is in time order).
pub fn changes(entries: &[Entry], since: Option<OffsetDateTime>) -> Vec<Change> {
    let after = |e: &Entry| match since {
        None => true,
        Some(t) => OffsetDateTime::parse(&e.time, &time::format_description::well_known::Rfc3339)
            .map(|at| at >= t)
            .unwrap_or(true),
    };
    let mut out: Vec<Change> = vec![];
    let mut open: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in entries.iter().filter(|e| after(e)) {
        let key = (e.operation.clone(), e.domain.clone());
        // A change starts at its intent (or, for a no-op or an intent before `since`, at its outcome).
        let start = |outcome: &str, detail: &str| Change {
            operation: e.operation.clone(),
            domain: e.domain.clone(),
            started: e.time.clone(),
            ended: None,
            outcome: outcome.into(),
            detail: detail.into(),
            backup: e.backup.clone(),
            backup_sha256: e.sha256.clone(),
            request_id: None,
        };
        if e.phase == "intent" {
            open.insert(key, out.len());
            out.push(start("interrupted", &e.detail));
            continue;
        }
        let i = match open.remove(&key) {
            Some(i) => i,
            None => {
                out.push(start("", ""));
                out.len() - 1
            }
        };
        let change = &mut out[i];
        change.ended = Some(e.time.clone());
        change.outcome = e.phase.clone();
        change.detail = if change.detail.is_empty() {
            e.detail.clone()
        } else {
            format!("{}; {}", change.detail, e.detail)
        };
        change.request_id = e.request_id.clone();
        if change.backup.is_none() {
            change.backup = e.backup.clone();
            change.backup_sha256 = e.sha256.clone();
        }
    }
    out
}

pub async fn build(s: &Session, since: Option<OffsetDateTime>) -> Result<Report, OpsError> {
    // The journal's times are whole seconds: a change started within the second counts.
    let since = since.map(|t| t.replace_nanosecond(0).unwrap_or(t));
    let entries = journal::read(&s.home, &s.tenant)?;
    let mut r = build_from(s, changes(&entries, since), None).await?;
    r.since = since.map(crate::graph::models::graph_time);
    r.checks = super::evidence::read(&s.home, &s.tenant, since)?;
    Ok(r)
}

/// Where the journal ends now: a run's report covers what is written after this mark.
pub fn mark(s: &Session) -> usize {
    journal::read(&s.home, &s.tenant)
        .map(|e| e.len())
        .unwrap_or(0)
}

/// With `confirmed_since`, a domain whose change was read back since then (the run's own confirming
/// read) is shown as that read saw it; any other is read now.
async fn build_from(
    s: &Session,
    changes: Vec<Change>,
    confirmed_since: Option<OffsetDateTime>,
) -> Result<Report, OpsError> {
    let who = super::status::who(s)
        .await
        .map(|t| t.who())
        .unwrap_or_else(|_| "(unknown)".into());
    // The domains whose sign-in a change touched (Cloud Sync's journal lines name configurations).
    let mut domains: Vec<String> = changes
        .iter()
        .filter(|c| DOMAIN_CHANGES.contains(&c.operation.as_str()))
        .map(|c| c.domain.clone())
        .collect();
    domains.sort();
    domains.dedup();
    // Read side by side (the Graph client bounds what is in flight): a thousand-domain run's
    // report must not take a thousand round trips one after another.
    type Read<'a> = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<DomainState, OpsError>> + Send + 'a>,
    >;
    let reads: Vec<Read<'_>> = domains
        .into_iter()
        .map(|d| {
            let changes = &changes;
            Box::pin(async move {
                // The oldest backup in the report: the settings before the first change.
                let before = changes
                    .iter()
                    .filter(|c| c.domain == d)
                    .filter_map(|c| c.backup.as_deref())
                    .find_map(|p| backup::read(std::path::Path::new(p)).ok())
                    .map(|b| b.federation);
                if let Some(seen) = confirmed_since.and_then(|t| s.read_back.since(&d, t)) {
                    return Ok(DomainState {
                        domain: d,
                        before,
                        now_authentication_type: Some(seen.authentication_type),
                        now: seen.federation,
                    });
                }
                let domain: Option<Value> = s
                    .graph
                    .get(&format!("/v1.0/domains/{}", crate::graph::encode(&d)))
                    .await
                    .ok();
                let now = super::status::federation(s, &d).await?.map(|(_, raw)| raw);
                Ok(DomainState {
                    domain: d,
                    before,
                    now_authentication_type: domain
                        .as_ref()
                        .and_then(|v| v["authenticationType"].as_str())
                        .map(str::to_string),
                    now,
                })
            }) as Read<'_>
        })
        .collect();
    let states: Vec<DomainState> = {
        use futures_util::{StreamExt, TryStreamExt};
        futures_util::stream::iter(reads)
            .buffered(32)
            .try_collect()
            .await?
    };
    Ok(Report {
        tenant: s.tenant.clone(),
        profile: s.profile.clone(),
        simulated: s.rehearsal.is_some(),
        signed_in_as: who,
        generated_at: journal::now(),
        since: None,
        changes,
        domains: states,
        checks: vec![],
    })
}

/// Writes the report of one run (the journal lines after `mark`) to the data folder's
/// `reports/<tenant>/`, readable only by the owner; answers its path.
pub async fn write_for_run(
    s: &Session,
    mark: usize,
    started: OffsetDateTime,
    operation: &str,
    plan: &super::plan::Plan,
) -> Result<std::path::PathBuf, OpsError> {
    // The run's own checks first, as evidence: `report` shows them later too.
    let mut preflight = super::evidence::Evidence::new(
        &format!("pre-flight {operation}"),
        &plan.title,
        plan.failed().is_empty(),
        plan.checks.iter().map(|c| c.to_string()).collect(),
    );
    preflight.time = crate::graph::models::graph_time(started);
    super::evidence::record(&s.home, &s.tenant, &preflight)?;
    // Exactly the lines this run wrote (times are whole seconds, and runs can share one).
    let entries = journal::read(&s.home, &s.tenant)?;
    let mut r = build_from(
        s,
        changes(entries.get(mark..).unwrap_or(&[]), None),
        Some(started),
    )
    .await?;
    r.since = Some(crate::graph::models::graph_time(started));
    r.checks = vec![preflight];
    let dir = super::records::reports_dir(&s.home, &s.tenant);
    journal::private_dir(&dir)?;
    let stamp = crate::graph::models::graph_time(started).replace(['-', ':'], "");
    let path = dir.join(format!("{stamp}-{operation}.md"));
    crate::files::write_atomic(&path, r.markdown().as_bytes())
        .map_err(|e| OpsError::file(&path, e))?;
    Ok(path)
}

/// The operations that change a domain's sign-in.
const DOMAIN_CHANGES: [&str; 3] = ["failover", "switch-back", "reset-trust"];

/// The fields of federation settings a reviewer compares; the rest is in `--format json`.
const FIELDS: [&str; 5] = [
    "issuerUri",
    "passiveSignInUri",
    "activeSignInUri",
    "signOutUri",
    "federatedIdpMfaBehavior",
];

impl Report {
    pub fn markdown(&self) -> String {
        use std::fmt::Write;
        let mut m = String::new();
        let _ = writeln!(m, "# entra-failover change report\n");
        let _ = writeln!(
            m,
            "- Tenant: {}{}",
            self.tenant,
            if self.simulated {
                " (REHEARSAL TENANT, simulated)"
            } else {
                ""
            }
        );
        let _ = writeln!(m, "- Profile: {}", self.profile);
        let _ = writeln!(m, "- Signed in as: {}", self.signed_in_as);
        let _ = writeln!(m, "- Generated: {}", self.generated_at);
        if let Some(s) = &self.since {
            let _ = writeln!(m, "- Changes since: {s}");
        }
        let _ = writeln!(m, "\n## Timeline\n");
        if self.changes.is_empty() {
            let _ = writeln!(m, "No change was recorded.");
        } else {
            let _ = writeln!(
                m,
                "| Started | Ended | Operation | Domain | Outcome | Graph request-id | Detail |"
            );
            let _ = writeln!(m, "|---|---|---|---|---|---|---|");
            for c in &self.changes {
                let _ = writeln!(
                    m,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    c.started,
                    c.ended.as_deref().unwrap_or("-"),
                    c.operation,
                    c.domain,
                    c.outcome,
                    c.request_id.as_deref().unwrap_or("-"),
                    c.detail.replace('|', "\\|")
                );
            }
        }
        let backups: Vec<&Change> = self.changes.iter().filter(|c| c.backup.is_some()).collect();
        if !backups.is_empty() {
            let _ = writeln!(m, "\n## Backups\n");
            let _ = writeln!(m, "| Domain | File | SHA-256 |");
            let _ = writeln!(m, "|---|---|---|");
            for c in backups {
                let _ = writeln!(
                    m,
                    "| {} | {} | {} |",
                    c.domain,
                    c.backup.as_deref().unwrap_or("-"),
                    c.backup_sha256.as_deref().unwrap_or("-")
                );
            }
        }
        if !self.checks.is_empty() {
            let _ = writeln!(m, "\n## Checks\n");
            for c in &self.checks {
                let _ = writeln!(
                    m,
                    "- {} {} {}: {}",
                    c.time,
                    c.kind,
                    c.subject,
                    if c.passed { "passed" } else { "FAILED" }
                );
                for l in &c.lines {
                    let _ = writeln!(m, "  - {}", l.replace('|', "\\|"));
                }
            }
        }
        for d in &self.domains {
            let _ = writeln!(m, "\n## {}\n", d.domain);
            let _ = writeln!(
                m,
                "Sign-in now: {}\n",
                d.now_authentication_type.as_deref().unwrap_or("unknown")
            );
            let _ = writeln!(m, "| Setting | Before (backup) | Now |");
            let _ = writeln!(m, "|---|---|---|");
            let field = |v: &Option<Value>, k: &str| -> String {
                v.as_ref()
                    .and_then(|v| v.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_string()
            };
            for k in FIELDS {
                let _ = writeln!(
                    m,
                    "| {k} | {} | {} |",
                    field(&d.before, k),
                    field(&d.now, k)
                );
            }
            let thumb = |v: &Option<Value>| -> String {
                v.as_ref()
                    .and_then(|v| v["signingCertificate"].as_str())
                    .map(|c| format!("{}…", c.chars().take(16).collect::<String>()))
                    .unwrap_or_else(|| "-".into())
            };
            let _ = writeln!(
                m,
                "| signingCertificate | {} | {} |",
                thumb(&d.before),
                thumb(&d.now)
            );
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(time: &str, op: &str, domain: &str, phase: &str) -> Entry {
        Entry {
            time: time.into(),
            request_id: (phase == "done").then(|| format!("req-{domain}")),
            ..Entry::new(op, domain, phase, phase)
        }
    }

    #[test]
    fn a_certificate_of_any_text_is_shown_short_not_a_panic() {
        // Graph's text is not ours: a multi-byte character across the 16th byte once split it.
        let settings =
            serde_json::json!({"signingCertificate": "MIIC€€€€€€€€€€€€€€€€", "issuerUri": "é"});
        let r = Report {
            tenant: "t".into(),
            profile: "p".into(),
            simulated: true,
            signed_in_as: "a".into(),
            generated_at: "now".into(),
            since: None,
            changes: vec![],
            domains: vec![DomainState {
                domain: "contoso.com".into(),
                before: Some(settings.clone()),
                now_authentication_type: Some("Federated".into()),
                now: Some(settings),
            }],
            checks: vec![],
        };
        assert!(r.markdown().contains("MIIC€€€€€€€€€€€€…"));
    }

    #[test]
    fn each_intent_meets_its_outcome_and_a_missing_one_is_interrupted() {
        let log = [
            e("2026-12-02T10:00:00Z", "failover", "a.example", "intent"),
            e("2026-12-02T10:00:00Z", "failover", "b.example", "intent"),
            e("2026-12-02T10:00:01Z", "failover", "b.example", "done"),
            e("2026-12-02T10:00:02Z", "failover", "a.example", "failed"),
            e("2026-12-02T11:00:00Z", "switch-back", "b.example", "intent"),
        ];
        let c = changes(&log, None);
        let got: Vec<(&str, &str, Option<&str>)> = c
            .iter()
            .map(|c| {
                (
                    c.domain.as_str(),
                    c.outcome.as_str(),
                    c.request_id.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a.example", "failed", None),
                ("b.example", "done", Some("req-b.example")),
                ("b.example", "interrupted", None),
            ]
        );
        let since = OffsetDateTime::parse(
            "2026-12-02T10:30:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(changes(&log, Some(since)).len(), 1);
    }
}
