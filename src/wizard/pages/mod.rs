//! One renderer per page; each reads the state and draws into the body area.

mod config;
mod federation;
mod run;
mod signin;
mod start;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{Page, State};
use super::theme::Theme;

pub fn render(s: &State, f: &mut Frame, area: Rect, t: &Theme) {
    let lines = match s.page {
        Page::Welcome => start::welcome(s, t),
        Page::Connect => start::connect(s, t),
        Page::Tasks => start::tasks(s, t),
        Page::ViewConfig => config::view(s, t),
        Page::OptionalFeatures => config::optional_features(s, t),
        Page::UserSignIn => signin::user_sign_in(s, t),
        Page::Domains => signin::domains(s, t),
        Page::Preflight => signin::preflight(s, t),
        Page::TestSignin => signin::test_signin(s, t),
        Page::Ready => run::ready(s, t),
        Page::Configuring => run::configuring(s, t),
        Page::Complete => run::complete(s, t),
        Page::AdfsFarm => federation::adfs_farm(s, t),
        Page::EntraDomain => federation::entra_domain(s, t),
        Page::SettingsSource => federation::settings_source(s, t),
        Page::ManageFederation => federation::manage(s, t),
        Page::TrustDomain => federation::trust_domain(s, t),
        Page::Certificates => federation::certificates(s, t),
        Page::Verify => federation::verify(s, t),
    };
    f.render_widget(
        Paragraph::new(visible(lines, area.height, s.scrolls().then_some(s.focus)))
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// The lines that fit, scrolled so that the focused row (`> `) stays on screen: long lists (thousands of
/// domains) scroll with the focus, and only what shows is laid out. Pages of text scroll by `scroll`.
fn visible(lines: Vec<Line<'static>>, height: u16, scroll: Option<usize>) -> Vec<Line<'static>> {
    let height = usize::from(height).max(1);
    if lines.len() <= height {
        return lines;
    }
    let start = match scroll {
        Some(top) => top,
        None => {
            let focus = lines
                .iter()
                .position(|l| l.spans.first().is_some_and(|s| s.content.starts_with("> ")))
                .unwrap_or(0);
            focus.saturating_sub(height / 2)
        }
    }
    .min(lines.len() - height);
    lines.into_iter().skip(start).take(height).collect()
}

/// A selectable row: `>` marks focus, so it reads without colour.
pub fn row(focused: bool, text: String, t: &Theme) -> Line<'static> {
    let marker = if focused { "> " } else { "  " };
    Line::from(Span::styled(
        format!("{marker}{text}"),
        if focused { t.focus } else { Style::default() },
    ))
}

pub fn checkbox(on: bool) -> &'static str {
    if on { "[x]" } else { "[ ]" }
}

pub fn radio(on: bool) -> &'static str {
    if on { "(•)" } else { "( )" }
}
