//! The rehearsal tenant: Microsoft Graph, the Entra sign-in endpoints and AD FS farms, emulated over
//! HTTPS on loopback and started in-process, so that every command and test has a tenant to work on.
//!
//! One listener serves Graph (`/v1.0`, `/beta`), sign-in (`/{tenant}/oauth2/v2.0/…`, `/common/userrealm`)
//! and the control API (`/_control`); each AD FS farm has a listener of its own, so that a farm that is
//! down refuses connections as a dead farm does.

// Handlers return the finished error response as their `Err`: it is built once per failed request and
// sent as it is, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod adfs;
mod control;
pub mod engines;
mod graph;
mod http;
mod login;
pub mod pki;
pub mod scenario;
mod schema;
mod seamless_sso;
pub mod state;
pub mod tokens;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use self::http::{Req, Resp};
use self::state::{Change, FarmState, Store, Tenant};
use self::tokens::Claims;

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("scenario: {0}")]
    Scenario(String),
    #[error("state: {0}")]
    State(String),
    #[error("the rehearsal tenant has stopped")]
    Stopped,
    #[error("certificates: {0}")]
    Pki(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("the rehearsal tenant in {} is served by another process{}; close it first", dir.display(), running.as_ref().map(|r| format!(" (PID {})", r.pid)).unwrap_or_default())]
    InUse {
        dir: PathBuf,
        /// How to reach it, as that process wrote it.
        running: Option<Box<Running>>,
    },
}

/// What a running emulator leaves in its state folder (`emulator.json`), so that another process
/// of the same user can use the same tenant instead of starting a second copy of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Running {
    pub pid: u32,
    pub info: Info,
}

/// Holds the state folder for this process: one emulator per folder, so that two processes never
/// keep diverging copies of one tenant. The lock goes with the process, however it ends.
fn lock_folder(dir: &Path) -> Result<std::fs::File, EmulatorError> {
    crate::files::private_dir(dir).map_err(|e| EmulatorError::io(dir, e))?;
    let path = dir.join("emulator.lock");
    let mut options = crate::files::private_options();
    options.create(true).truncate(false).write(true);
    let file = options
        .open(&path)
        .map_err(|e| EmulatorError::io(&path, e))?;
    // A lock with nobody serving behind it (no emulator.json) may be a copy a forked child holds
    // for the instant before it execs (another thread of this process starting a program): look
    // again for a moment before calling the folder taken.
    let mut looks = 0;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                let running = running(dir);
                looks += 1;
                if running.is_some() || looks >= 100 {
                    return Err(EmulatorError::InUse {
                        dir: dir.to_path_buf(),
                        running: running.map(Box::new),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(EmulatorError::io(&path, e)),
        }
    }
}

/// The emulator serving `dir` in another process, as it described itself.
pub fn running(dir: &Path) -> Option<Running> {
    let text = std::fs::read(dir.join("emulator.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

impl EmulatorError {
    pub fn io(path: &Path, source: std::io::Error) -> EmulatorError {
        EmulatorError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// How to start the rehearsal tenant.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub state_dir: PathBuf,
    pub fresh: bool,
    pub scenario: Option<PathBuf>,
    /// How long a change takes to reach user realm and sign-in.
    pub propagation_delay: Duration,
}

impl Config {
    pub fn new(state_dir: impl Into<PathBuf>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: state_dir.into(),
            fresh: false,
            scenario: None,
            propagation_delay: Duration::ZERO,
        }
    }
}

/// What a client needs to talk to the rehearsal tenant (printed by `emulator --json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Info {
    pub graph_url: String,
    pub login_url: String,
    /// Federation service name → the base URL its farm answers on.
    pub adfs: BTreeMap<String, String>,
    pub control_url: String,
    pub control_token: String,
    pub ca_file: PathBuf,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub admin_upn: String,
    pub admin_password: String,
    pub user_password: String,
    pub state_dir: PathBuf,
    pub simulated: bool,
}

/// One injected fault, as `POST {control_url}/faults` takes it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub method: Option<String>,
    pub path_prefix: Option<String>,
    /// The whole path, for a fault on one resource and not those below it.
    pub path: Option<String>,
    pub status: Option<u16>,
    pub retry_after: Option<String>,
    /// How many requests it applies to; unlimited when absent.
    pub count: Option<u32>,
    pub latency_ms: Option<u64>,
    /// `"reset"`: drop the connection without an answer. `"hold"`: keep the request waiting before
    /// it is served; `"hold-answer"`: serve it (a change is made and saved), then keep the answer
    /// back. Held requests show in `GET /held` and go on when the faults are cleared: a test stops a
    /// client at an exact step, whatever the machine's speed.
    pub kind: Option<String>,
}

impl Fault {
    /// Whether this fault applies to a request (no method or prefix: every one).
    fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path_prefix.as_deref().is_none_or(|p| {
                path.to_ascii_lowercase()
                    .starts_with(&p.to_ascii_lowercase())
            })
            && self
                .path
                .as_deref()
                .is_none_or(|p| p.eq_ignore_ascii_case(path))
    }
}

/// A request kept waiting by a `hold` fault, as `GET /held` lists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Held {
    #[serde(skip)]
    seq: u64,
    pub method: String,
    pub path: String,
    /// `hold` (not served yet) or `hold-answer` (served; its answer kept back).
    pub kind: String,
}

