//! The daemon's life: readiness, reload on SIGHUP and on data changes, graceful stop on
//! SIGTERM and SIGINT, and the service manager's (systemd's) notifications and watchdog.

use tracing::{debug, info, warn};

use super::watch::{self, DataWatcher};
use super::{Listeners, Server};

/// Tells the service manager (systemd) about state changes; does nothing without one.
fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(state) {
        debug!(%error, "sd_notify failed");
    }
}

impl Server {
    /// Reloads the data (and rereads the TLS certificate and key, keeping the old pair when
    /// the new one is unusable) for `trigger` (SIGHUP, `--watch`), logs the outcome and tells systemd
    /// that a reload is under way and when it is over. The table is built on a blocking thread,
    /// so the serving loops keep answering from the current one meanwhile.
    async fn reload_and_notify(&self, trigger: &str) {
        match sd_notify::NotifyState::monotonic_usec_now() {
            Ok(now) => notify(&[sd_notify::NotifyState::Reloading, now]),
            Err(_) => notify(&[sd_notify::NotifyState::Reloading]),
        }
        let server = self.clone();
        match tokio::task::spawn_blocking(move || server.reload()).await {
            Ok(Ok(serial)) => info!(serial, trigger, "reloaded the data"),
            Err(error) => warn!(%error, trigger, "reload failed, still serving the previous table"),
            Ok(Err(errors)) => {
                for problem in &errors.0 {
                    warn!(
                        trigger,
                        "reload failed, still serving the previous table: {problem}"
                    );
                }
            }
        }
        if let Some(tls) = &self.tls {
            match tls.reload() {
                Ok(()) => info!(trigger, "reread the TLS certificate and key"),
                Err(error) => warn!(
                    trigger,
                    "TLS certificate not replaced, still serving the previous one: {error}"
                ),
            }
        }
        notify(&[sd_notify::NotifyState::Ready]);
    }

    /// Runs as a daemon: serves until SIGTERM or SIGINT, reloads the data on SIGHUP and on
    /// `watcher`'s changes, and reports readiness, reloads, stopping and watchdog pings to
    /// systemd when it is there.
    pub async fn run_until_signalled(
        &self,
        listeners: Listeners,
        mut watcher: Option<DataWatcher>,
    ) -> anyhow::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup())?;
        let mut terms = signal(SignalKind::terminate())?;
        let mut interrupts = signal(SignalKind::interrupt())?;
        let reloader = {
            let server = self.clone();
            async move {
                loop {
                    tokio::select! {
                        hangup = hangups.recv() => match hangup {
                            Some(()) => server.reload_and_notify("SIGHUP").await,
                            None => return,
                        },
                        () = watch::next_change(&mut watcher) => {
                            server.reload_and_notify("data files changed").await;
                        }
                    }
                }
            }
        };
        let watchdog = async move {
            if let Some(period) = sd_notify::watchdog_enabled() {
                let mut ticks = tokio::time::interval(period / 2);
                loop {
                    ticks.tick().await;
                    notify(&[sd_notify::NotifyState::Watchdog]);
                }
            } else {
                std::future::pending::<()>().await;
            }
        };
        let shutdown = async {
            notify(&[sd_notify::NotifyState::Ready]);
            tokio::select! {
                _ = terms.recv() => {}
                _ = interrupts.recv() => {}
                () = reloader => {}
                () = watchdog => {}
            }
            notify(&[sd_notify::NotifyState::Stopping]);
        };
        self.run(listeners, shutdown).await?;
        Ok(())
    }
}
