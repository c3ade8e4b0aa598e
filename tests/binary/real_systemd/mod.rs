//! The host's systemd booted as PID 1 of private namespaces, for tests that install and run
//! units the way a Debian machine does.
//!
//! `boot.sh` (run by `unshare` in new pid, mount, UTS, IPC, network and cgroup namespaces)
//! puts an overlay over `/` with a tmpfs upper layer, so whatever the test installs or breaks
//! disappears with the namespaces, pivots into it and executes systemd on a target that starts
//! only the journal. Commands run inside through `nsenter`. Dropping a [`RealSystemd`] kills
//! its PID 1, which takes every process of the namespace with it; the mounts belong to the
//! namespace and go when it does, so nothing is left on the host even when a test fails.
//!
//! Needs root (CI runs as root), `unshare` and `nsenter` (util-linux) and systemd.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long booting (to `systemctl is-system-running` answering) may take. It takes about
/// 0.2 s on the build machine.
const BOOT_DEADLINE: Duration = Duration::from_secs(30);

/// A running systemd in its own namespaces.
pub struct RealSystemd {
    /// `unshare`, whose child is the namespace's PID 1.
    unshare: Child,
    /// PID 1 of the namespace, as the host numbers it.
    pid: u32,
    /// Where the overlay's tmpfs is mounted inside the namespace (empty on the host).
    _base: tempfile::TempDir,
    /// A host directory visible inside as `/mnt/share`.
    pub share: tempfile::TempDir,
}

impl RealSystemd {
    /// Boots and waits until systemd reports the system up.
    pub fn boot() -> RealSystemd {
        let base = tempfile::tempdir().expect("a directory for the overlay");
        let share = tempfile::tempdir().expect("a directory to share");
        // apt's unprivileged download user must be able to read what is shared.
        set_mode(share.path(), 0o755);
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/binary/real_systemd/boot.sh");
        let unshare = Command::new("unshare")
            .args([
                "--pid", "--fork", "--mount", "--uts", "--ipc", "--net", "--cgroup",
            ])
            .arg(&script)
            .arg(base.path())
            .arg(share.path())
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (util-linux) runs");
        let unshare_pid = unshare.id();
        let mut booting = RealSystemd {
            unshare,
            pid: 0,
            _base: base,
            share,
        };
        let deadline = Instant::now() + BOOT_DEADLINE;
        booting.pid = poll_until(deadline, "the namespace's PID 1 to appear", || {
            let children =
                fs::read_to_string(format!("/proc/{unshare_pid}/task/{unshare_pid}/children"))
                    .ok()?;
            children.split_whitespace().next()?.parse().ok()
        });
        let pid = booting.pid;
        poll_until(deadline, "boot.sh to execute systemd", || {
            let exe = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            exe.ends_with("systemd").then_some(())
        });
        poll_until(deadline, "systemd to report the system up", || {
            let output = booting.run(&["systemctl", "is-system-running", "--wait"]);
            let state = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            match state.as_str() {
                "running" => Some(()),
                "degraded" => panic!(
                    "the system booted degraded:\n{}",
                    booting.stdout(&["systemctl", "--failed", "--no-pager"])
                ),
                _ => None,
            }
        });
        booting
    }

    /// Runs a command inside every namespace of the system (as root).
    pub fn run(&self, args: &[&str]) -> Output {
        let pid = self.pid.to_string();
        Command::new("nsenter")
            .args(["-t", &pid, "-m", "-u", "-i", "-n", "-p", "-C", "--"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .expect("nsenter (util-linux) runs")
    }

    /// The system's network namespace, for a test thread to join (`setns`) so that a server it
    /// binds there is reachable from inside.
    pub fn network_namespace(&self) -> fs::File {
        fs::File::open(format!("/proc/{}/ns/net", self.pid)).expect("the namespace's net handle")
    }

    /// Runs a command that must succeed and returns its standard output.
    pub fn stdout(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "`{}` failed with {}:\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits (at most `limit`) until `check` returns something, polling inside the system;
    /// panics with `what` and the last journal lines otherwise.
    pub fn wait_for<T>(&self, limit: Duration, what: &str, check: impl FnMut() -> Option<T>) -> T {
        poll(Instant::now() + limit, check).unwrap_or_else(|| {
            let journal = self.run(&["journalctl", "--no-pager", "-n", "40"]);
            panic!(
                "timed out waiting for {what}; journal:\n{}",
                String::from_utf8_lossy(&journal.stdout)
            )
        })
    }

    /// The journal of one unit so far.
    pub fn journal(&self, unit: &str) -> String {
        self.stdout(&["journalctl", "--no-pager", "-o", "cat", "-u", unit])
    }

    /// A line of `/proc/PID/status` of a unit's main process, without its name.
    pub fn main_process_status(&self, unit: &str, field: &str) -> String {
        let pid = self.stdout(&["systemctl", "show", "-P", "MainPID", unit]);
        let status = self.stdout(&["cat", &format!("/proc/{}/status", pid.trim())]);
        status
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in the status of {unit}:\n{status}"))
            .trim()
            .to_owned()
    }
}

impl Drop for RealSystemd {
    fn drop(&mut self) {
        if self.pid != 0 {
            // SIGKILL to a namespace's PID 1 ends every process in it.
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

fn set_mode(path: &Path, mode: u32) {
    let permissions = std::os::unix::fs::PermissionsExt::from_mode(mode);
    fs::set_permissions(path, permissions).expect("setting a directory's mode");
}

/// Polls `check` every few milliseconds until it gives a value, or `deadline` passes (`None`).
fn poll<T>(deadline: Instant, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn poll_until<T>(deadline: Instant, what: &str, check: impl FnMut() -> Option<T>) -> T {
    poll(deadline, check).unwrap_or_else(|| panic!("timed out waiting for {what}"))
}
