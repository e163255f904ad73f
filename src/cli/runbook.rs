//! The runbook's commands: enable-phs, failover, switch-back, test-signin, adfs, history, backups.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use secrecy::SecretString;
use serde::Serialize;

use super::output::{Stderr, confirm, print_json, print_text};
use super::status::connect;
use super::{CliError, Global};
use crate::ops::{
    backup, enable_phs, failover, farm, journal, plan::Plan, switch_back, test_signin,
};

#[derive(Debug, Args)]
pub struct EnablePhsArgs {
    /// Wait until password hashes arrive (a password sync runs after the change).
    #[arg(long)]
    pub wait: bool,
    #[arg(long, default_value = "3h", value_parser = crate::clock::parse_duration)]
    pub wait_timeout: Duration,
    /// Write the Entra Connect Sync server's script here (default: the data folder's scripts/).
    #[arg(long)]
    pub connect_script: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnableSsoArgs {
    /// Write the Connect server's Seamless SSO script here (default: the data folder's scripts/).
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// An AD forest the script checks when the server's AD connectors do not name it (repeat for
    /// several; default: the tenant's verified root domains).
    #[arg(long = "forest")]
    pub forests: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// A federated root domain to convert (repeat for several).
    #[arg(long = "domain", required_unless_present = "all_federated")]
    pub domains: Vec<String>,
    /// Every federated root domain.
    #[arg(long)]
    pub all_federated: bool,
    /// Go on although no password sync ran within the window.
    #[arg(long)]
    pub accept_unsynced: bool,
    /// How recent the last password sync must be (e.g. 3h).
    #[arg(long, default_value = "3h", value_parser = crate::clock::parse_duration)]
    pub sync_window: Duration,
    /// Wait until user realm says Managed.
    #[arg(long)]
    pub wait: bool,
    #[arg(long, default_value = "60m", value_parser = crate::clock::parse_duration)]
    pub wait_timeout: Duration,
    /// Write no Seamless SSO script for the Connect server (the runbook's "Enable single sign-on").
    #[arg(long)]
    pub no_sso: bool,
}

#[derive(Debug, Args)]
pub struct SwitchBackArgs {
    /// The domain; repeat it to switch several back side by side (with `latest` or a metadata URL).
    #[arg(long, required = true)]
    pub domain: Vec<String>,
    /// A backup file, or `latest` for the newest backup of each domain.
    #[arg(long, conflicts_with = "metadata_url")]
    pub from_backup: Option<String>,
    /// Build the settings from the farm's federation metadata instead.
    #[arg(long)]
    pub metadata_url: Option<String>,
    /// With --metadata-url: the issuer (per-domain issuers of a multi-domain farm).
    #[arg(long, requires = "metadata_url")]
    pub issuer: Option<String>,
    /// Go on although the farm is unreachable or its certificate expired.
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub wait: bool,
    #[arg(long, default_value = "60m", value_parser = crate::clock::parse_duration)]
    pub wait_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct ResetTrustArgs {
    #[arg(long)]
    pub domain: String,
    /// The farm's federation metadata, e.g. https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml
    #[arg(long)]
    pub metadata_url: String,
    /// Write the AD FS PowerShell script that updates the relying party trust in place here, with
    /// Microsoft's federation metadata beside it (the farm needs no internet access).
    #[arg(long)]
    pub adfs_script: Option<PathBuf>,
    /// Drop the farm's own issuance rules from the trust instead of carrying them over.
    #[arg(long, requires = "adfs_script")]
    pub replace_claim_rules: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[arg(long)]
    pub domain: String,
}

#[derive(Debug, Args)]
pub struct TestSigninArgs {
    #[arg(long)]
    pub upn: String,
    /// Read the password from standard input (otherwise asked for on a terminal, without echo).
    #[arg(long)]
    pub password_stdin: bool,
    /// Only home realm discovery; no password test.
    #[arg(long)]
    pub no_password: bool,
    /// Test the password at this AD FS farm (e.g. sts.contoso.com) whatever user realm says:
    /// before a switch-back, against the settings the domain's backup would restore.
    #[arg(long, conflicts_with = "no_password")]
    pub farm: Option<String>,
}

#[derive(Debug, Args)]
pub struct StagedRolloutArgs {
    #[command(subcommand)]
    pub command: Option<StagedCommand>,
}

#[derive(Debug, Subcommand)]
pub enum StagedCommand {
    /// The policy and its groups, with member counts (the default).
    Show,
    /// Turn it on for password hash sync (creating the policy), adding the groups given.
    Enable {
        /// A group's display name or id (repeat for several).
        #[arg(long = "group")]
        groups: Vec<String>,
    },
    /// Add pilot groups.
    Add {
        #[arg(long = "group", required = true)]
        groups: Vec<String>,
    },
    /// Remove groups: their users go back to the farm.
    Remove {
        #[arg(long = "group", required = true)]
        groups: Vec<String>,
    },
    /// End the staged rollout (delete the policy; the backup keeps it).
    End,
}

#[derive(Debug, Subcommand)]
pub enum AdfsCommand {
    /// Entity id, endpoints and signing certificates of a farm's federation metadata.
    Inspect {
        #[arg(long, conflicts_with = "metadata_url")]
        metadata_file: Option<PathBuf>,
        #[arg(long)]
        metadata_url: Option<String>,
    },
}

fn show_plan(g: &Global, plan: &Plan) -> Result<(), CliError> {
    if g.json {
        if g.dry_run {
            print_json(plan)?;
        }
    } else {
        print_text(&plan.to_string())?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Done<'a, T: Serialize> {
    plan: &'a Plan,
    result: T,
    /// The change report of this run (`reports/<tenant>/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<String>,
}

fn finish<T: Serialize + std::fmt::Debug>(
    g: &Global,
    plan: &Plan,
    result: T,
    mut text: String,
    report: Option<PathBuf>,
) -> Result<u8, CliError> {
    let report = report.map(|p| p.display().to_string());
    if g.json {
        print_json(&Done {
            plan,
            result,
            report,
        })?;
    } else {
        if let Some(r) = &report {
            text.push_str(&format!("\nChange report: {r}"));
        }
        print_text(&text)?;
    }
    Ok(0)
}

/// Writes the run's change report; a report that cannot be written is said, never fatal: the
/// change itself is done and journaled.
async fn record(
    s: &crate::ops::Session,
    (mark, started): (usize, time::OffsetDateTime),
    op: &str,
    plan: &Plan,
) -> Option<PathBuf> {
    match crate::ops::report::write_for_run(s, mark, started, op, plan).await {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!(
                "entra-failover: the change report could not be written: {}",
                super::output::terminal_safe(&e.to_string())
            );
            None
        }
    }
}

pub async fn enable_phs(g: &Global, a: EnablePhsArgs) -> Result<u8, CliError> {
    let s = connect(g).await?;
    let o = enable_phs::Options {
        script: a.connect_script.clone(),
    };
    let p = enable_phs::prepare(&s, &o).await?;
    show_plan(g, &p.plan)?;
    if g.dry_run {
        return Ok(if p.plan.failed().is_empty() { 0 } else { 3 });
    }
    if !p.plan.steps.is_empty() && p.plan.failed().is_empty() {
        confirm(g, "yes", "Turn on password hash sync for the tenant")?;
    }
    let plan = p.plan.clone();
    let progress = Stderr::new();
    let previous = p.last_password_sync.clone();
    let started = (
        crate::ops::report::mark(&s),
        time::OffsetDateTime::now_utc(),
    );
    let mut r = enable_phs::run(&s, p, &progress).await?;
    let report = record(&s, started, "enable-phs", &plan).await;
    if a.wait && !r.hashes_flowing {
        let t =
            enable_phs::wait_for_hashes(&s, previous.as_deref(), a.wait_timeout, &progress).await?;
        r.hashes_flowing = true;
        r.note = format!("Password hashes are arriving: a password sync ran at {t}.");
        r.last_password_sync = Some(t);
    }
    let text = format!(
        "Password hash sync flag: on{}. Engines: {}.\n{}",
        if r.changed { " now" } else { "" },
        r.engines.describe(),
        r.note
    );
    finish(g, &plan, r, text, report)
}

/// `enable-sso`: the Connect server's Seamless SSO script, written on its own (no tenant change).
pub async fn enable_sso(g: &Global, a: EnableSsoArgs) -> Result<u8, CliError> {
    let s = connect(g).await?;
    let o = crate::ops::enable_sso::Options {
        script: a.script,
        forests: a.forests,
    };
    let p = crate::ops::enable_sso::prepare(&s, &o).await?;
    if g.json {
        show_plan(g, &p.plan)?;
    } else {
        // Nothing in the tenant changes: what is made is a file for the Connect server.
        print_text(&p.plan.to_string().replace(
            "\nNo change is needed.",
            "\nNo change to the tenant: the script is for the Connect server to run.",
        ))?;
    }
    if g.dry_run {
        return Ok(0);
    }
    let plan = p.plan.clone();
    let r = crate::ops::enable_sso::run(&s, p)?;
    let text = format!(
        "Wrote the Seamless SSO script {}.\n{}.\nBrowsers need {} in the Local intranet zone (Group Policy: Site to Zone Assignment List, value 1).",
        r.script, r.note, r.intranet_zone
    );
    finish(g, &plan, r, text, None)
}

pub async fn staged_rollout(g: &Global, a: StagedRolloutArgs) -> Result<u8, CliError> {
    use crate::ops::staged_rollout::{self, Change};
    let s = connect(g).await?;
    let change = match a.command.unwrap_or(StagedCommand::Show) {
        StagedCommand::Show => {
            let v = staged_rollout::show(&s).await?;
            if g.json {
                print_json(&v)?;
            } else {
                print_text(&v.text())?;
            }
            return Ok(0);
        }
        StagedCommand::Enable { groups } => Change::Enable(groups),
        StagedCommand::Add { groups } => Change::Add(groups),
        StagedCommand::Remove { groups } => Change::Remove(groups),
        StagedCommand::End => Change::End,
    };
    let p = staged_rollout::prepare(&s, &change).await?;
    show_plan(g, &p.plan)?;
    if g.dry_run {
        return Ok(if p.plan.failed().is_empty() { 0 } else { 3 });
    }
    if p.changes && p.plan.failed().is_empty() {
        confirm(g, "yes", &p.plan.title)?;
    }
    let plan = p.plan.clone();
    let progress = Stderr::new();
    let started = (
        crate::ops::report::mark(&s),
        time::OffsetDateTime::now_utc(),
    );
    let r = staged_rollout::run(&s, p, &progress).await?;
    let report = if r.changed {
        record(&s, started, staged_rollout::OP, &plan).await
    } else {
        None
    };
    let text = format!("\n{}\n{}", r.view.text(), r.note);
    finish(g, &plan, r, text, report)
}

pub async fn failover(g: &Global, a: FailoverArgs) -> Result<u8, CliError> {
    let s = connect(g).await?;
    let o = failover::Options {
        domains: a.domains.clone(),
        all_federated: a.all_federated,
        sync_window: a.sync_window,
        accept_unsynced: a.accept_unsynced,
        skip_sso: a.no_sso,
    };
    let p = failover::prepare(&s, &o).await?;
    show_plan(g, &p.plan)?;
    if g.dry_run {
        return Ok(if p.plan.failed().is_empty() { 0 } else { 3 });
    }
    let targets: Vec<String> = p
        .plan
        .steps
        .iter()
        .filter_map(|s| s.domain.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !targets.is_empty() && p.plan.failed().is_empty() {
        let word = if targets.len() == 1 {
            targets[0].clone()
        } else {
            format!("{} domains", targets.len())
        };
        // The warnings are said again where the decision is made.
        let warnings: Vec<&str> = p
            .plan
            .checks
            .iter()
            .filter(|c| c.outcome == crate::ops::plan::Outcome::Warn)
            .map(|c| c.name.as_str())
            .collect();
        let warned = if warnings.is_empty() {
            String::new()
        } else {
            format!(
                ", despite {} warning(s) above ({})",
                warnings.len(),
                warnings.join("; ")
            )
        };
        confirm(
            g,
            &word,
            &format!(
                "Convert {} to managed sign-in (password hash sync){warned}",
                targets.join(", ")
            ),
        )?;
    }
    let plan = p.plan.clone();
    let progress = Stderr::new();
    let started = (
        crate::ops::report::mark(&s),
        time::OffsetDateTime::now_utc(),
    );
    let r = failover::run(&s, p, &progress).await?;
    let report = record(&s, started, "failover", &plan).await;
    if a.wait {
        let converted: Vec<String> = r
            .domains
            .iter()
            .filter(|d| d.outcome == "converted")
            .map(|d| d.domain.clone())
            .collect();
        failover::wait_for_realm(
            &s,
            &converted,
            crate::login::Namespace::Managed,
            a.wait_timeout,
            &progress,
        )
        .await?;
    }
    let mut text = String::from("\nDone:\n");
    for d in &r.domains {
        text.push_str(&format!(
            "  {}: {}{}\n",
            d.domain,
            d.outcome,
            d.backup
                .as_ref()
                .map(|b| format!(" (backup {b})"))
                .unwrap_or_default()
        ));
    }
    text.push_str("\nNext: sign-in changes take effect within minutes, up to an hour; then test a user with `entra-failover test-signin --upn USER`.");
    finish(g, &plan, r, text, report)
}

pub async fn switch_back(g: &Global, a: SwitchBackArgs) -> Result<u8, CliError> {
    let s = connect(g).await?;
    let source = match (&a.from_backup, &a.metadata_url) {
        (_, Some(url)) => switch_back::Source::Metadata {
            url: url.clone(),
            issuer: a.issuer.clone(),
        },
        (Some(b), None) if b == "latest" => switch_back::Source::Backup(None),
        (Some(b), None) => switch_back::Source::Backup(Some(PathBuf::from(b))),
        (None, None) => {
            return Err(CliError::Usage(
                "give --from-backup FILE|latest or --metadata-url URL".into(),
            ));
        }
    };
    if a.domain.len() > 1 {
        if matches!(source, switch_back::Source::Backup(Some(_))) {
            return Err(CliError::Usage(
                "a backup file belongs to one domain: with several domains use --from-backup latest"
                    .into(),
            ));
        }
        return switch_back_many(g, &s, &a, source).await;
    }
    let domain = a.domain[0].clone();
    let o = switch_back::Options {
        domain: domain.clone(),
        source,
        force: a.force,
    };
    let p = switch_back::prepare(&s, &o).await?;
    show_plan(g, &p.plan)?;
    if g.dry_run {
        return Ok(if p.plan.failed().is_empty() { 0 } else { 3 });
    }
    if !p.plan.steps.is_empty() && p.plan.failed().is_empty() {
        confirm(g, &domain, &format!("Federate {domain} with AD FS"))?;
    }
    let plan = p.plan.clone();
    let progress = Stderr::new();
    let started = (
        crate::ops::report::mark(&s),
        time::OffsetDateTime::now_utc(),
    );
    let r = switch_back::run(&s, p, &progress).await?;
    let report = record(&s, started, "switch-back", &plan).await;
    if a.wait {
        failover::wait_for_realm(
            &s,
            std::slice::from_ref(&r.domain),
            crate::login::Namespace::Federated,
            a.wait_timeout,
            &progress,
        )
        .await?;
    }
    let text = format!(
        "\n{}: {} (issuer {}, from {}).\nNext: verify federation connectivity, then test a user's sign-in.",
        r.domain, r.outcome, r.issuer_uri, r.from
    );
    finish(g, &plan, r, text, report)
}

/// Several domains: every plan shown, one confirmation, then side by side.
async fn switch_back_many(
    g: &Global,
    s: &crate::ops::Session,
    a: &SwitchBackArgs,
    source: switch_back::Source,
) -> Result<u8, CliError> {
    let os: Vec<switch_back::Options> = a
        .domain
        .iter()
        .map(|d| switch_back::Options {
            domain: d.clone(),
            source: source.clone(),
            force: a.force,
        })
        .collect();
    let ps = switch_back::prepare_many(s, &os).await?;
    for p in &ps {
        show_plan(g, &p.plan)?;
    }
    let failed = ps.iter().any(|p| !p.plan.failed().is_empty());
    if g.dry_run {
        return Ok(if failed { 3 } else { 0 });
    }
    if !failed && ps.iter().any(|p| !p.plan.steps.is_empty()) {
        confirm(
            g,
            "federate",
            &format!("Federate {} domains with AD FS", ps.len()),
        )?;
    }
    let plans: Vec<Plan> = ps.iter().map(|p| p.plan.clone()).collect();
    let progress = Stderr::new();
    let started = (crate::ops::report::mark(s), time::OffsetDateTime::now_utc());
    let rs = switch_back::run_many(s, ps, &progress).await?;
    let mut all = Plan::new(
        &format!("Federate {} domains with AD FS", plans.len()),
        &s.tenant,
    );
    for (p, o) in plans.iter().zip(&os) {
        for c in &p.checks {
            all.check(
                &format!("{} {}", o.domain, c.name),
                c.outcome,
                c.detail.clone(),
            );
        }
    }
    let report = record(s, started, "switch-back", &all).await;
    if a.wait {
        let domains: Vec<String> = rs.iter().map(|r| r.domain.clone()).collect();
        failover::wait_for_realm(
            s,
            &domains,
            crate::login::Namespace::Federated,
            a.wait_timeout,
            &progress,
        )
        .await?;
    }
    if g.json {
        print_json(
            &serde_json::json!({"plans": plans, "result": rs, "report": report.as_ref().map(|p| p.display().to_string())}),
        )?;
    } else {
        let mut text = String::from("\n");
        for r in &rs {
            text.push_str(&format!(
                "{}: {} (issuer {}, from {}).\n",
                r.domain, r.outcome, r.issuer_uri, r.from
            ));
        }
        text.push_str("Next: verify federation connectivity, then test a user's sign-in.");
        if let Some(r) = &report {
            text.push_str(&format!("\nChange report: {}", r.display()));
        }
        print_text(&text)?;
    }
    Ok(0)
}

pub async fn test_signin(g: &Global, a: TestSigninArgs) -> Result<u8, CliError> {
    test_signin::check_upn(&a.upn)?;
    let password = if a.no_password {
        None
    } else if a.password_stdin {
        // Read into a buffer that is wiped when dropped; only the secret keeps the password.
        let mut text = zeroize::Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(CliError::Output)?;
        Some(SecretString::from(text.trim_end_matches(['\r', '\n'])))
    } else if std::io::stdin().is_terminal() {
        let pw =
            rpassword::prompt_password(format!("Password for {} (not shown, not stored): ", a.upn))
                .map_err(CliError::Output)?;
        Some(SecretString::from(pw))
    } else {
        None
    };
    let s = connect(g).await?;
    let r = test_signin::run(&s, &a.upn, password.as_ref(), a.farm.as_deref()).await?;
    let failed = r.password_test.as_ref().is_some_and(|t| !t.ok);
    if g.json {
        print_json(&r)?;
    } else {
        let mut text = format!("{}: {:?} sign-in", r.upn, r.realm);
        if let Some(to) = &r.sign_in_goes_to {
            text.push_str(&format!(", at {to}"));
        }
        if let Some(t) = &r.password_test {
            text.push_str(&format!(
                "\nPassword test: {}{}{}",
                if t.ok { "OK — " } else { "FAILED — " },
                t.aadsts.map(|c| format!("AADSTS{c}: ")).unwrap_or_default(),
                t.message
            ));
            if let Some(m) = &t.meaning {
                text.push_str(&format!("\nWhat it means: {m}"));
            }
        }
        print_text(&text)?;
    }
    Ok(if failed { 1 } else { 0 })
}

pub async fn adfs(g: &Global, c: AdfsCommand) -> Result<u8, CliError> {
    let AdfsCommand::Inspect {
        metadata_file,
        metadata_url,
    } = c;
    let session = if metadata_url.is_some() {
        Some(connect(g).await?)
    } else {
        None
    };
    let m = farm::load_metadata(
        session.as_ref(),
        metadata_file.as_deref(),
        metadata_url.as_deref(),
    )
    .await?;
    if g.json {
        print_json(&m)?;
    } else {
        let mut text = format!("Entity id: {}\n", m.entity_id);
        if let Some(p) = &m.passive_endpoint {
            text.push_str(&format!("Passive sign-in: {p}\n"));
        }
        if let Some(x) = &m.mex_endpoint {
            text.push_str(&format!("MEX: {x}\n"));
        }
        for c in &m.signing_certificates {
            text.push_str(&format!(
                "Signing certificate: {}\n  SHA-1 {}\n  SHA-256 {}\n  valid {} to {}\n",
                c.subject,
                c.sha1_thumbprint,
                c.sha256_thumbprint,
                crate::graph::models::graph_time(crate::clock::unix(c.not_before_unix)),
                crate::graph::models::graph_time(crate::clock::unix(c.not_after_unix)),
            ));
        }
        print_text(&text)?;
    }
    Ok(0)
}

pub async fn history(g: &Global) -> Result<u8, CliError> {
    let s = connect(g).await?;
    let entries = journal::read(&s.home, &s.tenant)?;
    if g.json {
        print_json(&entries)?;
    } else {
        let mut text = String::new();
        for e in &entries {
            text.push_str(&format!(
                "{} {:<12} {:<24} {:<7} {}\n",
                e.time, e.operation, e.domain, e.phase, e.detail
            ));
        }
        if entries.is_empty() {
            text.push_str("No change has been made to this tenant with entra-failover.");
        }
        print_text(&text)?;
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// `md` (Markdown, for the change ticket) or `json`
    #[arg(long, default_value = "md", value_parser = ["md", "json"])]
    pub format: String,
    /// Only changes started this long ago or since (`2h`, `30m`, or a time `2026-12-02T10:00:00Z`)
    #[arg(long)]
    pub since: Option<String>,
    /// Write the report to this file (readable only by you) instead of printing it
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `--since`: a duration back from now, or a time.
fn since(text: &str) -> Result<time::OffsetDateTime, CliError> {
    if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    {
        return Ok(t);
    }
    let d = crate::clock::parse_duration(text).map_err(|e| {
        CliError::Usage(format!(
            "--since {text}: {e} (a duration such as 2h, or a time such as 2026-12-02T10:00:00Z)"
        ))
    })?;
    Ok(time::OffsetDateTime::now_utc() - d)
}

pub async fn report(g: &Global, a: ReportArgs) -> Result<u8, CliError> {
    let since = a.since.as_deref().map(since).transpose()?;
    let s = connect(g).await?;
    let r = crate::ops::report::build(&s, since).await?;
    let text = if a.format == "json" || g.json {
        serde_json::to_string_pretty(&r).unwrap_or_default()
    } else {
        r.markdown()
    };
    match a.out {
        Some(path) => {
            crate::files::write_atomic(&path, text.as_bytes())
                .map_err(|e| crate::ops::OpsError::file(&path, e))?;
            print_text(&format!("Wrote the change report to {}", path.display()))?;
        }
        None => print_text(text.trim_end())?,
    }
    Ok(0)
}

pub async fn backups(g: &Global) -> Result<u8, CliError> {
    let s = connect(g).await?;
    let mut rows = vec![];
    for p in backup::list(&s.home, &s.tenant)? {
        let row = match backup::read(&p) {
            Ok(b) => {
                serde_json::json!({"path": p, "domain": b.domain, "taken_at": b.taken_at, "issuer": b.federation["issuerUri"], "valid": true})
            }
            Err(e) => serde_json::json!({"path": p, "valid": false, "error": e.to_string()}),
        };
        rows.push(row);
    }
    if g.json {
        print_json(&rows)?;
    } else {
        let mut text = String::new();
        for r in &rows {
            if r["valid"] == true {
                text.push_str(&format!(
                    "{}  {}  {}\n    {}\n",
                    r["taken_at"].as_str().unwrap_or(""),
                    r["domain"].as_str().unwrap_or(""),
                    r["issuer"].as_str().unwrap_or(""),
                    r["path"].as_str().unwrap_or("")
                ));
            } else {
                text.push_str(&format!(
                    "DAMAGED {}: {}\n",
                    r["path"].as_str().unwrap_or(""),
                    r["error"].as_str().unwrap_or("")
                ));
            }
        }
        if rows.is_empty() {
            text.push_str(
                "No backups yet: failover writes one per domain before it changes anything.",
            );
        }
        print_text(&text)?;
    }
    Ok(0)
}

pub async fn reset_trust(g: &Global, a: ResetTrustArgs) -> Result<u8, CliError> {
    let s = connect(g).await?;
    let o = crate::ops::reset_trust::Options {
        domain: a.domain.clone(),
        metadata_url: a.metadata_url.clone(),
        adfs_script: a.adfs_script.clone(),
        replace_claim_rules: a.replace_claim_rules,
    };
    let p = crate::ops::reset_trust::prepare(&s, &o).await?;
    if !g.json {
        let mut text = String::from("Certificates:\n");
        for c in &p.certificates {
            text.push_str(&format!(
                "  {:<34} {}  {}\n",
                c.role,
                c.sha1.as_deref().unwrap_or("-"),
                c.expires.as_deref().unwrap_or("")
            ));
        }
        print_text(&text)?;
    }
    show_plan(g, &p.plan)?;
    if g.dry_run {
        return Ok(if p.plan.failed().is_empty() { 0 } else { 3 });
    }
    if !p.plan.steps.is_empty() && p.plan.failed().is_empty() {
        confirm(
            g,
            &a.domain,
            &format!("Update the federation settings of {}", a.domain),
        )?;
    }
    let plan = p.plan.clone();
    let started = (
        crate::ops::report::mark(&s),
        time::OffsetDateTime::now_utc(),
    );
    let r = crate::ops::reset_trust::run(&s, p, &Stderr::new()).await?;
    let report = record(&s, started, "reset-trust", &plan).await;
    let mut text = format!(
        "\n{}: {}.",
        r.domain,
        if r.changed {
            "federation settings updated from the farm"
        } else {
            "nothing to update"
        }
    );
    if let Some(script) = &r.adfs_script {
        text.push_str(&format!("\nAD FS script written to {script}: run it on the primary AD FS server, with {} beside it (it backs up the relying party trust first, updates it in place, and never removes it; preview with -WhatIf).", r.metadata_file.as_deref().unwrap_or("Microsoft's metadata file")));
    }
    text.push_str("\nNext: verify federation connectivity, then test a user's sign-in.");
    finish(g, &plan, r, text, report)
}

pub async fn verify(g: &Global, a: VerifyArgs) -> Result<u8, CliError> {
    let s = connect(g).await?;
    let r = crate::ops::verify::run(&s, &a.domain).await?;
    super::output::print(g, &r)?;
    Ok(if r.passed { 0 } else { 1 })
}

pub async fn resume(g: &Global) -> Result<u8, CliError> {
    let s = connect(g).await?;
    let pending = crate::ops::journal::pending(&journal::read(&s.home, &s.tenant)?);
    if pending.is_empty() {
        if g.json {
            print_json(&crate::ops::resume::Report { items: vec![] })?;
        } else {
            print_text("Nothing was interrupted: every change in the journal has its outcome.")?;
        }
        return Ok(0);
    }
    if !g.json {
        let mut text = String::from(
            "Interrupted changes, to be reconciled against the tenant's real state:\n",
        );
        for e in &pending {
            text.push_str(&format!(
                "  {} {} (started {})\n",
                e.operation, e.domain, e.time
            ));
        }
        print_text(&text)?;
    }
    if g.dry_run {
        return Ok(0);
    }
    confirm(g, "yes", "Finish these changes")?;
    let r = crate::ops::resume::run(&s, &Stderr::new()).await?;
    let needs_you = r.items.iter().any(|i| i.outcome == "needs you");
    if g.json {
        print_json(&r)?;
    } else {
        let mut text = String::new();
        for i in &r.items {
            text.push_str(&format!(
                "{} {}: {} — {}\n",
                i.operation, i.domain, i.outcome, i.detail
            ));
        }
        print_text(&text)?;
    }
    Ok(if needs_you { 4 } else { 0 })
}

#[derive(Debug, Args)]
pub struct SigninsArgs {
    /// A converted domain (repeat for several); its subdomains count with it.
    #[arg(long = "domain", required = true)]
    pub domains: Vec<String>,
    /// Sign-ins this long ago or since (`15m`, `2h`, or a time `2026-12-02T10:00:00Z`).
    #[arg(long, default_value = "15m")]
    pub since: String,
    /// Keep watching: look again every --every until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    #[arg(long, default_value = "30s", value_parser = crate::clock::parse_duration)]
    pub every: Duration,
}

pub async fn signins(g: &Global, a: SigninsArgs) -> Result<u8, CliError> {
    use crate::ops::signins::{FALLBACK, Watch, unavailable};
    let from = since(&a.since)?;
    if a.every < Duration::from_secs(5) {
        return Err(CliError::Usage(
            "--every: at least 5s (the log itself lags by minutes)".into(),
        ));
    }
    let s = connect(g).await?;
    let mut w = Watch::new(a.domains.clone(), from);
    loop {
        match w.look(&s).await {
            Ok(summary) => {
                if g.json {
                    // One JSON document per look: a follower reads lines.
                    print_text(&serde_json::to_string(&summary).unwrap_or_default())?;
                } else {
                    print_text(&summary.text())?;
                }
            }
            Err(e) => {
                return match unavailable(&e) {
                    Some(why) => Err(CliError::Ops(crate::ops::OpsError::Input(format!(
                        "sign-in logs cannot be read: {why}. {FALLBACK}"
                    )))),
                    None => Err(e.into()),
                };
            }
        }
        if !a.follow {
            return Ok(0);
        }
        tokio::time::sleep(a.every).await;
        if !g.json {
            print_text("")?;
        }
    }
}
