//! The wizard's state machine: `update(state, action)` changes the state and names the backend work
//! (effects) to start. Rendering reads the state; nothing here does I/O.

use std::collections::BTreeSet;

use crate::ops::plan::Plan;
use crate::ops::status::Status;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Welcome,
    Connect,
    Tasks,
    ViewConfig,
    OptionalFeatures,
    UserSignIn,
    Domains,
    Preflight,
    Ready,
    Configuring,
    Complete,
    TestSignin,
    AdfsFarm,
    EntraDomain,
    SettingsSource,
    ManageFederation,
    TrustDomain,
    Certificates,
    Verify,
    /// Finishes the changes an interrupted run left, as `entra-failover resume` does.
    Resume,
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
            Page::Domains => "Domains",
            Page::Preflight => "Pre-flight",
            Page::Ready => "Ready to configure",
            Page::Configuring => "Configuring",
            Page::Complete => "Configuration complete",
            Page::TestSignin => "Test sign-in",
            Page::AdfsFarm => "AD FS farm",
            Page::EntraDomain => "Microsoft Entra domain",
            Page::SettingsSource => "Federation settings",
            Page::ManageFederation => "Manage federation",
            Page::TrustDomain => "Federated domain",
            Page::Certificates => "Certificates",
            Page::Verify => "Verify federation connectivity",
            Page::Resume => "Finish interrupted changes",
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
}

impl Task {
    pub const ALL: [Task; 5] = [
        Task::ViewConfig,
        Task::SyncOptions,
        Task::ChangeSignIn,
        Task::ManageFederation,
        Task::StagedRollout,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Task::ViewConfig => "View current configuration",
            Task::SyncOptions => "Customize synchronization options",
            Task::ChangeSignIn => "Change user sign-in",
            Task::ManageFederation => "Manage federation",
            Task::StagedRollout => "Staged rollout of password hash sync",
        }
    }

    /// Tasks whose pages are not built yet say so, and where to do the job meanwhile.
    pub fn coming(self) -> Option<&'static str> {
        match self {
            Task::StagedRollout => Some("coming: staged rollout has no backend yet"),
            _ => None,
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
    /// newer than `previous`.
    AwaitHashes {
        previous: Option<String>,
    },
    /// A look for hashes: the newer password sync's time, or `None` while none has run.
    Hashes(Option<String>),
    /// Resume's outcome for each interrupted change.
    Resumed(Vec<String>),
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

/// Rehearsal controls (F2): what the outside world would do to a real tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    FarmDown,
    FarmUp,
    Rollover,
    Promote,
    Sync,
    ConnectScript,
    AdvanceClock,
}

impl Control {
    pub const ALL: [Control; 7] = [
        Control::FarmDown,
        Control::FarmUp,
        Control::Rollover,
        Control::Promote,
        Control::Sync,
        Control::ConnectScript,
        Control::AdvanceClock,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Control::FarmDown => "Take the AD FS farm down",
            Control::FarmUp => "Bring the AD FS farm back",
            Control::Rollover => "Roll the farm's token-signing certificate (list the next one)",
            Control::Promote => "Promote the next certificate to primary",
            Control::Sync => "Run a sync cycle now",
            Control::ConnectScript => "Run the generated script on the Connect server",
            Control::AdvanceClock => "Advance the clock by 10 minutes",
        }
    }
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
    },
    Run,
    Control(Control),
    TestSignIn {
        upn: String,
        password: String,
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
    /// Look again, after a pause, whether a password sync newer than `previous` has run.
    WatchHashes {
        previous: Option<String>,
    },
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
    pub status: Option<Status>,
    pub task: Task,
    pub phs_checked: bool,
    pub sign_in: SignIn,
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
    pub password: String,
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
}

#[derive(Clone, Debug, PartialEq)]
pub struct HashesWatch {
    pub previous: Option<String>,
    pub looks: u32,
    pub arrived: Option<String>,
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
            status: None,
            task: Task::ViewConfig,
            phs_checked: false,
            sign_in: SignIn::PasswordHashSync,
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
            password: String::new(),
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
            Page::Tasks => Task::ALL[self.focus.min(4)].coming().map(str::to_string),
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
            Page::UserSignIn => SignIn::ALL.len(),
            Page::Domains => self.federated_roots().len().max(1),
            Page::TestSignin => 2,
            Page::EntraDomain => self.managed_roots().len().max(1),
            Page::TrustDomain => self.federated_roots().len().max(1),
            Page::SettingsSource => 2,
            Page::ManageFederation => FEDERATION_JOBS.len(),
            _ => 1,
        }
    }

    /// Pages of text (plans, reports, logs) scroll with Up/Down instead of moving a focus.
    pub fn scrolls(&self) -> bool {
        matches!(
            self.page,
            Page::ViewConfig
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
            Page::Preflight | Page::TestSignin | Page::AdfsFarm
        )
    }
}

