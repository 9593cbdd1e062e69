//! Replacing a file so that a crash or a full disk at any moment leaves either the old file
//! or the complete new one: the change is made on a copy in the same folder, flushed to
//! disk, and renamed over the original (an atomic step on one file system).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::LibraryError;

/// Name of the working copy of `path` (hidden, beside it, never an audio extension).
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.genre-meter-{}.tmp", std::process::id()))
}

/// Fails with [`LibraryError::ReadOnly`] when the file may not be changed: read-only by its
/// permissions (checked explicitly, since root could write anyway), or its folder is.
pub fn check_writable(path: &Path) -> Result<std::fs::Metadata, LibraryError> {
    let meta = std::fs::metadata(path).map_err(|source| LibraryError::Io { path: path.to_path_buf(), source })?;
    if meta.permissions().readonly() {
        return Err(LibraryError::ReadOnly { path: path.to_path_buf(), why: "the file is read-only".into() });
    }
    Ok(meta)
}

/// Copies `path` to a temporary file beside it, lets `edit` change the copy, flushes it,
/// calls `before_rename` (a test's chance to fail the write at the worst moment), and renames
/// the copy over `path`. Permissions are kept. On any error the original is untouched and
/// the copy removed.
pub fn replace_with_edited_copy_hooked(
    path: &Path,
    edit: impl FnOnce(&mut File) -> Result<(), LibraryError>,
    before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), LibraryError> {
    let meta = check_writable(path)?;
    let tmp = temporary_path(path);
    let io = |source| LibraryError::Io { path: tmp.clone(), source };
    // Removes the temporary copy on every way out but success, a panic of the tag library
    // (caught further up, per file) included.
    struct LeftOver<'a>(&'a Path, bool);
    impl Drop for LeftOver<'_> {
        fn drop(&mut self) {
            if self.1 {
                let _ = std::fs::remove_file(self.0);
            }
        }
    }
    let mut left_over = LeftOver(&tmp, true);
    let result = (|| {
        std::fs::copy(path, &tmp).map_err(|source| match source.kind() {
            std::io::ErrorKind::PermissionDenied => LibraryError::ReadOnly {
                path: path.to_path_buf(),
                why: "its folder is not writable (the new file is written beside it)".into(),
            },
            _ => io(source),
        })?;
        let mut file = OpenOptions::new().read(true).write(true).open(&tmp).map_err(io)?;
        edit(&mut file)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::set_permissions(&tmp, meta.permissions()).map_err(io)?;
        before_rename(&tmp).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(|source| LibraryError::Io { path: path.to_path_buf(), source })?;
        // The rename itself is durable once the folder is flushed.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    left_over.1 = result.is_err();
    drop(left_over);
    result
}

/// [`replace_with_edited_copy_hooked`] without a hook.
pub fn replace_with_edited_copy(
    path: &Path,
    edit: impl FnOnce(&mut File) -> Result<(), LibraryError>,
) -> Result<(), LibraryError> {
    replace_with_edited_copy_hooked(path, edit, |_| Ok(()))
}