/// One line of the request log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogEntry {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub time: String,
    pub request_id: String,
    pub client_request_id: Option<String>,
    /// The calling application (`appid`) and user, when the request carried a valid token.
    pub client: Option<String>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct DeviceGrant {
    device_code: String,
    client_id: String,
    scope: String,
    expires: i64,
    interval: u64,
    last_poll: Option<Instant>,
    approved_user: Option<String>,
}

struct RefreshGrant {
    user_id: String,
    client_id: String,
    scope: String,
    /// When it was issued (emulated time): Entra's refresh tokens lapse after 90 days unused.
    issued: i64,
}

#[derive(Default)]
struct Grants {
    device: HashMap<String, DeviceGrant>,
    refresh: HashMap<String, RefreshGrant>,
}

struct FarmHandle {
    /// The state asked for.
    state: watch::Sender<FarmState>,
    /// The state the farm's listener is in: the control API answers once the two agree.
    applied: watch::Receiver<FarmState>,
    addr: SocketAddr,
}

/// State shared by every connection of one running emulator.
pub(crate) struct Shared {
    tenant: Mutex<Tenant>,
    store: Store,
    delay: Duration,
    base_url: String,
    token_public: tokens::RsaPublicKey,
    token_kid: String,
    faults: Mutex<Vec<Fault>>,
    log: Mutex<Vec<LogEntry>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Graph requests being served now, against `[limits] concurrent_requests`.
    graph_in_flight: std::sync::atomic::AtomicU32,
    concurrent_budget: u32,
    grants: Mutex<Grants>,
    farms: BTreeMap<String, FarmHandle>,
    held: Mutex<Vec<Held>>,
    held_seq: std::sync::atomic::AtomicU64,
    /// Bumped when the faults are cleared: held requests go on.
    release: watch::Sender<u64>,
    /// Set (under the tenant lock) when the emulator stops: a request still being served then
    /// changes nothing, so that another emulator may open the folder at once.
    stopped: std::sync::atomic::AtomicBool,
}

