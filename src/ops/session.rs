//! A connected tenant: the HTTP client that trusts the right roots, the credential, the Graph and
//! sign-in clients, where its AD FS farms answer, and where its backups and journal live.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::OpsError;
use crate::auth::credentials::{self, DevicePrompt, PasswordCredential};
use crate::auth::profile::{AuthKind, Config, Profile, REHEARSAL};
use crate::auth::{AuthError, SharedCredential};
use crate::emulator::{self, Emulator};
use crate::graph::GraphClient;
use crate::login::LoginClient;

/// Where each federation service answers: itself on the internet, a loopback port in rehearsal.
#[derive(Clone, Debug, Default)]
pub struct FarmLocator {
    overrides: BTreeMap<String, Url>,
}

impl FarmLocator {
    /// A locator that sends each federation service (by host name) to a base URL.
    pub fn with(overrides: impl IntoIterator<Item = (String, Url)>) -> FarmLocator {
        FarmLocator {
            overrides: overrides
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        }
    }

    /// The URL to fetch for `url`: the same URL, or the rehearsal farm's address for its host.
    pub fn locate(&self, url: &Url) -> Url {
        let Some(host) = url.host_str() else {
            return url.clone();
        };
        match self.overrides.get(&host.to_ascii_lowercase()) {
            Some(base) => {
                let mut u = base.clone();
                u.set_path(url.path());
                u.set_query(url.query());
                u
            }
            None => url.clone(),
        }
    }

    pub fn is_simulated(&self, host: &str) -> bool {
        self.overrides.contains_key(&host.to_ascii_lowercase())
    }
}

/// Everything an operation needs to talk to one tenant.
pub struct Session {
    pub profile: String,
    pub tenant: String,
    pub graph: GraphClient,
    pub login: LoginClient,
    /// For AD FS farms and anything that is not Graph.
    pub http: reqwest::Client,
    pub farms: FarmLocator,
    pub home: PathBuf,
    /// An extra trusted root (a profile's `ca_file`, or the rehearsal CA).
    pub ca_file: Option<PathBuf>,
    /// The public client id used for password sign-in tests.
    pub test_client_id: String,
    /// The rehearsal tenant, when the profile is `rehearsal`.
    pub rehearsal: Option<Rehearsal>,
    /// What connecting did to the data folder that the administrator should hear of (records an
    /// earlier version kept under the tenant's domain name, moved to its id).
    pub notices: Vec<String>,
    /// What the changes' confirming reads saw: the run's change report shows it as "now".
    pub read_back: super::read_back::ReadBack,
}

/// The rehearsal tenant a session talks to: served by this process, or by another one (the wizard,
/// say) that already serves the same folder — then both see one tenant, not two diverging copies.
pub enum Rehearsal {
    Own(Emulator),
    Attached(emulator::Info),
}

