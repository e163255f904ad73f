//! The credentials: `azure_identity`'s Azure CLI, client secret and client assertion credentials (the
//! assertion signed with an app certificate, `certificate.rs`), a
//! device code flow of our own, and the rehearsal tenant's administrator (a password sign-in).

use std::path::Path;
use std::sync::{Arc, Mutex};

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, Transport};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use url::Url;

use super::{AccessToken, AuthError, Credential, GRAPH_SCOPE};
use crate::login::{DeviceCode, LoginClient};

/// Options that make `azure_identity` talk to `authority` through our HTTP client (and so trust the
/// same roots, the rehearsal CA included).
fn sdk_options(authority: &Url, http: reqwest::Client) -> ClientOptions {
    let mut custom = CustomConfiguration::default();
    custom.authority_host = authority.as_str().trim_end_matches('/').to_string();
    ClientOptions {
        transport: Some(Transport::new(Arc::new(http))),
        // A sign-in that fails (a TLS error, a wrong secret) should say so in seconds, not a minute.
        retry: azure_core::http::RetryOptions::exponential(
            azure_core::http::ExponentialRetryOptions {
                max_retries: 2,
                initial_delay: time::Duration::milliseconds(300),
                max_total_elapsed: time::Duration::seconds(10),
                max_delay: time::Duration::seconds(3),
            },
        ),
        cloud: Some(Arc::new(CloudConfiguration::from(custom))),
        ..Default::default()
    }
}

fn sdk_error(e: azure_core::Error) -> AuthError {
    AuthError::SignIn(crate::graph::client::error_chain(&e))
}

/// A credential from `azure_identity`.
pub struct SdkCredential {
    inner: Arc<dyn TokenCredential>,
    description: String,
}

