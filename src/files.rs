//! Files on disk: atomic writes with the umask's mode, temporary files that `.gitignore`
//! matches, schema-checked JSON, and the advisory lock a writer holds on a folder. The
//! lowest layer of the results code: it knows no attnbench types.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Suffix of attnbench's temporary files: `.gitignore`'s `*.tmp` matches them, so files
/// left behind by a killed run are never committed (and [`clean_stale_temp_files`] removes them).
pub const TEMP_SUFFIX: &str = ".tmp";

/// Prefix of attnbench's temporary files.
pub const TEMP_PREFIX: &str = ".attnbench-";

/// Creates `dir` and its parents; a failure is a [`Error::DataFile`] (exit 2), like any
/// other failure to write results.
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::DataFile {
        path: dir.to_path_buf(),
        message: if dir.exists() && !dir.is_dir() {
            "is a file, not a folder".into()
        } else {
            format!("cannot create the folder: {e}")
        },
    })
}

/// Checks that files can be written into `dir` (created if missing; a temporary file is
/// created and removed), so that a command fails before its work, not at its last write.
pub fn check_writable_dir(dir: &Path) -> Result<()> {
    create_dir(dir)?;
    temp_file_in(dir).map_err(|e| Error::DataFile {
        path: dir.to_path_buf(),
        message: format!("cannot write into the folder: {e}"),
    })?;
    Ok(())
}

/// A new temporary file in `dir` named `.attnbench-XXXXXX.tmp`, created with mode 0666
/// less the umask (like any file the user creates), not tempfile's private 0600.
pub fn temp_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // open(2) applies the umask to this mode.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_dir(dir)?;
    let fail = |e: std::io::Error| Error::DataFile {
        path: path.to_path_buf(),
        message: format!("cannot write: {e}"),
    };
    let mut tmp = temp_file_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Removes temporary files a killed run left in `dir` (named by [`temp_file_in`]) that are
/// older than a minute, so that a writer still running in parallel keeps its own.
pub fn clean_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let minute = std::time::Duration::from_secs(60);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > minute);
        if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) && stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// An exclusive advisory lock on a device folder (`.attnbench.lock` in it), held while a
/// writer reads, merges and writes the folder's files, so that concurrent runs into one
/// folder never lose each other's rows. The file says who holds it (pid and command).
/// Released when dropped.
#[derive(Debug)]
pub struct FolderLock {
    _file: std::fs::File,
}

/// Name of the lock file in a device folder.
pub const LOCK_FILE: &str = ".attnbench.lock";

/// What [`FolderLock::acquire`] does when another process holds the lock.
#[derive(Clone, Copy, Debug)]
pub enum LockWait {
    /// Wait for it, first telling `notice` who holds it.
    Wait(fn(&str)),
    /// Fail at once, naming who holds it.
    Fail,
}

static LOCK_WAIT: std::sync::OnceLock<LockWait> = std::sync::OnceLock::new();

/// This process as a lock's holder names it, set once at the edge.
static HOLDER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets, once per process, what a held lock does (unset: wait without a word), and how
/// this process names itself in the locks it holds (`command`, e.g. `attnbench sweep
/// --samples 2`).
pub fn set_lock_wait(wait: LockWait, command: &str) {
    let _ = LOCK_WAIT.set(wait);
    let _ = HOLDER.set(command.replace(['\n', '\r'], " "));
}

/// `pid 1234 (attnbench sweep --samples 2)`: this process, as a lock's holder.
fn holder_text() -> String {
    match HOLDER.get() {
        Some(command) => format!("pid {} ({command})", std::process::id()),
        None => format!("pid {}", std::process::id()),
    }
}