impl Rehearsal {
    /// Serves the rehearsal tenant of `dir`, or joins the process that already does.
    pub async fn open(dir: &Path) -> Result<Rehearsal, OpsError> {
        let mut waited = Duration::ZERO;
        loop {
            match Emulator::start(emulator::Config::new(dir)).await {
                Ok(emu) => return Ok(Rehearsal::Own(emu)),
                Err(emulator::EmulatorError::InUse { running, .. }) => {
                    // The other process writes how to reach it once it is listening.
                    if let Some(r) = running.filter(|r| process_alive(r.pid)) {
                        tracing::info!(
                            pid = r.pid,
                            "the rehearsal tenant is served by another process: joining it"
                        );
                        return Ok(Rehearsal::Attached(r.info));
                    }
                    if waited >= Duration::from_secs(10) {
                        return Err(emulator::EmulatorError::InUse {
                            dir: dir.to_path_buf(),
                            running: None,
                        }
                        .into());
                    }
                }
                Err(e) => return Err(e.into()),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        }
    }

    pub fn info(&self) -> &emulator::Info {
        match self {
            Rehearsal::Own(e) => e.info(),
            Rehearsal::Attached(i) => i,
        }
    }

    /// The emulator, when this process serves it.
    pub fn emulator(&self) -> Option<&Emulator> {
        match self {
            Rehearsal::Own(e) => Some(e),
            Rehearsal::Attached(_) => None,
        }
    }

    /// A synchronized user to try a sign-in with (its password is the scenario's `user_password`,
    /// which `entra-failover rehearse info` prints): the rehearsal's answer to "who do I test with?".
    pub fn sample_user(&self) -> Option<String> {
        self.read_tenant(|t| {
            t.users
                .iter()
                .filter(|u| u.synced)
                .map(|u| u.upn.as_str())
                .min_by_key(|upn| (!upn.ends_with("@contoso.com"), *upn))
                .map(str::to_string)
        })
        .ok()?
    }

    /// The tenant as it stands (read from its folder when another process serves it).
    pub fn tenant(&self) -> Result<emulator::state::Tenant, OpsError> {
        match self {
            Rehearsal::Own(e) => Ok(e.tenant()),
            Rehearsal::Attached(i) => saved(i),
        }
    }

    /// An answer from the tenant as it stands, read in place when this process serves it (a
    /// 5,000-domain tenant is not copied to find one user).
    pub fn read_tenant<R>(
        &self,
        read: impl FnOnce(&emulator::state::Tenant) -> R,
    ) -> Result<R, OpsError> {
        match self {
            Rehearsal::Own(e) => Ok(e.read_tenant(read)),
            Rehearsal::Attached(i) => saved(i).map(|t| read(&t)),
        }
    }
}

/// The tenant another process serves, as its folder holds it.
fn saved(i: &emulator::Info) -> Result<emulator::state::Tenant, OpsError> {
    emulator::state::Store {
        dir: i.state_dir.clone(),
    }
    .load()?
    .ok_or_else(|| OpsError::Input("the rehearsal tenant has no saved state".into()))
}

/// Whether the process that wrote `emulator.json` still runs (the folder lock says whether it serves).
#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(target_os = "macos")]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only asks whether the process exists; EPERM means it does, as someone else's.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__error() == libc::EPERM }
}

#[cfg(windows)]
fn process_alive(pid: u32) -> bool {
    use windows_sys::Win32::Foundation::{
        CloseHandle, ERROR_ACCESS_DENIED, GetLastError, STILL_ACTIVE,
    };
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    // SAFETY: the handle is checked and closed; the exit code is a plain out value.
    unsafe {
        let h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if h.is_null() {
            return GetLastError() == ERROR_ACCESS_DENIED;
        }
        let mut code = 0u32;
        let ok = GetExitCodeProcess(h, &mut code);
        CloseHandle(h);
        ok != 0 && code == STILL_ACTIVE as u32
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// Builds the HTTP client: TLS always verified, with an extra root when one is given.
pub fn http_client(extra_root: Option<&Path>) -> Result<reqwest::Client, OpsError> {
    crate::tls::install_crypto_provider();
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(32)
        // Requests leave at once (no Nagle delay for a request written in pieces).
        .tcp_nodelay(true)
        .redirect(redirect_policy())
        .user_agent(concat!("entra-failover/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = extra_root {
        b = b.tls_backend_preconfigured(tls_config(Some(path))?);
    }
    // The cause chain, in one line: a refused extra root says why (reqwest's own text is "builder error").
    b.build().map_err(|e| {
        OpsError::Input(format!(
            "cannot build the HTTP client: {}",
            crate::graph::client::error_chain(&e)
        ))
    })
}

/// The TLS settings every connection uses: the system's roots, and `extra_root` (a profile's
/// `ca_file`, or the rehearsal CA) beside them, on every platform (see tls.rs).
pub fn tls_config(extra_root: Option<&Path>) -> Result<rustls::ClientConfig, OpsError> {
    let roots = match extra_root {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| OpsError::Input(format!("ca_file {}: {e}", path.display())))?;
            crate::tls::certificates_from_pem(&pem)
                .map_err(|e| OpsError::Input(format!("ca_file {}: {e}", path.display())))?
        }
        None => vec![],
    };
    crate::tls::client_config(roots).map_err(|e| {
        OpsError::Input(format!(
            "cannot trust ca_file {}: {e}",
            extra_root
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ))
    })
}

/// Which redirects a request may follow: only to https on the same host and port as the request
/// itself, five at most. Anything else stops the request with the reason and where it pointed: a
/// redirect to plain http would carry a password (WS-Trust, on a 307 the body is sent again) or let
/// whoever sits on that leg choose the farm's metadata and so the certificate Entra ID trusts; one to
/// another host would hand it the same. The target named in the error is the one to check, and, if it
/// is right, to name directly.
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first().cloned() else {
            return attempt.stop();
        };
        let next = attempt.url().clone();
        let why = if next.scheme() != "https" {
            Some("plain http")
        } else if next.host_str() != first.host_str()
            || next.port_or_known_default() != first.port_or_known_default()
        {
            Some("another host")
        } else if attempt.previous().len() > 5 {
            Some("too many redirects")
        } else {
            None
        };
        match why {
            None => attempt.follow(),
            Some(why) => attempt.error(RedirectRefused {
                from: first.to_string(),
                to: next.to_string().chars().take(300).collect(),
                why,
            }),
        }
    })
}

