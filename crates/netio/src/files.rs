//! Files an exercise names, read from its own folder and nowhere else; and a run's output
//! files, written whole or not at all.
//!
//! An exercise may come from a stranger (the web platform takes uploads), so what it names is
//! untrusted: a grid is a relative name (`grids/kyiv.m`) inside the exercise's folder, each
//! component a plain name (no `..`, no absolute path, no hidden file), no symlink on the way,
//! and only a regular file of bounded size is read (not a FIFO, which would hang, nor
//! `/dev/zero`, which would not end). The name grammar is `exercise::file_name`, shared with
//! an in-memory upload (`exercise::Bundle`).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use exercise::{GridError, GridSource};

/// The largest grid (MATPOWER text) or sidecar read, in bytes.
pub const MAX_GRID_BYTES: u64 = exercise::MAX_FILE_BYTES as u64;

/// An exercise's folder: the only place its files are read from (after the built-in grids).
#[derive(Debug, Clone, Default)]
pub struct Folder {
    /// None: a built-in exercise, which names built-in grids only.
    root: Option<PathBuf>,
}

impl Folder {
    pub fn new(root: &Path) -> Folder {
        Folder { root: Some(root.to_path_buf()) }
    }

    /// The built-in grids only.
    pub fn builtin() -> Folder {
        Folder { root: None }
    }

    /// The text of the file `name` names in this folder; `Ok(None)` if there is none.
    pub fn read(&self, name: &str, limit: u64) -> Result<Option<String>, GridError> {
        let parts = exercise::file_name(name)?;
        let Some(root) = &self.root else { return Ok(None) };
        let unreadable =
            |reason: ReadError| GridError::Unreadable { name: name.to_string(), reason: Box::new(reason) };
        let mut path = root.clone();
        for (i, part) in parts.iter().enumerate() {
            path.push(part);
            let last = i + 1 == parts.len();
            match std::fs::symlink_metadata(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(unreadable(ReadError::Io(e))),
                Ok(m) if m.file_type().is_symlink() => return Err(unreadable(ReadError::Symlink)),
                Ok(m) if !last && !m.is_dir() => return Ok(None),
                // Not even opened: a device node or a FIFO.
                Ok(m) if last && !m.is_file() => return Err(unreadable(ReadError::NotRegular)),
                Ok(_) => {}
            }
        }
        // No symlink at the end even if one was swapped in since (O_NOFOLLOW); and, since a
        // folder on the way could have been swapped for a link between the checks above and
        // the open, where the opened file really is must still be inside the folder.
        let file = open_bounded(&path, libc::O_NOFOLLOW, limit).map_err(unreadable)?;
        let inside = std::fs::canonicalize(root)
            .ok()
            .zip(std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok())
            .is_some_and(|(root, real)| real.starts_with(root));
        if !inside {
            return Err(unreadable(ReadError::Symlink));
        }
        read_open(file, limit).map(Some).map_err(unreadable)
    }
}

const SYMLINK: &str = "a symbolic link on the way; only files in the exercise's own folder are read";

/// Why a file was not read (the file's name is the caller's to add).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A symbolic link at the name or on the way (in an exercise's folder).
    #[error("{SYMLINK}")]
    Symlink,
    /// A directory, a device node, a FIFO.
    #[error("not a regular file")]
    NotRegular,
    /// Other names for the file exist (in an exercise's folder).
    #[error("a file with other names (hard links); only files in the exercise's own folder are read")]
    HardLinks,
    #[error("{bytes} bytes; at most {limit} are read")]
    TooLarge { bytes: u64, limit: u64 },
    /// It grew past the limit while being read.
    #[error("more than {limit} bytes; at most {limit} are read")]
    Grew { limit: u64 },
    #[error("not UTF-8 text")]
    NotUtf8,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A file the operator named that could not be read: `path: why`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct ReadFileError {
    pub path: PathBuf,
    pub reason: ReadError,
}

/// The text of a file the operator named (an exercise or defender file on the command line):
/// a regular file of at most `limit` bytes, UTF-8. Errors name the file.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadFileError> {
    read_bounded(path, 0, limit).map_err(|reason| ReadFileError { path: path.to_path_buf(), reason })
}