/// Applies an action; returns the backend work to start.
pub fn update(s: &mut State, a: Action) -> Vec<Effect> {
    if let Action::Backend(e) = a {
        return backend(s, e);
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
        Action::Up | Action::FocusPrev if !s.text_input() || a_is_focus(&a) => {
            s.focus = s.focus.checked_sub(1).unwrap_or(s.rows() - 1);
            vec![]
        }
        Action::Down | Action::FocusNext if !s.text_input() || a_is_focus(&a) => {
            s.focus = (s.focus + 1) % s.rows();
            vec![]
        }
        Action::Up | Action::Down | Action::FocusPrev | Action::FocusNext => vec![],
        Action::Digit(d) if s.page == Page::Tasks && (1..=5).contains(&d) => {
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

fn a_is_focus(a: &Action) -> bool {
    matches!(a, Action::FocusNext | Action::FocusPrev)
}

/// The text field being typed into.
fn field(s: &mut State) -> &mut String {
    match (s.page, s.focus) {
        (Page::TestSignin, 0) => &mut s.upn,
        (Page::TestSignin, _) => &mut s.password,
        (Page::AdfsFarm, _) => &mut s.farm_service,
        _ => &mut s.confirm,
    }
}

fn toggle(s: &mut State) {
    match s.page {
        Page::OptionalFeatures => s.phs_checked = !s.phs_checked,
        Page::UserSignIn => s.sign_in = SignIn::ALL[s.focus.min(2)],
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
        Page::Welcome => {
            s.profile = s
                .profiles
                .get(s.focus)
                .cloned()
                .unwrap_or_else(|| s.profile.clone());
            s.rehearsal = s.profile == crate::auth::profile::REHEARSAL;
            s.go(Page::Connect);
            s.busy = Some(format!("signing in to {}", s.profile));
            vec![Effect::Connect {
                profile: s.profile.clone(),
            }]
        }
        Page::Connect => {
            // What a crash or a closed laptop left comes first: nothing else should start on top.
            let interrupted = s
                .status
                .as_ref()
                .is_some_and(|st| !st.interrupted.is_empty());
            if interrupted {
                s.resumed = None;
                s.go(Page::Resume);
            } else {
                s.go(Page::Tasks);
            }
            vec![]
        }
        Page::Resume => match &s.resumed {
            None if !s.in_flight => {
                s.in_flight = true;
                s.busy = Some("finishing the interrupted changes".into());
                vec![Effect::Resume]
            }
            None => vec![],
            Some(_) => {
                s.go(Page::Tasks);
                vec![]
            }
        },
        Page::Tasks => {
            s.task = Task::ALL[s.focus.min(4)];
            match s.task {
                Task::ViewConfig => {
                    s.go(Page::ViewConfig);
                    s.busy = Some("reading the tenant".into());
                    vec![Effect::Refresh]
                }
                Task::SyncOptions => {
                    s.hashes = None;
                    s.phs_checked = s.status.as_ref().is_some_and(|st| st.password_hash_sync);
                    s.go(Page::OptionalFeatures);
                    vec![]
                }
                Task::ChangeSignIn => {
                    s.go(Page::UserSignIn);
                    vec![]
                }
                Task::ManageFederation => {
                    s.go(Page::ManageFederation);
                    vec![]
                }
                Task::StagedRollout => vec![],
            }
        }
        Page::ViewConfig => {
            s.go(Page::Tasks);
            vec![]
        }
        Page::OptionalFeatures => {
            s.flow = Flow::Sync;
            // On means the flag is on and hashes arrive; a flag without hashes still needs the
            // engine's part (the Connect server's script, Cloud Sync's job).
            let already = s
                .status
                .as_ref()
                .is_some_and(|st| st.password_hash_sync && st.password_hashes_arriving);
            if !s.phs_checked || already {
                // Said on the page it returns to (going there clears the old page's notice).
                s.go(Page::Tasks);
                s.notice = Some(
                    if already {
                        "Password hash synchronization is already on, and hashes arrive: nothing to change"
                    } else {
                        "Nothing to change: no optional feature was switched on"
                    }
                    .into(),
                );
                return vec![];
            }
            s.plan = None;
            s.go(Page::Ready);
            s.busy = Some("preparing the plan".into());
            vec![Effect::PrepareEnablePhs]
        }
        Page::UserSignIn => match s.sign_in {
            SignIn::DoNotConfigure => {
                s.go(Page::Tasks);
                vec![]
            }
            SignIn::PasswordHashSync => {
                s.flow = Flow::Failover;
                s.go(Page::Domains);
                vec![]
            }
            SignIn::Federation => {
                s.flow = Flow::SwitchBack;
                s.back.clear();
                if s.farm_service.is_empty() {
                    s.farm_service = s
                        .status
                        .iter()
                        .flat_map(|st| st.farms.iter())
                        .map(|f| f.service.clone())
                        .next()
                        .unwrap_or_default();
                }
                s.farm = None;
                s.farm_error = None;
                s.go(Page::AdfsFarm);
                vec![Effect::LoadBackups]
            }
        },
        Page::AdfsFarm => {
            let service = s.farm_service.trim().to_ascii_lowercase();
            if s.farm.as_ref().is_some_and(|f| f.service == service) {
                s.go(Page::EntraDomain);
                return vec![];
            }
            s.farm = None;
            s.farm_error = None;
            s.busy = Some(format!("reading the federation metadata of {service}"));
            vec![Effect::LoadFarm { service }]
        }
        Page::EntraDomain => {
            // Enter alone takes the focused domain; Space ticks several to switch back together.
            let roots = s.managed_roots();
            s.back.retain(|d| roots.contains(d));
            if s.back.is_empty()
                && let Some(d) = roots.get(s.focus.min(roots.len().saturating_sub(1)))
            {
                s.back.insert(d.clone());
            }
            s.target = s.back.iter().next().cloned();
            s.from_backup = s.back.iter().all(|d| s.backup_of(d).is_some());
            s.go(Page::SettingsSource);
            s.focus = if s.from_backup { 0 } else { 1 };
            vec![]
        }
        Page::SettingsSource => {
            s.plan = None;
            s.go(Page::Ready);
            s.busy = Some("preparing the plan".into());
            vec![Effect::PrepareSwitchBack {
                domains: s.back.iter().cloned().collect(),
                from_backup: s.from_backup,
                service: s.farm_service.trim().to_ascii_lowercase(),
            }]
        }
        Page::ManageFederation => match s.focus {
            0 | 1 => {
                s.flow = if s.focus == 0 {
                    Flow::ResetTrust
                } else {
                    Flow::VerifyOnly
                };
                s.go(Page::TrustDomain);
                vec![]
            }
            _ => {
                s.go(Page::TestSignin);
                vec![]
            }
        },
        Page::TrustDomain => {
            let roots = s.federated_roots();
            let domain = roots
                .get(s.focus.min(roots.len().saturating_sub(1)))
                .cloned()
                .unwrap_or_default();
            s.target = Some(domain.clone());
            if s.flow == Flow::VerifyOnly {
                s.verify = None;
                s.go(Page::Verify);
                s.busy = Some(format!("verifying {domain}"));
                return vec![Effect::Verify { domain }];
            }
            s.plan = None;
            s.certificates.clear();
            s.go(Page::Certificates);
            s.busy = Some("reading the farm's certificates".into());
            vec![Effect::PrepareResetTrust { domain }]
        }
        Page::Certificates => {
            s.go(Page::Ready);
            vec![]
        }
        Page::Verify => {
            s.go(Page::TestSignin);
            vec![]
        }
        Page::Domains => {
            s.plan = None;
            s.confirm.clear();
            s.go(Page::Preflight);
            s.busy = Some("running the pre-flight checks".into());
            vec![Effect::PrepareFailover {
                domains: s.selected.iter().cloned().collect(),
            }]
        }
        Page::Preflight => {
            s.go(Page::Ready);
            vec![]
        }
        Page::Ready => {
            s.log.clear();
            s.go(Page::Configuring);
            s.in_flight = true;
            vec![Effect::Run]
        }
        Page::Configuring => vec![],
        Page::Complete => {
            s.history.clear();
            s.history.push(Page::Tasks);
            s.focus = 0;
            if s.flow == Flow::SwitchBack && !s.back.is_empty() {
                let domains: Vec<String> = s.back.iter().cloned().collect();
                s.verify = None;
                s.page = Page::Verify;
                s.busy = Some(format!("verifying {}", domains.join(", ")));
                return vec![Effect::VerifyAll { domains }];
            }
            if matches!(s.flow, Flow::SwitchBack | Flow::ResetTrust) {
                let domain = s.target.clone().unwrap_or_default();
                s.verify = None;
                s.page = Page::Verify;
                s.busy = Some(format!("verifying {domain}"));
                return vec![Effect::Verify { domain }];
            }
            s.page = Page::TestSignin;
            s.offer_sample_user();
            vec![]
        }
        Page::TestSignin => {
            if s.upn.trim().is_empty() {
                s.notice = Some("type a user principal name".into());
                return vec![];
            }
            s.signin_result = None;
            s.busy = Some(format!("testing the sign-in of {}", s.upn.trim()));
            vec![Effect::TestSignIn {
                upn: s.upn.trim().to_string(),
                password: std::mem::take(&mut s.password),
            }]
        }
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

fn backend(s: &mut State, e: BackendEvent) -> Vec<Effect> {
    match e {
        BackendEvent::Connected {
            who,
            missing_phs,
            missing_convert,
            status,
            sample_user,
        } => {
            s.busy = None;
            s.sample_user = sample_user;
            s.who = Some(who);
            s.missing_phs = missing_phs;
            s.missing_convert = missing_convert;
            s.status = Some(*status);
        }
        BackendEvent::Status(st) => {
            s.busy = None;
            s.status = Some(*st);
        }
        BackendEvent::Planned(p) => {
            s.busy = None;
            s.plan = Some(*p);
        }
        BackendEvent::Progress(line) => s.log.push(line),
        BackendEvent::Done(summary) => {
            s.in_flight = false;
            s.busy = None;
            s.summary = summary;
            if s.page == Page::Configuring {
                s.page = Page::Complete;
                s.focus = 0;
            }
            return vec![Effect::Refresh];
        }
        BackendEvent::Failed(panel) => {
            s.in_flight = false;
            s.busy = None;
            s.error = Some(panel);
        }
        BackendEvent::Resumed(lines) => {
            s.in_flight = false;
            s.busy = None;
            s.resumed = Some(lines);
            return vec![Effect::Refresh];
        }
        BackendEvent::Control(msg) => {
            s.notice = Some(msg);
            return vec![Effect::Refresh];
        }
        BackendEvent::AwaitHashes { previous } => {
            s.hashes = Some(HashesWatch {
                previous: previous.clone(),
                looks: 0,
                arrived: None,
            });
            return vec![Effect::WatchHashes { previous }];
        }
        BackendEvent::Hashes(found) => {
            // The watch goes on while its page shows; leaving the page ends it.
            if let Some(w) = s.hashes.as_mut().filter(|_| s.page == Page::Complete) {
                w.looks += 1;
                match found {
                    Some(t) => w.arrived = Some(t),
                    None => {
                        return vec![Effect::WatchHashes {
                            previous: w.previous.clone(),
                        }];
                    }
                }
            }
        }
        BackendEvent::SignIn(result) => {
            s.busy = None;
            s.signin_result = Some(result);
        }
        BackendEvent::Backups(b) => {
            // Every domain may be managed now, so that no status names the farm: the backups do.
            if s.farm_service.trim().is_empty()
                && let Some(farm) = b
                    .iter()
                    .filter(|x| x.farm.is_some())
                    .max_by(|x, y| x.taken_at.cmp(&y.taken_at))
                    .and_then(|x| x.farm.clone())
            {
                s.farm_service = farm;
            }
            s.backups = b;
        }
        BackendEvent::Farm(result) => {
            s.busy = None;
            match result {
                Ok(f) => {
                    s.farm = Some(f);
                    s.farm_error = None;
                }
                Err(e) => s.farm_error = Some(e),
            }
        }
        BackendEvent::Certificates(rows) => s.certificates = rows,
        BackendEvent::Verified { lines, passed } => {
            s.busy = None;
            s.verify = Some((lines, passed));
        }
    }
    vec![]
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::ops::plan::Outcome;
    use crate::ops::status::{DomainStatus, FarmHealth, Status};

    pub fn status(phs: bool) -> Status {
        let d = |id: &str, auth: &str, root: bool, issuer: Option<&str>| DomainStatus {
            id: id.into(),
            authentication_type: auth.into(),
            is_root: root,
            is_verified: true,
            issuer_uri: issuer.map(str::to_string),
            signing_certificate_sha1: None,
            signing_certificate_expires: None,
            federation_service: None,
        };
        Status {
            profile: "rehearsal".into(),
            simulated: true,
            tenant_id: "9c5f2b1e-4d3a-4f6b-9e2c-7a1d0b8c3e55".into(),
            tenant_name: "Contoso (rehearsal)".into(),
            signed_in_as: "admin@contoso.onmicrosoft.com".into(),
            directory_sync_enabled: true,
            last_sync: Some("2026-11-25T10:00:00Z".into()),
            password_hash_sync: phs,
            last_password_sync: phs.then(|| "2026-11-25T10:00:00Z".into()),
            sync_id: "s".into(),
            sync_engines: crate::ops::sync_engines::Engines {
                connect: Some(crate::ops::sync_engines::ConnectSync {
                    server: Some("AADCONNECT01".into()),
                    service_account: Some(
                        "Sync_AADCONNECT01_0a1b2c3d4e5f@contoso.onmicrosoft.com".into(),
                    ),
                }),
                cloud: vec![],
                unknown: vec![],
            },
            password_hashes_arriving: phs,
            domains: vec![
                d("contoso.onmicrosoft.com", "Managed", true, None),
                d(
                    "contoso.com",
                    "Federated",
                    true,
                    Some("http://sts.contoso.com/adfs/services/trust"),
                ),
                d("eu.contoso.com", "Federated", false, None),
                d(
                    "fabrikam.com",
                    "Federated",
                    true,
                    Some("http://fabrikam.com/adfs/services/trust/"),
                ),
                d("northwind.com", "Managed", true, None),
            ],
            farms: vec![FarmHealth {
                service: "sts.contoso.com".into(),
                healthy: false,
                detail: "down".into(),
                simulated: true,
            }],
            interrupted: vec![],
            requests: 0,
        }
    }

    /// A state signed in to the rehearsal tenant, on the task list.
    pub fn connected(phs: bool) -> State {
        let mut s = signed_in(status(phs));
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::Tasks);
        s
    }

    /// A state just signed in to the rehearsal tenant whose status is `st`, on the Connect page.
    pub fn signed_in(st: Status) -> State {
        let mut s = State::new(vec!["rehearsal".into()]);
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::Connect {
                profile: "rehearsal".into()
            }]
        );
        update(
            &mut s,
            Action::Backend(BackendEvent::Connected {
                who: "admin@contoso.onmicrosoft.com".into(),
                missing_phs: vec![],
                missing_convert: vec![],
                status: Box::new(st),
                sample_user: Some("adele.vance@contoso.com".into()),
            }),
        );
        s
    }

    pub fn plan(fail: bool) -> Plan {
        let mut p = Plan::new("Change user sign-in to password hash synchronization", "t");
        p.check("permissions", Outcome::Pass, "granted");
        p.check(
            "password hash sync",
            if fail { Outcome::Fail } else { Outcome::Pass },
            "on",
        );
        p.step(
            Some("contoso.com"),
            "PATCH",
            "/v1.0/domains/contoso.com",
            None,
            "convert",
        );
        p
    }

    #[test]
    fn connect_waits_for_the_sign_in() {
        let mut s = State::new(vec!["rehearsal".into(), "prod".into()]);
        update(&mut s, Action::Down);
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::Connect {
                profile: "prod".into()
            }]
        );
        assert!(!s.rehearsal);
        assert_eq!(s.page, Page::Connect);
        assert!(update(&mut s, Action::Next).is_empty());
        assert_eq!(s.page, Page::Connect, "no Next before signing in");
        update(&mut s, Action::Previous);
        assert_eq!(s.page, Page::Welcome);
    }

    #[test]
    fn the_failover_flow_needs_a_selection_a_clean_preflight_and_the_typed_name() {
        let mut s = connected(true);
        update(&mut s, Action::Digit(3));
        assert_eq!(s.page, Page::UserSignIn);
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::Domains);
        assert!(update(&mut s, Action::Next).is_empty(), "nothing selected");
        assert_eq!(s.page, Page::Domains);
        update(&mut s, Action::Toggle);
        assert_eq!(s.selected.iter().collect::<Vec<_>>(), ["contoso.com"]);
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::PrepareFailover {
                domains: vec!["contoso.com".into()]
            }]
        );
        assert_eq!(s.page, Page::Preflight);
        assert!(
            update(&mut s, Action::Next).is_empty(),
            "checks still running"
        );
        update(
            &mut s,
            Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
        );
        for c in "contoso.co".chars() {
            update(&mut s, Action::Input(c));
        }
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::Preflight, "not yet typed in full");
        update(&mut s, Action::Input('m'));
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::Ready);
        assert_eq!(update(&mut s, Action::Next), vec![Effect::Run]);
        assert_eq!(s.page, Page::Configuring);
        assert!(s.in_flight);
        // Quitting while a change is in flight asks first; Previous does not cut it short.
        assert!(update(&mut s, Action::Quit).is_empty());
        assert!(s.quit_asked);
        update(&mut s, Action::Input('n'));
        assert!(!s.quit_asked);
        update(&mut s, Action::Previous);
        assert_eq!(s.page, Page::Configuring);
        update(
            &mut s,
            Action::Backend(BackendEvent::Progress("contoso.com: converted".into())),
        );
        assert_eq!(
            update(
                &mut s,
                Action::Backend(BackendEvent::Done(vec!["contoso.com: converted".into()]))
            ),
            vec![Effect::Refresh]
        );
        assert_eq!(s.page, Page::Complete);
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::TestSignin);
        update(&mut s, Action::Previous);
        assert_eq!(s.page, Page::Tasks);
    }

    #[test]
    fn a_failed_preflight_blocks_next() {
        let mut s = connected(false);
        update(&mut s, Action::Digit(3));
        update(&mut s, Action::Next);
        update(&mut s, Action::Toggle);
        update(&mut s, Action::Next);
        update(
            &mut s,
            Action::Backend(BackendEvent::Planned(Box::new(plan(true)))),
        );
        for c in "contoso.com".chars() {
            update(&mut s, Action::Input(c));
        }
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::Preflight);
        assert!(
            s.notice
                .as_deref()
                .unwrap_or_default()
                .contains("pre-flight check failed")
        );
    }

    #[test]
    fn interrupted_changes_are_finished_first() {
        let mut st = status(true);
        st.interrupted = vec!["failover fabrikam.com (started 2026-12-02T10:00:00Z)".into()];
        let mut s = signed_in(st);
        update(&mut s, Action::Next);
        assert_eq!(
            s.page,
            Page::Resume,
            "nothing starts on top of a half-done change"
        );
        assert_eq!(update(&mut s, Action::Next), vec![Effect::Resume]);
        assert!(s.in_flight);
        assert!(update(&mut s, Action::Next).is_empty(), "once");
        assert_eq!(
            update(
                &mut s,
                Action::Backend(BackendEvent::Resumed(vec![
                    "failover fabrikam.com: finished".into()
                ]))
            ),
            vec![Effect::Refresh]
        );
        assert!(!s.in_flight);
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::Tasks);
    }

    #[test]
    fn optional_features_with_nothing_changed_says_so() {
        let mut s = connected(false);
        update(&mut s, Action::Digit(2));
        assert_eq!(s.page, Page::OptionalFeatures);
        assert!(update(&mut s, Action::Next).is_empty());
        assert_eq!(s.page, Page::Tasks);
        assert!(
            s.notice
                .as_deref()
                .unwrap_or_default()
                .starts_with("Nothing to change"),
            "{:?}",
            s.notice
        );
        let mut s = connected(true);
        update(&mut s, Action::Digit(2));
        update(&mut s, Action::Next);
        assert!(
            s.notice
                .as_deref()
                .unwrap_or_default()
                .contains("already on"),
            "{:?}",
            s.notice
        );
    }

    #[test]
    fn a_missing_permission_blocks_next() {
        let mut s = connected(false);
        s.missing_phs =
            vec!["application permission OnPremDirectorySynchronization.ReadWrite.All".into()];
        update(&mut s, Action::Digit(2));
        assert_eq!(s.page, Page::OptionalFeatures);
        update(&mut s, Action::Toggle);
        assert!(update(&mut s, Action::Next).is_empty());
        assert_eq!(s.page, Page::OptionalFeatures);
        assert!(
            s.notice
                .as_deref()
                .unwrap_or_default()
                .contains("OnPremDirectorySynchronization")
        );
        s.missing_phs.clear();
        assert_eq!(update(&mut s, Action::Next), vec![Effect::PrepareEnablePhs]);
        assert_eq!(s.page, Page::Ready);
    }

    #[test]
    fn previous_from_every_page_goes_back() {
        let mut s = connected(false);
        for (digit, page) in [
            (1, Page::ViewConfig),
            (2, Page::OptionalFeatures),
            (3, Page::UserSignIn),
        ] {
            update(&mut s, Action::Digit(digit));
            assert_eq!(s.page, page);
            update(&mut s, Action::Previous);
            assert_eq!(s.page, Page::Tasks, "from {page:?}");
        }
        update(&mut s, Action::Digit(3));
        update(&mut s, Action::Next);
        update(&mut s, Action::Previous);
        assert_eq!(s.page, Page::UserSignIn);
        // Manage federation has its own page; staged rollout says it is coming and stays.
        update(&mut s, Action::Previous);
        update(&mut s, Action::Digit(4));
        assert_eq!(s.page, Page::ManageFederation);
        update(&mut s, Action::Previous);
        update(&mut s, Action::Digit(5));
        assert_eq!(s.page, Page::Tasks);
        assert!(s.notice.as_deref().unwrap_or_default().contains("coming"));
    }

    #[test]
    fn the_farm_is_prefilled_from_the_backups_when_no_domain_names_it() {
        let mut s = connected(true);
        if let Some(st) = s.status.as_mut() {
            for d in st.domains.iter_mut() {
                d.authentication_type = "Managed".into();
                d.issuer_uri = None;
            }
            st.farms.clear();
        }
        update(&mut s, Action::Digit(3));
        update(&mut s, Action::Down);
        update(&mut s, Action::Toggle);
        assert_eq!(update(&mut s, Action::Next), vec![Effect::LoadBackups]);
        assert_eq!(s.page, Page::AdfsFarm);
        assert_eq!(s.farm_service, "");
        let backup = |domain: &str, at: &str, farm: &str| BackupInfo {
            domain: domain.into(),
            taken_at: at.into(),
            path: format!("/b/{domain}.json"),
            farm: Some(farm.into()),
        };
        update(
            &mut s,
            Action::Backend(BackendEvent::Backups(vec![
                backup("fabrikam.com", "2026-11-20T10:00:00Z", "sts.fabrikam.com"),
                backup("contoso.com", "2026-11-25T10:00:00Z", "sts.contoso.com"),
            ])),
        );
        assert_eq!(
            s.farm_service, "sts.contoso.com",
            "the newest backup's farm"
        );
    }

    #[test]
    fn switching_back_reads_the_farm_then_restores_the_backup_then_verifies() {
        let mut s = connected(true);
        // contoso.com was failed over: it is managed, with a backup.
        if let Some(st) = s.status.as_mut() {
            st.domains[1].authentication_type = "Managed".into();
            st.domains[1].issuer_uri = None;
        }
        update(&mut s, Action::Digit(3));
        update(&mut s, Action::Down);
        update(&mut s, Action::Toggle);
        assert_eq!(s.sign_in, SignIn::Federation);
        assert_eq!(update(&mut s, Action::Next), vec![Effect::LoadBackups]);
        assert_eq!(s.page, Page::AdfsFarm);
        assert_eq!(
            s.farm_service, "sts.contoso.com",
            "the known farm is offered"
        );
        update(
            &mut s,
            Action::Backend(BackendEvent::Backups(vec![BackupInfo {
                domain: "contoso.com".into(),
                taken_at: "2026-11-25T10:00:00Z".into(),
                path: "/b/contoso.com.json".into(),
                farm: Some("sts.contoso.com".into()),
            }])),
        );
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::LoadFarm {
                service: "sts.contoso.com".into()
            }]
        );
        assert_eq!(s.page, Page::AdfsFarm, "the farm is read before going on");
        update(
            &mut s,
            Action::Backend(BackendEvent::Farm(Err("connection refused".into()))),
        );
        assert!(s.farm_error.is_some());
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::LoadFarm {
                service: "sts.contoso.com".into()
            }],
            "Next tries again"
        );
        update(
            &mut s,
            Action::Backend(BackendEvent::Farm(Ok(FarmInfo {
                service: "sts.contoso.com".into(),
                entity_id: "http://sts.contoso.com/adfs/services/trust".into(),
                certificates: vec!["AB, expires 2027".into()],
            }))),
        );
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::EntraDomain);
        assert_eq!(s.managed_roots(), ["contoso.com", "northwind.com"]);
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::SettingsSource);
        assert!(s.from_backup, "the backup is the default when there is one");
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::PrepareSwitchBack {
                domains: vec!["contoso.com".into()],
                from_backup: true,
                service: "sts.contoso.com".into()
            }]
        );
        assert_eq!(s.page, Page::Ready);
        update(
            &mut s,
            Action::Backend(BackendEvent::Planned(Box::new(plan(true)))),
        );
        assert!(
            update(&mut s, Action::Next).is_empty(),
            "a failed check blocks Configure"
        );
        update(
            &mut s,
            Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
        );
        assert_eq!(update(&mut s, Action::Next), vec![Effect::Run]);
        update(
            &mut s,
            Action::Backend(BackendEvent::Done(vec!["contoso.com: federated".into()])),
        );
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::VerifyAll {
                domains: vec!["contoso.com".into()]
            }]
        );
        assert_eq!(s.page, Page::Verify);
        update(
            &mut s,
            Action::Backend(BackendEvent::Verified {
                lines: vec!["[pass] user realm: Federated".into()],
                passed: true,
            }),
        );
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::TestSignin);
    }

    #[test]
    fn several_domains_switch_back_with_one_plan_and_are_verified_together() {
        let mut s = connected(true);
        if let Some(st) = s.status.as_mut() {
            st.domains[1].authentication_type = "Managed".into();
            st.domains[1].issuer_uri = None;
        }
        s.flow = Flow::SwitchBack;
        s.farm_service = "sts.contoso.com".into();
        let backup = |domain: &str| BackupInfo {
            domain: domain.into(),
            taken_at: "2026-11-25T10:00:00Z".into(),
            path: format!("/b/{domain}.json"),
            farm: Some("sts.contoso.com".into()),
        };
        s.backups = vec![backup("contoso.com"), backup("northwind.com")];
        s.go(Page::EntraDomain);
        assert_eq!(s.managed_roots(), ["contoso.com", "northwind.com"]);
        update(&mut s, Action::Toggle);
        update(&mut s, Action::Down);
        update(&mut s, Action::Toggle);
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::SettingsSource);
        assert!(s.from_backup, "every ticked domain has a backup");
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::PrepareSwitchBack {
                domains: vec!["contoso.com".into(), "northwind.com".into()],
                from_backup: true,
                service: "sts.contoso.com".into()
            }]
        );
        update(
            &mut s,
            Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
        );
        assert_eq!(update(&mut s, Action::Next), vec![Effect::Run]);
        update(
            &mut s,
            Action::Backend(BackendEvent::Done(vec![
                "contoso.com: federated".into(),
                "northwind.com: federated".into(),
            ])),
        );
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::VerifyAll {
                domains: vec!["contoso.com".into(), "northwind.com".into()]
            }]
        );
        // Unticking one and going back leaves the other; a domain without a backup blocks "backup".
        let mut s2 = connected(true);
        s2.flow = Flow::SwitchBack;
        s2.back = ["contoso.com".to_string(), "northwind.com".to_string()].into();
        s2.backups = vec![backup("contoso.com")];
        s2.from_backup = true;
        s2.go(Page::SettingsSource);
        assert!(update(&mut s2, Action::Next).is_empty());
        assert!(
            s2.notice
                .as_deref()
                .unwrap_or_default()
                .contains("no backup")
        );
    }

    #[test]
    fn northwind_has_no_backup_so_the_metadata_is_the_source() {
        let mut s = connected(true);
        s.page = Page::SettingsSource;
        s.target = Some("northwind.com".into());
        s.from_backup = true;
        assert!(update(&mut s, Action::Next).is_empty());
        assert!(
            s.notice
                .as_deref()
                .unwrap_or_default()
                .contains("no backup")
        );
        s.focus = 1;
        update(&mut s, Action::Toggle);
        assert!(!s.from_backup);
        assert!(matches!(
            update(&mut s, Action::Next).as_slice(),
            [Effect::PrepareSwitchBack {
                from_backup: false,
                ..
            }]
        ));
    }

    #[test]
    fn resetting_the_trust_shows_the_certificates_then_verifies() {
        let mut s = connected(true);
        update(&mut s, Action::Digit(4));
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::TrustDomain);
        update(&mut s, Action::Down);
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::PrepareResetTrust {
                domain: "fabrikam.com".into()
            }]
        );
        assert_eq!(s.page, Page::Certificates);
        assert!(
            update(&mut s, Action::Next).is_empty(),
            "certificates not read yet"
        );
        update(
            &mut s,
            Action::Backend(BackendEvent::Certificates(vec![
                "AD FS: primary  CD".into(),
            ])),
        );
        update(
            &mut s,
            Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
        );
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::Ready);
        update(&mut s, Action::Next);
        update(
            &mut s,
            Action::Backend(BackendEvent::Done(vec!["fabrikam.com: updated".into()])),
        );
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::Verify {
                domain: "fabrikam.com".into()
            }]
        );
        // Verify alone, from Manage federation.
        let mut s = connected(true);
        update(&mut s, Action::Digit(4));
        update(&mut s, Action::Down);
        update(&mut s, Action::Next);
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::Verify {
                domain: "contoso.com".into()
            }]
        );
        assert_eq!(s.page, Page::Verify);
    }

    #[test]
    fn previous_leaves_every_page_but_a_change_in_flight() {
        let all = [
            Page::Connect,
            Page::Tasks,
            Page::ViewConfig,
            Page::OptionalFeatures,
            Page::UserSignIn,
            Page::Domains,
            Page::Preflight,
            Page::Ready,
            Page::TestSignin,
            Page::AdfsFarm,
            Page::EntraDomain,
            Page::SettingsSource,
            Page::ManageFederation,
            Page::TrustDomain,
            Page::Certificates,
            Page::Verify,
        ];
        for page in all {
            let mut s = connected(true);
            s.history = vec![Page::Welcome, Page::Tasks];
            s.page = page;
            update(&mut s, Action::Previous);
            assert_eq!(s.page, Page::Tasks, "Previous from {page:?}");
        }
        let mut s = connected(true);
        s.page = Page::Complete;
        update(&mut s, Action::Previous);
        assert_eq!(s.page, Page::Tasks, "Complete goes back to the tasks");
        let mut s = connected(true);
        s.page = Page::Configuring;
        s.in_flight = true;
        update(&mut s, Action::Previous);
        assert_eq!(
            s.page,
            Page::Configuring,
            "a change in flight is never left half-way"
        );
    }

    #[test]
    fn text_pages_scroll() {
        let mut s = connected(true);
        s.page = Page::Ready;
        update(&mut s, Action::Up);
        assert_eq!(s.focus, 0);
        update(&mut s, Action::Down);
        update(&mut s, Action::Down);
        assert_eq!(s.focus, 2);
    }

    #[test]
    fn errors_offer_retry_skip_abort() {
        let mut s = connected(true);
        update(&mut s, Action::Digit(2));
        s.phs_checked = true;
        if let Some(st) = s.status.as_mut() {
            st.password_hash_sync = false;
        }
        update(&mut s, Action::Next);
        let panel = ErrorPanel {
            title: "x".into(),
            message: "m".into(),
            request_id: Some("r".into()),
            meaning: "k".into(),
            focus: 0,
        };
        update(&mut s, Action::Backend(BackendEvent::Failed(panel.clone())));
        assert_eq!(
            update(&mut s, Action::Next),
            vec![Effect::PrepareEnablePhs],
            "Retry"
        );
        update(&mut s, Action::Backend(BackendEvent::Failed(panel.clone())));
        update(&mut s, Action::FocusNext);
        assert_eq!(update(&mut s, Action::Next), vec![Effect::Refresh], "Skip");
        assert_eq!(s.page, Page::Tasks);
        update(&mut s, Action::Backend(BackendEvent::Failed(panel)));
        update(&mut s, Action::FocusPrev);
        assert_eq!(update(&mut s, Action::Next), vec![Effect::Exit], "Abort");
    }

    #[test]
    fn rehearsal_controls_and_help() {
        let mut s = connected(true);
        update(&mut s, Action::Controls);
        assert!(s.controls);
        assert_eq!(
            update(&mut s, Action::Digit(1)),
            vec![Effect::Control(Control::FarmDown)]
        );
        assert!(!s.controls);
        update(&mut s, Action::Help);
        assert!(s.help);
        update(&mut s, Action::Next);
        assert!(!s.help);
        assert_eq!(
            s.page,
            Page::Tasks,
            "a key that closes help does nothing else"
        );
        s.rehearsal = false;
        update(&mut s, Action::Controls);
        assert!(!s.controls);
        assert_eq!(update(&mut s, Action::Quit), vec![Effect::Exit]);
    }
}
