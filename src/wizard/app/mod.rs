//! The wizard's state machine: `update(state, action)` changes the state and names the backend work
//! (effects) to start. Rendering reads the state; nothing here does I/O.

use std::collections::BTreeSet;

use crate::ops::plan::Plan;
use crate::ops::status::Status;
pub use control::Control;

mod control;
mod failover;
mod federation;
mod replies;
mod run;
mod staged;
mod start;
mod switch_back;
mod sync_options;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Welcome,
    Connect,
    Tasks,
    ViewConfig,
    OptionalFeatures,
    UserSignIn,
    /// The runbook's *Enable single sign-on*: what the Connect server's Seamless SSO script checks
    /// and changes (Graph cannot), after User sign-in when its tick is on.
    EnableSso,
    Domains,
    Preflight,
    Ready,
    Configuring,
    Complete,
    TestSignin,
    /// A federated user's password at the farm, as Entra ID checks it (after Verify).
    FederatedLogin,
    AdfsFarm,
    EntraDomain,
    SettingsSource,
    ManageFederation,
    TrustDomain,
    Certificates,
    Verify,
    /// Finishes the changes an interrupted run left, as `entra-failover resume` does.
    Resume,
    /// Staged rollout of password hash sync: its groups, which to keep, which to add.
    StagedRollout,
    /// Who signs in after a cutover: the sign-in log, refreshed while the page shows.
    SignIns,
    /// Read-only, before an outage: who would be locked out or left weaker, and one read of each
    /// kind the runbook makes (`entra-failover readiness`).
    Readiness,
}

impl Page {
    pub fn title(self) -> &'static str {
        match self {
            Page::Welcome => "Welcome",
            Page::Connect => "Connect to Microsoft Entra ID",
            Page::Tasks => "Additional tasks",
            Page::ViewConfig => "View current configuration",
            Page::OptionalFeatures => "Optional features",
            Page::UserSignIn => "User sign-in",
            Page::EnableSso => "Enable single sign-on",
            Page::Domains => "Domains",
            Page::Preflight => "Pre-flight",
            Page::Ready => "Ready to configure",
            Page::Configuring => "Configuring",
            Page::Complete => "Configuration complete",
            Page::TestSignin => "Test sign-in",
            Page::FederatedLogin => "Verify federated login",
            Page::AdfsFarm => "AD FS farm",
            Page::EntraDomain => "Microsoft Entra domain",
            Page::SettingsSource => "Federation settings",
            Page::ManageFederation => "Manage federation",
            Page::TrustDomain => "Federated domain",
            Page::Certificates => "Certificates",
            Page::Verify => "Verify federation connectivity",
            Page::Resume => "Finish interrupted changes",
            Page::StagedRollout => "Staged rollout",
            Page::SignIns => "Sign-ins after the cutover",
            Page::Readiness => "Readiness",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    ViewConfig,
    SyncOptions,
    ChangeSignIn,
    ManageFederation,
    StagedRollout,
    Readiness,
}

impl Task {
    pub const ALL: [Task; 6] = [
        Task::ViewConfig,
        Task::SyncOptions,
        Task::ChangeSignIn,
        Task::ManageFederation,
        Task::StagedRollout,
        Task::Readiness,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Task::ViewConfig => "View current configuration",
            Task::SyncOptions => "Customize synchronization options",
            Task::ChangeSignIn => "Change user sign-in",
            Task::ManageFederation => "Manage federation",
            Task::StagedRollout => "Staged rollout of password hash sync",
            Task::Readiness => "Check readiness (read-only)",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    PasswordHashSync,
    Federation,
    DoNotConfigure,
}

impl SignIn {
    pub const ALL: [SignIn; 3] = [
        SignIn::PasswordHashSync,
        SignIn::Federation,
        SignIn::DoNotConfigure,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SignIn::PasswordHashSync => "Password hash synchronization",
            SignIn::Federation => "Federation with AD FS",
            SignIn::DoNotConfigure => "Do not configure",
        }
    }
}

/// Which job the pages serve: it decides the domain lists and where Complete leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Sync,
    Failover,
    SwitchBack,
    ResetTrust,
    VerifyOnly,
    Staged,
}

