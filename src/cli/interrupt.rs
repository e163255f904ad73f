//! Ctrl-C, a closed terminal or console window, logoff and shutdown: the command stops where it is
//! and says what that means. A change already sent is journaled before it leaves, so stopping is as
//! safe as a crash, and `resume` finishes it from the tenant's real state; what the user needs is to
//! be told so, in words, on every platform (the default on Windows is to vanish without a line).

/// Resolves with the name of the first stop request this process receives.
pub async fn requested() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "Ctrl-C",
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "the terminal closed (SIGHUP)",
        }
    }
    #[cfg(windows)]
    {
        use tokio::signal::windows;
        // Each listener is optional: a process without a console has none of them.
        async fn on<F>(make: impl FnOnce() -> std::io::Result<F>)
        where
            F: WindowsSignal,
        {
            match make() {
                Ok(mut s) => s.next().await,
                Err(_) => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = on(windows::ctrl_c) => "Ctrl-C",
            _ = on(windows::ctrl_break) => "Ctrl-Break",
            _ = on(windows::ctrl_close) => "the console window closed",
            _ = on(windows::ctrl_logoff) => "logoff",
            _ = on(windows::ctrl_shutdown) => "shutdown",
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[cfg(windows)]
trait WindowsSignal {
    async fn next(&mut self);
}

#[cfg(windows)]
macro_rules! windows_signal {
    ($($t:ident),*) => {$(
        impl WindowsSignal for tokio::signal::windows::$t {
            async fn next(&mut self) {
                let _ = self.recv().await;
            }
        }
    )*};
}

#[cfg(windows)]
windows_signal!(CtrlC, CtrlBreak, CtrlClose, CtrlLogoff, CtrlShutdown);