/// A redirect the client would not follow.
#[derive(Debug, thiserror::Error)]
#[error(
    "redirect refused ({why}): {from} answered with a redirect to {to}; nothing was sent there"
)]
pub struct RedirectRefused {
    from: String,
    to: String,
    why: &'static str,
}

/// Azure CLI's public client id, used to test user sign-ins on a real tenant.
pub const AZURE_CLI_CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

impl Session {
    /// Connects to the profile `name` (the built-in `rehearsal` starts the simulated tenant).
    pub async fn connect(
        home: &Path,
        name: &str,
        prompt: DevicePrompt,
    ) -> Result<Session, OpsError> {
        if name == REHEARSAL {
            return Session::rehearsal(home).await;
        }
        let config = Config::load(home)?;
        let profile = config.get(name)?.clone();
        let mut s = Session::for_profile(home, name, &profile, prompt)?;
        s.key_records_by_tenant_id().await?;
        Ok(s)
    }

    /// The tenant as its token names it (`tid`): a profile that names it by a domain and one that
    /// names it by id then share one journal, lock and set of backups; what was kept under the
    /// profile's own name is moved there once (`records::adopt`).
    async fn key_records_by_tenant_id(&mut self) -> Result<(), OpsError> {
        let token = self.graph.credential().token().await?;
        let Some(tid) = crate::auth::claims::TokenInfo::from_jwt(
            secrecy::ExposeSecret::expose_secret(&token.token),
        )
        .map(|t| t.tid.to_ascii_lowercase())
        .filter(|t| uuid::Uuid::parse_str(t).is_ok()) else {
            return Ok(());
        };
        for line in super::records::adopt(&self.home, &self.tenant, &tid)? {
            tracing::info!(tenant = %tid, "{line}");
            self.notices.push(format!(
                "records of {} now kept under its tenant id {tid}: {line}",
                self.tenant
            ));
        }
        self.tenant = tid;
        Ok(())
    }