fn read_bounded(path: &Path, flags: i32, limit: u64) -> Result<String, ReadError> {
    read_open(open_bounded(path, flags, limit)?, limit)
}

/// Opens a regular file of at most `limit` bytes, with one link (a hard link is another
/// name for a file that may live anywhere).
fn open_bounded(path: &Path, flags: i32, limit: u64) -> Result<File, ReadError> {
    // No wait on a FIFO (O_NONBLOCK): what was opened is checked, not what the path named.
    let file = OpenOptions::new().read(true).custom_flags(flags | libc::O_NONBLOCK).open(path).map_err(
        |e| match e.raw_os_error() {
            Some(libc::ELOOP) => ReadError::Symlink,
            _ => ReadError::Io(e),
        },
    )?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    if flags & libc::O_NOFOLLOW != 0 && meta.nlink() > 1 {
        return Err(ReadError::HardLinks);
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge { bytes: meta.len(), limit });
    }
    Ok(file)
}

fn read_open(file: File, limit: u64) -> Result<String, ReadError> {
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::Grew { limit });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)
}

/// Built-in grids first, then a `.m` file in the exercise's folder and its optional
/// `.dyn.toml` sidecar beside it.
impl GridSource for Folder {
    fn grid(&self, name: &str) -> Result<(String, String), GridError> {
        exercise::grid_from(name, |n| self.read(n, MAX_GRID_BYTES))
    }
}

/// A new file at `path`, for writing: never an existing file, never through a symlink.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// A temporary name beside `path`, never the same twice in this process nor, in practice,
/// across processes (pid, a counter, the clock's nanoseconds): a leftover from a killed run
/// never blocks the next one.
pub fn temp_beside(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}-{n}-{nanos}.tmp", std::process::id()))
}

/// Writes `dir/name` whole or not at all: into a new temporary file beside it, synced, then
/// renamed over the name. The name itself is never followed: a symlink planted at it is
/// replaced, not written through. Errors name the file.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let target = dir.join(name);
    let tmp = temp_beside(&target);
    let result = (|| {
        let mut file = create_new(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", target.display())))
}

/// Copies the regular file `src` (never through a symlink: a link swapped in at its name is
/// refused) to `dir/name` as `write_atomic` writes, streamed.
pub fn copy_atomic(src: &Path, dir: &Path, name: &str) -> io::Result<()> {
    let target = dir.join(name);
    let tmp = temp_beside(&target);
    let result = (|| {
        let mut from = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(src)?;
        if !from.metadata()?.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        let mut file = create_new(&tmp)?;
        io::copy(&mut from, &mut file)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| io::Error::new(e.kind(), format!("{} from {}: {e}", target.display(), src.display())))
}

/// A run's files in `out`: the journal first (the source of truth; whatever fails after,
/// it is there), then the alerts and the score. The capture is the caller's to finish after.
pub fn write_run(
    out: &Path,
    ex: &exercise::Exercise,
    range: &range::Range,
) -> io::Result<range::score::Score> {
    let journal = range.journal();
    write_atomic(out, "journal.jsonl", journal_format::to_jsonl(journal).as_bytes())?;
    let alerts: Vec<range::Entry> =
        journal.iter().filter(|e| matches!(e, range::Entry::Alert { .. })).cloned().collect();
    write_atomic(out, "alerts.jsonl", journal_format::to_jsonl(&alerts).as_bytes())?;
    let score = range::score::score(ex, journal);
    write_atomic(out, "score.json", journal_format::score(&score).as_bytes())?;
    Ok(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that fails (here: no such folder; on a full disk, no space) says which file.
    #[test]
    fn a_failed_write_names_its_file_and_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("icsrange-files-{}", std::process::id()));
        let err = write_atomic(&dir.join("missing"), "journal.jsonl", b"{}").unwrap_err();
        assert!(err.to_string().contains("missing/journal.jsonl"), "{err}");
    }

    #[test]
    fn sidecars_sit_beside_their_grid() {
        assert_eq!(exercise::sidecar_name("kyiv.m"), "kyiv.dyn.toml");
        assert_eq!(exercise::sidecar_name("grids/kyiv.m"), "grids/kyiv.dyn.toml");
        assert_eq!(exercise::sidecar_name("kyiv"), "kyiv.dyn.toml");
    }
}
