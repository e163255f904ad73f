//! What the runs' confirming reads saw of each domain: every change is read back to be verified, and
//! the run's change report takes its "now" from those reads rather than reading each domain and its
//! federation settings a second time (two requests a domain, at the moment Graph throttles most).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;
use time::OffsetDateTime;

/// A domain as a confirming read saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub authentication_type: String,
    /// The federation settings as read back; `None` for a managed domain, which has none.
    pub federation: Option<Value>,
    at: OffsetDateTime,
}

/// The session's confirming reads, by domain (lower case); the latest read of a domain wins.
#[derive(Debug, Default)]
pub struct ReadBack(Mutex<BTreeMap<String, Seen>>);

impl ReadBack {
    /// A read that showed the domain managed: it has no federation settings.
    pub fn managed(&self, domain: &str) {
        self.put(domain, "Managed", None);
    }

    /// A read of the domain's federation settings: it is federated with these.
    pub fn federated(&self, domain: &str, settings: &Value) {
        self.put(domain, "Federated", Some(settings.clone()));
    }

    fn put(&self, domain: &str, authentication_type: &str, federation: Option<Value>) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(
                domain.to_ascii_lowercase(),
                Seen {
                    authentication_type: authentication_type.into(),
                    federation,
                    at: OffsetDateTime::now_utc(),
                },
            );
        }
    }

    /// What a read made at or after `since` saw of `domain`; older reads are not "now".
    pub fn since(&self, domain: &str, since: OffsetDateTime) -> Option<Seen> {
        let m = self.0.lock().ok()?;
        m.get(&domain.to_ascii_lowercase())
            .filter(|s| s.at >= since)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_read_since_the_mark_is_now() {
        let r = ReadBack::default();
        r.federated("Contoso.com", &serde_json::json!({"issuerUri": "x"}));
        let mark = OffsetDateTime::now_utc();
        assert_eq!(r.since("contoso.com", mark), None);
        r.managed("CONTOSO.COM");
        let seen = r.since("contoso.com", mark).unwrap();
        assert_eq!(seen.authentication_type, "Managed");
        assert_eq!(seen.federation, None);
        assert_eq!(r.since("fabrikam.com", mark), None);
    }
}
