//! The Entra sign-in service: home realm discovery, the token endpoint (the password sign-in test,
//! refresh) and the device code grant (RFC 8628), which `azure_identity` does not offer.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::graph::models::AadstsError;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("AADSTS{code}: {summary}{}", explain(*code).map(|e| format!(" — {e}")).unwrap_or_default())]
    Aadsts {
        status: u16,
        error: String,
        code: u32,
        summary: String,
        trace_id: String,
        correlation_id: String,
    },
    #[error("HTTP {status} from the sign-in service: {body}")]
    Status { status: u16, body: String },
    #[error("the sign-in service could not be reached at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the sign-in service answered something unreadable: {0}")]
    Decode(String),
}

impl LoginError {
    pub fn aadsts_code(&self) -> Option<u32> {
        match self {
            LoginError::Aadsts { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            LoginError::Aadsts { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// What an AADSTS code means for someone failing over from AD FS to password hash sync.
pub fn explain(code: u32) -> Option<&'static str> {
    Some(match code {
        50126 => {
            "wrong user name or password — or, for a federated user, the password grant went to a federation the farm could not answer"
        }
        50056 => {
            "no password hash yet: the user has no password hash in Entra ID; wait for a sync cycle with password hash sync on (the first can take up to three hours)"
        }
        50034 => "no such user in this tenant: check the user principal name",
        50053 => "the account is locked after too many attempts: wait, or unlock it",
        50057 => "the account is disabled",
        50076 | 50079 => {
            "multifactor authentication is required: the password is right; finish the sign-in interactively"
        }
        50008 | 50107 => {
            "the federation trust is broken (SAML token or issuer mismatch): reset the Microsoft Entra ID trust"
        }
        50055 => "the password has expired: the user must change it",
        50144 => "the on-premises password has expired: the user must change it on premises",
        50074 => "multifactor authentication was required and not completed",
        53003 => "blocked by a Conditional Access policy",
        530035 => "blocked by security defaults (legacy authentication, or deemed unsafe)",
        65001 => "the user or an administrator has not consented to the application",
        50173 | 50132 | 50133 => {
            "the session is no longer valid after a password change: sign in again"
        }
        7000215 => "the client secret is wrong: use the secret's value, not its id",
        700016 => "no such application in this tenant: check the client id and the tenant",
        70016 => "waiting for the user to enter the code",
        90002 => "no such tenant: check the tenant id or domain and the cloud",
        _ => return None,
    })
}

/// Where a user signs in, as home realm discovery says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Namespace {
    Managed,
    Federated,
    Unknown,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Realm {
    pub namespace: Namespace,
    pub domain: Option<String>,
    /// The federation service's passive sign-in URL, for a federated user.
    pub auth_url: Option<String>,
    pub brand: Option<String>,
}

/// A token endpoint answer. Tokens are secrets.
pub struct TokenResponse {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: i64,
}

#[derive(Deserialize)]
struct RawToken {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: i64,
}

/// A started device code sign-in.
#[derive(Clone, Debug, Deserialize)]
pub struct DeviceCode {
    pub user_code: String,
    pub device_code: String,
    pub verification_uri: String,
    pub expires_in: u64,
    pub interval: u64,
    pub message: String,
}

#[derive(Clone)]
pub struct LoginClient {
    http: reqwest::Client,
    base: Url,
}

impl LoginClient {
    /// `base` is the authority host, e.g. `https://login.microsoftonline.com`.
    pub fn new(http: reqwest::Client, base: Url) -> LoginClient {
        LoginClient { http, base }
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Sends a request; a non-200 answer becomes the AADSTS (or HTTP) error it carries.
    async fn send(&self, rb: reqwest::RequestBuilder, url: &Url) -> Result<String, LoginError> {
        let resp = rb.send().await.map_err(|e| unreachable(url, e))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| unreachable(url, e))?;
        if status != 200 {
            return Err(error_from(status, &body));
        }
        Ok(body)
    }

    fn url(&self, path: &str) -> Result<Url, LoginError> {
        self.base
            .join(path)
            .map_err(|e| LoginError::Decode(format!("{path}: {e}")))
    }

    /// Home realm discovery (`/common/userrealm/{upn}?api-version=2.1`).
    pub async fn user_realm(&self, upn: &str) -> Result<Realm, LoginError> {
        let encoded: String = url::form_urlencoded::byte_serialize(upn.as_bytes()).collect();
        let url = self.url(&format!("/common/userrealm/{encoded}?api-version=2.1"))?;
        let body = self.send(self.http.get(url.clone()), &url).await?;
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| LoginError::Decode(e.to_string()))?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let namespace = match s("NameSpaceType").as_deref() {
            Some("Managed") => Namespace::Managed,
            Some("Federated") => Namespace::Federated,
            _ => Namespace::Unknown,
        };
        Ok(Realm {
            namespace,
            domain: s("DomainName"),
            auth_url: s("AuthURL"),
            brand: s("FederationBrandName"),
        })
    }

    /// The farm's active (WS-Trust) endpoint for a federated user, from home realm discovery's 1.0
    /// answer (`federation_active_auth_url`): where Entra sends a password it is given.
    pub async fn active_auth_url(&self, upn: &str) -> Result<Option<String>, LoginError> {
        let encoded: String = url::form_urlencoded::byte_serialize(upn.as_bytes()).collect();
        let url = self.url(&format!("/common/userrealm/{encoded}?api-version=1.0"))?;
        let body = self.send(self.http.get(url.clone()), &url).await?;
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| LoginError::Decode(e.to_string()))?;
        Ok(v.get("federation_active_auth_url")
            .and_then(|x| x.as_str())
            .map(str::to_string))
    }

    async fn token(
        &self,
        tenant: &str,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, LoginError> {
        let url = self.url(&format!("/{tenant}/oauth2/v2.0/token"))?;
        let body = self
            .send(self.http.post(url.clone()).form(form), &url)
            .await?;
        let raw: RawToken =
            serde_json::from_str(&body).map_err(|e| LoginError::Decode(e.to_string()))?;
        Ok(TokenResponse {
            access_token: SecretString::from(raw.access_token),
            refresh_token: raw.refresh_token.map(SecretString::from),
            expires_in: raw.expires_in,
        })
    }

    /// A password sign-in (ROPC): the sign-in test for a managed user.
    pub async fn password(
        &self,
        tenant: &str,
        client_id: &str,
        upn: &str,
        password: &SecretString,
        scope: &str,
    ) -> Result<TokenResponse, LoginError> {
        self.token(
            tenant,
            &[
                ("grant_type", "password"),
                ("client_id", client_id),
                ("username", upn),
                ("password", password.expose_secret()),
                ("scope", scope),
            ],
        )
        .await
    }

    pub async fn refresh(
        &self,
        tenant: &str,
        client_id: &str,
        refresh_token: &SecretString,
    ) -> Result<TokenResponse, LoginError> {
        self.token(
            tenant,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("refresh_token", refresh_token.expose_secret()),
            ],
        )
        .await
    }

    /// The HTTP client (its roots, redirect policy and proxy), for what goes with a sign-in: a
    /// federated user's request to their farm.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Exchanges a SAML 1.1 assertion from the user's AD FS farm (WS-Trust) for tokens: how a
    /// federated user signs in without Entra ID seeing the password. The assertion is a bearer
    /// credential, so it is a secret too.
    pub async fn saml_bearer(
        &self,
        tenant: &str,
        client_id: &str,
        assertion: &SecretString,
        scope: &str,
    ) -> Result<TokenResponse, LoginError> {
        use base64::Engine;
        let encoded = SecretString::from(
            base64::engine::general_purpose::STANDARD.encode(assertion.expose_secret()),
        );
        self.token(
            tenant,
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:saml1_1-bearer",
                ),
                ("client_id", client_id),
                ("assertion", encoded.expose_secret()),
                ("scope", scope),
            ],
        )
        .await
    }