#[async_trait::async_trait]
impl Credential for SdkCredential {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        let t = self
            .inner
            .get_token(&[GRAPH_SCOPE], None)
            .await
            .map_err(sdk_error)?;
        Ok(AccessToken {
            token: SecretString::from(t.token.secret().to_string()),
            expires_on: t.expires_on,
        })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// An administrator who ran `az login` (delegated).
pub fn azure_cli(tenant: Option<&str>) -> Result<SdkCredential, AuthError> {
    let options = azure_identity::AzureCliCredentialOptions {
        tenant_id: tenant.map(str::to_string),
        ..Default::default()
    };
    let inner = azure_identity::AzureCliCredential::new(Some(options)).map_err(sdk_error)?;
    Ok(SdkCredential {
        inner,
        description: "Azure CLI (az login)".into(),
    })
}

/// An app registration with a client secret (app-only).
pub fn client_secret(
    tenant: &str,
    client_id: &str,
    secret: &SecretString,
    authority: &Url,
    http: reqwest::Client,
) -> Result<SdkCredential, AuthError> {
    let options = azure_identity::ClientSecretCredentialOptions {
        client_options: sdk_options(authority, http),
    };
    let inner = azure_identity::ClientSecretCredential::new(
        tenant,
        client_id.to_string(),
        Secret::new(secret.expose_secret().to_string()),
        Some(options),
    )
    .map_err(sdk_error)?;
    Ok(SdkCredential {
        inner,
        description: format!("app {client_id} (client secret)"),
    })
}

/// An app registration with a certificate (a PKCS#12 file with an RSA key).
pub fn client_certificate(
    tenant: &str,
    client_id: &str,
    pkcs12: &Path,
    password: Option<&SecretString>,
    authority: &Url,
    http: reqwest::Client,
) -> Result<SdkCredential, AuthError> {
    let bytes = std::fs::read(pkcs12)
        .map_err(|e| AuthError::Config(format!("{}: {e}", pkcs12.display())))?;
    let assertion = super::certificate::CertificateAssertion::from_pkcs12(
        &bytes, password, client_id, tenant, authority,
    )
    .map_err(|e| AuthError::Config(format!("{}: {e}", pkcs12.display())))?;
    let options = azure_identity::ClientAssertionCredentialOptions {
        client_options: sdk_options(authority, http),
    };
    let inner = azure_identity::ClientAssertionCredential::new(
        tenant.to_string(),
        client_id.to_string(),
        assertion,
        Some(options),
    )
    .map_err(sdk_error)?;
    Ok(SdkCredential {
        inner,
        description: format!("app {client_id} (certificate {})", pkcs12.display()),
    })
}

struct Cached {
    token: AccessToken,
    refresh: Option<SecretString>,
}

fn fresh(c: &Option<Cached>) -> Option<AccessToken> {
    c.as_ref()
        .filter(|c| c.token.expires_on > OffsetDateTime::now_utc() + time::Duration::minutes(5))
        .map(|c| c.token.clone())
}

fn cache_from(r: crate::login::TokenResponse) -> Cached {
    Cached {
        token: AccessToken {
            token: r.access_token,
            expires_on: OffsetDateTime::now_utc() + time::Duration::seconds(r.expires_in),
        },
        refresh: r.refresh_token,
    }
}

/// A session's next token from its refresh token, as Entra's sessions go on without a new sign-in;
/// `None` without one, or when Entra refuses it (lapsed, revoked): then only a new sign-in will do.
async fn refreshed(
    login: &LoginClient,
    tenant: &str,
    client_id: &str,
    refresh: Option<SecretString>,
) -> Option<Cached> {
    let r = login.refresh(tenant, client_id, &refresh?).await.ok()?;
    Some(cache_from(r))
}

/// What the device code flow shows the administrator: where to go and which code to enter.
pub type DevicePrompt = Arc<dyn Fn(&DeviceCode) + Send + Sync>;

/// The device code flow (RFC 8628): the administrator signs in on another device.
pub struct DeviceCodeCredential {
    login: LoginClient,
    tenant: String,
    client_id: String,
    prompt: DevicePrompt,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

impl DeviceCodeCredential {
    pub fn new(
        login: LoginClient,
        tenant: &str,
        client_id: &str,
        prompt: DevicePrompt,
    ) -> DeviceCodeCredential {
        DeviceCodeCredential {
            login,
            tenant: tenant.to_string(),
            client_id: client_id.to_string(),
            prompt,
            cache: tokio::sync::Mutex::new(None),
        }
    }
}

#[async_trait::async_trait]
impl Credential for DeviceCodeCredential {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(t) = fresh(&cache) {
            return Ok(t);
        }
        let refresh = cache.as_ref().and_then(|c| c.refresh.clone());
        if let Some(c) = refreshed(&self.login, &self.tenant, &self.client_id, refresh).await {
            let token = c.token.clone();
            *cache = Some(c);
            return Ok(token);
        }
        let scope = format!("{GRAPH_SCOPE} offline_access");
        let code = self
            .login
            .device_code(&self.tenant, &self.client_id, &scope)
            .await
            .map_err(|e| AuthError::SignIn(e.to_string()))?;
        (self.prompt)(&code);
        let r = self
            .login
            .poll_device_code(&self.tenant, &self.client_id, &code)
            .await
            .map_err(|e| AuthError::SignIn(e.to_string()))?;
        let c = cache_from(r);
        let token = c.token.clone();
        *cache = Some(c);
        Ok(token)
    }

    fn invalidate(&self) {
        if let Ok(mut c) = self.cache.try_lock()
            && let Some(c) = c.as_mut()
        {
            c.token.expires_on = OffsetDateTime::UNIX_EPOCH;
        }
    }

    fn describe(&self) -> String {
        format!("device code sign-in (app {})", self.client_id)
    }
}

/// A user's password sign-in: the rehearsal tenant's administrator, so that rehearsals need no account.
pub struct PasswordCredential {
    login: LoginClient,
    tenant: String,
    client_id: String,
    upn: String,
    password: SecretString,
    cache: Mutex<Option<Cached>>,
    farms: FarmRoute,
}

/// Where a federation service's URL is served: itself, or (the rehearsal) a local address.
pub type FarmRoute = Arc<dyn Fn(&Url) -> Url + Send + Sync>;

impl PasswordCredential {
    pub fn new(
        login: LoginClient,
        tenant: &str,
        client_id: &str,
        upn: &str,
        password: SecretString,
    ) -> PasswordCredential {
        PasswordCredential {
            login,
            tenant: tenant.to_string(),
            client_id: client_id.to_string(),
            upn: upn.to_string(),
            password,
            cache: Mutex::new(None),
            farms: Arc::new(|u: &Url| u.clone()),
        }
    }

