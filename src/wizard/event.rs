//! Key presses to actions. The mapping depends on the page: on a text field, letters and Space are
//! typed, not commands.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, State};

pub fn key_to_action(s: &State, k: KeyEvent) -> Option<Action> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    if k.modifiers.contains(KeyModifiers::CONTROL) && matches!(k.code, KeyCode::Char('c')) {
        return Some(Action::Quit);
    }
    let typing = s.text_input() && s.error.is_none() && !s.help && !s.controls && !s.quit_asked;
    Some(match k.code {
        KeyCode::Enter => Action::Next,
        KeyCode::Esc => Action::Previous,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Up => Action::Up,
        KeyCode::Down => Action::Down,
        KeyCode::F(2) => Action::Controls,
        KeyCode::Backspace => Action::Backspace,
        KeyCode::Char(c) if typing => Action::Input(c),
        KeyCode::Char(' ') => Action::Toggle,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char(c) if c.is_ascii_digit() => Action::Digit(c as u8 - b'0'),
        KeyCode::Char(c) => Action::Input(c),
        _ => return None,
    })
}
