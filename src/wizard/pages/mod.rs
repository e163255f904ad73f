//! One renderer per page; each reads the state and draws into the body area.

mod config;
mod federation;
mod run;
mod signin;
mod staged;
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
        Page::EnableSso => signin::enable_sso(s),
        Page::Domains => signin::domains(s, t),
        Page::Preflight => signin::preflight(s, t),
        Page::TestSignin => signin::test_signin(s, t),
        Page::FederatedLogin => signin::federated_login(s, t),
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
        Page::Resume => start::resume(s, t),
        Page::StagedRollout => staged::staged_rollout(s, t),
        Page::SignIns => run::signins(s, t),
        Page::Readiness => config::readiness(s, t),
    };
    let shown = window(
        lines,
        usize::from(area.width),
        area.height,
        s.scrolls().then_some(s.focus),
    );
    f.render_widget(Paragraph::new(shown).wrap(Wrap { trim: false }), area);
}

/// The screen's worth of `lines`, wrapped with a hanging indent: only the lines that show are laid
/// out (a page of 5,000 domains wraps the twenty on screen, and counts the rows of the others).
fn window(
    lines: Vec<Line<'static>>,
    width: usize,
    height: u16,
    scroll: Option<usize>,
) -> Vec<Line<'static>> {
    let mut buf = Vec::new();
    let rows: Vec<usize> = lines.iter().map(|l| rows_of(l, width, &mut buf)).collect();
    let total: usize = rows.iter().sum();
    let height_rows = usize::from(height).max(1);
    if total <= height_rows {
        return hang(lines, width);
    }
    // The first row to show: the page's scroll, or the focused row (`> `) in the middle.
    let start = match scroll {
        Some(top) => top,
        None => {
            let focus = lines
                .iter()
                .position(|l| l.spans.first().is_some_and(|s| s.content.starts_with("> ")))
                .unwrap_or(0);
            rows[..focus]
                .iter()
                .sum::<usize>()
                .saturating_sub(height_rows / 2)
        }
    }
    .min(total - height_rows);
    // The source lines that cover rows start..start+height, wrapped; then the rows themselves.
    let mut before = 0;
    let mut first = 0;
    while first < lines.len() && before + rows[first] <= start {
        before += rows[first];
        first += 1;
    }
    let mut last = first;
    let mut covered = before;
    while last < lines.len() && covered < start + height_rows {
        covered += rows[last];
        last += 1;
    }
    let wrapped = hang(lines[first..last].to_vec(), width);
    let skip = start - before;
    let shown: Vec<Line<'static>> = wrapped.into_iter().skip(skip).take(height_rows).collect();
    mark_more(shown, start, height_rows, total, scroll.is_some())
}

/// How many rows `hang` makes of `line` at `width`, without laying it out (`buf` is reused from
/// line to line).
fn rows_of(line: &Line<'_>, width: usize, buf: &mut Vec<char>) -> usize {
    buf.clear();
    buf.extend(line.spans.iter().flat_map(|sp| sp.content.chars()));
    breaks(buf, width).map_or(1, |(_, cuts)| cuts.len())
}

/// Where a line of `chars` breaks at `width`: `None` when it fits; else the hanging indent and the
/// length of each row. Indented lines are items (checks, steps, bodies): they hang. Prose flows on.
/// A row breaks at a space inside the text, never in the line's own indent; a word longer than the
/// room is cut, never lost.
fn breaks(chars: &[char], width: usize) -> Option<(usize, Vec<usize>)> {
    use unicode_width::UnicodeWidthChar;
    let width = width.max(16);
    let cols: usize = chars.iter().map(|c| c.width().unwrap_or(0)).sum();
    if cols <= width {
        return None;
    }
    let indent = chars.iter().take_while(|c| **c == ' ').count();
    let hang_by = if indent > 0 {
        (indent + 4).min(width / 2)
    } else {
        0
    };
    let mut rest = chars;
    let mut cuts = vec![];
    while !rest.is_empty() {
        let first = cuts.is_empty();
        let room = if first { width } else { width - hang_by };
        // The most characters that fit in `room` columns.
        let mut used = 0;
        let mut fit = 0;
        for c in rest {
            let w = c.width().unwrap_or(0);
            if used + w > room {
                break;
            }
            used += w;
            fit += 1;
        }
        let mut cut = fit.max(1);
        let text_starts = if first { indent } else { 0 };
        if fit < rest.len()
            && let Some(space) = rest[..fit].iter().rposition(|c| *c == ' ')
            && space > text_starts
        {
            cut = space + 1;
        }
        cuts.push(cut);
        rest = &rest[cut..];
    }
    Some((hang_by, cuts))
}

