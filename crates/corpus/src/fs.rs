//! File helpers every stage shares: the inputs a command names (files, or folders standing for
//! their files of some kinds), and writing a file so that no reader and no crash ever sees
//! half of it.

use crate::Error;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: the parent folders are created, the bytes go to a
/// hidden temporary file in the same folder, are synced to disk, and the file is renamed into
/// place. On failure the temporary file is removed and `path` is as it was.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let io = Error::io(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(&io)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    remove_stale_temporaries(&tmp);
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
}

/// Removes the files next to `tmp` named like it but for the process id that ends the name:
/// what a writer of the same file left when it was killed. (Two processes never write the same
/// file at once: ranks and tasks write files of their own.)
pub fn remove_stale_temporaries(tmp: &Path) {
    let (Some(dir), Some(name)) = (tmp.parent(), tmp.file_name().and_then(|n| n.to_str())) else { return };
    let prefix = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let other = e.file_name();
        let Some(other) = other.to_str() else { continue };
        let pid = other.strip_prefix(prefix).unwrap_or("");
        if other != name && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The files named by `inputs`, in order; a folder stands for its files whose names end in one
/// of `endings` (case-insensitively, sorted by name) and must have some. `what` names them in
/// errors ("WARC files", "document shards").
pub fn files_in(inputs: &[PathBuf], endings: &[&str], what: &str) -> Result<Vec<PathBuf>, Error> {
    let wanted = |p: &PathBuf| {
        let name = p.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        endings.iter().any(|e| name.ends_with(e))
    };
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| Error::Bad(format!("reading folder {}: {e}", input.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && wanted(p))
                .collect();
            if found.is_empty() {
                return Err(Error::Bad(format!(
                    "{}: no {what} ({}) in this folder",
                    input.display(),
                    endings.join(", ")
                )));
            }
            found.sort();
            files.extend(found);
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            return Err(Error::Bad(format!("{}: no such file or folder", input.display())));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_folders_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("minichat-fs-{}", std::process::id()));
        let path = dir.join("a/b/file.txt");
        atomic_write(&path, b"one").unwrap();
        atomic_write(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.join("a/b")).unwrap().count(), 1);
        // A folder in the way of the file: an error naming it, and nothing left behind.
        std::fs::create_dir_all(dir.join("a/b/taken")).unwrap();
        assert!(atomic_write(&dir.join("a/b/taken"), b"x").unwrap_err().to_string().contains("taken"));
        assert_eq!(std::fs::read_dir(dir.join("a/b")).unwrap().count(), 2);
        // What a killed writer of the same file left is removed; other files are not.
        for stale in [".file.txt.tmp4242", ".file.txt.tmp1", ".file.txt.tmpx", ".other.txt.tmp4242"] {
            std::fs::write(dir.join("a/b").join(stale), b"half").unwrap();
        }
        atomic_write(&path, b"three").unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".file.txt.tmpx", ".other.txt.tmp4242", "file.txt", "taken"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn folders_stand_for_their_files_of_the_kind() {
        let dir = std::env::temp_dir().join(format!("minichat-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["b.jsonl", "a.JSONL", "c.txt"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let found = files_in(std::slice::from_ref(&dir), &[".jsonl"], "shards").unwrap();
        assert_eq!(found, [dir.join("a.JSONL"), dir.join("b.jsonl")]);
        let err = files_in(std::slice::from_ref(&dir), &[".parquet"], "shards").unwrap_err().to_string();
        assert!(err.contains("no shards (.parquet)"), "{err}");
        let err = files_in(&[dir.join("nope")], &[".jsonl"], "shards").unwrap_err().to_string();
        assert!(err.contains("nope: no such file or folder"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
