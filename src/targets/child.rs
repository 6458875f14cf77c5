//! A peer program run as a child process under deadlines: its stdout read line by line on a
//! thread, its stderr drained on another (the last lines kept for the reason), every wait
//! bounded. At a deadline, or when the child exits early, it is killed and waited for and
//! the reason comes back as text, so that a hung or crashed peer becomes a skipped row with
//! its reason, never a hung attnbench.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Lines of the child's stderr kept for the reason of a failure.
const STDERR_LINES: usize = 6;

/// A running peer.
pub(super) struct PeerChild {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Closed when the stderr reader has read to the end.
    stderr_done: Receiver<()>,
    name: String,
}

impl PeerChild {
    /// Starts `program` with `args`, its stdin, stdout and stderr piped.
    pub(super) fn spawn(program: &Path, args: &[String]) -> Result<PeerChild, String> {
        let name = program.file_name().map_or_else(
            || program.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let (sender, lines) = channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (done, stderr_done) = channel::<()>();
        if let Some(err) = child.stderr.take() {
            let kept = stderr.clone();
            std::thread::spawn(move || {
                let _done = done;
                for line in BufReader::new(err).lines().map_while(|l| l.ok()) {
                    // Mesa's harmless complaint on machines without a session is no reason.
                    if line.trim().is_empty() || line.contains("XDG_RUNTIME_DIR is invalid") {
                        continue;
                    }
                    if let Ok(mut kept) = kept.lock() {
                        if kept.len() == STDERR_LINES {
                            kept.pop_front();
                        }
                        kept.push_back(line);
                    }
                }
            });
        }
        Ok(PeerChild {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            stderr_done,
            name,
        })
    }

    /// Writes `line` to the child's stdin.
    pub(super) fn send(&mut self, line: &str) -> Result<(), String> {
        let written = match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{line}").and_then(|()| stdin.flush()),
            None => return Err(format!("{}'s stdin is closed", self.name)),
        };
        written.map_err(|e| self.failed(&format!("stopped reading its commands ({e})")))
    }

    /// The child's next line on stdout, waiting until `deadline` at most: past it the child
    /// is killed; when it ends its output (exits, crashes) the reason says how, with the
    /// last lines of its stderr.
    pub(super) fn next_line(&mut self, deadline: Instant, what: &str) -> Result<String, String> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(wait) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                Err(self.failed(&format!(
                    "gave no answer {what} within {:.0} s and was killed",
                    wait.as_secs_f64()
                )))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.exit_status(deadline);
                Err(self.failed(&format!("ended {what} ({status})")))
            }
        }
    }

    /// Closes the child's stdin and waits for it to exit until `deadline` (killed past it).
    pub(super) fn finish(mut self, deadline: Instant) -> String {
        self.stdin = None;
        self.exit_status(deadline)
    }

    /// How the child ended, waiting until `deadline` at most (then killing it).
    fn exit_status(&mut self, deadline: Instant) -> String {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.to_string(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Ok(None) => {
                    self.kill();
                    return "still running at its deadline: killed".into();
                }
                Err(e) => return format!("its status is unknown: {e}"),
            }
        }
    }

    /// Kills the child and reaps it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `name what`, with the last lines of its stderr (read to its end where the child has
    /// exited, waiting a moment for the reader).
    fn failed(&mut self, what: &str) -> String {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self
                .stderr_done
                .recv_timeout(std::time::Duration::from_millis(500));
        }
        let tail = self
            .stderr
            .lock()
            .map(|kept| kept.iter().cloned().collect::<Vec<_>>().join(" | "))
            .unwrap_or_default();
        if tail.is_empty() {
            format!("{} {what}", self.name)
        } else {
            format!("{} {what}; its stderr ended: {tail}", self.name)
        }
    }
}

impl Drop for PeerChild {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sh(script: &str) -> PeerChild {
        PeerChild::spawn(Path::new("/bin/sh"), &["-c".into(), script.into()]).unwrap()
    }

    /// A child that never answers is killed at the deadline, and the wait ends there.
    #[test]
    fn a_hung_child_is_killed_at_its_deadline() {
        let mut child = sh("echo ready; sleep 60");
        let soon = Instant::now() + Duration::from_secs(10);
        assert_eq!(child.next_line(soon, "at start").unwrap(), "ready");
        let started = Instant::now();
        let err = child
            .next_line(started + Duration::from_millis(300), "to a sample")
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        assert!(err.contains("killed"), "{err}");
        assert!(matches!(child.child.try_wait(), Ok(Some(_))), "reaped");
    }

    /// A child that crashes says how it ended and what it last wrote on stderr.
    #[test]
    fn a_crashed_child_reports_its_status_and_stderr() {
        let mut child = sh("echo 'thread main panicked: boom' >&2; exit 3");
        let err = child
            .next_line(Instant::now() + Duration::from_secs(10), "at start")
            .unwrap_err();
        assert!(err.contains("exit status: 3"), "{err}");
        assert!(err.contains("boom"), "{err}");
    }

    /// Lines go both ways; a clean exit is reported as such.
    #[test]
    fn a_child_answers_its_commands() {
        let mut child = sh("read line; echo \"got $line\"");
        child.send("sample").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        assert_eq!(child.next_line(deadline, "").unwrap(), "got sample");
        assert!(child.finish(deadline).contains("exit status: 0"));
    }

    #[test]
    fn a_missing_program_is_a_reason() {
        let err = PeerChild::spawn(Path::new("/nonexistent/peer"), &[])
            .err()
            .unwrap();
        assert!(err.contains("cannot start"), "{err}");
    }
}
