//! Styles. With `NO_COLOR` every style is plain: markers (`>`, `[x]`, `(•)`) carry the meaning.

use ratatui::style::{Color, Modifier, Style};

#[derive(Clone, Copy, Debug)]
pub struct Theme {
    pub title: Style,
    pub heading: Style,
    pub focus: Style,
    pub dim: Style,
    pub good: Style,
    pub warn: Style,
    pub bad: Style,
}

impl Theme {
    pub fn from_env() -> Theme {
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            Theme::mono()
        } else {
            Theme::color()
        }
    }

    /// The style of a check's outcome.
    pub fn outcome(&self, o: crate::ops::plan::Outcome) -> Style {
        match o {
            crate::ops::plan::Outcome::Pass => self.good,
            crate::ops::plan::Outcome::Info => self.heading,
            crate::ops::plan::Outcome::Warn => self.warn,
            crate::ops::plan::Outcome::Fail => self.bad,
        }
    }

    pub fn mono() -> Theme {
        let plain = Style::default();
        Theme {
            title: plain,
            heading: plain,
            focus: plain,
            dim: plain,
            good: plain,
            warn: plain,
            bad: plain,
        }
    }

    pub fn color() -> Theme {
        Theme {
            title: Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            heading: Style::default().add_modifier(Modifier::BOLD),
            focus: Style::default().add_modifier(Modifier::REVERSED),
            dim: Style::default().fg(Color::DarkGray),
            good: Style::default().fg(Color::Green),
            warn: Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            bad: Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }
}
