//! `attnbench`: the command-line front end. See `attnbench --help` and README.md.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Held to the end: a fresh private runtime folder, when one had to be made.
    let _runtime_dir = quiet_mesa_runtime_dir();
    cli::main()
}

/// Mesa's EGL platform code prints "XDG_RUNTIME_DIR is invalid or not set" on every adapter
/// enumeration when the variable is missing (CI, containers). Point it at a private folder
/// of this user's (one per user: another user's 0700 folder would be invalid for us) so
/// errors stay one line. That folder is used only when it is a real folder (not a symlink)
/// owned by this user with mode 0700; nothing else at that path is followed or changed,
/// and a fresh private folder, removed at exit, stands in for it.
fn quiet_mesa_runtime_dir() -> Option<tempfile::TempDir> {
    #[cfg(unix)]
    {
        let valid = std::env::var_os("XDG_RUNTIME_DIR")
            .map(std::path::PathBuf::from)
            .is_some_and(|p| p.is_dir());
        if valid {
            return None;
        }
        let shared = std::env::temp_dir().join(runtime_dir_name());
        let (dir, fresh) = match private_runtime_dir(&shared) {
            Some(dir) => (dir, None),
            None => {
                // tempfile creates it with mode 0700 under a random name.
                let fresh = tempfile::Builder::new()
                    .prefix("attnbench-xdg-runtime-")
                    .tempdir()
                    .ok()?;
                (fresh.path().to_path_buf(), Some(fresh))
            }
        };
        // SAFETY: called first thing in main, before any thread is started.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        fresh
    }
    #[cfg(not(unix))]
    None
}

/// `dir`, created with mode 0700 if missing, when it is a real folder (lstat: not a
/// symlink) owned by this user and private (mode 0700); `None` otherwise. Nothing is
/// followed, and the mode of a path that is not this user's own folder is never changed.
#[cfg(unix)]
fn private_runtime_dir(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    // mkdir(2) does not follow a symlink at the path; the umask may only narrow 0700.
    let created = std::fs::DirBuilder::new().mode(0o700).create(dir).is_ok();
    let meta = std::fs::symlink_metadata(dir).ok()?;
    let ours = match current_uid() {
        Some(uid) => meta.uid() == uid,
        None => created,
    };
    if !meta.file_type().is_dir() || !ours {
        return None;
    }
    if meta.mode() & 0o777 != 0o700 {
        // Our own real folder, checked just above (in a sticky temp folder no other user
        // can swap it): narrowing its mode changes nothing of anyone else's.
        if meta.mode() & 0o077 != 0 && !created {
            return None;
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).ok()?;
    }
    Some(dir.to_path_buf())
}

/// This process's user id: the owner of `/proc/self` (Linux).
#[cfg(unix)]
fn current_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// `attnbench-xdg-runtime-<uid>`: the owner of `/proc/self` is this process's user.
#[cfg(unix)]
fn runtime_dir_name() -> String {
    let user = current_uid()
        .map(|uid| uid.to_string())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    format!("attnbench-xdg-runtime-{user}")
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_mesa_runtime_folder_is_per_user() {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").unwrap().uid();
        assert_eq!(
            super::runtime_dir_name(),
            format!("attnbench-xdg-runtime-{uid}")
        );
    }

    #[test]
    fn only_a_private_folder_of_ours_is_used_and_nothing_is_followed() {
        let root = tempfile::tempdir().unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let fresh = root.path().join("fresh");
        assert_eq!(super::private_runtime_dir(&fresh), Some(fresh.clone()));
        assert_eq!(mode(&fresh), 0o700);
        // A symlink to someone's folder: refused, and the folder keeps its mode.
        let victim = root.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert_eq!(super::private_runtime_dir(&link), None);
        assert_eq!(mode(&victim), 0o755);
        // An existing folder of ours open to others is not taken over either.
        assert_eq!(super::private_runtime_dir(&victim), None);
        assert_eq!(mode(&victim), 0o755);
        let file = root.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(super::private_runtime_dir(&file), None);
    }
}
