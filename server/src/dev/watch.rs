//! File watching for `ask dev`, on `notify`.
//!
//! We watch the *folders* of the watched files (non-recursively), never the files themselves: an
//! editor that saves by writing a temporary file and renaming it over the original, or by deleting
//! and re-creating it, replaces the inode, and a watch on the old inode would go silent. Every
//! event of a watched folder is forwarded with its paths; the reloader keeps only those naming a
//! watched file, so events for the database (`*.db`, `-wal`, `-shm`, `-journal`) or any other file
//! in the folder are dropped there. Access events (open, read, close without writing) are dropped
//! here: the reloader itself opens the files it hashes and compiles, and must not wake itself up.
//!
//! `--poll` uses notify's polling watcher (contents compared, for file systems without events).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

/// How often `--poll` scans.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

enum Inner {
    Events(RecommendedWatcher),
    Poll(PollWatcher),
}

/// Watches folders and forwards the paths of their change events.
pub struct FolderWatcher {
    inner: Inner,
    dirs: BTreeSet<PathBuf>,
}

impl FolderWatcher {
    /// A watcher sending each change event's paths to `tx`.
    pub fn new(poll: bool, tx: UnboundedSender<Vec<PathBuf>>) -> notify::Result<FolderWatcher> {
        let handler = move |res: notify::Result<Event>| {
            let Ok(ev) = res else { return };
            let relevant = match ev.kind {
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                EventKind::Access(_) => false,
                _ => true,
            };
            if relevant && !ev.paths.is_empty() {
                let _ = tx.send(ev.paths);
            }
        };
        let inner = if poll {
            let cfg = notify::Config::default().with_poll_interval(POLL_INTERVAL).with_compare_contents(true);
            Inner::Poll(PollWatcher::new(handler, cfg)?)
        } else {
            Inner::Events(notify::recommended_watcher(handler)?)
        };
        Ok(FolderWatcher { inner, dirs: BTreeSet::new() })
    }

    pub fn kind(&self) -> &'static str {
        match self.inner {
            Inner::Events(_) => "file events",
            Inner::Poll(_) => "polling",
        }
    }

    fn watcher(&mut self) -> &mut dyn Watcher {
        match &mut self.inner {
            Inner::Events(w) => w,
            Inner::Poll(w) => w,
        }
    }

    /// Watch exactly the folders of `files` (adding new folders, dropping unused ones).
    /// Returns the folders that could not be watched, with the reason.
    pub fn set_files(&mut self, files: &BTreeSet<PathBuf>) -> Vec<(PathBuf, String)> {
        let want: BTreeSet<PathBuf> = files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
        let mut failed = Vec::new();
        let gone: Vec<PathBuf> = self.dirs.difference(&want).cloned().collect();
        for d in gone {
            let _ = self.watcher().unwatch(&d);
            self.dirs.remove(&d);
        }
        let new: Vec<PathBuf> = want.difference(&self.dirs).cloned().collect();
        for d in new {
            match self.watcher().watch(&d, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.dirs.insert(d);
                }
                Err(e) => failed.push((d, e.to_string())),
            }
        }
        failed
    }
}

/// Files `ask dev` must never watch: database files and anything under the project's `target/`
/// or `.ask/` folders.
pub fn excluded(project_dir: &Path, file: &Path) -> bool {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.ends_with(".db") || name.ends_with("-wal") || name.ends_with("-shm") || name.ends_with("-journal") || name.ends_with(".sqlite") || name.ends_with(".sqlite3") {
        return true;
    }
    match file.strip_prefix(project_dir) {
        Ok(rel) => rel.components().next().map(|c| c.as_os_str() == "target" || c.as_os_str() == ".ask").unwrap_or(false) && rel.components().count() > 1,
        Err(_) => false,
    }
}

/// `path` made absolute against the current folder, with `.` and `..` collapsed lexically (no
/// symlink resolution: notify reports paths under the folder exactly as it was given).
pub fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_and_build_folders_are_excluded() {
        let d = Path::new("/p");
        for f in ["/p/app.db", "/p/app.db-wal", "/p/app.db-shm", "/p/app.db-journal", "/p/target/x.ask", "/p/.ask/cache.ask"] {
            assert!(excluded(d, Path::new(f)), "{f}");
        }
        for f in ["/p/main.ask", "/p/Askfile.toml", "/p/.env", "/p/lib/target.ask"] {
            assert!(!excluded(d, Path::new(f)), "{f}");
        }
    }

    #[test]
    fn absolute_collapses_dots() {
        assert_eq!(absolute(Path::new("/a/./b/../c.ask")), PathBuf::from("/a/c.ask"));
    }
}
