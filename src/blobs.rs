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

use anyhow::Context;

pub trait BlobStore: Send + Sync {
    /// A new temporary file to stream an upload into.
    fn temp_file(&self) -> anyhow::Result<tempfile::NamedTempFile>;
    /// Makes a fully written temporary file durable under a fresh key and returns the key.
    fn commit(&self, temp: tempfile::NamedTempFile) -> anyhow::Result<String>;
    /// A local path the decoder can read for a key.
    fn path(&self, key: &str) -> anyhow::Result<PathBuf>;
    fn delete(&self, key: &str) -> anyhow::Result<()>;
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
}