impl FolderLock {
    /// Takes the lock on `dir` (created if missing); when another process holds it, waits
    /// or fails as [`set_lock_wait`] said, naming the holder.
    pub fn acquire(dir: &Path) -> Result<FolderLock> {
        create_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let fail = |e: std::io::Error| Error::DataFile {
            path: path.clone(),
            message: format!("cannot lock the folder: {e}"),
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(fail)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| "another process".into());
                match LOCK_WAIT.get().copied().unwrap_or(LockWait::Wait(|_| {})) {
                    LockWait::Fail => {
                        return Err(Error::DataFile {
                            path: path.clone(),
                            message: format!("held by {holder}; not waiting (--no-wait)"),
                        });
                    }
                    LockWait::Wait(notice) => {
                        notice(&format!(
                            "{}: held by {holder}; waiting for it",
                            path.display()
                        ));
                        file.lock().map_err(fail)?;
                    }
                }
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
        }
        // Who holds it now, for a writer that finds it held (best effort).
        let _ = file
            .set_len(0)
            .and_then(|()| writeln!(file, "{}", holder_text()));
        clean_stale_temp_files(dir);
        Ok(FolderLock { _file: file })
    }
}

/// The largest file attnbench reads from a results folder: a results file of every point
/// of a long sweep is well under a megabyte.
pub const MAX_DATA_FILE_BYTES: u64 = 64 << 20;

/// The longest text a field of a data file may hold (a skip's reason is a few hundred
/// characters).
pub const MAX_TEXT_CHARS: usize = 4096;

/// The text of the data file `path`; `Ok(None)` when it does not exist. Only a regular
/// file (after symlinks) of at most [`MAX_DATA_FILE_BYTES`] is read: a FIFO or a device
/// is refused before it is opened, so no read can hang or run on forever.
pub fn read_data_file(path: &Path) -> Result<Option<String>> {
    let fail = |message: String| Error::DataFile {
        path: path.to_path_buf(),
        message,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(format!("cannot read: {e}"))),
    };
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    if meta.len() > MAX_DATA_FILE_BYTES {
        return Err(fail(format!(
            "{} bytes, more than the {MAX_DATA_FILE_BYTES} a data file may have",
            meta.len()
        )));
    }
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_DATA_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    if text.len() as u64 > MAX_DATA_FILE_BYTES {
        return Err(fail("grew past the size a data file may have".into()));
    }
    Ok(Some(text))
}

/// The place of the first string in `value` longer than [`MAX_TEXT_CHARS`] (`rows[3].reason`).
fn overlong_text(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.chars().count() > MAX_TEXT_CHARS => Some(String::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| overlong_text(v).map(|inner| format!("[{i}]{inner}"))),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            overlong_text(v).map(|inner| format!(".{}{inner}", k.escape_debug()))
        }),
        _ => None,
    }
}

/// Reads a JSON file of `what` (e.g. "probe file") whose `schema` field must equal
/// `schema`; `Ok(None)` when the file does not exist. Unreadable, malformed or foreign
/// files are errors that name the file.
pub fn load_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    schema: &str,
) -> Result<Option<T>> {
    load_json_with(path, what, &[schema], |_| {})
}

/// Like [`load_json`], with `fix` applied to the JSON before it is parsed (older files).
/// The file is read as [`read_data_file`] does, and no text in it may be longer than
/// [`MAX_TEXT_CHARS`]; the type's own checks (its `try_from`) run as it is parsed, and
/// their message (the row and the field) follows the file's name.
pub fn load_json_with<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    schemas: &[&str],
    fix: impl FnOnce(&mut serde_json::Value),
) -> Result<Option<T>> {
    let fail = |message: String| Error::DataFile {
        path: path.to_path_buf(),
        message: message.replace(['\n', '\r'], " "),
    };
    let Some(text) = read_data_file(path)? else {
        return Ok(None);
    };
    let mut value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("malformed {what}: {e}")))?;
    let found = value.get("schema").and_then(|s| s.as_str()).unwrap_or("");
    if !schemas.contains(&found) {
        return Err(fail(format!(
            "not a {what} this attnbench reads: schema {:?}, supported {}",
            found.chars().take(64).collect::<String>(),
            schemas.join(", ")
        )));
    }
    if let Some(place) = overlong_text(&value) {
        let place = place.trim_start_matches('.');
        return Err(fail(format!(
            "malformed {what}: {place}: text longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    fix(&mut value);
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| fail(format!("malformed {what}: {e}")))
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn save_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| Error::DataFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, &json)
}
