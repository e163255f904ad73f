//! The rehearsal tenant's records, and the rules that read and change them: domains and their
//! federation settings, the directory sync engine, users and their password hashes, devices, AD FS
//! farms, the sign-in log and the emulated clock. Plain data behind one lock.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::clock::unix;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::emulator::engines::Engines;
use crate::emulator::pki::SigningCert;
use crate::graph::models::{
    AuthenticationType, Domain, FeatureRolloutPolicy, InternalDomainFederation,
    OnPremisesDirectorySynchronizationConfiguration, OnPremisesDirectorySynchronizationFeature,
    StagedFeatureName, graph_time,
};

/// The Global Administrator role template id.
pub const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
/// Hybrid Identity Administrator.
pub const HYBRID_IDENTITY_ADMIN: &str = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2";
/// Domain Name Administrator.
pub const DOMAIN_NAME_ADMIN: &str = "8329153b-31d0-4727-b945-745eb3bc5f31";

pub(super) const STATE_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tenant {
    pub version: u32,
    pub tenant_id: String,
    pub display_name: String,
    pub country: String,
    pub created: i64,
    pub clock_offset_s: i64,
    pub secrets: Secrets,
    /// The key that the emulated STS signs access tokens with.
    pub token_key: SigningCert,
    pub domains: Vec<DomainRec>,
    pub sync: SyncRec,
    pub users: Vec<UserRec>,
    pub groups: Vec<GroupRec>,
    pub policies: Vec<PolicyRec>,
    /// Conditional Access policies, as Graph returns them.
    #[serde(default)]
    pub ca_policies: Vec<serde_json::Value>,
    /// An Entra ID P1/P2 licence (sign-in logs through Graph need one).
    #[serde(default = "yes")]
    pub premium: bool,
    /// Creating federation settings refuses delegated callers without `Directory.AccessAsUser.All`.
    #[serde(default)]
    pub federation_create_needs_access_as_user: bool,
    #[serde(default)]
    pub devices: Vec<DeviceRec>,
    /// Smart lockout's values, where the tenant changed them; Entra's defaults otherwise.
    #[serde(default)]
    pub lockout: Option<LockoutRec>,
    /// The sign-in log, oldest first (the newest `SIGNIN_LIMIT` are kept).
    #[serde(default)]
    pub signins: Vec<SignInRec>,
    pub app: AppRec,
    pub farms: BTreeMap<String, FarmRec>,
    pub limits: LimitsRec,
    /// The change log continues this snapshot: its lines of this epoch with a later sequence apply.
    #[serde(default)]
    pub wal_epoch: String,
    #[serde(default)]
    pub wal_seq: u64,
    /// Change-log lines written since the last snapshot.
    #[serde(skip)]
    pub wal_records: usize,
    /// One copy of each signing certificate the domains carry (see `share_certificates`).
    #[serde(skip)]
    pub certificates: CertificatePool,
}

/// The signing certificates of a tenant's domains, one copy each: every domain of a farm carries the
/// same kilobyte of base64, and a 5,000-domain tenant would otherwise hold it 5,000 times.
#[derive(Clone, Debug, Default)]
pub struct CertificatePool(std::collections::HashSet<std::sync::Arc<str>>);

impl CertificatePool {
    /// Points the settings' certificates at the pool's copies (adding those it lacks).
    pub fn share(&mut self, f: &mut InternalDomainFederation) {
        for c in [&mut f.signing_certificate, &mut f.next_signing_certificate]
            .into_iter()
            .flatten()
        {
            match self.0.get(&**c) {
                Some(shared) => *c = shared.clone(),
                None => {
                    self.0.insert(c.clone());
                }
            }
        }
    }
}

/// Credentials of the rehearsal tenant. They are made up per state folder and printed by
/// `emulator --json`, because rehearsing a sign-in needs them; they open nothing real.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Secrets {
    pub client_secret: String,
    pub admin_password: String,
    pub user_password: String,
    pub control_token: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LimitsRec {
    pub page_size: usize,
    pub write_burst: u32,
    pub writes_per_second: f64,
    #[serde(default)]
    pub concurrent_requests: u32,
    pub device_code_interval_s: u64,
    pub token_lifetime_s: i64,
}