    /// Sends a federated user's sign-in to the farm through `route`.
    pub fn with_farms(mut self, route: FarmRoute) -> PasswordCredential {
        self.farms = route;
        self
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new sign-in. On a managed domain Entra ID checks the password; on a federated one it never
    /// sees it: the farm does (WS-Trust `usernamemixed`), and its token is exchanged (SAML bearer
    /// grant), as MSAL signs federated users in. With the farm down there is no new sign-in.
    async fn sign_in(&self) -> Result<crate::login::TokenResponse, AuthError> {
        let realm = self
            .login
            .user_realm(&self.upn)
            .await
            .map_err(|e| AuthError::SignIn(e.to_string()))?;
        if realm.namespace != crate::login::Namespace::Federated {
            return self
                .login
                .password(
                    &self.tenant,
                    &self.client_id,
                    &self.upn,
                    &self.password,
                    &format!("{GRAPH_SCOPE} offline_access"),
                )
                .await
                .map_err(|e| AuthError::SignIn(e.to_string()));
        }
        let domain = self
            .upn
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default();
        let locked_out = |why: String| {
            AuthError::SignIn(format!(
                "{upn} is on {domain}, a federated domain: a new sign-in goes through its AD FS farm, and {why}. The way out is an account that does not depend on the farm: a cloud-only administrator on the tenant's *.onmicrosoft.com domain (an emergency access account)",
                upn = self.upn
            ))
        };
        let endpoint = self
            .login
            .active_auth_url(&self.upn)
            .await
            .map_err(|e| AuthError::SignIn(e.to_string()))?
            .and_then(|u| Url::parse(&u).ok())
            .filter(|u| u.scheme() == "https")
            .ok_or_else(|| {
                locked_out("home realm discovery names no https WS-Trust endpoint for it".into())
            })?;
        let farm = endpoint.host_str().unwrap_or_default().to_string();
        let sent = crate::adfs::wstrust::send(
            self.login.http(),
            &endpoint,
            (self.farms)(&endpoint),
            &self.upn,
            &self.password,
        )
        .await;
        let mut resp = sent.map_err(|e| {
            locked_out(format!(
                "the farm {farm} cannot be reached ({})",
                crate::graph::client::error_chain(&e)
            ))
        })?;
        let text =
            crate::adfs::bounded::read_bounded(&mut resp, crate::adfs::wstrust::MAX_RESPONSE_BYTES)
                .await
                .map_err(|e| locked_out(format!("the farm {farm}'s answer {e}")))?;
        match crate::adfs::wstrust::parse_response(&text) {
            Ok(crate::adfs::wstrust::Answer::Token(_)) => {}
            Ok(crate::adfs::wstrust::Answer::Fault { code, reason }) => {
                return Err(AuthError::SignIn(format!(
                    "the farm {farm} refused the sign-in of {}: {code} {reason}",
                    self.upn
                )));
            }
            Err(e) => {
                return Err(locked_out(format!(
                    "the farm {farm} answered no token: {e}"
                )));
            }
        }
        let assertion = crate::adfs::wstrust::assertion_xml(&text)
            .map(|a| SecretString::from(a.to_string()))
            .ok_or_else(|| locked_out(format!("the farm {farm} answered no assertion")))?;
        self.login
            .saml_bearer(
                &self.tenant,
                &self.client_id,
                &assertion,
                &format!("{GRAPH_SCOPE} offline_access"),
            )
            .await
            .map_err(|e| AuthError::SignIn(e.to_string()))
    }
}

#[async_trait::async_trait]
impl Credential for PasswordCredential {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        if let Some(t) = fresh(&self.cached()) {
            return Ok(t);
        }
        // A session keeps itself going with its refresh token, as Entra's sessions do: no new
        // sign-in, so a farm that went down since does not matter until the refresh token lapses.
        let refresh = self.cached().as_ref().and_then(|c| c.refresh.clone());
        if let Some(c) = refreshed(&self.login, &self.tenant, &self.client_id, refresh).await {
            let token = c.token.clone();
            *self.cached() = Some(c);
            return Ok(token);
        }
        let c = cache_from(self.sign_in().await?);
        let token = c.token.clone();
        *self.cached() = Some(c);
        Ok(token)
    }

    /// Graph refused the token (it expired by the tenant's clock, say): the access token goes, the
    /// refresh token stays for the next one.
    fn invalidate(&self) {
        if let Some(c) = self.cached().as_mut() {
            c.token.expires_on = OffsetDateTime::UNIX_EPOCH;
        }
    }

    fn describe(&self) -> String {
        format!("{} (password)", self.upn)
    }
}