/// Wraps lines longer than `width` with a hanging indent (the line's own indent and four more), at
/// a space where there is one: a long plan line or JSON body reads as one item, not as text that
/// runs on at the left margin.
fn hang(lines: Vec<Line<'static>>, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::with_capacity(lines.len());
    let mut plain: Vec<char> = vec![];
    for line in lines {
        plain.clear();
        plain.extend(line.spans.iter().flat_map(|sp| sp.content.chars()));
        let Some((hang_by, cuts)) = breaks(&plain, width) else {
            out.push(line);
            continue;
        };
        let styles: Vec<Style> = line
            .spans
            .iter()
            .flat_map(|sp| sp.content.chars().map(move |_| sp.style))
            .collect();
        let mut at = 0;
        for (row, cut) in cuts.into_iter().enumerate() {
            let mut spans: Vec<Span<'static>> = vec![];
            if row > 0 {
                spans.push(Span::raw(" ".repeat(hang_by)));
            }
            let text_from = spans.len();
            for (c, st) in plain[at..at + cut].iter().zip(&styles[at..at + cut]) {
                let merge = spans.len() > text_from && spans.last().is_some_and(|l| l.style == *st);
                match spans.last_mut() {
                    Some(last) if merge => last.content.to_mut().push(*c),
                    _ => spans.push(Span::styled(c.to_string(), *st)),
                }
            }
            out.push(Line::from(spans).style(line.style));
            at += cut;
        }
    }
    out
}