    /// Starts a device code sign-in.
    pub async fn device_code(
        &self,
        tenant: &str,
        client_id: &str,
        scope: &str,
    ) -> Result<DeviceCode, LoginError> {
        let url = self.url(&format!("/{tenant}/oauth2/v2.0/devicecode"))?;
        let body = self
            .send(
                self.http
                    .post(url.clone())
                    .form(&[("client_id", client_id), ("scope", scope)]),
                &url,
            )
            .await?;
        serde_json::from_str(&body).map_err(|e| LoginError::Decode(e.to_string()))
    }

    /// Polls the token endpoint until the user has entered the code (RFC 8628 §3.4–3.5).
    pub async fn poll_device_code(
        &self,
        tenant: &str,
        client_id: &str,
        code: &DeviceCode,
    ) -> Result<TokenResponse, LoginError> {
        let mut interval = code.interval.max(1);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(code.expires_in);
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(interval)).await;
            let result = self
                .token(
                    tenant,
                    &[
                        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                        ("client_id", client_id),
                        ("device_code", &code.device_code),
                    ],
                )
                .await;
            match result {
                Err(e)
                    if e.oauth_error() == Some("authorization_pending")
                        && std::time::Instant::now() < deadline => {}
                Err(e) if e.oauth_error() == Some("slow_down") => interval += 5,
                other => return other,
            }
        }
    }
}

fn unreachable(url: &Url, e: reqwest::Error) -> LoginError {
    LoginError::Unreachable {
        url: url.to_string(),
        detail: crate::graph::client::error_chain(&e),
    }
}

fn error_from(status: u16, body: &str) -> LoginError {
    match serde_json::from_str::<AadstsError>(body) {
        Ok(e) if !e.error.is_empty() => LoginError::Aadsts {
            status,
            code: e.code().unwrap_or(0),
            summary: e
                .error_description
                .split_once(": ")
                .map(|(_, rest)| rest)
                .unwrap_or(&e.error_description)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            error: e.error,
            trace_id: e.trace_id,
            correlation_id: e.correlation_id,
        },
        _ => LoginError::Status {
            status,
            body: body.chars().take(300).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aadsts_bodies_become_named_errors() {
        let body = r#"{"error":"invalid_grant","error_description":"AADSTS50056: Invalid or null password.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: x","error_codes":[50056],"timestamp":"x","trace_id":"t","correlation_id":"c"}"#;
        let e = error_from(400, body);
        assert_eq!(e.aadsts_code(), Some(50056));
        let text = e.to_string();
        assert!(
            text.starts_with("AADSTS50056: Invalid or null password."),
            "{text}"
        );
        assert!(text.contains("wait for a sync cycle"), "{text}");
        assert!(matches!(
            error_from(502, "<html>bad gateway</html>"),
            LoginError::Status { status: 502, .. }
        ));
    }
}