/// The staged rollout as its page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct StagedInfo {
    pub enabled: bool,
    /// The policy exists (on or off).
    pub exists: bool,
    /// `(id, display name, members)` of each group in it.
    pub groups: Vec<(String, String, String)>,
    /// Some of the tenant's group names, to type from.
    pub some_groups: Vec<String>,
    /// A member of a pilot group, whom Test sign-in offers after a change.
    pub pilot_user: Option<String>,
}

/// The jobs of Manage federation.
pub const FEDERATION_JOBS: [&str; 3] = [
    "Reset Microsoft Entra ID trust",
    "Verify federation connectivity",
    "Test sign-in",
];

/// A farm as its metadata describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct FarmInfo {
    pub service: String,
    pub entity_id: String,
    /// `SHA-1 thumbprint, expiry` of each token-signing certificate.
    pub certificates: Vec<String>,
}

/// A backup the switch-back can restore.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupInfo {
    pub domain: String,
    pub taken_at: String,
    pub path: String,
    /// The AD FS farm the backed-up settings sign in at (their passive sign-in URI's host).
    pub farm: Option<String>,
}

/// An error as the error panel shows it: Graph's code, message and request id, and what it means.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorPanel {
    pub title: String,
    pub message: String,
    pub request_id: Option<String>,
    pub meaning: String,
    /// 0 Retry, 1 Skip, 2 Abort.
    pub focus: usize,
}

/// What the backend reports back.
#[derive(Clone, Debug)]
pub enum BackendEvent {
    Connected {
        who: String,
        missing_phs: Vec<String>,
        missing_convert: Vec<String>,
        missing_staged: Vec<String>,
        status: Box<Status>,
        /// On the rehearsal tenant: a synchronized user that Test sign-in offers.
        sample_user: Option<String>,
    },
    Status(Box<Status>),
    Planned(Box<Plan>),
    Progress(String),
    Done(Vec<String>),
    Failed(ErrorPanel),
    Control(String),
    SignIn(String),
    Backups(Vec<BackupInfo>),
    Farm(Result<FarmInfo, String>),
    Certificates(Vec<String>),
    Verified {
        lines: Vec<String>,
        passed: bool,
    },
    /// Password hash sync is set up but no hash has arrived yet: watch for the first password sync
    /// newer than `previous`. `next_steps` is what is left to do (run the Connect server's script):
    /// true only until hashes arrive, so it is shown only until then.
    AwaitHashes {
        previous: Option<String>,
        next_steps: String,
    },
    /// A look for hashes: the newer password sync's time, or `None` while none has run.
    Hashes(Option<String>),
    /// Resume's outcome for each interrupted change.
    Resumed(Vec<String>),
    Staged(Box<StagedInfo>),
    /// A look at the sign-in log: the summary, or why it cannot be read.
    SignIns(Result<Box<crate::ops::signins::Summary>, String>),
    /// The readiness checks' result, or why they could not run.
    Readiness(Result<Box<crate::ops::readiness::Readiness>, String>),
}

#[derive(Clone, Debug)]
pub enum Action {
    Next,
    Previous,
    Up,
    Down,
    Toggle,
    FocusNext,
    FocusPrev,
    Digit(u8),
    Input(char),
    Backspace,
    Help,
    Quit,
    Controls,
    Backend(BackendEvent),
}

/// Backend work the update asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Connect {
        profile: String,
    },
    Refresh,
    /// Reconcile and finish the interrupted changes (`resume`).
    Resume,
    PrepareEnablePhs,
    PrepareFailover {
        domains: Vec<String>,
        /// Write the Seamless SSO script (User sign-in's *Enable single sign-on*).
        sso: bool,
    },
    Run,
    Control(Control),
    TestSignIn {
        upn: String,
        password: crate::wizard::secret::TypedPassword,
    },
    LoadBackups,
    LoadFarm {
        service: String,
    },
    /// Switch `domains` back together: one plan, one confirmation.
    PrepareSwitchBack {
        domains: Vec<String>,
        from_backup: bool,
        service: String,
    },
    PrepareResetTrust {
        domain: String,
    },
    Verify {
        domain: String,
    },
    /// Verify each domain switched back together.
    VerifyAll {
        domains: Vec<String>,
    },
    /// Read the staged rollout and some group names.
    LoadStaged,
    /// Look at the sign-in log of `domains` (the last 15 minutes); after a pause unless `first`.
    WatchSignIns {
        domains: Vec<String>,
        first: bool,
    },
    PrepareStaged {
        change: crate::ops::staged_rollout::Change,
    },
    /// Look again, after a pause, whether a password sync newer than `previous` has run.
    WatchHashes {
        previous: Option<String>,
    },
    /// Run the readiness checks (read-only).
    Readiness,
    Exit,
}

