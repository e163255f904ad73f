//! Profiles: which tenant, how to sign in, which cloud. `config.toml` in `$ENTRA_FAILOVER_HOME` holds
//! `[profiles.NAME]`; the built-in profile `rehearsal` is the simulated tenant. Secrets never sit in
//! the file: a profile names the environment variable that holds one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use super::AuthError;

pub const REHEARSAL: &str = "rehearsal";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    AzureCli,
    ClientSecret,
    ClientCertificate,
    DeviceCode,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    #[default]
    Public,
    Usgov,
    UsgovDod,
    China,
}

impl Cloud {
    /// Graph's root and the authority host of each national cloud.
    pub fn hosts(self) -> (&'static str, &'static str) {
        match self {
            Cloud::Public => (
                "https://graph.microsoft.com",
                "https://login.microsoftonline.com",
            ),
            Cloud::Usgov => (
                "https://graph.microsoft.us",
                "https://login.microsoftonline.us",
            ),
            Cloud::UsgovDod => (
                "https://dod-graph.microsoft.us",
                "https://login.microsoftonline.us",
            ),
            Cloud::China => (
                "https://microsoftgraph.chinacloudapi.cn",
                "https://login.chinacloudapi.cn",
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Tenant id or one of its domains.
    pub tenant: String,
    pub auth: AuthKind,
    pub client_id: Option<String>,
    /// The name of the environment variable that holds the client secret.
    pub client_secret_env: Option<String>,
    /// A PKCS#12 file with the app's certificate and RSA key.
    pub certificate_path: Option<PathBuf>,
    /// The name of the environment variable that holds the PKCS#12 password, if any.
    pub certificate_password_env: Option<String>,
    #[serde(default)]
    pub cloud: Cloud,
    pub graph_url: Option<Url>,
    pub login_url: Option<Url>,
    /// An extra root certificate (PEM), for TLS-inspecting proxies.
    pub ca_file: Option<PathBuf>,
}

impl Profile {
    pub fn graph_url(&self) -> Url {
        self.graph_url
            .clone()
            .unwrap_or_else(|| built_in_url(self.cloud.hosts().0))
    }

    pub fn login_url(&self) -> Url {
        self.login_url
            .clone()
            .unwrap_or_else(|| built_in_url(self.cloud.hosts().1))
    }

    /// Checks what the chosen sign-in needs, naming what is missing.
    pub fn check(&self, name: &str) -> Result<(), AuthError> {
        let need = |what: &str| {
            AuthError::Config(format!(
                "profile {name}: auth = {:?} needs {what}",
                self.auth
            ))
        };
        match self.auth {
            AuthKind::ClientSecret => {
                self.client_id.as_ref().ok_or_else(|| need("client_id"))?;
                self.client_secret_env
                    .as_ref()
                    .ok_or_else(|| need("client_secret_env"))?;
            }
            AuthKind::ClientCertificate => {
                self.client_id.as_ref().ok_or_else(|| need("client_id"))?;
                self.certificate_path
                    .as_ref()
                    .ok_or_else(|| need("certificate_path"))?;
            }
            AuthKind::DeviceCode => {
                self.client_id.as_ref().ok_or_else(|| need("client_id"))?;
            }
            AuthKind::AzureCli => {}
        }
        for (what, url) in [
            ("graph_url", &self.graph_url),
            ("login_url", &self.login_url),
        ] {
            if let Some(u) = url {
                check_https(what, u)?;
            }
        }
        Ok(())
    }
}

/// `config.toml` decides where tokens and secrets go (`graph_url`, `login_url`) and which root is
/// trusted (`ca_file`): one that someone else may change is refused, as ssh refuses such a file.
/// On Unix it must belong to the user (or root) and be writable by no one else; on Windows the data
/// folder's owner-only access list covers it.
fn check_private(path: &Path) -> Result<(), AuthError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::symlink_metadata(path)
            .map_err(|e| AuthError::Config(format!("{}: {e}", path.display())))?;
        #[cfg(any(target_os = "linux", target_os = "macos"))]
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        #[cfg(not(any(target_os = "linux", target_os = "macos")))]
        let me = m.uid();
        if m.uid() != me && m.uid() != 0 {
            return Err(AuthError::Config(format!(
                "{}: belongs to another user (uid {}): refused, since it chooses where tokens go and which certificates are trusted; make it yours (chown)",
                path.display(),
                m.uid()
            )));
        }
        if m.mode() & 0o022 != 0 {
            return Err(AuthError::Config(format!(
                "{}: others may change it (mode {:o}): refused, since it chooses where tokens go and which certificates are trusted; chmod 600 it",
                path.display(),
                m.mode() & 0o777
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// TLS is always on: plain http is refused except on loopback.
pub fn check_https(what: &str, u: &Url) -> Result<(), AuthError> {
    let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if u.scheme() == "https" || (u.scheme() == "http" && loopback) {
        Ok(())
    } else {
        Err(AuthError::Config(format!(
            "{what} {u}: only https URLs are accepted"
        )))
    }
}

/// One of the cloud table's URLs, which are literals known to parse.
fn built_in_url(s: &'static str) -> Url {
    Url::parse(s).unwrap_or_else(|e| unreachable!("built-in URL {s}: {e}"))
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

impl Config {
    /// Reads `config.toml` from `home`; a missing file is an empty config.
    pub fn load(home: &Path) -> Result<Config, AuthError> {
        let path = home.join("config.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(AuthError::Config(format!("{}: {e}", path.display()))),
        };
        check_private(&path)?;
        Config::parse(&text, &path)
    }

    /// Parses and checks the text of a config file (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, AuthError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let mut msg = format!("{}: {e}", path.display());
            // The mistake every Windows user makes once: a path in double quotes, where \ escapes.
            if e.message().contains("escape") || e.message().contains("unicode") {
                msg.push_str(
                    "\nA Windows path in double quotes needs \\\\ for each \\; or put it in single quotes: ca_file = 'C:\\certs\\proxy.pem'",
                );
            }
            AuthError::Config(msg)
        })?;
        if config.profiles.contains_key(REHEARSAL) {
            return Err(AuthError::Config(format!(
                "{}: the profile name \"{REHEARSAL}\" is the built-in rehearsal tenant; choose another",
                path.display()
            )));
        }
        for (name, p) in &config.profiles {
            p.check(name)?;
        }
        Ok(config)
    }

    pub fn get(&self, name: &str) -> Result<&Profile, AuthError> {
        self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = std::iter::once(REHEARSAL)
                .chain(self.profiles.keys().map(String::as_str))
                .collect();
            AuthError::Config(format!(
                "no profile named {name:?}; known profiles: {}",
                known.join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_windows_path_in_double_quotes_is_refused_with_the_fix() {
        let text = "[profiles.p]\ntenant = \"t\"\nauth = \"azure-cli\"\nca_file = \"C:\\users\\adele\\proxy.pem\"\n";
        let err = Config::parse(text, Path::new("config.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("single quotes"), "{err}");
        let fixed = "[profiles.p]\ntenant = \"t\"\nauth = \"azure-cli\"\nca_file = 'C:\\users\\adele\\proxy.pem'\n";
        let c = Config::parse(fixed, Path::new("config.toml")).unwrap();
        assert_eq!(
            c.profiles["p"].ca_file.as_deref(),
            Some(Path::new("C:\\users\\adele\\proxy.pem"))
        );
    }

    #[test]
    fn loads_profiles_and_names_mistakes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[profiles.prod]\ntenant = \"contoso.com\"\nauth = \"client-secret\"\nclient_id = \"x\"\nclient_secret_env = \"PROD_SECRET\"\ncloud = \"usgov\"\n",
        )
        .unwrap();
        let c = Config::load(dir.path()).unwrap();
        let p = c.get("prod").unwrap();
        assert_eq!(p.graph_url().as_str(), "https://graph.microsoft.us/");
        assert!(
            c.get("nope")
                .unwrap_err()
                .to_string()
                .contains("known profiles: rehearsal, prod")
        );
        for (text, want) in [
            (
                "[profiles.a]\ntenant = \"t\"\nauth = \"client-secret\"\n",
                "needs client_id",
            ),
            (
                "[profiles.a]\ntenant = \"t\"\nauth = \"magic\"\n",
                "unknown variant",
            ),
            (
                "[profiles.a]\ntenant = \"t\"\nauth = \"azure-cli\"\ngraph_url = \"http://graph.example\"\n",
                "only https",
            ),
            (
                "[profiles.rehearsal]\ntenant = \"t\"\nauth = \"azure-cli\"\n",
                "built-in",
            ),
            ("not toml [", "config.toml"),
        ] {
            std::fs::write(dir.path().join("config.toml"), text).unwrap();
            let e = Config::load(dir.path()).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
