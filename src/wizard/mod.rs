//! The wizard: the Entra Connect flow as a terminal UI over the backend. One loop over key presses,
//! backend results and a tick; `update` changes the state, `ui::render` draws it, and the backend
//! task does the work. The wizard itself never prints: tracing goes to a log file.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod app;
pub mod backend;
pub mod event;
pub mod pages;
pub mod secret;
pub mod theme;
pub mod ui;

use std::path::Path;
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use app::{Action, Effect, State};

/// Starts file logging for the wizard (0600 in a 0700 folder); the guard must live as long as the UI.
pub fn log_to_file(home: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = home.join("logs");
    crate::files::private_dir(&dir).ok()?;
    let path = dir.join("wizard.log");
    let mut options = crate::files::private_options();
    options.create(true).append(true);
    let file = options.open(path).ok()?;
    // The appender's default queue (128,000 lines, allocated up front) is 4 MiB the wizard never
    // uses: a few thousand lines cover any burst, and a full queue drops lines, never blocks the UI.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(4096)
        .lossy(true)
        .finish(file);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).ok()?;
    Some(guard)
}

/// Runs the wizard until the administrator quits.
pub async fn run(home: &Path, profiles: Vec<String>) -> std::io::Result<()> {
    let _guard = log_to_file(home);
    let theme = theme::Theme::from_env();
    let mut state = State::new(profiles);
    let (effects_tx, effects_rx) = mpsc::unbounded_channel::<Effect>();
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let backend = tokio::spawn(backend::run(home.to_path_buf(), effects_rx, events_tx));
    let mut terminal = ratatui::init();
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    // A crash drill: the panic hook that ratatui::init installed must restore the terminal first.
    let drill = std::env::var_os("ENTRA_FAILOVER_CRASH_DRILL").is_some();
    let result = loop {
        if let Err(e) = terminal.draw(|f| ui::render(&state, f, &theme)) {
            break Err(e);
        }
        if drill {
            panic!(
                "crash drill (ENTRA_FAILOVER_CRASH_DRILL): the terminal must be restored before this message"
            );
        }
        let action = tokio::select! {
            k = keys.next() => match k {
                Some(Ok(Event::Key(key))) => event::key_to_action(&state, key),
                Some(Ok(_)) => None,
                Some(Err(e)) => break Err(e),
                None => break Ok(()),
            },
            Some(b) = events_rx.recv() => Some(Action::Backend(b)),
            _ = tick.tick() => None,
        };
        let Some(action) = action else { continue };
        let mut exit = false;
        for effect in app::update(&mut state, action) {
            if effect == Effect::Exit {
                exit = true;
            } else {
                let _ = effects_tx.send(effect);
            }
        }
        if exit {
            break Ok(());
        }
    };
    ratatui::restore();
    drop(effects_tx);
    let _ = tokio::time::timeout(Duration::from_secs(30), backend).await;
    result
}