#[derive(Clone, Debug)]
pub struct State {
    pub page: Page,
    pub history: Vec<Page>,
    pub profiles: Vec<String>,
    pub profile: String,
    pub rehearsal: bool,
    /// The focused row of the page.
    pub focus: usize,
    pub busy: Option<String>,
    pub who: Option<String>,
    pub missing_phs: Vec<String>,
    pub missing_convert: Vec<String>,
    pub missing_staged: Vec<String>,
    pub status: Option<Status>,
    pub task: Task,
    pub phs_checked: bool,
    pub sign_in: SignIn,
    /// User sign-in's *Enable single sign-on* tick (on, as the runbook leaves it).
    pub sso: bool,
    pub selected: BTreeSet<String>,
    pub confirm: String,
    pub plan: Option<Plan>,
    pub log: Vec<String>,
    pub summary: Vec<String>,
    pub notice: Option<String>,
    pub error: Option<ErrorPanel>,
    pub help: bool,
    pub controls: bool,
    pub quit_asked: bool,
    pub in_flight: bool,
    pub upn: String,
    /// A user to offer on Test sign-in (the rehearsal tenant's synchronized sample).
    pub sample_user: Option<String>,
    /// Ready to configure shows long bodies whole (`v`).
    pub plan_full: bool,
    pub password: crate::wizard::secret::TypedPassword,
    pub signin_result: Option<String>,
    pub flow: Flow,
    pub farm_service: String,
    pub farm: Option<FarmInfo>,
    pub farm_error: Option<String>,
    pub backups: Vec<BackupInfo>,
    /// The domain a switch-back, trust reset or verification is about.
    pub target: Option<String>,
    pub from_backup: bool,
    pub certificates: Vec<String>,
    pub verify: Option<(Vec<String>, bool)>,
    /// What Resume did, one line per change, once it ran.
    pub resumed: Option<Vec<String>>,
    /// The managed domains to switch back together (Microsoft Entra domain page).
    pub back: std::collections::BTreeSet<String>,
    /// The Complete page's watch for the first password hashes after enable-phs.
    pub hashes: Option<HashesWatch>,
    pub staged: Option<StagedInfo>,
    /// The ids of the staged rollout's groups that stay (unticked ones leave).
    pub staged_keep: BTreeSet<String>,
    /// Groups to add, by name or id, separated by commas.
    pub staged_add: String,
    pub staged_end: bool,
    pub staged_change: Option<crate::ops::staged_rollout::Change>,
    /// The sign-in watch: the last look, and how many looks were made.
    pub signins: Option<Result<crate::ops::signins::Summary, String>>,
    /// The readiness checks, once they ran (their text, as `readiness` prints it).
    pub readiness: Option<Result<Box<crate::ops::readiness::Readiness>, String>>,
    pub signin_looks: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HashesWatch {
    pub previous: Option<String>,
    pub looks: u32,
    pub arrived: Option<String>,
    /// What is left to do while no hash has arrived.
    pub next_steps: String,
}

impl State {
    pub fn new(profiles: Vec<String>) -> State {
        let profile = profiles
            .first()
            .cloned()
            .unwrap_or_else(|| crate::auth::profile::REHEARSAL.to_string());
        State {
            page: Page::Welcome,
            history: vec![],
            rehearsal: profile == crate::auth::profile::REHEARSAL,
            profile,
            profiles,
            focus: 0,
            busy: None,
            who: None,
            missing_phs: vec![],
            missing_convert: vec![],
            missing_staged: vec![],
            status: None,
            task: Task::ViewConfig,
            phs_checked: false,
            sign_in: SignIn::PasswordHashSync,
            sso: true,
            selected: BTreeSet::new(),
            confirm: String::new(),
            plan: None,
            log: vec![],
            summary: vec![],
            notice: None,
            error: None,
            help: false,
            controls: false,
            quit_asked: false,
            in_flight: false,
            upn: String::new(),
            sample_user: None,
            resumed: None,
            back: Default::default(),
            plan_full: false,
            password: crate::wizard::secret::TypedPassword::new(),
            signin_result: None,
            flow: Flow::Sync,
            farm_service: String::new(),
            farm: None,
            farm_error: None,
            backups: vec![],
            target: None,
            from_backup: true,
            certificates: vec![],
            verify: None,
            hashes: None,
            staged: None,
            staged_keep: BTreeSet::new(),
            staged_add: String::new(),
            staged_end: false,
            staged_change: None,
            signins: None,
            readiness: None,
            signin_looks: 0,
        }
    }