/// A page of text that runs on says so, or the last lines of a plan would go unseen.
fn mark_more(
    mut shown: Vec<Line<'static>>,
    start: usize,
    height: usize,
    total: usize,
    scrolls: bool,
) -> Vec<Line<'static>> {
    if scrolls && height > 2 {
        if start + height < total
            && let Some(last) = shown.last_mut()
        {
            *last = Line::from(format!(
                "  ↓ {} more lines below (Down scrolls)",
                total - start - height + 1
            ));
        }
        if start > 0
            && let Some(first) = shown.first_mut()
        {
            *first = Line::from(format!("  ↑ {} more lines above (Up scrolls)", start + 1));
        }
    }
    shown
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'static>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn long_lines_wrap_with_a_hanging_indent_at_a_space() {
        let lines = vec![
            Line::from("short"),
            Line::from("  1. PATCH /v1.0/domains/contoso.com {\"authenticationType\":\"Managed\"}"),
        ];
        let out = text(&hang(lines, 40));
        assert_eq!(
            out,
            vec![
                "short",
                "  1. PATCH /v1.0/domains/contoso.com ",
                "      {\"authenticationType\":\"Managed\"}",
            ]
        );
        // A body without spaces breaks inside the text, not in its indent.
        let out = text(&hang(
            vec![Line::from(format!("     {}", "y".repeat(60)))],
            40,
        ));
        assert_eq!(out[0], format!("     {}", "y".repeat(35)));
        assert_eq!(out[1], format!("         {}", "y".repeat(25)));
        // A word longer than the room is cut, never lost.
        let out = text(&hang(vec![Line::from("x".repeat(50))], 20));
        assert_eq!(out.concat().replace(' ', ""), "x".repeat(50));
        assert!(out.iter().all(|l| l.chars().count() <= 20), "{out:?}");
    }

    /// Laying out only the lines on screen shows exactly what wrapping them all and slicing would:
    /// every scroll position, every width, focus lists and pages of text, wide characters too.
    #[test]
    fn the_window_is_the_slice_of_the_whole_layout() {
        let mut lines: Vec<Line<'static>> = (0..40)
            .map(|i| {
                let mut text = format!("{}d{i}.example", " ".repeat(i % 3 * 2));
                text.push_str(&" Federated http://sts.example/adfs/services/trust/ ".repeat(i % 4));
                if i % 7 == 0 {
                    text.push_str("ééé日本語日本語日本語日本語日本語日本語日本語");
                }
                Line::from(text)
            })
            .collect();
        lines[17] = Line::from("> focused row");
        for width in [16usize, 30, 80] {
            let mut buf = vec![];
            let whole = hang(lines.clone(), width);
            let rows: usize = lines.iter().map(|l| rows_of(l, width, &mut buf)).sum();
            assert_eq!(rows, whole.len(), "row count at width {width}");
            for height in [5u16, 12] {
                let h = usize::from(height);
                for top in 0..whole.len() {
                    let start = top.min(whole.len() - h);
                    let want = mark_more(
                        whole[start..start + h].to_vec(),
                        start,
                        h,
                        whole.len(),
                        true,
                    );
                    let got = window(lines.clone(), width, height, Some(top));
                    assert_eq!(
                        text(&got),
                        text(&want),
                        "width {width} height {height} top {top}"
                    );
                }
                // A list keeps its focused row on screen.
                let got = text(&window(lines.clone(), width, height, None));
                assert!(got.iter().any(|l| l.starts_with("> focused")), "{got:?}");
            }
        }
    }

    #[test]
    fn styles_survive_the_wrap() {
        let t = Theme::color();
        let line = Line::from(vec![
            Span::styled("[WARN] ", t.warn),
            Span::raw("a check whose detail runs on well past the width of the page"),
        ]);
        let out = hang(vec![line], 30);
        assert!(out.len() > 1);
        assert_eq!(out[0].spans[0].content, "[WARN] ");
        assert_eq!(out[0].spans[0].style, t.warn);
    }

    /// A paragraph written as two `Line`s, the first longer than the screen, wraps into an orphan
    /// ("…, prove" / "users can" / "sign in, …"): a paragraph is one `Line`, wrapped by the terminal.
    #[test]
    fn no_paragraph_is_cut_into_lines_wider_than_the_screen() {
        let sources = [
            ("config.rs", include_str!("config.rs")),
            ("federation.rs", include_str!("federation.rs")),
            ("run.rs", include_str!("run.rs")),
            ("signin.rs", include_str!("signin.rs")),
            ("staged.rs", include_str!("staged.rs")),
            ("start.rs", include_str!("start.rs")),
        ];
        let mut found = vec![];
        for (file, text) in sources {
            let starts: Vec<usize> = text.match_indices("Line::from(").map(|(i, _)| i).collect();
            for (k, &at) in starts.iter().enumerate() {
                let rest = &text[at + "Line::from(".len()..];
                let Some(open) = rest.trim_start().strip_prefix('"') else {
                    continue;
                };
                let Some(end) = open.find('"') else { continue };
                let literal = &open[..end];
                // The next line goes on with the sentence (it starts in lower case).
                let next_follows = starts.get(k + 1).is_some_and(|&n| {
                    let between = &text[at..n];
                    let next = text[n + "Line::from(".len()..].trim_start();
                    between.matches('\n').count() <= 3
                        && !between.contains(';')
                        && next
                            .strip_prefix('"')
                            .and_then(|l| l.chars().next())
                            .is_some_and(char::is_lowercase)
                });
                if literal.chars().count() > 80 && next_follows {
                    found.push(format!("{file}: {literal}"));
                }
            }
        }
        assert!(found.is_empty(), "{found:#?}");
    }
}