const LOG_LIMIT: usize = 200_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock must not take the whole tenant down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Spends one write from the caller's budget, or answers 429 with the wait as `Retry-After`.
    fn throttle(&self, req: &Req, who: &Claims, limits: &state::LimitsRec) -> Result<(), Resp> {
        let (burst, rate) = (f64::from(limits.write_burst), limits.writes_per_second);
        let key = format!("{}/{}", who.appid, who.oid);
        let mut buckets = lock(&self.buckets);
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            at: Instant::now(),
        });
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - b.tokens) / rate).max(0.001);
        Err(http::graph_status_error(
            StatusCode::TOO_MANY_REQUESTS,
            req,
            Some(&format!("{wait:.3}")),
        ))
    }

    fn record(&self, entry: LogEntry) {
        let mut log = lock(&self.log);
        if log.len() >= LOG_LIMIT {
            log.drain(..LOG_LIMIT / 10);
        }
        log.push(entry);
    }

    /// Runs `f` on the tenant after the sync engine caught up; saves when `f` reports a change.
    fn with_tenant<R>(&self, f: impl FnOnce(&mut Tenant) -> (R, bool)) -> Result<R, EmulatorError> {
        self.with_tenant_change(|t| {
            let (r, changed) = f(t);
            (r, changed.then_some(Change::All))
        })
    }

    /// Like `with_tenant`, with `f` naming what it changed, so that only that is written.
    fn with_tenant_change<R>(
        &self,
        f: impl FnOnce(&mut Tenant) -> (R, Option<Change>),
    ) -> Result<R, EmulatorError> {
        let mut t = lock(&self.tenant);
        if self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(EmulatorError::Stopped);
        }
        let now = t.now().unix_timestamp();
        let ticked = t.tick(now);
        let (r, change) = f(&mut t);
        let change = if ticked { Some(Change::All) } else { change };
        if let Some(change) = change {
            self.store.save_change(&mut t, &change)?;
        }
        Ok(r)
    }

    /// A place among the Graph requests served at once, or `None` when the budget is spent.
    fn enter(self: &Arc<Self>) -> Option<InFlight> {
        use std::sync::atomic::Ordering;
        let n = self.graph_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let slot = InFlight(self.clone());
        (self.concurrent_budget == 0 || n <= self.concurrent_budget).then_some(slot)
    }

    /// The latency a fault would add to this request, without counting the fault down.
    fn latency_for(&self, method: &str, path: &str) -> Option<u64> {
        lock(&self.faults)
            .iter()
            .find(|f| f.matches(method, path))
            .and_then(|f| f.latency_ms)
    }

    /// The first fault that matches, counted down.
    fn take_fault(&self, method: &str, path: &str) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let idx = faults.iter().position(|f| f.matches(method, path))?;
        let fault = faults[idx].clone();
        if let Some(c) = faults[idx].count.as_mut() {
            *c = c.saturating_sub(1);
            if *c == 0 {
                faults.remove(idx);
            }
        }
        Some(fault)
    }

    /// Keeps a request waiting, listed in `GET /held`, until the faults are cleared (or the emulator
    /// stops, which drops the connection).
    async fn hold(&self, method: &str, path: &str, kind: &str) {
        let mut release = self.release.subscribe();
        let seq = self
            .held_seq
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        lock(&self.held).push(Held {
            seq,
            method: method.into(),
            path: path.into(),
            kind: kind.into(),
        });
        /// Takes the request off the list however the wait ends (a dropped connection too).
        struct Listed<'a>(&'a Shared, u64);
        impl Drop for Listed<'_> {
            fn drop(&mut self) {
                lock(&self.0.held).retain(|h| h.seq != self.1);
            }
        }
        let _listed = Listed(self, seq);
        let _ = release.changed().await;
    }

    /// Clears every fault and lets held requests go on.
    fn clear_faults(&self) {
        lock(&self.faults).clear();
        self.release.send_modify(|g| *g += 1);
    }

    fn info(&self, ca_file: &Path, state_dir: &Path) -> Info {
        let t = lock(&self.tenant);
        // The administrator is the tenant's first user (made first, never moved): cloud-only on
        // the onmicrosoft.com domain, or an AD account on a domain of the organisation.
        let admin = t.users.first().map(|u| u.upn.clone()).unwrap_or_default();
        Info {
            graph_url: self.base_url.clone(),
            login_url: self.base_url.clone(),
            adfs: self
                .farms
                .iter()
                .map(|(k, h)| (k.clone(), format!("https://{}", h.addr)))
                .collect(),
            control_url: format!("{}/_control", self.base_url),
            control_token: t.secrets.control_token.clone(),
            ca_file: ca_file.to_path_buf(),
            tenant_id: t.tenant_id.clone(),
            client_id: t.app.client_id.clone(),
            client_secret: t.secrets.client_secret.clone(),
            admin_upn: admin,
            admin_password: t.secrets.admin_password.clone(),
            user_password: t.secrets.user_password.clone(),
            state_dir: state_dir.to_path_buf(),
            simulated: true,
        }
    }
}

/// A running rehearsal tenant. Dropping it stops it.
pub struct Emulator {
    info: Info,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    /// The state folder's lock, held until the emulator stops.
    folder: Mutex<Option<std::fs::File>>,
}

