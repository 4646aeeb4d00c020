//! Checks the store's path before SQLite sees it, so the message names the real culprit
//! (a directory, a permission), and undoes what a failed start created.

use anyhow::{Result, bail};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Files and directories a store at a path may consist of (SQLite's and logtui's companions).
const SUFFIXES: [&str; 8] = [
    "",
    "-wal",
    "-shm",
    "-journal",
    "-lock",
    "-index",
    "-index-wal",
    "-index-shm",
];

fn companions(db: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    SUFFIXES.iter().map(move |s| {
        let mut p = db.as_os_str().to_owned();
        p.push(s);
        PathBuf::from(p)
    })
}

/// Refuses a `--db` that is a directory, with a sentence that says so.
fn refuse_directory(db: &Path) -> Result<()> {
    if db.is_dir() {
        bail!(
            "cannot open the store at {}: it is a directory, not a file (give --db a file path such as {})",
            db.display(),
            db.join("logtui.db").display()
        );
    }
    Ok(())
}

/// What existed before a start, so [`Created::undo`] removes only what the start made.
pub struct Created {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Created {
    /// Notes which of the store's files and parent directories do not exist yet.
    pub fn before(db: &Path) -> Created {
        let files = companions(db).filter(|p| !p.exists()).collect();
        let dirs = db
            .ancestors()
            .skip(1)
            .filter(|d| !d.as_os_str().is_empty())
            .take_while(|d| !d.exists())
            .map(Path::to_path_buf)
            .collect();
        Created { files, dirs }
    }

    /// Removes the files and (empty) directories that did not exist at [`Created::before`].
    pub fn undo(&self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        // Deepest first; `remove_dir` leaves any directory something else has filled.
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Checks that the store at `db` can be written (created, when missing), naming the
/// directory or file that refuses, before SQLite reports only "unable to open database file".
pub fn check_writable(db: &Path) -> Result<()> {
    refuse_directory(db)?;
    if db.exists() {
        return match std::fs::OpenOptions::new().write(true).open(db) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => bail!(
                "cannot write the store {}: permission denied (it belongs to {})",
                db.display(),
                owner(db)
            ),
            _ => Ok(()),
        };
    }
    let Some(dir) = db
        .ancestors()
        .skip(1)
        .find(|d| d.as_os_str().is_empty() || d.exists())
    else {
        return Ok(());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if !dir.is_dir() {
        bail!(
            "cannot create the store {}: {} is a file, not a directory",
            db.display(),
            dir.display()
        );
    }
    // SQLite would say only "unable to open database file"; ask the directory itself.
    if rustix::fs::access(
        dir,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .is_err()
    {
        bail!(
            "cannot create the store {}: permission denied to write in {}",
            db.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Checks that the store at `db` can be read, naming the culprit before SQLite would.
pub fn check_readable(db: &Path) -> Result<()> {
    refuse_directory(db)?;
    match std::fs::File::open(db) {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => bail!(
            "cannot read the store {}: permission denied (it belongs to {})",
            db.display(),
            owner(db)
        ),
        // A missing store is reported by the store itself, with what to do.
        _ => Ok(()),
    }
}

fn owner(p: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p)
        .map(|m| format!("uid {}", m.uid()))
        .unwrap_or_else(|_| "another user".into())
}
