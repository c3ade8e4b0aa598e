//! Man pages and shell completions, generated from the clap definitions in [`crate::config`]
//! so they always list the commands and flags the binary has.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `portsd.1` and one `portsd-SUBCOMMAND.1` per subcommand (as git and cargo name
/// theirs) into `dir`, creating it when missing; returns the files written, in command order.
pub fn write_man_pages(dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut portsd = crate::config::command();
    portsd.build();
    let mut pages = vec![(String::from("portsd"), portsd.clone())];
    // clap's own `help` subcommand only repeats what the pages say.
    let subcommands = portsd.get_subcommands().filter(|sub| !sub.is_hide_set());
    for sub in subcommands.filter(|sub| sub.get_name() != "help") {
        let name = format!("portsd-{}", sub.get_name());
        // The page's name and usage line read `portsd-serve`, as `man portsd-serve` finds it.
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(name.clone())
            .version(env!("CARGO_PKG_VERSION"));
        pages.push((name, page));
    }
    let mut written = Vec::new();
    for (name, command) in pages {
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        let path = dir.join(format!("{name}.1"));
        fs::write(&path, page)?;
        written.push(path);
    }
    Ok(written)
}

/// Writes the completion script for `shell` to `out`.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn Write) -> io::Result<()> {
    // Rendered aside first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut crate::config::command(), "portsd", &mut script);
    out.write_all(&script)
}
