//! Property tests of everything that reads input from outside: federation metadata, user principal
//! names, config.toml and backups. Each target runs tens of thousands of generated cases (over 100,000
//! in all): none may panic, and what is accepted must be sound.

use std::path::Path;

use entra_failover::adfs::metadata;
use entra_failover::auth::profile::Config;
use entra_failover::ops::backup::{self, Backup};
use entra_failover::ops::test_signin::check_upn;
use proptest::prelude::*;

const UCAR: &str =
    include_str!("fixtures/adfs-federation-metadata/sts.ucar.edu.FederationMetadata.xml");

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text made of pieces that matter to each parser, so that cases get past the first byte.
fn tokens(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(pieces).prop_map(str::to_string),
            any::<String>()
        ],
        0..24,
    )
    .prop_map(|v| v.concat())
}

const XML: &[&str] = &[
    "<EntityDescriptor xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\">",
    "</EntityDescriptor>",
    "<RoleDescriptor xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"fed:SecurityTokenServiceType\">",
    "</RoleDescriptor>",
    "<KeyDescriptor use=\"signing\">",
    "</KeyDescriptor>",
    "<X509Certificate xmlns=\"http://www.w3.org/2000/09/xmldsig#\">",
    "</X509Certificate>",
    "MIIC1DCCAbygAwIBAgIQXUsLH4Keep1H2HyUN4CU4DANBgkqhkiG9w0BAQsFADAm",
    "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>",
    "&a;",
    "<?xml version=\"1.0\"?>",
    "<![CDATA[",
    "]]>",
];

proptest! {
    #![proptest_config(config(30_000))]

    #[test]
    fn metadata_parser_never_panics(text in tokens(XML)) {
        if let Ok(m) = metadata::parse(&text) {
            prop_assert!(!m.entity_id.is_empty());
            prop_assert!(!m.signing_certificates.is_empty());
        }
    }

    #[test]
    fn upn_check_never_panics_and_accepts_only_name_at_domain(text in tokens(&["@", ".", "a", "contoso.com", " ", "/", "\u{0}", "é"])) {
        if check_upn(&text).is_ok() {
            let (local, domain) = text.split_once('@').unwrap();
            prop_assert!(!local.is_empty() && domain.contains('.'));
            prop_assert!(!text.chars().any(char::is_whitespace));
        }
    }

    #[test]
    fn config_parser_never_panics(text in tokens(&[
        "[profiles.a]\n", "tenant = \"t\"\n", "auth = \"client-secret\"\n", "auth = \"azure-cli\"\n",
        "client_id = \"x\"\n", "client_secret_env = \"S\"\n", "cloud = \"china\"\n", "graph_url = \"http://x\"\n",
        "[profiles.rehearsal]\n", "=", "\"", "[", "]",
    ])) {
        if let Ok(c) = Config::parse(&text, Path::new("config.toml")) {
            for (name, p) in &c.profiles {
                prop_assert!(p.check(name).is_ok());
                prop_assert!(name != "rehearsal");
            }
        }
    }
}

fn sample_backup() -> Vec<u8> {
    let b = Backup::new(
        "9c5f2b1e-4d3a-4f6b-9e2c-7a1d0b8c3e55",
        "fabrikam.com",
        serde_json::json!({"id": "fabrikam.com", "authenticationType": "Federated"}),
        serde_json::json!({"id": "f", "issuerUri": "http://fabrikam.com/adfs/services/trust/", "signingCertificate": "MIIC"}),
    );
    serde_json::to_vec_pretty(&b).unwrap()
}

proptest! {
    #![proptest_config(config(30_000))]

    /// A damaged backup (a byte changed, or cut short) is refused, never restored and never a panic.
    #[test]
    fn damaged_backups_are_refused(at in 0usize..1000, byte in any::<u8>(), cut in any::<bool>()) {
        let good = sample_backup();
        let at = at % good.len();
        let mut bad = good.clone();
        if cut {
            bad.truncate(at);
        } else {
            bad[at] = byte;
        }
        match backup::parse(&bad, Path::new("b.json")) {
            Ok(b) => {
                // Only a change that leaves the same content (JSON whitespace) may pass.
                let original: serde_json::Value = serde_json::from_slice(&good).unwrap();
                prop_assert_eq!(serde_json::to_value(&b).unwrap(), original);
            }
            Err(e) => prop_assert_eq!(e.exit_code(), 2),
        }
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    /// Real metadata with a byte changed or cut short parses or is refused with a reason.
    #[test]
    fn damaged_real_metadata_never_panics(at in 0usize..UCAR.len(), byte in 0x20u8..0x7f, cut in any::<bool>()) {
        let mut bytes = UCAR.as_bytes().to_vec();
        if cut {
            bytes.truncate(at);
        } else {
            bytes[at] = byte;
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = metadata::parse(&text);
    }
}

#[test]
fn hostile_metadata_samples_are_refused_with_a_reason() {
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let huge = format!(
        "<EntityDescriptor xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\">{}</EntityDescriptor>",
        " ".repeat(6 * 1024 * 1024)
    );
    let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&lol2;"/>"#;
    let wrong_ns = UCAR.replace(
        "urn:oasis:names:tc:SAML:2.0:metadata",
        "urn:example:not-saml",
    );
    // Every copy of the signing certificate damaged (it appears in several roles).
    let bad_base64 = UCAR.replace("<X509Certificate>MIIC1DCC", "<X509Certificate>!!!!MIIC1DCC");
    for (name, text) in [
        ("deep", deep.as_str()),
        ("huge", huge.as_str()),
        ("entities", billion_laughs),
        ("namespace", wrong_ns.as_str()),
        ("base64", bad_base64.as_str()),
    ] {
        let e = metadata::parse(text);
        assert!(e.is_err(), "{name} was accepted");
    }
    // Expired certificates still parse (their expiry is shown and checked where it matters).
    let m = metadata::parse(UCAR).unwrap();
    assert!(
        m.signing_certificates[0].not_after_unix < time::OffsetDateTime::now_utc().unix_timestamp()
    );
}

/// What may stand before or between elements: each XML construct that can hold a `>` or a `<`.
const AROUND: &[&str] = &[
    "<?x a> <!-- ?>",
    "<?pi ?>",
    "<!-- > <a> -->",
    "<![CDATA[ <a> ]]>",
    "<!DOCTYPE a [<!ELEMENT a ANY>]>",
    "<b c=\"> <d>\">",
    "</b>",
    "<e/>",
    "text > <",
    "",
];

proptest! {
    #![proptest_config(config(300))]

    /// A document of any depth, however its tags are hidden among processing instructions,
    /// comments, CDATA, doctypes and attributes, is parsed or refused: never a crash (roxmltree
    /// recurses once per element, so a depth the guard missed would overflow the stack and abort
    /// this whole test run). Metadata and WS-Trust answers go through the same guard.
    #[test]
    fn no_generated_document_crashes_a_parser(
        depth in 0usize..40_000,
        before in prop::collection::vec(prop::sample::select(AROUND), 0..4),
        inside in prop::collection::vec(prop::sample::select(AROUND), 0..4),
    ) {
        let doc = format!(
            "{}<EntityDescriptor xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\">{}{}{}</EntityDescriptor>",
            before.concat(),
            "<RoleDescriptor>".repeat(depth),
            inside.concat(),
            "</RoleDescriptor>".repeat(depth),
        );
        let parsed = metadata::parse(&doc);
        if depth >= entra_failover::xml::MAX_DEPTH {
            prop_assert!(parsed.is_err());
        }
        let _ = entra_failover::adfs::wstrust::parse_response(&doc);
    }
}
