//! Reaching AD FS farms: their federation metadata over HTTPS, wherever the locator says they answer.

use url::Url;

use super::{OpsError, Session};
use crate::adfs::metadata::{self, FederationMetadata};

/// The metadata URL of the farm behind a federation endpoint (`https://sts.contoso.com/...`).
pub fn metadata_url_for(endpoint: &str) -> Option<Url> {
    let u = Url::parse(endpoint).ok()?;
    let host = u.host_str()?;
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    Url::parse(&format!(
        "https://{host}{port}/FederationMetadata/2007-06/FederationMetadata.xml"
    ))
    .ok()
}

/// Why a farm could not be read.
#[derive(Debug, Clone)]
pub struct Unreachable(pub String);

/// Fetches and parses a farm's federation metadata.
/// Metadata fetched once per URL for the length of one command: switching back a hundred domains
/// of one farm asks the farm once, not a hundred times side by side.
#[derive(Default)]
pub struct FarmCache {
    fetched: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Fetch>>>,
}

/// One URL's fetch: the first caller makes it, the others wait for its answer.
type Fetch = tokio::sync::OnceCell<Result<FederationMetadata, Unreachable>>;

impl FarmCache {
    pub async fn fetch(&self, s: &Session, url: &Url) -> Result<FederationMetadata, Unreachable> {
        let cell = {
            let mut m = self.fetched.lock().unwrap_or_else(|e| e.into_inner());
            m.entry(url.to_string()).or_default().clone()
        };
        cell.get_or_init(|| fetch_metadata(s, url)).await.clone()
    }
}

pub async fn fetch_metadata(s: &Session, url: &Url) -> Result<FederationMetadata, Unreachable> {
    let text = fetch_text(s, url).await?;
    metadata::parse(&text).map_err(|e| Unreachable(format!("{url}: {e}")))
}

/// A metadata document's text over https, wherever the locator says it answers, read no further
/// than the metadata bound whatever the server says of its length.
async fn fetch_text(s: &Session, url: &Url) -> Result<String, Unreachable> {
    if url.scheme() != "https" {
        return Err(Unreachable(format!(
            "{url}: only https metadata URLs are accepted"
        )));
    }
    let target = s.farms.locate(url);
    let mut resp = s
        .http
        .get(target)
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .map_err(|e| Unreachable(format!("{url}: {}", crate::graph::client::error_chain(&e))))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(Unreachable(format!("{url}: HTTP {status}")));
    }
    read_bounded(&mut resp, metadata::MAX_METADATA_BYTES)
        .await
        .map_err(|e| Unreachable(format!("{url}: the metadata {e}")))
}

pub use crate::adfs::bounded::{Bounded, read_bounded};

/// Microsoft 365's own federation metadata (the relying party AD FS trusts), as the text to write
/// beside the trust-reset script: fetched here so that the farm needs no internet access, and
/// checked to be that document. The rehearsal tenant answers for Microsoft's host.
pub async fn fetch_microsoft_metadata(s: &Session) -> Result<String, Unreachable> {
    let url = Url::parse(crate::adfs::trust_script::MICROSOFT_METADATA)
        .map_err(|e| Unreachable(e.to_string()))?;
    let text = fetch_text(s, &url).await?;
    match metadata::entity_id(&text) {
        Ok(id) if id == crate::adfs::wstrust::RELYING_PARTY => Ok(text),
        Ok(id) => Err(Unreachable(format!(
            "{url}: the metadata describes {id}, not Microsoft 365 ({})",
            crate::adfs::wstrust::RELYING_PARTY
        ))),
        Err(e) => Err(Unreachable(format!("{url}: {e}"))),
    }
}

/// Metadata from a file or a URL, for `adfs inspect`.
pub async fn load_metadata(
    s: Option<&Session>,
    file: Option<&std::path::Path>,
    url: Option<&str>,
) -> Result<FederationMetadata, OpsError> {
    match (file, url) {
        (Some(f), _) => {
            let meta = std::fs::metadata(f)
                .map_err(|e| OpsError::Input(format!("{}: {e}", f.display())))?;
            if meta.len() > metadata::MAX_METADATA_BYTES as u64 {
                return Err(OpsError::Input(format!(
                    "{}: larger than {} bytes",
                    f.display(),
                    metadata::MAX_METADATA_BYTES
                )));
            }
            let text = std::fs::read_to_string(f)
                .map_err(|e| OpsError::Input(format!("{}: {e}", f.display())))?;
            metadata::parse(&text).map_err(|e| OpsError::Input(format!("{}: {e}", f.display())))
        }
        (None, Some(u)) => {
            let url = Url::parse(u).map_err(|e| OpsError::Input(format!("{u}: {e}")))?;
            let s = s.ok_or_else(|| {
                OpsError::Input("a metadata URL needs a profile to connect with".into())
            })?;
            fetch_metadata(s, &url)
                .await
                .map_err(|e| OpsError::Refused(format!("the farm cannot be read: {}", e.0)))
        }
        (None, None) => Err(OpsError::Input(
            "give --metadata-file or --metadata-url".into(),
        )),
    }
}

/// The TLS certificate a farm presents, read over a verified connection (system roots plus the
/// session's extra root), for its expiry.
pub async fn tls_certificate(
    s: &Session,
    url: &Url,
) -> Result<crate::adfs::metadata::CertificateInfo, Unreachable> {
    let host = url
        .host_str()
        .ok_or_else(|| Unreachable(format!("{url} names no host")))?
        .to_string();
    let fail = |what: String| Unreachable(format!("{host}: TLS: {what}"));
    let target = s.farms.locate(url);
    let addr_host = target.host_str().unwrap_or(&host).to_string();
    let port = target.port_or_known_default().unwrap_or(443);
    // The verifier every other connection uses: the system's roots, and the session's extra root.
    let cfg = super::session::tls_config(s.ca_file.as_deref()).map_err(|e| fail(e.to_string()))?;
    let name =
        rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| fail(e.to_string()))?;
    let wait = std::time::Duration::from_secs(10);
    let tcp = tokio::time::timeout(
        wait,
        tokio::net::TcpStream::connect((addr_host.as_str(), port)),
    )
    .await
    .map_err(|_| fail("no answer in time".into()))?
    .map_err(|e| fail(e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let tls = tokio::time::timeout(wait, connector.connect(name, tcp))
        .await
        .map_err(|_| fail("no answer in time".into()))?
        .map_err(|e| fail(crate::graph::client::error_chain(&e)))?;
    let der = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| fail("no certificate presented".into()))?;
    crate::adfs::metadata::CertificateInfo::from_der(der).map_err(|e| fail(e.to_string()))
}
