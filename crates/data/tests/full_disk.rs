//! `data run` on a full disk and into a read-only folder, on a real size-limited tmpfs (which
//! needs root, as CI runs; elsewhere the test says it skipped): the error names the shard it was
//! writing, no temporary file is left taking the space, and a finished rank's shards on the same
//! filesystem stay intact.

use minichat_corpus::shards;
use minichat_data::pipeline::Pipeline;
use minichat_data::run::{Opened, Options, Outcome, Rank};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(kib: usize) -> Option<Tmpfs> {
        let dir = std::env::temp_dir().join(format!("minichat-tmpfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root and mount); CI runs it as root");
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(Tmpfs(dir))
    }

    fn read_only(&self) {
        let s = Command::new("mount").args(["-o", "remount,ro"]).arg(&self.0).status().unwrap();
        assert!(s.success(), "remount read-only");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn run(files: &[PathBuf], out: &Path) -> Result<Outcome, minichat_data::Error> {
    let opts = Options { out: out.into(), rank: 0, world: 1, parquet: false, exclusions: true };
    match Rank::open(files, opts)? {
        Opened::Ready(rank) => rank.run(&Pipeline::fineweb("test"), &AtomicBool::new(false), || {}),
        Opened::Completed(m) => panic!("already completed: {}", m.display()),
    }
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().map(|e| e.unwrap().path()) {
        if e.is_dir() {
            out.extend(files_under(&e));
        } else {
            out.push((e.clone(), std::fs::read(&e).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn a_full_disk_and_a_read_only_folder_fail_clearly_and_lose_nothing() {
    let Some(fs) = Tmpfs::mount(2048) else { return };
    let warc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/writers/wget.warc.gz");
    let files = [warc];
    let done = fs.0.join("done");
    assert!(matches!(run(&files, &done).unwrap(), Outcome::Finished { .. }));
    let before = files_under(&done);
    assert!(before.iter().any(|(p, _)| p.ends_with("output/00000.jsonl.gz")), "{before:?}");

    // Fill the disk to the last byte, then run another rank on it.
    let filler = fs.0.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    while f.write_all(&[0u8; 4096]).is_ok() {}
    let _ = f.flush();
    drop(f);
    let full = fs.0.join("full");
    let err = run(&files, &full).err().expect("a full disk is an error").to_string();
    assert!(err.contains(&*full.to_string_lossy()) && err.contains("No space left"), "{err}");
    let left: Vec<_> = files_under(&full).into_iter().map(|(p, _)| p).collect();
    assert!(left.iter().all(|p| !p.to_string_lossy().contains(".tmp.")), "temporary files left: {left:?}");
    assert!(!full.join("output/00000.jsonl.gz").exists() && !full.join("completions/00000").exists());
    assert_eq!(files_under(&done), before);

    // With the space back the same command finishes, and gives what the first rank did.
    std::fs::remove_file(&filler).unwrap();
    assert!(matches!(run(&files, &full).unwrap(), Outcome::Finished { .. }));
    let shard = |d: &Path| shards::read(&d.join("output/00000.jsonl.gz")).unwrap().len();
    assert_eq!(shard(&full), shard(&done));

    // Read-only: a clear error naming where it could not write; the finished shards intact.
    fs.read_only();
    let ro = fs.0.join("ro");
    let err = run(&files, &ro).err().expect("a read-only folder is an error").to_string();
    assert!(err.contains(&*ro.to_string_lossy()) && err.contains("Read-only file system"), "{err}");
    assert_eq!(files_under(&done), before);
}
