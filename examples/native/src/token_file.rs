//! Where the app keeps its tokens between runs: one JSON file that only its user can
//! read (mode 0600 in a 0700 directory), replaced atomically so a crash mid-write never
//! loses the refresh token. A real app would use the platform's keychain; the rule is
//! the same: the refresh token is a password.

use std::{
    fmt,
    fs::{self, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What a signed-in app remembers.
#[derive(Clone, Serialize, Deserialize)]
pub struct Saved {
    pub server: String,
    pub client_id: String,
    pub token_endpoint: String,
    pub revocation_endpoint: String,
    pub refresh_token: String,
    pub access_token: String,
    /// Unix seconds, on this machine's clock, when the access token runs out.
    pub access_expires_at: u64,
}

impl fmt::Debug for Saved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Saved")
            .field("server", &self.server)
            .field("client_id", &self.client_id)
            .field("access_expires_at", &self.access_expires_at)
            .finish_non_exhaustive()
    }
}

/// `$XDG_CONFIG_HOME/jwt-refresh-native/tokens.json`, else under `~/.config`.
pub fn default_path() -> PathBuf {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    config.join("jwt-refresh-native").join("tokens.json")
}

pub fn load(path: &Path) -> anyhow::Result<Saved> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("not signed in (no {}); run `native login`", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
}

pub fn save(path: &Path, saved: &Saved) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    // A leftover from a crash may have other permissions: the mode applies on creation.
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(&serde_json::to_vec_pretty(saved)?)?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}

pub fn forget(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}