    /// Federated root domains that can be converted, and the subdomains that follow them.
    pub fn federated_roots(&self) -> Vec<String> {
        self.status
            .iter()
            .flat_map(|s| s.domains.iter())
            .filter(|d| d.is_root && d.authentication_type == "Federated")
            .map(|d| d.id.clone())
            .collect()
    }

    /// Managed root domains that can be federated again (not the initial domain).
    pub fn managed_roots(&self) -> Vec<String> {
        self.status
            .iter()
            .flat_map(|s| s.domains.iter())
            .filter(|d| {
                d.is_root
                    && d.authentication_type == "Managed"
                    && !d.id.ends_with(".onmicrosoft.com")
            })
            .map(|d| d.id.clone())
            .collect()
    }

    /// The newest backup of a domain.
    pub fn backup_of(&self, domain: &str) -> Option<&BackupInfo> {
        self.backups
            .iter()
            .filter(|b| b.domain.eq_ignore_ascii_case(domain))
            .max_by(|a, b| a.taken_at.cmp(&b.taken_at))
    }

    /// What must be typed on the pre-flight page: the domain names, space-separated.
    pub fn confirm_word(&self) -> String {
        self.selected.iter().cloned().collect::<Vec<_>>().join(" ")
    }

    pub fn confirmed(&self) -> bool {
        let typed: BTreeSet<String> = self
            .confirm
            .split_whitespace()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        let want: BTreeSet<String> = self
            .selected
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        !want.is_empty() && typed == want
    }

    /// Whether Next may leave the current page, and why not.
    pub fn blocked(&self) -> Option<String> {
        if self.busy.is_some() {
            return Some("wait: work is in progress".into());
        }
        match self.page {
            Page::Connect if self.who.is_none() => Some("not signed in yet".into()),
            Page::StagedRollout if self.staged.is_none() => {
                Some("reading the staged rollout".into())
            }
            Page::AdfsFarm if self.farm_service.trim().is_empty() => {
                Some("type the federation service name".into())
            }
            Page::EntraDomain if self.managed_roots().is_empty() => {
                Some("no managed domain to federate".into())
            }
            Page::TrustDomain if self.federated_roots().is_empty() => {
                Some("no federated domain".into())
            }
            Page::SettingsSource
                if self.from_backup
                    && self
                        .switching_back()
                        .iter()
                        .any(|d| self.backup_of(d).is_none()) =>
            {
                Some("there is no backup of this domain: choose the farm's metadata".into())
            }
            Page::Ready if self.plan.as_ref().is_some_and(|p| !p.failed().is_empty()) => {
                Some("a check failed: nothing can be changed".into())
            }
            Page::Certificates if self.plan.is_none() => Some("reading the certificates".into()),
            Page::Certificates if self.plan.as_ref().is_some_and(|p| !p.failed().is_empty()) => {
                Some("a check failed: nothing can be changed".into())
            }
            Page::Verify if self.verify.is_none() => Some("the checks are running".into()),
            Page::Readiness if self.readiness.is_none() => {
                Some("the readiness checks are running".into())
            }
            Page::OptionalFeatures if self.phs_checked && !self.missing_phs.is_empty() => {
                Some(format!("missing: {}", self.missing_phs.join("; ")))
            }
            Page::UserSignIn
                if self.sign_in != SignIn::DoNotConfigure && !self.missing_convert.is_empty() =>
            {
                Some(format!("missing: {}", self.missing_convert.join("; ")))
            }
            Page::Domains if self.selected.is_empty() => {
                Some("select at least one federated domain".into())
            }
            Page::Preflight => match &self.plan {
                None => Some("the pre-flight checks are running".into()),
                Some(p) if !p.failed().is_empty() => {
                    Some("a pre-flight check failed: nothing can be changed".into())
                }
                Some(_) if !self.confirmed() => {
                    Some(format!("type {} to confirm", self.confirm_word()))
                }
                Some(_) => None,
            },
            Page::Ready if self.plan.is_none() => Some("the plan is being prepared".into()),
            Page::Configuring => Some("the change is in progress".into()),
            _ => None,
        }
    }

