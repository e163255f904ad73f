//! The rehearsal tenant's data and the rules that change it: domains and their federation settings,
//! the directory sync engine, users and their password hashes, AD FS farms, and the emulated clock.
//!
//! Everything here is plain data behind one lock; the HTTP surfaces translate requests into calls on
//! [`Tenant`] and never keep state of their own that must survive a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clock::unix;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::EmulatorError;
use super::engines::{CloudConfig, ConnectServer, Engines};
use super::pki::SigningCert;
use super::scenario::{self, Resolved};
use crate::files;
use crate::graph::models::{
    AuthenticationProtocol, AuthenticationType, DeletionPreventionType, Domain,
    FeatureRolloutPolicy, FederatedIdpMfaBehavior, InternalDomainFederation,
    OnPremisesAccidentalDeletionPrevention, OnPremisesDirectorySynchronizationConfiguration,
    OnPremisesDirectorySynchronizationFeature, PromptLoginBehavior, SigningCertificateUpdateStatus,
    StagedFeatureName, graph_time,
};

/// The Global Administrator role template id.
pub const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
/// Hybrid Identity Administrator.
pub const HYBRID_IDENTITY_ADMIN: &str = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2";
/// Domain Name Administrator.
pub const DOMAIN_NAME_ADMIN: &str = "8329153b-31d0-4727-b945-745eb3bc5f31";

const STATE_VERSION: u32 = 1;

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
    /// Present while the domain (a root) is federated.
    pub federation: Option<InternalDomainFederation>,
    /// The root domain, for a subdomain that inherits its sign-in.
    pub parent: Option<String>,
    /// What sign-in saw before the last change, and when that change was made (unix seconds).
    pub previous: Option<RealmSnapshot>,
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
    #[serde(default = "super::engines::legacy")]
    pub engines: Engines,
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

/// One line of the change log: whole records, so that replaying a line twice changes nothing.
#[derive(Debug, Serialize, Deserialize)]
struct WalLine {
    epoch: String,
    seq: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    domains: Vec<DomainRec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sync: Option<SyncRec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    signins: Vec<SignInRec>,
}