/// What sign-in and user realm see of a domain; it lags Graph by the propagation delay.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RealmSnapshot {
    pub auth: AuthenticationType,
    pub federation: Option<InternalDomainFederation>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DomainRec {
    pub domain: Domain,
    /// Present while the domain (a root) is federated. Boxed, as is `previous`: a record is a
    /// quarter of the size inline, and a 5,000-domain tenant's list a quarter of the memory.
    pub federation: Option<Box<InternalDomainFederation>>,
    /// The root domain, for a subdomain that inherits its sign-in.
    pub parent: Option<String>,
    /// What sign-in saw before the last change, and when that change was made (unix seconds).
    pub previous: Option<Box<RealmSnapshot>>,
    pub changed_at: i64,
}

impl DomainRec {
    pub fn id(&self) -> &str {
        self.domain.id.as_deref().unwrap_or_default()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyncRec {
    pub id: String,
    pub features: OnPremisesDirectorySynchronizationFeature,
    pub configuration: OnPremisesDirectorySynchronizationConfiguration,
    pub cycle_minutes: u32,
    pub last_cycle: i64,
    pub last_password_sync: Option<i64>,
    /// The engines that copy password hashes; a state saved before they were modelled gets a
    /// Connect Sync server whose channel is on.
    #[serde(default = "crate::emulator::engines::legacy")]
    pub engines: Engines,
    /// Seamless SSO per AD forest (the Connect server's `AzureADSSO` module shows and changes it;
    /// Graph has nothing for it).
    #[serde(default)]
    pub seamless_sso: Vec<SsoForestRec>,
}

/// One AD forest's Seamless SSO: whether Entra ID has its `AZUREADSSOACC` account's Kerberos key,
/// and when that key was last set (unix seconds).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SsoForestRec {
    pub forest: String,
    pub enabled: bool,
    pub key_set_at: Option<i64>,
}

impl SyncRec {
    pub fn password_sync_enabled(&self) -> bool {
        self.features.password_sync_enabled == Some(true)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserRec {
    pub id: String,
    pub upn: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub job_title: Option<String>,
    /// Synchronized from on-premises AD (its password lives there).
    pub synced: bool,
    pub immutable_id: Option<String>,
    /// Whether Entra holds a password hash (synced users get one from a sync cycle with PHS on).
    pub has_hash: bool,
    /// A cloud-only user's password (the rehearsal administrator).
    pub cloud_password: Option<String>,
    /// Directory role template ids.
    pub roles: Vec<String>,
    pub enabled: bool,
    pub last_sync: Option<i64>,
    /// Whether the user registered an MFA method with Entra ID (`userRegistrationDetails`).
    #[serde(default = "yes")]
    pub mfa_registered: bool,
    /// The user's UPN in AD (`onPremisesUserPrincipalName`), for a synchronized user.
    #[serde(default)]
    pub on_premises_upn: Option<String>,
}

/// A device registered in Entra ID, as `GET /devices` lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceRec {
    pub id: String,
    pub device_id: String,
    pub display_name: String,
    /// `ServerAd` (hybrid joined through AD), `AzureAd` (Entra joined) or `Workplace` (registered).
    pub trust_type: String,
    pub operating_system: String,
}

/// Entra ID smart lockout's values where the tenant changed them (a Password Rule Settings object).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LockoutRec {
    pub settings_id: String,
    pub threshold: u32,
    pub duration_s: u32,
}

impl UserRec {
    pub fn domain(&self) -> &str {
        self.upn
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupRec {
    pub id: String,
    pub display_name: String,
    /// Member users' ids.
    pub members: Vec<String>,
    #[serde(default)]
    pub dynamic: bool,
    /// Member organisational contacts' ids.
    #[serde(default)]
    pub contacts: Vec<String>,
    /// Member groups' ids.
    #[serde(default)]
    pub member_groups: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Sign-ins kept: Entra keeps 30 days (P1/P2); a rehearsal keeps this many.
pub const SIGNIN_LIMIT: usize = 20_000;

/// One sign-in as the log records it (`microsoft.graph.signIn`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SignInRec {
    pub id: String,
    pub created: i64,
    pub user_id: String,
    pub upn: String,
    pub display_name: String,
    pub app_id: String,
    pub app_name: String,
    pub ip: String,
    pub client_app: String,
    pub error_code: i32,
    pub failure_reason: Option<String>,
    pub interactive: bool,
    /// `success`, `failure` or `notApplied`.
    pub ca_status: String,
    /// `appliedConditionalAccessPolicy` objects.
    pub ca_applied: Vec<serde_json::Value>,
    /// `status.additionalDetails`: how the user signed in, where the morning after says (single
    /// sign-on, or a typed password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_details: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PolicyRec {
    pub policy: FeatureRolloutPolicy,
    pub applies_to: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppRec {
    pub client_id: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    /// Base64 DER certificates registered for certificate credentials.
    pub certificates: Vec<String>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FarmState {
    Up,
    Down,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FarmRec {
    pub display_name: String,
    pub state: FarmState,
    /// The federation service identifier (`http://{service}/adfs/services/trust/`).
    pub identifier: String,
    pub signing: SigningCert,
    pub encryption: SigningCert,
    /// The next token-signing certificate, listed beside the primary during a rollover.
    pub secondary: Option<SigningCert>,
    /// The issuer the farm's claim rules give each root domain's users (its own configuration, not
    /// Entra's: when the two disagree, Entra refuses the farm's tokens).
    #[serde(default)]
    pub issuers: BTreeMap<String, String>,
}

/// One change to a farm, as the control API and the command line name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FarmAction {
    Up,
    Down,
    Rollover,
    Promote,
}

impl std::str::FromStr for FarmAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "up" => Ok(FarmAction::Up),
            "down" => Ok(FarmAction::Down),
            "rollover" => Ok(FarmAction::Rollover),
            "promote" => Ok(FarmAction::Promote),
            other => Err(format!(
                "unknown farm state {other:?}: use up, down, rollover or promote"
            )),
        }
    }
}

/// What a request changed, so that saving writes only that.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// These domains' records (and nothing else).
    Domains(Vec<String>),
    /// The sync settings.
    Sync,
    /// The last this many sign-ins were added.
    SignIns(usize),
    /// Anything else: the whole tenant is saved.
    All,
}

impl Tenant {
    /// Shares every domain's certificates through the pool: after a load or a build.
    pub fn share_certificates(&mut self) {
        for i in 0..self.domains.len() {
            self.share_certificates_of(i);
        }
    }

