//! The built `portsd` binary and the shipped files, driven as an operator would: the command
//! line (`cli`), the daemon's life under signals, reloads and socket activation (`lifecycle`),
//! the deployment files checked by systemd and the resolvers' own checkers (`deploy`), and the
//! unbound recipe end to end (`resolver_unbound`).

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod deploy;
mod lifecycle;
mod resolver_unbound;