    pub fn for_profile(
        home: &Path,
        name: &str,
        p: &Profile,
        prompt: DevicePrompt,
    ) -> Result<Session, OpsError> {
        p.check(name)?;
        let http = http_client(p.ca_file.as_deref())?;
        let login = LoginClient::new(http.clone(), p.login_url());
        let env_secret = |var: &str| -> Result<SecretString, OpsError> {
            std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(SecretString::from)
                .ok_or_else(|| {
                    OpsError::Input(format!(
                        "profile {name}: the environment variable {var} holds no secret"
                    ))
                })
        };
        let client_id = p.client_id.clone().unwrap_or_default();
        let credential: SharedCredential = match p.auth {
            AuthKind::AzureCli => Arc::new(credentials::azure_cli(Some(&p.tenant))?),
            AuthKind::ClientSecret => {
                let secret = env_secret(p.client_secret_env.as_deref().unwrap_or_default())?;
                Arc::new(credentials::client_secret(
                    &p.tenant,
                    &client_id,
                    &secret,
                    &p.login_url(),
                    http.clone(),
                )?)
            }
            AuthKind::ClientCertificate => {
                let password = match &p.certificate_password_env {
                    Some(v) => Some(env_secret(v)?),
                    None => None,
                };
                let path = p.certificate_path.clone().unwrap_or_default();
                Arc::new(credentials::client_certificate(
                    &p.tenant,
                    &client_id,
                    &path,
                    password.as_ref(),
                    &p.login_url(),
                    http.clone(),
                )?)
            }
            AuthKind::DeviceCode => Arc::new(credentials::DeviceCodeCredential::new(
                login.clone(),
                &p.tenant,
                &client_id,
                prompt,
            )),
        };
        Ok(Session {
            profile: name.to_string(),
            tenant: p.tenant.clone(),
            graph: GraphClient::new(http.clone(), p.graph_url(), credential, GRAPH_AT_ONCE),
            login,
            http,
            farms: FarmLocator::default(),
            home: home.to_path_buf(),
            ca_file: p.ca_file.clone(),
            test_client_id: if p.auth == AuthKind::DeviceCode {
                client_id
            } else {
                AZURE_CLI_CLIENT.to_string()
            },
            rehearsal: None,
            notices: vec![],
            read_back: Default::default(),
        })
    }

    /// The rehearsal tenant, started in-process with its state under `home/rehearsal`, signed in as
    /// its administrator.
    pub async fn rehearsal(home: &Path) -> Result<Session, OpsError> {
        let emu = Rehearsal::open(&home.join(REHEARSAL)).await?;
        let info = emu.info().clone();
        let http = http_client(Some(&info.ca_file))?;
        let bad_url = |u: &str| OpsError::Input(format!("the rehearsal tenant gave a bad URL {u}"));
        let login_url = Url::parse(&info.login_url).map_err(|_| bad_url(&info.login_url))?;
        let graph_url = Url::parse(&info.graph_url).map_err(|_| bad_url(&info.graph_url))?;
        let login = LoginClient::new(http.clone(), login_url.clone());
        let mut overrides = BTreeMap::new();
        // Microsoft's own metadata host (the relying party trust's source) is the rehearsal's too.
        if let Some(host) = Url::parse(crate::adfs::trust_script::MICROSOFT_METADATA)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
        {
            overrides.insert(host, login_url.clone());
        }
        for (service, base) in &info.adfs {
            overrides.insert(
                service.to_ascii_lowercase(),
                Url::parse(base).map_err(|_| bad_url(base))?,
            );
        }
        // An administrator on a federated domain signs in through the farm, as anyone of the domain.
        let farms = FarmLocator { overrides };
        let route = {
            let farms = farms.clone();
            Arc::new(move |u: &Url| farms.locate(u))
        };
        let credential = Arc::new(
            PasswordCredential::new(
                login.clone(),
                &info.tenant_id,
                &info.client_id,
                &info.admin_upn,
                SecretString::from(info.admin_password.clone()),
            )
            .with_farms(route),
        );
        Ok(Session {
            profile: REHEARSAL.to_string(),
            tenant: info.tenant_id.clone(),
            graph: GraphClient::new(http.clone(), graph_url, credential, GRAPH_AT_ONCE),
            login,
            http,
            farms,
            home: home.to_path_buf(),
            ca_file: Some(info.ca_file.clone()),
            test_client_id: info.client_id.clone(),
            rehearsal: Some(emu),
            notices: vec![],
            read_back: Default::default(),
        })
    }

    pub fn is_rehearsal(&self) -> bool {
        self.rehearsal.is_some()
    }
}

impl From<AuthError> for OpsError {
    fn from(e: AuthError) -> Self {
        OpsError::Auth(e)
    }
}

/// The most Graph requests in flight; the client's adaptive limit works up to it.
const GRAPH_AT_ONCE: usize = 32;