    fn rows(&self) -> usize {
        match self.page {
            Page::Welcome => self.profiles.len().max(1),
            Page::Tasks => Task::ALL.len(),
            // The methods, then the single sign-on tick.
            Page::UserSignIn => SignIn::ALL.len() + 1,
            Page::Domains => self.federated_roots().len().max(1),
            Page::TestSignin | Page::FederatedLogin => 2,
            Page::EntraDomain => self.managed_roots().len().max(1),
            Page::TrustDomain => self.federated_roots().len().max(1),
            Page::SettingsSource => 2,
            Page::ManageFederation => FEDERATION_JOBS.len(),
            Page::StagedRollout => self.staged_rows(),
            _ => 1,
        }
    }

    /// Pages of text (plans, reports, logs) scroll with Up/Down instead of moving a focus.
    pub fn scrolls(&self) -> bool {
        matches!(
            self.page,
            Page::ViewConfig
                | Page::Readiness
                | Page::SignIns
                | Page::Ready
                | Page::Complete
                | Page::Certificates
                | Page::Verify
                | Page::Preflight
        )
    }

    fn go(&mut self, page: Page) {
        self.history.push(self.page);
        self.page = page;
        self.focus = 0;
        self.notice = None;
        if page == Page::TestSignin {
            self.offer_sample_user();
        }
        if page == Page::FederatedLogin {
            self.signin_result = None;
            // The rehearsal's sample user, when it belongs to the domain verified.
            let of_target = self.sample_user.clone().filter(|u| {
                self.target
                    .as_deref()
                    .is_some_and(|d| u.to_ascii_lowercase().ends_with(&format!("@{d}")))
            });
            if let Some(u) = of_target {
                self.upn = u;
            }
        }
    }

    /// The domains a switch-back is about: those ticked, else the one chosen.
    fn switching_back(&self) -> Vec<String> {
        if self.back.is_empty() {
            self.target.iter().cloned().collect()
        } else {
            self.back.iter().cloned().collect()
        }
    }

    /// Test sign-in starts with the rehearsal's synchronized sample user (if nothing was typed).
    fn offer_sample_user(&mut self) {
        if self.upn.is_empty() {
            self.upn = self.sample_user.clone().unwrap_or_default();
        }
    }

    pub fn text_input(&self) -> bool {
        matches!(
            self.page,
            Page::Preflight | Page::TestSignin | Page::FederatedLogin | Page::AdfsFarm
        ) || (self.page == Page::StagedRollout && self.focus == self.staged_add_row())
    }

    /// Staged rollout's rows: its groups, then the field to add groups, then "end it".
    pub fn staged_rows(&self) -> usize {
        self.staged_add_row() + 2
    }

