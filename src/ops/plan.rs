//! A plan is data: the HTTP calls an operation will make, in order, and the checks it made first.
//! `--dry-run` prints it and stops; the wizard's "Ready to configure" page shows the same.

use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    /// A fact the plan rests on, neither good nor bad: a down farm is why one fails over.
    Info,
    Warn,
    Fail,
}

impl Outcome {
    /// The mark a check shows, readable without colour.
    pub fn mark(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Info => "info",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, outcome: Outcome, detail: impl Into<String>) -> Check {
        Check {
            name: name.to_string(),
            outcome,
            detail: detail.into(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub domain: Option<String>,
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    pub why: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub title: String,
    pub tenant: String,
    pub checks: Vec<Check>,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn new(title: &str, tenant: &str) -> Plan {
        Plan {
            title: title.to_string(),
            tenant: tenant.to_string(),
            checks: vec![],
            steps: vec![],
        }
    }

    pub fn check(&mut self, name: &str, outcome: Outcome, detail: impl Into<String>) {
        self.checks.push(Check::new(name, outcome, detail));
    }

    pub fn step(
        &mut self,
        domain: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
        why: &str,
    ) {
        self.steps.push(Step {
            domain: domain.map(str::to_string),
            method: method.to_string(),
            path: path.to_string(),
            body,
            why: why.to_string(),
        });
    }

    /// The first check of every plan: whether the signed-in identity may do `task`, naming what lacks.
    pub fn permissions(
        &mut self,
        me: &crate::auth::claims::TokenInfo,
        task: crate::auth::claims::Task,
        may: &str,
    ) {
        let missing = me.missing_for(task);
        if missing.is_empty() {
            self.check(
                "permissions",
                Outcome::Pass,
                format!("{} may {may}", me.who()),
            );
        } else {
            self.check(
                "permissions",
                Outcome::Fail,
                format!("{} lacks {}", me.who(), missing.join("; ")),
            );
        }
    }

    pub fn failed(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .collect()
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] {}: {}",
            self.outcome.mark(),
            self.name,
            self.detail
        )
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(Some(BODY_SHOWN)))
    }
}

/// How much of a request body the plan's text shows (`--dry-run --json` has every byte).
pub const BODY_SHOWN: usize = 300;

impl Plan {
    /// The plan as text, each body cut to `body_limit` characters (`None`: whole).
    pub fn text(&self, body_limit: Option<usize>) -> String {
        use std::fmt::Write;
        let mut f = String::new();
        let _ = writeln!(f, "{} — tenant {}", self.title, self.tenant);
        if !self.checks.is_empty() {
            let _ = writeln!(f, "\nChecks:");
            for c in &self.checks {
                let _ = writeln!(f, "  {c}");
            }
        }
        if self.steps.is_empty() {
            let _ = writeln!(f, "\nNo change is needed.");
        } else {
            let _ = writeln!(f, "\nChanges, in order:");
            for (i, s) in self.steps.iter().enumerate() {
                let _ = writeln!(f, "  {}. {} {}  — {}", i + 1, s.method, s.path, s.why);
                if let Some(b) = &s.body {
                    let text = serde_json::to_string(b).unwrap_or_default();
                    let n = text.chars().count();
                    match body_limit {
                        Some(limit) if n > limit => {
                            let shown: String = text.chars().take(limit).collect();
                            let _ = writeln!(f, "     {shown}… (+{} characters)", n - limit);
                        }
                        _ => {
                            let _ = writeln!(f, "     {text}");
                        }
                    }
                }
            }
        }
        f
    }

    /// Whether some body is longer than `limit` characters.
    pub fn has_body_over(&self, limit: usize) -> bool {
        self.steps.iter().filter_map(|s| s.body.as_ref()).any(|b| {
            serde_json::to_string(b)
                .map(|t| t.chars().count() > limit)
                .unwrap_or(false)
        })
    }
}
