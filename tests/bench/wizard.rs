//! Frame render time of the wizard's pages with a large tenant (5,000 domains), on ratatui's
//! TestBackend at 80x24. One JSON line per page. `cargo bench --bench wizard`.

use std::time::Instant;

use entra_failover::ops::status::{DomainStatus, Status};
use entra_failover::wizard::app::{Page, State};
use entra_failover::wizard::theme::Theme;
use entra_failover::wizard::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn status(n: usize) -> Status {
    let domains = (0..n)
        .map(|i| DomainStatus {
            id: format!("d{i}.example"),
            authentication_type: if i % 2 == 0 {
                "Federated".into()
            } else {
                "Managed".into()
            },
            is_root: true,
            is_verified: true,
            issuer_uri: Some(format!("http://d{i}.example/adfs/services/trust/")),
            signing_certificate_sha1: None,
            signing_certificate_expires: None,
            federation_service: Some("sts.example".into()),
        })
        .collect();
    Status {
        profile: "rehearsal".into(),
        simulated: true,
        tenant_id: "t".into(),
        tenant_name: "Large tenant".into(),
        signed_in_as: "admin".into(),
        operator: entra_failover::ops::plan::Check::new(
            "your sign-in",
            entra_failover::ops::plan::Outcome::Pass,
            "signed in as admin",
        ),
        directory_sync_enabled: true,
        last_sync: None,
        password_hash_sync: true,
        last_password_sync: None,
        sync_id: "s".into(),
        sync_engines: Default::default(),
        password_hashes_arriving: false,
        domains,
        farms: vec![],
        interrupted: vec![],
        requests: 0,
    }
}

fn main() {
    let n = 5000;
    let theme = Theme::mono();
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    for page in [
        Page::ViewConfig,
        Page::Domains,
        Page::EntraDomain,
        Page::TrustDomain,
    ] {
        let mut s = State::new(vec!["rehearsal".into()]);
        s.status = Some(status(n));
        s.who = Some("admin".into());
        s.page = page;
        s.focus = n / 4 - 1;
        // Warm up, then time.
        for _ in 0..10 {
            terminal.draw(|f| ui::render(&s, f, &theme)).expect("draw");
        }
        // The page shows the tenant's domains, or nothing was measured.
        let shown = ".example";
        let screen: String = terminal
            .backend()
            .buffer()
            .content
            .iter()
            .map(|c| c.symbol())
            .collect();
        if !screen.contains(shown) {
            println!("{{\"case\":\"render\",\"page\":\"{page:?}\",\"shown\":false}}");
            eprintln!("bench: {page:?} does not show {shown}; no frame time is printed");
            eprintln!("{screen}");
            std::process::exit(1);
        }
        // CI's quick mode (`BENCH_QUICK`): a few frames, to prove the page renders.
        let frames = if std::env::var("BENCH_QUICK").is_ok() {
            3
        } else {
            200
        };
        let t = Instant::now();
        for _ in 0..frames {
            terminal.draw(|f| ui::render(&s, f, &theme)).expect("draw");
        }
        let per = t.elapsed().as_secs_f64() * 1000.0 / f64::from(frames);
        println!(
            "{{\"case\":\"render\",\"page\":\"{page:?}\",\"domains\":{n},\"frame_ms\":{per:.3},\"target_ms\":5.0,\"ratio\":{:.2}}}",
            per / 5.0
        );
    }
}
