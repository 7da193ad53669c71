//! Where recording bytes live. A local folder today; the trait is the seam for object
//! storage later.
//!
//! Durability rule: bytes are written to a temporary file in the same file system, fsynced,
//! renamed to a server-generated name and the folder fsynced, all before the database row is
//! committed and the upload acknowledged. A crash in between leaves at worst an orphan file,
//! never a row without its bytes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;

pub trait BlobStore: Send + Sync {
    /// A new temporary file to stream an upload into.
    fn temp_file(&self) -> anyhow::Result<tempfile::NamedTempFile>;
    /// Makes a fully written temporary file durable under a fresh key and returns the key.
    fn commit(&self, temp: tempfile::NamedTempFile) -> anyhow::Result<String>;
    /// A local path the decoder can read for a key.
    fn path(&self, key: &str) -> anyhow::Result<PathBuf>;
    fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// The groups keys are listed by (a local folder, an object store's prefix), so a sweep
    /// holds one group's keys at a time.
    fn key_groups(&self) -> anyhow::Result<Vec<String>>;
    /// The keys of a group whose bytes were last written before `before`.
    fn keys_written_before(&self, group: &str, before: SystemTime) -> anyhow::Result<Vec<String>>;
    /// Removes temporary upload files last written before `before`; returns how many.
    fn remove_temp_files_before(&self, before: SystemTime) -> anyhow::Result<usize>;
}

pub struct LocalBlobs {
    root: PathBuf,
    tmp: PathBuf,
}

impl LocalBlobs {
    pub fn open(data_dir: &Path) -> anyhow::Result<LocalBlobs> {
        let root = data_dir.join("recordings");
        let tmp = data_dir.join("tmp");
        fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        Ok(LocalBlobs { root, tmp })
    }
}

/// Keys are 32 hex digits; the first two name a sub-folder so no folder grows huge.
fn new_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn valid_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("fsync of folder {}", dir.display()))
}

impl BlobStore for LocalBlobs {
    fn temp_file(&self) -> anyhow::Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(&self.tmp)
            .context("creating a temporary upload file")
    }

    fn commit(&self, mut temp: tempfile::NamedTempFile) -> anyhow::Result<String> {
        temp.flush().context("flushing upload")?;
        temp.as_file().sync_all().context("fsync of upload")?;
        let key = new_key();
        let dir = self.root.join(&key[..2]);
        let created = !dir.exists();
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        if created {
            sync_dir(&self.root)?;
        }
        temp.persist(dir.join(&key))
            .map_err(|e| e.error)
            .context("moving upload into storage")?;
        sync_dir(&dir)?;
        Ok(key)
    }

    fn path(&self, key: &str) -> anyhow::Result<PathBuf> {
        anyhow::ensure!(valid_key(key), "invalid blob key {key:?}");
        Ok(self.root.join(&key[..2]).join(key))
    }

    fn delete(&self, key: &str) -> anyhow::Result<()> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }

    fn key_groups(&self) -> anyhow::Result<Vec<String>> {
        let entries =
            fs::read_dir(&self.root).with_context(|| format!("listing {}", self.root.display()))?;
        let mut groups = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", self.root.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                groups.push(name);
            }
        }
        Ok(groups)
    }

    fn keys_written_before(&self, group: &str, before: SystemTime) -> anyhow::Result<Vec<String>> {
        let files = files_written_before(&self.root.join(group), before)?;
        // Only our own names: anything else in the folder is not ours to judge.
        Ok(files
            .iter()
            .filter_map(|f| f.file_name()?.to_str())
            .filter(|k| valid_key(k) && k.starts_with(group))
            .map(str::to_string)
            .collect())
    }

    fn remove_temp_files_before(&self, before: SystemTime) -> anyhow::Result<usize> {
        let mut removed = 0;
        for path in files_written_before(&self.tmp, before)? {
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
            }
        }
        Ok(removed)
    }
}

/// The files of a folder last written before `before` (none if it does not exist).
fn files_written_before(dir: &Path, before: SystemTime) -> anyhow::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    let mut old = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        // A file removed meanwhile (another node sweeping) is simply skipped.
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if meta.is_file() && meta.modified().is_ok_and(|m| m < before) {
            old.push(entry.path());
        }
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_makes_the_bytes_readable_under_a_fresh_key() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let blobs = LocalBlobs::open(dir.path())?;
        let mut t = blobs.temp_file()?;
        t.write_all(b"RIFF....")?;
        let key = blobs.commit(t)?;
        assert!(valid_key(&key));
        assert_eq!(fs::read(blobs.path(&key)?)?, b"RIFF....");
        assert!(blobs.path("../../etc/passwd").is_err());
        blobs.delete(&key)?;
        assert!(!blobs.path(&key)?.exists());
        Ok(())
    }

    #[test]
    fn old_keys_are_listed_by_group_and_foreign_files_are_left_alone() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let blobs = LocalBlobs::open(dir.path())?;
        let key = blobs.commit(blobs.temp_file()?)?;
        let group = &key[..2];
        fs::write(
            dir.path().join("recordings").join(group).join("notes.txt"),
            "",
        )?;
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        assert_eq!(blobs.key_groups()?, vec![group.to_string()]);
        assert_eq!(blobs.keys_written_before(group, later)?, vec![key.clone()]);
        assert!(
            blobs
                .keys_written_before(group, SystemTime::UNIX_EPOCH)?
                .is_empty()
        );
        let _kept = blobs.temp_file()?;
        assert_eq!(blobs.remove_temp_files_before(SystemTime::UNIX_EPOCH)?, 0);
        assert_eq!(blobs.remove_temp_files_before(later)?, 1);
        Ok(())
    }
}