impl Emulator {
    /// Opens (or creates) the tenant in the state folder and starts serving it.
    pub async fn start(cfg: Config) -> Result<Emulator, EmulatorError> {
        crate::tls::install_crypto_provider();
        let folder = lock_folder(&cfg.state_dir)?;
        let (store, tenant) = state::open(&cfg.state_dir, cfg.fresh, cfg.scenario.as_deref())?;
        let farm_names: Vec<String> = tenant.farms.keys().cloned().collect();
        let ca = pki::LocalCa::open(&cfg.state_dir, &farm_names)?;
        let token_der = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(&tenant.token_key.cert_b64)
                .map_err(|e| EmulatorError::State(format!("token certificate: {e}")))?
        };
        let token_public = tokens::public_key_of(&token_der)
            .ok_or_else(|| EmulatorError::State("token certificate cannot be read".into()))?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| EmulatorError::Listen {
                addr: cfg.listen.to_string(),
                source: e,
            })?;
        let addr = listener.local_addr().map_err(|e| EmulatorError::Listen {
            addr: cfg.listen.to_string(),
            source: e,
        })?;
        let host = if addr.ip().is_loopback() && addr.ip().is_ipv4() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let base_url = if addr.is_ipv6() {
            format!("https://[{host}]:{}", addr.port())
        } else {
            format!("https://{host}:{}", addr.port())
        };
        let (shutdown, shutdown_rx) = watch::channel(false);

        let mut farms = BTreeMap::new();
        let mut farm_listeners = vec![];
        for (name, farm) in &tenant.farms {
            let socket = adfs::bind_new(addr.ip())?;
            let farm_addr = socket.local_addr().map_err(|e| EmulatorError::Listen {
                addr: name.clone(),
                source: e,
            })?;
            let (tx, rx) = watch::channel(farm.state);
            let (applied_tx, applied) = watch::channel(farm.state);
            farms.insert(
                name.clone(),
                FarmHandle {
                    state: tx,
                    applied,
                    addr: farm_addr,
                },
            );
            let identity =
                ca.issue(&[name.clone(), "localhost".into(), farm_addr.ip().to_string()])?;
            // A farm saved as down keeps its port number but refuses connections from the start.
            let socket = (farm.state == FarmState::Up).then_some(socket);
            farm_listeners.push((name.clone(), farm_addr, socket, rx, applied_tx, identity));
        }
        let kid = tokens::x5t(&token_der);
        let concurrent_budget = tenant.limits.concurrent_requests;
        let shared = Arc::new(Shared {
            graph_in_flight: std::sync::atomic::AtomicU32::new(0),
            concurrent_budget,
            tenant: Mutex::new(tenant),
            store,
            delay: cfg.propagation_delay,
            base_url,
            token_public,
            token_kid: kid,
            faults: Mutex::new(vec![]),
            log: Mutex::new(vec![]),
            buckets: Mutex::new(HashMap::new()),
            grants: Mutex::new(Grants::default()),
            farms,
            held: Mutex::new(vec![]),
            held_seq: std::sync::atomic::AtomicU64::new(0),
            release: watch::channel(0).0,
            stopped: std::sync::atomic::AtomicBool::new(false),
        });
        let identity = ca.issue(&[
            "localhost".into(),
            "127.0.0.1".into(),
            "::1".into(),
            addr.ip().to_string(),
        ])?;
        let acceptor = tls_acceptor(identity)?;
        tokio::spawn(serve_main(
            listener,
            acceptor,
            shared.clone(),
            shutdown_rx.clone(),
        ));
        for (name, farm_addr, socket, rx, applied_tx, identity) in farm_listeners {
            let acceptor = tls_acceptor(identity)?;
            tokio::spawn(adfs::serve_farm(
                adfs::FarmServer {
                    service: name,
                    addr: farm_addr,
                    acceptor,
                    shared: shared.clone(),
                    applied: applied_tx,
                },
                socket,
                rx,
                shutdown_rx.clone(),
            ));
        }
        let info = shared.info(&ca.cert_file, &cfg.state_dir);
        let running = Running {
            pid: std::process::id(),
            info: info.clone(),
        };
        let text = serde_json::to_vec(&running).map_err(|e| EmulatorError::State(e.to_string()))?;
        let p = cfg.state_dir.join("emulator.json");
        crate::files::write_atomic(&p, &text).map_err(|e| EmulatorError::io(&p, e))?;
        Ok(Emulator {
            info,
            shared,
            shutdown,
            folder: Mutex::new(Some(folder)),
        })
    }

    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<LogEntry> {
        lock(&self.shared.log).clone()
    }

    /// A copy of the tenant's data, for assertions and status displays.
    pub fn tenant(&self) -> Tenant {
        lock(&self.shared.tenant).clone()
    }

    /// An answer from the tenant's data, read in place: a 5,000-domain tenant is not copied (12 MB)
    /// to find one user.
    pub fn read_tenant<R>(&self, read: impl FnOnce(&Tenant) -> R) -> R {
        read(&lock(&self.shared.tenant))
    }

    /// Stops serving and lets go of the state folder (another emulator may open it now).
    pub fn stop(&self) {
        {
            let _tenant = lock(&self.shared.tenant);
            self.shared
                .stopped
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let _ = self.shutdown.send(true);
        // Nobody may join a tenant that is no longer served: its address goes before the folder's
        // lock (a process that goes on living would otherwise still look like the server).
        if let Some(folder) = lock(&self.folder).take() {
            let _ = std::fs::remove_file(self.info.state_dir.join("emulator.json"));
            drop(folder);
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tls_acceptor(identity: pki::ServerIdentity) -> Result<TlsAcceptor, EmulatorError> {
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)
        .map_err(|e| EmulatorError::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// Accepts TLS connections and serves each with `service` until shutdown.
async fn accept_loop<F, Fut>(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    mut stop: watch::Receiver<bool>,
    service: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Resp, ConnectionReset>> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((tcp, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Answers go out at once, not held back waiting for an acknowledgement (Nagle's algorithm
        // with delayed ACKs adds 40 ms to a response written in more than one piece).
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let service = service.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(tls), hyper::service::service_fn(service));
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// Dropping the connection, as the `reset` fault asks.
#[derive(Debug)]
pub(crate) struct ConnectionReset;

impl std::fmt::Display for ConnectionReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by fault injection")
    }
}

impl std::error::Error for ConnectionReset {}

/// Reads a request into a [`Req`]; answers 413 for a body over Graph's limit.
async fn read_request(request: Request<Incoming>) -> Result<Req, (Req, StatusCode)> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    match Limited::new(body, http::MAX_BODY).collect().await {
        Ok(b) => Ok(Req::new(
            parts.method,
            &path,
            &query,
            parts.headers,
            b.to_bytes(),
        )),
        Err(e) => {
            let status = if e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            Err((
                Req::new(parts.method, &path, &query, parts.headers, Bytes::new()),
                status,
            ))
        }
    }
}

async fn serve_main(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    accept_loop(listener, acceptor, stop, move |request| {
        let shared = shared.clone();
        async move { dispatch(&shared, request).await }
    })
    .await;
}

/// One Graph request being served; dropping it frees its place.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .graph_in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The request without its body, for answers given before the body is read (faults, the budget).
fn head_only(request: &Request<Incoming>) -> Req {
    Req::new(
        request.method().clone(),
        request.uri().path(),
        request.uri().query().unwrap_or(""),
        request.headers().clone(),
        Bytes::new(),
    )
}

async fn dispatch(sh: &Arc<Shared>, request: Request<Incoming>) -> Result<Resp, ConnectionReset> {
    let path = request.uri().path().to_ascii_lowercase();
    let _slot = if path.starts_with("/v1.0/") || path.starts_with("/beta/") {
        match sh.enter() {
            Some(slot) => Some(slot),
            None => {
                // Over the tenant's budget of requests at once: refused after one round trip.
                if let Some(ms) = sh.latency_for(request.method().as_str(), request.uri().path()) {
                    tokio::time::sleep(Duration::from_millis(ms.min(600_000))).await;
                }
                let req = head_only(&request);
                let resp = graph::injected(&req, StatusCode::TOO_MANY_REQUESTS, Some("0.010"));
                sh.record(log_entry(&req, 429, None));
                return Ok(resp);
            }
        }
    } else {
        None
    };
    let declared_too_big = request
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > http::MAX_BODY as u64);
    let is_control = request.uri().path().starts_with("/_control");
    let mut hold_answer = false;
    if !is_control
        && let Some(fault) = sh.take_fault(request.method().as_str(), request.uri().path())
    {
        match fault.kind.as_deref() {
            Some("hold") => {
                sh.hold(request.method().as_str(), request.uri().path(), "hold")
                    .await
            }
            Some("hold-answer") => hold_answer = true,
            _ => {}
        }
        if fault.kind.as_deref() == Some("reset") {
            let req = head_only(&request);
            sh.record(log_entry(&req, 0, None));
            return Err(ConnectionReset);
        }
        if let Some(ms) = fault.latency_ms {
            tokio::time::sleep(Duration::from_millis(ms.min(600_000))).await;
        }
        if let Some(status) = fault.status.and_then(|s| StatusCode::from_u16(s).ok()) {
            let req = head_only(&request);
            let resp = graph::injected(&req, status, fault.retry_after.as_deref());
            sh.record(log_entry(&req, status.as_u16(), None));
            return Ok(resp);
        }
    }
    let req = if declared_too_big {
        Err((head_only(&request), StatusCode::PAYLOAD_TOO_LARGE))
    } else {
        read_request(request).await
    };
    let req = match req {
        Ok(r) => r,
        Err((req, status)) => {
            let resp = if status == StatusCode::PAYLOAD_TOO_LARGE {
                http::graph_error(
                    status,
                    &req,
                    "Request_EntityTooLarge",
                    "The request body is larger than the 4 MB that Microsoft Graph accepts.",
                )
            } else {
                http::graph_error(
                    status,
                    &req,
                    "Request_BadRequest",
                    "The request body could not be read.",
                )
            };
            if !is_control {
                sh.record(log_entry(&req, status.as_u16(), None));
            }
            return Ok(resp);
        }
    };
    if is_control {
        return Ok(control::handle(sh, &req).await);
    }
    let (resp, client) = route(sh, &req);
    sh.record(log_entry(&req, resp.status().as_u16(), client));
    if hold_answer {
        sh.hold(req.method.as_str(), &req.raw_path, "hold-answer")
            .await;
    }
    Ok(resp)
}

fn log_entry(req: &Req, status: u16, client: Option<String>) -> LogEntry {
    LogEntry {
        method: req.method.to_string(),
        path: req.target(),
        status,
        time: crate::graph::models::graph_time(req.now),
        request_id: req.request_id.clone(),
        client_request_id: req.client_request_id.clone(),
        client,
    }
}

/// Routes a request to Graph or the sign-in endpoints; returns the response and the caller's identity.
fn route(sh: &Shared, req: &Req) -> (Resp, Option<String>) {
    let Some(segs) = req
        .segments
        .iter()
        .cloned()
        .collect::<Option<Vec<String>>>()
    else {
        return (
            http::graph_error(
                StatusCode::BAD_REQUEST,
                req,
                "Request_BadRequest",
                "The request URI is not valid: a path segment is not UTF-8.",
            ),
            None,
        );
    };
    let first = segs
        .first()
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    if first == "v1.0" || first == "beta" {
        let result = sh.with_tenant_change(|t| {
            let who = match graph::authenticate(sh, t, req) {
                Ok(w) => w,
                Err(r) => return ((r, None), None),
            };
            let client = Some(format!(
                "{}/{}",
                who.appid,
                who.upn.clone().unwrap_or_else(|| "app".into())
            ));
            let domains_before = t.domains.len();
            let out = graph::handle(sh, t, req, &first, &who, &segs[1..]);
            let change = out
                .changed
                .then(|| changed_by(t, req, &segs[1..], domains_before));
            ((out.resp, client), change)
        });
        return result.unwrap_or_else(|e| (unavailable(req, &e), None));
    }
    match login::handle(sh, req, &segs) {
        Some(resp) => (resp, None),
        None => (
            http::graph_error(
                StatusCode::NOT_FOUND,
                req,
                "UnknownRoute",
                &format!(
                    "The rehearsal tenant has no endpoint at {} {}.",
                    req.method,
                    req.raw_path.chars().take(200).collect::<String>()
                ),
            ),
            None,
        ),
    }
}

/// What a Graph write at `segs` changed: one domain (with the subdomains that inherit from it), the
/// sync settings, or — for anything else — the whole tenant.
fn changed_by(t: &Tenant, req: &Req, segs: &[String], domains_before: usize) -> Change {
    // A new default domain clears the flag on every other.
    if req
        .body
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"isDefault"))
    {
        return Change::All;
    }
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    match lower.as_slice() {
        [d, id, ..] if d == "domains" && t.domains.len() == domains_before => {
            let suffix = format!(".{id}");
            let ids: Vec<String> = t
                .domains
                .iter()
                .map(|r| r.id().to_string())
                .filter(|r| {
                    let r = r.to_ascii_lowercase();
                    r == *id || r.ends_with(&suffix)
                })
                .collect();
            if ids.is_empty() {
                Change::All
            } else {
                Change::Domains(ids)
            }
        }
        [d, s, ..] if d == "directory" && s == "onpremisessynchronization" => Change::Sync,
        // The engines live with the sync settings.
        [sp, ..] if sp == "serviceprincipals" => Change::Sync,
        _ => Change::All,
    }
}

fn unavailable(req: &Req, e: &EmulatorError) -> Resp {
    http::graph_error(
        StatusCode::SERVICE_UNAVAILABLE,
        req,
        "ServiceUnavailable",
        &format!("The rehearsal tenant could not save its state: {e}"),
    )
}