    /// Shares one domain's certificates through the pool: after its settings are written.
    pub fn share_certificates_of(&mut self, idx: usize) {
        let d = &mut self.domains[idx];
        if let Some(f) = d.federation.as_deref_mut() {
            self.certificates.share(f);
        }
        if let Some(f) = d.previous.as_mut().and_then(|p| p.federation.as_mut()) {
            self.certificates.share(f);
        }
    }

    /// Adds sign-ins to the log, keeping the newest `SIGNIN_LIMIT`.
    pub fn add_signins(&mut self, new: Vec<SignInRec>) {
        self.signins.extend(new);
        if self.signins.len() > SIGNIN_LIMIT {
            let extra = self.signins.len() - SIGNIN_LIMIT;
            self.signins.drain(..extra);
        }
    }

    /// The emulated clock: real time plus what `clock advance` added.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::seconds(self.clock_offset_s)
    }

    pub fn advance_clock(&mut self, seconds: i64) {
        self.clock_offset_s = self.clock_offset_s.saturating_add(seconds);
    }

    /// Runs the sync cycles that fell due by `now`; returns whether anything changed.
    pub fn tick(&mut self, now: i64) -> bool {
        let period = i64::from(self.sync.cycle_minutes) * 60;
        if now < self.sync.last_cycle + period {
            return false;
        }
        let due = self.sync.last_cycle + (now - self.sync.last_cycle) / period * period;
        self.sync_cycle(due);
        true
    }

    /// One cycle of the sync engines, at emulated time `at`: users get password hashes only where an
    /// engine sends them (the flag alone sends none).
    pub fn sync_cycle(&mut self, at: i64) {
        self.sync.last_cycle = at;
        self.sync.engines.cycle(at);
        let flag = self.sync.password_sync_enabled();
        let mut any = false;
        for u in self.users.iter_mut().filter(|u| u.synced) {
            u.last_sync = Some(at);
            let domain = u.upn.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
            if self.sync.engines.hashes_flow_for(domain, flag) {
                u.has_hash = true;
                any = true;
            }
        }
        if any {
            self.sync.last_password_sync = Some(at);
        }
    }

    pub fn domain_index(&self, id: &str) -> Option<usize> {
        self.domains
            .iter()
            .position(|d| d.id().eq_ignore_ascii_case(id))
    }

    /// The root whose sign-in a domain follows (itself for a root).
    pub fn root_of(&self, idx: usize) -> usize {
        match &self.domains[idx].parent {
            Some(p) => self.domain_index(p).unwrap_or(idx),
            None => idx,
        }
    }