/// The on-disk home of a tenant: a snapshot (`tenant.json`) and a change log (`tenant.wal`) of the
/// records changed since. A write appends one short line (fsync'd) instead of rewriting the whole
/// tenant, so a 5,000-domain tenant costs the same per change as a 5-domain one; the snapshot is
/// rewritten once the log is as long as the tenant has domains.
#[derive(Clone, Debug)]
pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    pub fn file(&self) -> PathBuf {
        self.dir.join("tenant.json")
    }

    pub fn wal(&self) -> PathBuf {
        self.dir.join("tenant.wal")
    }

    /// The tenant as last saved: the snapshot with the change log replayed on it. Only reads: a
    /// torn last line (a kill mid-append) is skipped, and left for the folder's owner to cut off.
    pub fn load(&self) -> Result<Option<Tenant>, EmulatorError> {
        self.load_with(false)
    }

    /// As `load`, by the process that owns the folder (it holds the emulator lock): a torn last line
    /// is cut off, so that the next appended line starts clean.
    pub fn load_to_write(&self) -> Result<Option<Tenant>, EmulatorError> {
        self.load_with(true)
    }

    fn load_with(&self, repair: bool) -> Result<Option<Tenant>, EmulatorError> {
        let path = self.file();
        // Read as a stream: a 5,000-domain tenant is not held twice (file and objects) at start.
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(EmulatorError::io(&path, e)),
        };
        let reader = std::io::BufReader::with_capacity(64 * 1024, file);
        let mut t: Tenant = serde_json::from_reader(reader).map_err(|e| {
            EmulatorError::State(format!(
                "{} cannot be read ({e}); start again with --fresh",
                path.display()
            ))
        })?;
        if t.version != STATE_VERSION {
            return Err(EmulatorError::State(format!(
                "{} is from another version ({}); start again with --fresh",
                path.display(),
                t.version
            )));
        }
        t.sync.engines.upgrade_saved();
        self.replay(&mut t, repair)?;
        Ok(Some(t))
    }

    fn replay(&self, t: &mut Tenant, repair: bool) -> Result<(), EmulatorError> {
        let wal = self.wal();
        let text = match std::fs::read(&wal) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(EmulatorError::io(&wal, e)),
        };
        let mut at = 0;
        while at < text.len() {
            let end = text[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(text.len(), |p| at + p);
            let raw = &text[at..end];
            let start = at;
            at = end + 1;
            if raw.is_empty() {
                continue;
            }
            let line: WalLine = match serde_json::from_slice(raw) {
                Ok(l) => l,
                // A kill mid-append tears only the last line, and that change was never answered:
                // it is cut off, so that the next line starts clean.
                Err(_) if at >= text.len() && !repair => break,
                Err(_) if at >= text.len() => {
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(&wal)
                        .map_err(|e| EmulatorError::io(&wal, e))?;
                    f.set_len(start as u64)
                        .and_then(|()| f.sync_all())
                        .map_err(|e| EmulatorError::io(&wal, e))?;
                    break;
                }
                Err(e) => {
                    return Err(EmulatorError::State(format!(
                        "{} at byte {start} cannot be read ({e}); start again with --fresh",
                        wal.display()
                    )));
                }
            };
            // Lines of an older snapshot, or already in this one, are skipped.
            if line.epoch != t.wal_epoch || line.seq <= t.wal_seq {
                continue;
            }
            for rec in line.domains {
                match t.domain_index(rec.id()) {
                    Some(i) => t.domains[i] = rec,
                    None => t.domains.push(rec),
                }
            }
            if let Some(sync) = line.sync {
                t.sync = sync;
            }
            t.add_signins(line.signins);
            t.wal_seq = line.seq;
            t.wal_records += 1;
        }
        Ok(())
    }

    /// Saves the whole tenant and starts a new change log.
    pub fn save(&self, tenant: &Tenant) -> Result<(), EmulatorError> {
        let file = self.file();
        files::write_atomic_with(&file, |f| {
            let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
            serde_json::to_writer(&mut w, tenant).map_err(std::io::Error::other)?;
            std::io::Write::flush(&mut w)
        })
        .map_err(|e| EmulatorError::io(&file, e))?;
        // The snapshot holds every logged change now (and names the sequence it holds up to).
        match std::fs::remove_file(self.wal()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(EmulatorError::io(&self.wal(), e)),
        }
    }

    /// Saves what `change` names: a change-log line, or the whole tenant when that is due.
    pub fn save_change(&self, t: &mut Tenant, change: &Change) -> Result<(), EmulatorError> {
        let due = t.wal_records >= t.domains.len().max(256);
        let line = match change {
            Change::All => None,
            _ if due => None,
            Change::Sync => Some(WalLine {
                epoch: t.wal_epoch.clone(),
                seq: t.wal_seq + 1,
                domains: vec![],
                sync: Some(t.sync.clone()),
                signins: vec![],
            }),
            Change::SignIns(n) => Some(WalLine {
                epoch: t.wal_epoch.clone(),
                seq: t.wal_seq + 1,
                domains: vec![],
                sync: None,
                signins: t.signins[t.signins.len().saturating_sub(*n)..].to_vec(),
            }),
            Change::Domains(ids) => {
                let mut domains = vec![];
                for id in ids {
                    match t.domain_index(id) {
                        Some(i) => domains.push(t.domains[i].clone()),
                        // A record that went away cannot be logged as a whole record.
                        None => {
                            domains.clear();
                            break;
                        }
                    }
                }
                (!domains.is_empty()).then(|| WalLine {
                    epoch: t.wal_epoch.clone(),
                    seq: t.wal_seq + 1,
                    domains,
                    sync: None,
                    signins: vec![],
                })
            }
        };
        let Some(line) = line else {
            t.wal_records = 0;
            return self.save(t);
        };
        let mut bytes =
            serde_json::to_vec(&line).map_err(|e| EmulatorError::State(e.to_string()))?;
        bytes.push(b'\n');
        let wal = self.wal();
        files::append_durable(&wal, &bytes).map_err(|e| EmulatorError::io(&wal, e))?;
        t.wal_seq = line.seq;
        t.wal_records += 1;
        Ok(())
    }
}