    pub fn staged_add_row(&self) -> usize {
        self.staged.as_ref().map_or(0, |v| v.groups.len())
    }
}

/// Applies an action; returns the backend work to start.
pub fn update(s: &mut State, a: Action) -> Vec<Effect> {
    if let Action::Backend(e) = a {
        return replies::backend(s, e);
    }
    if s.quit_asked {
        return match a {
            Action::Input('y') | Action::Next => vec![Effect::Exit],
            _ => {
                s.quit_asked = false;
                vec![]
            }
        };
    }
    if s.help {
        s.help = false;
        return vec![];
    }
    if let Some(panel) = s.error.as_mut() {
        return match a {
            Action::FocusNext | Action::Down => {
                panel.focus = (panel.focus + 1) % 3;
                vec![]
            }
            Action::FocusPrev | Action::Up => {
                panel.focus = (panel.focus + 2) % 3;
                vec![]
            }
            Action::Next => {
                let choice = panel.focus;
                s.error = None;
                match choice {
                    0 => retry(s),
                    1 => {
                        // Skip: back to the task list, the tenant re-read.
                        s.page = Page::Tasks;
                        s.focus = 0;
                        vec![Effect::Refresh]
                    }
                    _ => vec![Effect::Exit],
                }
            }
            Action::Previous => {
                s.error = None;
                vec![]
            }
            Action::Quit => vec![Effect::Exit],
            _ => vec![],
        };
    }
    if s.controls {
        return match a {
            Action::Up => {
                s.focus = s.focus.saturating_sub(1);
                vec![]
            }
            Action::Down => {
                s.focus = (s.focus + 1).min(Control::ALL.len() - 1);
                vec![]
            }
            Action::Digit(d) if (1..=Control::ALL.len() as u8).contains(&d) => {
                s.controls = false;
                vec![Effect::Control(Control::ALL[d as usize - 1])]
            }
            Action::Next | Action::Toggle => {
                let c = Control::ALL[s.focus.min(Control::ALL.len() - 1)];
                s.controls = false;
                s.focus = 0;
                vec![Effect::Control(c)]
            }
            _ => {
                s.controls = false;
                s.focus = 0;
                vec![]
            }
        };
    }
    match a {
        Action::Quit => {
            if s.in_flight {
                s.quit_asked = true;
                vec![]
            } else {
                vec![Effect::Exit]
            }
        }
        Action::Help => {
            s.help = true;
            vec![]
        }
        Action::Controls if s.rehearsal && !s.in_flight => {
            s.controls = true;
            s.focus = 0;
            vec![]
        }
        Action::Controls => {
            s.notice = Some("Rehearsal controls exist only on the rehearsal tenant".into());
            vec![]
        }
        Action::Up if s.scrolls() => {
            s.focus = s.focus.saturating_sub(1);
            vec![]
        }
        Action::Down if s.scrolls() => {
            s.focus = (s.focus + 1).min(10_000);
            vec![]
        }
        Action::Up | Action::FocusPrev if !s.text_input() || moves(s, &a) => {
            s.focus = s.focus.checked_sub(1).unwrap_or(s.rows() - 1);
            vec![]
        }
        Action::Down | Action::FocusNext if !s.text_input() || moves(s, &a) => {
            s.focus = (s.focus + 1) % s.rows();
            vec![]
        }
        Action::Up | Action::Down | Action::FocusPrev | Action::FocusNext => vec![],
        Action::Digit(d) if s.page == Page::Tasks && (1..=Task::ALL.len() as u8).contains(&d) => {
            s.focus = d as usize - 1;
            next(s)
        }
        Action::Input('v') if s.page == Page::Ready => {
            s.plan_full = !s.plan_full;
            vec![]
        }
        Action::Input(c) if s.text_input() => {
            field(s).push(c);
            vec![]
        }
        Action::Digit(d) if s.text_input() => {
            field(s).push(char::from(b'0' + d));
            vec![]
        }
        Action::Backspace if s.text_input() => {
            field(s).pop();
            vec![]
        }
        Action::Toggle => {
            toggle(s);
            vec![]
        }
        Action::Next => next(s),
        Action::Previous => previous(s),
        _ => vec![],
    }
}

/// Whether an arrow or Tab moves the focus off a text field: Tab always; the arrows too where the
/// field is one row among others (staged rollout's list).
fn moves(s: &State, a: &Action) -> bool {
    matches!(a, Action::FocusNext | Action::FocusPrev) || s.page == Page::StagedRollout
}

/// The text field being typed into.
fn field(s: &mut State) -> &mut String {
    match (s.page, s.focus) {
        (Page::TestSignin | Page::FederatedLogin, 0) => &mut s.upn,
        (Page::TestSignin | Page::FederatedLogin, _) => s.password.field(),
        (Page::AdfsFarm, _) => &mut s.farm_service,
        (Page::StagedRollout, _) => &mut s.staged_add,
        _ => &mut s.confirm,
    }
}

fn toggle(s: &mut State) {
    match s.page {
        Page::OptionalFeatures => s.phs_checked = !s.phs_checked,
        Page::StagedRollout => staged::toggle(s),
        Page::UserSignIn => match SignIn::ALL.get(s.focus) {
            Some(m) => s.sign_in = *m,
            None => s.sso = !s.sso,
        },
        Page::SettingsSource => s.from_backup = s.focus == 0,
        Page::EntraDomain => {
            if let Some(d) = s.managed_roots().get(s.focus).cloned()
                && !s.back.remove(&d)
            {
                s.back.insert(d);
            }
        }
        Page::Domains => {
            if let Some(d) = s.federated_roots().get(s.focus) {
                if !s.selected.remove(d) {
                    s.selected.insert(d.clone());
                }
                s.confirm.clear();
                s.plan = None;
            }
        }
        Page::Welcome => {
            if let Some(p) = s.profiles.get(s.focus) {
                s.profile = p.clone();
            }
        }
        _ => {}
    }
}

fn next(s: &mut State) -> Vec<Effect> {
    if let Some(why) = s.blocked() {
        s.notice = Some(why);
        return vec![];
    }
    match s.page {
        Page::Welcome
        | Page::Connect
        | Page::Resume
        | Page::Tasks
        | Page::ViewConfig
        | Page::Readiness => start::next(s),
        Page::OptionalFeatures => sync_options::next(s),
        Page::UserSignIn | Page::EnableSso | Page::Domains | Page::Preflight => failover::next(s),
        Page::AdfsFarm | Page::EntraDomain | Page::SettingsSource => switch_back::next(s),
        Page::ManageFederation | Page::TrustDomain | Page::Certificates | Page::Verify => {
            federation::next(s)
        }
        Page::Ready
        | Page::Configuring
        | Page::Complete
        | Page::TestSignin
        | Page::FederatedLogin
        | Page::SignIns => run::next(s),
        Page::StagedRollout => staged::next(s),
    }
}

fn previous(s: &mut State) -> Vec<Effect> {
    if s.in_flight || s.page == Page::Configuring {
        s.notice = Some("the change is in progress: it finishes first".into());
        return vec![];
    }
    if s.page == Page::Complete {
        s.page = Page::Tasks;
        s.history.clear();
        return vec![];
    }
    if let Some(p) = s.history.pop() {
        s.page = p;
        s.focus = 0;
        s.notice = None;
        s.busy = None;
    }
    vec![]
}

fn retry(s: &mut State) -> Vec<Effect> {
    match s.page {
        Page::Connect => {
            s.busy = Some(format!("signing in to {}", s.profile));
            vec![Effect::Connect {
                profile: s.profile.clone(),
            }]
        }
        Page::Preflight => {
            s.busy = Some("running the pre-flight checks".into());
            vec![Effect::PrepareFailover {
                domains: s.selected.iter().cloned().collect(),
                sso: s.sso,
            }]
        }
        Page::Ready if s.flow == Flow::SwitchBack && s.plan.is_none() => {
            s.busy = Some("preparing the plan".into());
            vec![Effect::PrepareSwitchBack {
                domains: s.back.iter().cloned().collect(),
                from_backup: s.from_backup,
                service: s.farm_service.trim().to_ascii_lowercase(),
            }]
        }
        Page::Certificates => {
            s.busy = Some("reading the farm's certificates".into());
            vec![Effect::PrepareResetTrust {
                domain: s.target.clone().unwrap_or_default(),
            }]
        }
        Page::Verify if s.flow == Flow::SwitchBack && !s.back.is_empty() => {
            s.busy = Some("verifying".into());
            vec![Effect::VerifyAll {
                domains: s.back.iter().cloned().collect(),
            }]
        }
        Page::Verify => {
            s.busy = Some("verifying".into());
            vec![Effect::Verify {
                domain: s.target.clone().unwrap_or_default(),
            }]
        }
        Page::Ready if s.flow == Flow::Staged && s.plan.is_none() => {
            s.busy = Some("preparing the plan".into());
            s.staged_change
                .clone()
                .map(|change| vec![Effect::PrepareStaged { change }])
                .unwrap_or_default()
        }
        Page::StagedRollout => {
            s.busy = Some("reading the staged rollout".into());
            vec![Effect::LoadStaged]
        }
        Page::Ready if s.task == Task::SyncOptions => {
            s.busy = Some("preparing the plan".into());
            vec![Effect::PrepareEnablePhs]
        }
        Page::Configuring | Page::Ready => {
            // Rerunning converges: domains already converted are reported as such.
            s.page = Page::Configuring;
            s.in_flight = true;
            vec![Effect::Run]
        }
        _ => vec![Effect::Refresh],
    }
}

#[cfg(test)]
pub mod tests;