    /// A domain as Graph shows it: a subdomain carries its root's authentication type.
    pub fn domain_view(&self, idx: usize) -> Domain {
        let mut d = self.domains[idx].domain.clone();
        let root = self.root_of(idx);
        d.authentication_type = self.domains[root].domain.authentication_type.clone();
        d
    }

    /// The federation settings that apply to a domain (its root's for a subdomain).
    pub fn federation_of(&self, idx: usize) -> Option<&InternalDomainFederation> {
        self.domains[self.root_of(idx)].federation.as_deref()
    }

    /// What sign-in sees for the domain at `now`, given the propagation delay.
    pub fn realm(&self, idx: usize, now: i64, delay: Duration) -> RealmSnapshot {
        let root = &self.domains[self.root_of(idx)];
        let current = RealmSnapshot {
            auth: root
                .domain
                .authentication_type
                .clone()
                .unwrap_or(AuthenticationType::Managed),
            federation: root.federation.as_deref().cloned(),
        };
        match &root.previous {
            Some(prev) if now < root.changed_at.saturating_add(delay.as_secs() as i64) => {
                (**prev).clone()
            }
            _ => current,
        }
    }

    /// Records a change to a root domain's sign-in, keeping what sign-in still sees until it propagates.
    pub fn mark_changed(&mut self, idx: usize, before: RealmSnapshot, now: i64, delay: Duration) {
        let seen = self.realm(idx, now, delay);
        let d = &mut self.domains[idx];
        let still_propagating =
            d.previous.is_some() && now < d.changed_at.saturating_add(delay.as_secs() as i64);
        d.previous = Some(Box::new(if still_propagating { seen } else { before }));
        d.changed_at = now;
        if let Some(state) = d.domain.state.as_mut() {
            state.last_action_date_time = Some(graph_time(unix(now)));
        }
    }

    pub fn snapshot(&self, idx: usize) -> RealmSnapshot {
        let d = &self.domains[idx];
        RealmSnapshot {
            auth: d
                .domain
                .authentication_type
                .clone()
                .unwrap_or(AuthenticationType::Managed),
            federation: d.federation.as_deref().cloned(),
        }
    }

    /// Whether staged rollout moves this user to password hash sync: an enabled `passwordHashSync`
    /// policy applies to the organisation or to a group the user is a direct member of.
    pub fn staged_phs(&self, user_id: &str) -> bool {
        self.policies.iter().any(|p| {
            p.policy.feature == Some(StagedFeatureName::PasswordHashSync)
                && p.policy.is_enabled == Some(true)
                && (p.policy.is_applied_to_organization == Some(true)
                    || p.applies_to.iter().any(|gid| {
                        self.groups
                            .iter()
                            .any(|g| &g.id == gid && g.members.iter().any(|m| m == user_id))
                    }))
        })
    }

    pub fn user_by_upn(&self, upn: &str) -> Option<&UserRec> {
        self.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn))
    }

    /// The domain that owns a UPN's suffix, if the tenant has it.
    pub fn domain_of_upn(&self, upn: &str) -> Option<usize> {
        let (_, suffix) = upn.rsplit_once('@')?;
        self.domain_index(suffix)
    }

    /// Applies a farm change; `now` dates any new certificate.
    pub fn farm_action(
        &mut self,
        service: &str,
        action: FarmAction,
        now: i64,
    ) -> Result<(), String> {
        let farm = self
            .farms
            .get_mut(service)
            .ok_or_else(|| format!("no AD FS farm named {service}"))?;
        match action {
            FarmAction::Up => farm.state = FarmState::Up,
            FarmAction::Down => farm.state = FarmState::Down,
            FarmAction::Rollover => {
                if farm.secondary.is_none() {
                    // AD FS creates the next certificate ahead of the switch (AutoCertificateRollover).
                    farm.secondary = Some(
                        SigningCert::generate(&format!("ADFS Signing - {service}"), now - 60, 365)
                            .map_err(|e| e.to_string())?,
                    );
                }
            }
            FarmAction::Promote => {
                let next = farm.secondary.take().ok_or_else(|| {
                    format!("{service} has no secondary certificate to promote: roll it first")
                })?;
                farm.signing = next;
            }
        }
        Ok(())
    }

    pub fn user_password(&self) -> &str {
        &self.secrets.user_password
    }
}
