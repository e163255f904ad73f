//! A rehearsal tenant served from the test, so that it can hold a request of a command that joins
//! it: the command is then stopped (Ctrl-C, a kill) exactly there, on any machine.

use std::path::Path;
use std::time::{Duration, Instant};

use entra_failover::emulator::{Config, Emulator, Info};
use serde_json::{Value, json};

pub struct HeldTenant {
    rt: tokio::runtime::Runtime,
    emu: Emulator,
    info: Info,
    http: reqwest::Client,
}

impl HeldTenant {
    /// Serves `home`'s rehearsal tenant here; commands run with that home join it.
    pub fn serve(home: &Path) -> HeldTenant {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let emu = rt
            .block_on(Emulator::start(Config::new(home.join("rehearsal"))))
            .unwrap();
        let info = emu.info().clone();
        let http = entra_failover::ops::session::http_client(Some(&info.ca_file)).unwrap();
        HeldTenant {
            rt,
            emu,
            info,
            http,
        }
    }

    fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.rt.block_on(async {
            let mut r = self
                .http
                .request(method, format!("{}{path}", self.info.control_url))
                .bearer_auth(&self.info.control_token);
            if let Some(b) = body {
                r = r.json(&b);
            }
            let resp = r.send().await.unwrap();
            assert!(resp.status().is_success(), "{path}");
            resp.json().await.unwrap_or(Value::Null)
        })
    }

    /// The next `method path` is held: before it is served (`hold`), or served with its answer
    /// kept back (`hold-answer`).
    pub fn hold(&self, method: &str, path: &str, kind: &str) {
        self.control(
            reqwest::Method::POST,
            "/faults",
            Some(json!({"method": method, "path": path, "kind": kind, "count": 1})),
        );
    }

    /// Waits until a request for `path` is held (the deadline is for a real fault only).
    pub fn wait_held(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self
            .control(reqwest::Method::GET, "/held", None)
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == path)
        {
            assert!(Instant::now() < deadline, "{path} was never sent");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Lets what is held go and stops serving.
    pub fn stop(self) {
        self.control(reqwest::Method::DELETE, "/faults", None);
        self.emu.stop();
    }
}
