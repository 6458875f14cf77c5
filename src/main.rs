//! `attnbench`: the command-line front end. See `attnbench --help` and README.md.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_mesa_runtime_dir();
    cli::main()
}

/// Mesa's EGL platform code prints "XDG_RUNTIME_DIR is invalid or not set" on every adapter
/// enumeration when the variable is missing (CI, containers). Point it at a private folder
/// of this user's (one per user: another user's 0700 folder would be invalid for us) so
/// errors stay one line.
fn quiet_mesa_runtime_dir() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let valid = std::env::var_os("XDG_RUNTIME_DIR")
            .map(std::path::PathBuf::from)
            .is_some_and(|p| p.is_dir());
        if valid {
            return;
        }
        let dir = std::env::temp_dir().join(runtime_dir_name());
        if std::fs::create_dir_all(&dir).is_ok()
            && std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).is_ok()
        {
            // SAFETY: called first thing in main, before any thread is started.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    }
}

/// `attnbench-xdg-runtime-<uid>`: the owner of `/proc/self` is this process's user.
#[cfg(unix)]
fn runtime_dir_name() -> String {
    use std::os::unix::fs::MetadataExt;
    let user = std::fs::metadata("/proc/self")
        .map(|m| m.uid().to_string())
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("attnbench-xdg-runtime-{user}")
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn the_mesa_runtime_folder_is_per_user() {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").unwrap().uid();
        assert_eq!(
            super::runtime_dir_name(),
            format!("attnbench-xdg-runtime-{uid}")
        );
    }
}