fn secret(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

const GIVEN: &[&str] = &[
    "Adele",
    "Alex",
    "Diego",
    "Grady",
    "Henrietta",
    "Isaiah",
    "Johanna",
    "Joni",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Ravi",
    "Sakura",
    "Tomas",
    "Wanda",
];
const FAMILY: &[&str] = &[
    "Vance",
    "Wilber",
    "Siciliani",
    "Archie",
    "Cerveny",
    "Langer",
    "Lauer",
    "Sherman",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Graham",
    "Wilke",
    "Fernandez",
    "Gupta",
    "Patel",
    "Tanaka",
    "Novak",
    "Ortiz",
];

impl Tenant {
    /// A fresh tenant made from the scenario.
    pub fn from_scenario(s: &Resolved) -> Result<Tenant, EmulatorError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let created = now - 400 * 86_400;
        let mut farms = BTreeMap::new();
        for (name, spec) in &s.farms {
            farms.insert(
                name.clone(),
                FarmRec {
                    display_name: spec.display_name.clone(),
                    state: if spec.state == "down" {
                        FarmState::Down
                    } else {
                        FarmState::Up
                    },
                    identifier: scenario::farm_identifier(name),
                    signing: SigningCert::generate(
                        &format!("ADFS Signing - {name}"),
                        now - 30 * 86_400,
                        365,
                    )?,
                    encryption: SigningCert::generate(
                        &format!("ADFS Encryption - {name}"),
                        now - 30 * 86_400,
                        365,
                    )?,
                    secondary: None,
                    issuers: BTreeMap::new(),
                },
            );
        }
        let mut domains = vec![DomainRec {
            domain: domain_model(
                &s.tenant.initial_domain,
                true,
                true,
                !s.domains.iter().any(|d| d.default),
                true,
            ),
            federation: None,
            parent: None,
            previous: None,
            changed_at: created,
        }];
        for d in &s.domains {
            if let Some(farm) = d.federation.as_ref().and_then(|f| farms.get_mut(f)) {
                let issuer = d.issuer.clone().unwrap_or_else(|| farm.identifier.clone());
                farm.issuers.insert(d.name.to_ascii_lowercase(), issuer);
            }
        }
        for d in &s.domains {
            let mut model = domain_model(&d.name, d.parent.is_none(), false, d.default, d.verified);
            let federation = match &d.federation {
                Some(farm_name) => {
                    let farm = &farms[farm_name];
                    model.authentication_type = Some(AuthenticationType::Federated);
                    let mut f = federation_for(
                        farm_name,
                        farm,
                        d.issuer.clone().unwrap_or_else(|| farm.identifier.clone()),
                        &format!("{} federation", d.name),
                        created,
                    );
                    if let Some(b) = &d.federated_idp_mfa_behavior {
                        f.federated_idp_mfa_behavior = Some(FederatedIdpMfaBehavior::from_wire(b));
                    }
                    Some(f)
                }
                None => None,
            };
            domains.push(DomainRec {
                domain: model,
                federation,
                parent: d.parent.clone(),
                previous: None,
                changed_at: created,
            });
        }
        // The administrator is like any user of their domain: on the tenant's onmicrosoft.com domain a
        // cloud-only account with a cloud password; on a domain of the organisation an AD account,
        // synchronized, whose sign-in follows the domain (through the farm while it is federated).
        let admin_on_premises = !s
            .admin
            .upn
            .to_ascii_lowercase()
            .ends_with(".onmicrosoft.com");
        let mut users = vec![UserRec {
            id: uuid::Uuid::new_v4().to_string(),
            upn: s.admin.upn.clone(),
            display_name: s.admin.display_name.clone(),
            given_name: None,
            surname: None,
            job_title: Some("Identity administrator".into()),
            synced: admin_on_premises,
            immutable_id: admin_on_premises.then(|| base64_of(uuid::Uuid::new_v4().as_bytes())),
            has_hash: !admin_on_premises,
            cloud_password: (!admin_on_premises).then(|| secret(20)),
            roles: s.admin.roles.clone(),
            enabled: true,
            last_sync: admin_on_premises.then_some(created),
            mfa_registered: true,
            on_premises_upn: admin_on_premises.then(|| s.admin.upn.clone()),
        }];
        let mut n = 0usize;
        for d in &s.domains {
            // The AD forest's own suffix, for users whose AD UPN is not a domain Entra ID knows.
            let ad_suffix = format!("{}.local", d.name.split('.').next().unwrap_or("corp"));
            for k in 0..d.users {
                let given = GIVEN[n % GIVEN.len()];
                let family = FAMILY[(n / GIVEN.len()) % FAMILY.len()];
                let round = n / (GIVEN.len() * FAMILY.len());
                let local = if round == 0 {
                    format!("{}.{}", given, family).to_lowercase()
                } else {
                    format!("{}.{}{}", given, family, round + 1).to_lowercase()
                };
                users.push(UserRec {
                    id: uuid::Uuid::new_v4().to_string(),
                    upn: format!("{local}@{}", d.name),
                    display_name: format!("{given} {family}"),
                    given_name: Some(given.into()),
                    surname: Some(family.into()),
                    job_title: None,
                    synced: true,
                    immutable_id: Some(base64_of(uuid::Uuid::new_v4().as_bytes())),
                    has_hash: false,
                    cloud_password: None,
                    roles: vec![],
                    enabled: true,
                    last_sync: Some(created),
                    mfa_registered: k >= d.mfa_unregistered,
                    on_premises_upn: Some(if k < d.unroutable_upn {
                        format!("{local}@{ad_suffix}")
                    } else {
                        format!("{local}@{}", d.name)
                    }),
                });
                n += 1;
            }
        }
        let mut groups: Vec<GroupRec> = s
            .groups
            .iter()
            .map(|g| GroupRec {
                id: uuid::Uuid::new_v4().to_string(),
                display_name: g.display_name.clone(),
                members: users
                    .iter()
                    .filter(|u| u.synced)
                    .filter(|u| {
                        g.domain
                            .as_deref()
                            .is_none_or(|d| u.domain().eq_ignore_ascii_case(d))
                    })
                    .take(g.members as usize)
                    .map(|u| u.id.clone())
                    .collect(),
                dynamic: g.dynamic,
                contacts: (0..g.contacts)
                    .map(|_| uuid::Uuid::new_v4().to_string())
                    .collect(),
                member_groups: vec![],
            })
            .collect();
        for (i, g) in s.groups.iter().enumerate() {
            let ids: Vec<String> = g
                .groups
                .iter()
                .filter_map(|name| groups.iter().find(|o| &o.display_name == name))
                .map(|o| o.id.clone())
                .collect();
            groups[i].member_groups = ids;
        }
        let mut features = OnPremisesDirectorySynchronizationFeature {
            password_sync_enabled: Some(s.sync.password_hash_sync),
            ..Default::default()
        };
        for f in [
            &mut features.password_writeback_enabled,
            &mut features.directory_extensions_enabled,
            &mut features.cloud_password_policy_for_password_synced_users_enabled,
            &mut features.fope_conflict_resolution_enabled,
            &mut features.unified_group_writeback_enabled,
            &mut features.user_writeback_enabled,
            &mut features.device_writeback_enabled,
            &mut features.user_force_password_change_on_logon_enabled,
            &mut features.concurrent_org_id_provisioning_enabled,
            &mut features.concurrent_credential_update_enabled,
            &mut features.group_write_back_enabled,
            &mut features.block_soft_match_enabled,
            &mut features.block_cloud_object_takeover_through_hard_match_enabled,
            &mut features.bypass_dir_sync_overrides_enabled,
            &mut features.allow_on_prem_update_of_on_premises_object_identifier_enabled,
        ] {
            *f = Some(false);
        }
        for f in [
            &mut features.quarantine_upon_upn_conflict_enabled,
            &mut features.quarantine_upon_proxy_addresses_conflict_enabled,
            &mut features.soft_match_on_upn_enabled,
            &mut features.synchronize_upn_for_managed_users_enabled,
        ] {
            *f = Some(true);
        }
        features.cloud_password_policy_for_password_synced_users_enabled =
            Some(s.sync.cloud_password_policy);
        features.user_force_password_change_on_logon_enabled =
            Some(s.sync.force_password_change_on_logon);
        let user_password = s
            .sync
            .user_password
            .clone()
            .unwrap_or_else(|| format!("Onprem-{}", secret(12)));
        let mut tenant = Tenant {
            version: STATE_VERSION,
            tenant_id: s.tenant.id.clone(),
            display_name: s.tenant.display_name.clone(),
            country: s.tenant.country.clone(),
            created,
            clock_offset_s: 0,
            wal_epoch: uuid::Uuid::new_v4().simple().to_string(),
            wal_seq: 0,
            wal_records: 0,
            secrets: Secrets {
                client_secret: s
                    .app
                    .client_secret
                    .clone()
                    .unwrap_or_else(|| format!("rehearsal~{}", secret(32))),
                admin_password: users[0]
                    .cloud_password
                    .clone()
                    .unwrap_or_else(|| user_password.clone()),
                user_password,
                control_token: secret(40),
            },
            token_key: SigningCert::generate("entra-failover rehearsal STS", now - 86_400, 3650)?,
            domains,
            sync: SyncRec {
                id: uuid::Uuid::new_v4().to_string(),
                features,
                configuration: OnPremisesDirectorySynchronizationConfiguration {
                    accidental_deletion_prevention: Some(OnPremisesAccidentalDeletionPrevention {
                        alert_threshold: Some(500),
                        synchronization_prevention_type: Some(
                            DeletionPreventionType::EnabledForCount,
                        ),
                    }),
                },
                cycle_minutes: s.sync.cycle_minutes.max(1),
                last_cycle: now - 60,
                last_password_sync: None,
                engines: engines_of(s),
            },
            users,
            groups,
            policies: vec![],
            ca_policies: vec![],
            premium: s.tenant.premium,
            federation_create_needs_access_as_user: s.tenant.federation_create_needs_access_as_user,
            devices: devices(&s.tenant),
            lockout: s.tenant.lockout_threshold.map(|threshold| LockoutRec {
                settings_id: uuid::Uuid::new_v4().to_string(),
                threshold,
                duration_s: s.tenant.lockout_duration_s.unwrap_or(60),
            }),
            signins: vec![],
            app: AppRec {
                client_id: s.app.client_id.clone(),
                display_name: s.app.display_name.clone(),
                roles: s.app.roles.clone(),
                scopes: s.app.scopes.clone(),
                certificates: vec![],
            },
            farms,
            limits: LimitsRec {
                page_size: s.limits.page_size,
                write_burst: s.limits.write_burst,
                writes_per_second: s.limits.writes_per_second,
                concurrent_requests: s.limits.concurrent_requests,
                device_code_interval_s: s.limits.device_code_interval_s,
                token_lifetime_s: s.limits.token_lifetime_s,
            },
        };
        tenant.ca_policies = s
            .conditional_access
            .iter()
            .map(|p| conditional_access_policy(p, &tenant.groups, created))
            .collect();
        if s.sync.password_hash_sync {
            tenant.sync_cycle(now - 60);
        }
        Ok(tenant)
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
        self.domains[self.root_of(idx)].federation.as_ref()
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
            federation: root.federation.clone(),
        };
        match &root.previous {
            Some(prev) if now < root.changed_at.saturating_add(delay.as_secs() as i64) => {
                prev.clone()
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
        d.previous = Some(if still_propagating { seen } else { before });
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
            federation: d.federation.clone(),
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

/// The scenario's devices: hybrid joined (through AD, `ServerAd`) and Entra registered (`Workplace`).
fn devices(spec: &super::scenario::TenantSpec) -> Vec<DeviceRec> {
    let make = |i: u32, trust: &str, prefix: &str, os: &str| DeviceRec {
        id: uuid::Uuid::new_v4().to_string(),
        device_id: uuid::Uuid::new_v4().to_string(),
        display_name: format!("{prefix}-{:04}", i + 1),
        trust_type: trust.into(),
        operating_system: os.into(),
    };
    (0..spec.hybrid_joined_devices)
        .map(|i| make(i, "ServerAd", "WS", "Windows"))
        .chain((0..spec.registered_devices).map(|i| make(i, "Workplace", "PHONE", "iOS")))
        .collect()
}

/// A `conditionalAccessPolicy` as Graph returns it, from a scenario's few words.
fn conditional_access_policy(
    p: &scenario::ConditionalAccessSpec,
    groups: &[GroupRec],
    created: i64,
) -> serde_json::Value {
    let group_ids: Vec<String> = p
        .include_groups
        .iter()
        .filter_map(|name| groups.iter().find(|g| &g.display_name == name))
        .map(|g| g.id.clone())
        .collect();
    serde_json::json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "templateId": null,
        "displayName": p.display_name,
        "description": null,
        "createdDateTime": graph_time(unix(created)),
        "modifiedDateTime": null,
        "state": p.state,
        "sessionControls": null,
        "conditions": {
            "userRiskLevels": [],
            "signInRiskLevels": [],
            "servicePrincipalRiskLevels": [],
            "clientAppTypes": p.client_app_types,
            "platforms": null,
            "locations": null,
            "devices": null,
            "clientApplications": null,
            "applications": {
                "includeApplications": p.include_applications,
                "excludeApplications": [],
                "includeUserActions": [],
                "includeAuthenticationContextClassReferences": []
            },
            "users": {
                "includeUsers": p.include_users,
                "excludeUsers": p.exclude_users,
                "includeGroups": group_ids,
                "excludeGroups": [],
                "includeRoles": [],
                "excludeRoles": []
            }
        },
        "grantControls": {
            "operator": "OR",
            "builtInControls": p.grant,
            "customAuthenticationFactors": [],
            "termsOfUse": []
        }
    })
}

/// Graph's view of a fresh domain.
fn domain_model(name: &str, root: bool, initial: bool, default: bool, verified: bool) -> Domain {
    Domain {
        id: Some(name.to_string()),
        authentication_type: Some(AuthenticationType::Managed),
        availability_status: None,
        is_admin_managed: Some(true),
        is_default: Some(default),
        is_initial: Some(initial),
        is_root: Some(root),
        is_verified: Some(verified),
        manufacturer: None,
        model: None,
        password_notification_window_in_days: Some(14),
        password_validity_period_in_days: Some(2_147_483_647),
        state: None,
        supported_services: Some(if initial {
            vec!["Email".into(), "OfficeCommunicationsOnline".into()]
        } else {
            vec![
                "Email".into(),
                "OfficeCommunicationsOnline".into(),
                "Intune".into(),
            ]
        }),
    }
}

/// The federation settings Entra Connect writes for a domain federated with an AD FS farm.
pub fn federation_for(
    service: &str,
    farm: &FarmRec,
    issuer: String,
    display_name: &str,
    at: i64,
) -> InternalDomainFederation {
    InternalDomainFederation {
        id: Some(uuid::Uuid::new_v4().to_string()),
        display_name: Some(display_name.to_string()),
        issuer_uri: Some(issuer),
        metadata_exchange_uri: Some(format!("https://{service}/adfs/services/trust/mex")),
        passive_sign_in_uri: Some(format!("https://{service}/adfs/ls/")),
        preferred_authentication_protocol: Some(AuthenticationProtocol::WsFed),
        signing_certificate: Some(farm.signing.cert_b64.clone()),
        active_sign_in_uri: Some(format!(
            "https://{service}/adfs/services/trust/2005/usernamemixed"
        )),
        federated_idp_mfa_behavior: Some(FederatedIdpMfaBehavior::AcceptIfMfaDoneByFederatedIdp),
        is_signed_authentication_request_required: Some(false),
        next_signing_certificate: None,
        password_reset_uri: None,
        prompt_login_behavior: Some(PromptLoginBehavior::NativeSupport),
        signing_certificate_update_status: Some(SigningCertificateUpdateStatus {
            certificate_update_result: Some("Success".into()),
            last_run_date_time: Some(graph_time(unix(at))),
        }),
        sign_out_uri: Some(format!("https://{service}/adfs/ls/?wa=wsignout1.0")),
    }
}

/// The engines a scenario asks for.
fn engines_of(s: &Resolved) -> Engines {
    let on = s.sync.password_hash_sync;
    let roots: Vec<&str> = s
        .domains
        .iter()
        .filter(|d| d.parent.is_none() && d.users > 0)
        .map(|d| d.name.as_str())
        .collect();
    let connect = (s.sync.engine != "cloud").then(|| {
        ConnectServer::new(
            &s.sync.connect_server,
            roots.first().copied().unwrap_or("contoso.com"),
            &s.tenant.initial_domain,
            on,
        )
    });
    let cloud = if s.sync.engine == "connect" {
        vec![]
    } else {
        let names: Vec<String> = match &s.sync.cloud_configurations {
            Some(n) => n.clone(),
            None => roots.iter().map(|r| r.to_string()).collect(),
        };
        names.iter().map(|n| CloudConfig::new(n, on)).collect()
    };
    Engines { connect, cloud }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Opens the tenant in `dir`: the saved one, or a fresh one from the scenario.
pub fn open(
    dir: &Path,
    fresh: bool,
    scenario: Option<&Path>,
) -> Result<(Store, Tenant), EmulatorError> {
    files::private_dir(dir).map_err(|e| EmulatorError::io(dir, e))?;
    let st = Store {
        dir: dir.to_path_buf(),
    };
    if !fresh && let Some(t) = st.load_to_write()? {
        return Ok((st, t));
    }
    let resolved = scenario::Scenario::load(scenario)?;
    let t = Tenant::from_scenario(&resolved)?;
    st.save(&t)?;
    Ok((st, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        Tenant::from_scenario(&scenario::Scenario::load(None).unwrap()).unwrap()
    }

    #[test]
    fn changes_go_to_the_log_and_come_back_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let st = Store {
            dir: dir.path().to_path_buf(),
        };
        let mut t = tenant();
        st.save(&t).unwrap();
        let snapshot = std::fs::read(st.file()).unwrap();
        let i = t.domain_index("contoso.com").unwrap();
        t.domains[i].federation = None;
        t.domains[i].domain.authentication_type = Some(AuthenticationType::Managed);
        st.save_change(&mut t, &Change::Domains(vec!["contoso.com".into()]))
            .unwrap();
        t.sync.features.password_sync_enabled = Some(true);
        st.save_change(&mut t, &Change::Sync).unwrap();
        // The snapshot was not rewritten; the log holds two lines.
        assert_eq!(std::fs::read(st.file()).unwrap(), snapshot);
        let log = std::fs::read_to_string(st.wal()).unwrap();
        assert_eq!(log.lines().count(), 2);
        let back = st.load().unwrap().unwrap();
        assert_eq!(back.domains[i].federation, None);
        assert_eq!(back.sync.features.password_sync_enabled, Some(true));
        assert_eq!(back.wal_seq, 2);
        // A torn last line (a kill mid-append) is cut off; the lines before it stay.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(st.wal())
            .unwrap();
        std::io::Write::write_all(&mut f, b"{\"epoch\":\"").unwrap();
        // The killed writer is gone (Windows keeps a file open elsewhere from being removed).
        drop(f);
        // A reader skips it and leaves it; the folder's owner cuts it off.
        let back = st.load().unwrap().unwrap();
        assert_eq!(back.wal_seq, 2);
        assert_ne!(std::fs::read_to_string(st.wal()).unwrap(), log);
        let back = st.load_to_write().unwrap().unwrap();
        assert_eq!(back.wal_seq, 2);
        assert_eq!(std::fs::read_to_string(st.wal()).unwrap(), log);
        // A damaged line in the middle is refused, not skipped.
        std::fs::write(st.wal(), format!("garbage\n{log}")).unwrap();
        assert!(st.load().unwrap_err().to_string().contains("--fresh"));
        std::fs::write(st.wal(), &log).unwrap();
        // A whole save holds the logged changes and ends the log.
        st.save_change(&mut t, &Change::All).unwrap();
        assert!(!st.wal().exists());
        let back = st.load().unwrap().unwrap();
        assert_eq!(back.domains[i].federation, None);
        // A log left from another snapshot (a kill between the two steps of a fresh start) is ignored.
        std::fs::write(st.wal(), &log).unwrap();
        let mut fresh = tenant();
        st.save(&fresh).unwrap();
        std::fs::write(st.wal(), &log).unwrap();
        let back = st.load().unwrap().unwrap();
        assert!(back.domains[i].federation.is_some());
        // The log is folded into a new snapshot once it is as long as the tenant has domains (256 at least).
        for _ in 0..300 {
            st.save_change(&mut fresh, &Change::Sync).unwrap();
        }
        let lines = std::fs::read_to_string(st.wal()).unwrap().lines().count();
        assert!(lines < 256, "{lines}");
        assert_eq!(st.load().unwrap().unwrap().wal_seq, fresh.wal_seq);
    }

    #[test]
    fn scenario_tenant_has_federated_and_managed_domains() {
        let t = tenant();
        let fed: Vec<&str> = t
            .domains
            .iter()
            .filter(|d| d.federation.is_some())
            .map(|d| d.id())
            .collect();
        assert_eq!(fed, ["contoso.com", "fabrikam.com"]);
        let eu = t.domain_index("EU.contoso.com").unwrap();
        assert_eq!(
            t.domain_view(eu).authentication_type,
            Some(AuthenticationType::Federated)
        );
        assert_eq!(t.domain_view(eu).is_root, Some(false));
        assert_eq!(t.users.iter().filter(|u| u.synced).count(), 200);
        assert!(t.users.iter().all(|u| !u.synced || !u.has_hash));
    }

    #[test]
    fn sync_cycle_gives_hashes_only_when_the_engine_sends_them() {
        let mut t = tenant();
        let now = t.now().unix_timestamp();
        assert!(t.tick(now + 3600));
        assert!(t.users.iter().filter(|u| u.synced).all(|u| !u.has_hash));
        // The flag alone: cycles run, no hash arrives (the Connect server's password sync is off).
        t.sync.features.password_sync_enabled = Some(true);
        assert!(!t.tick(now + 3600));
        assert!(t.tick(now + 3600 + 120));
        assert!(t.users.iter().filter(|u| u.synced).all(|u| !u.has_hash));
        assert_eq!(t.sync.last_password_sync, None);
        // The server's password sync on (the script ran): the next cycle brings them.
        t.sync.engines.connect.as_mut().unwrap().password_sync = true;
        assert!(t.tick(now + 3600 + 240));
        assert!(t.users.iter().filter(|u| u.synced).all(|u| u.has_hash));
        assert_eq!(t.sync.last_password_sync, Some(t.sync.last_cycle));
    }

    #[test]
    fn realm_lags_by_the_propagation_delay() {
        let mut t = tenant();
        let idx = t.domain_index("contoso.com").unwrap();
        let before = t.snapshot(idx);
        t.domains[idx].federation = None;
        t.domains[idx].domain.authentication_type = Some(AuthenticationType::Managed);
        let delay = Duration::from_secs(300);
        t.mark_changed(idx, before, 1_000, delay);
        assert_eq!(
            t.realm(idx, 1_100, delay).auth,
            AuthenticationType::Federated
        );
        assert_eq!(t.realm(idx, 1_300, delay).auth, AuthenticationType::Managed);
        let eu = t.domain_index("eu.contoso.com").unwrap();
        assert_eq!(
            t.realm(eu, 1_100, delay).auth,
            AuthenticationType::Federated
        );
    }

    /// A real moment: certificates start a minute before it, and Windows refuses times before 1970.
    const NOW: i64 = 1_780_000_000;

    #[test]
    fn rollover_then_promote_swaps_the_signing_certificate() {
        let mut t = tenant();
        let old = t.farms["sts.contoso.com"].signing.clone();
        t.farm_action("sts.contoso.com", FarmAction::Rollover, NOW)
            .unwrap();
        let next = t.farms["sts.contoso.com"].secondary.clone().unwrap();
        t.farm_action("sts.contoso.com", FarmAction::Promote, NOW)
            .unwrap();
        assert_eq!(t.farms["sts.contoso.com"].signing, next);
        assert_ne!(next, old);
        assert!(
            t.farm_action("sts.contoso.com", FarmAction::Promote, NOW)
                .is_err()
        );
        assert!(t.farm_action("nope", FarmAction::Up, 0).is_err());
    }
}
