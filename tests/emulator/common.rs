//! A rehearsal tenant on port 0 in a temporary folder, and a client that trusts its CA.

use std::time::Duration;

use entra_failover::emulator::{Config, Emulator, Info};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

pub struct Rig {
    pub emu: Emulator,
    pub info: Info,
    pub http: reqwest::Client,
    pub _dir: tempfile::TempDir,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// Graph's error code, or the token endpoint's `error`.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .or_else(|| self.body["error"].as_str())
            .unwrap_or("")
    }

    pub fn aadsts(&self) -> u64 {
        self.body["error_codes"][0].as_u64().unwrap_or(0)
    }
}

pub fn client_for(info: &Info) -> reqwest::Client {
    entra_failover::tls::install_crypto_provider();
    let pem = std::fs::read(&info.ca_file).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

impl Rig {
    pub async fn start() -> Rig {
        Rig::with(|_| {}, None).await
    }

    /// A rig with a changed config and, optionally, a scenario file's text.
    pub async fn with(change: impl FnOnce(&mut Config), scenario: Option<&str>) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::new(dir.path().join("state"));
        if let Some(s) = scenario {
            let p = dir.path().join("scenario.toml");
            std::fs::write(&p, s).unwrap();
            cfg.scenario = Some(p);
        }
        change(&mut cfg);
        let emu = Emulator::start(cfg).await.unwrap();
        let info = emu.info().clone();
        let http = client_for(&info);
        Rig {
            emu,
            info,
            http,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.info.graph_url)
        }
    }

    pub async fn call(
        &self,
        method: Method,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        into_answer(rb.send().await.unwrap()).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        self.call(Method::GET, Some(token), path, None).await
    }

    pub async fn raw(&self, rb: reqwest::RequestBuilder) -> Answer {
        into_answer(rb.send().await.unwrap()).await
    }

    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let rb = self.http.post(self.url(path)).form(fields);
        into_answer(rb.send().await.unwrap()).await
    }

    pub fn token_path(&self) -> String {
        format!("/{}/oauth2/v2.0/token", self.info.tenant_id)
    }

    pub async fn app_token(&self) -> String {
        let a = self
            .form(
                &self.token_path(),
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &self.info.client_id),
                    ("client_secret", &self.info.client_secret),
                    ("scope", "https://graph.microsoft.com/.default"),
                ],
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn password(&self, upn: &str, password: &str) -> Answer {
        self.form(
            &self.token_path(),
            &[
                ("grant_type", "password"),
                ("client_id", &self.info.client_id),
                ("username", upn),
                ("password", password),
                (
                    "scope",
                    "https://graph.microsoft.com/.default offline_access",
                ),
            ],
        )
        .await
    }

    pub async fn admin_token(&self) -> String {
        let a = self
            .password(
                &self.info.admin_upn.clone(),
                &self.info.admin_password.clone(),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.info.control_url))
            .bearer_auth(&self.info.control_token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        into_answer(rb.send().await.unwrap()).await
    }

    pub async fn farm(&self, state: &str) -> Answer {
        let a = self
            .control(
                Method::POST,
                "/adfs/sts.contoso.com",
                Some(json!({"state": state})),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a
    }

    pub async fn sync(&self) {
        let a = self.control(Method::POST, "/sync", None).await;
        assert_eq!(a.status, 200, "{}", a.text);
    }

    /// A synchronized user of a domain.
    pub fn user_of(&self, domain: &str) -> String {
        self.emu
            .tenant()
            .users
            .iter()
            .find(|u| u.synced && u.domain() == domain)
            .unwrap()
            .upn
            .clone()
    }

    pub async fn enable_phs(&self) {
        let admin = self.admin_token().await;
        let id = self.emu.tenant().sync.id.clone();
        let a = self
            .call(
                Method::PATCH,
                Some(&admin),
                &format!("/v1.0/directory/onPremisesSynchronization/{id}"),
                Some(json!({"features": {"passwordSyncEnabled": true}})),
            )
            .await;
        assert_eq!(a.status, 204, "{}", a.text);
    }

    /// What the script `enable-phs` writes does on the Connect Sync server: its password sync on.
    pub async fn connect_script(&self) {
        let a = self.control(Method::POST, "/connect/script", None).await;
        assert_eq!(a.status, 200, "{}", a.text);
    }
}

pub async fn into_answer(r: reqwest::Response) -> Answer {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

/// Checks the shape of a Graph error: code, message, innerError with date and request ids, and
/// the `request-id` header matching the body.
pub fn assert_graph_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.text);
    assert_eq!(a.code(), code, "{}", a.text);
    let e = &a.body["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        a.text
    );
    let inner = &e["innerError"];
    assert!(inner["date"].is_string(), "{}", a.text);
    let rid = inner["request-id"].as_str().unwrap();
    assert_eq!(a.headers["request-id"].to_str().unwrap(), rid);
    assert!(inner["client-request-id"].is_string());
}
