//! What earlier runs copied, per repository: path (docker: `image:tag`) → checksum. A second
//! run skips what is unchanged and reports what the source no longer has. A JSON file for now;
//! issue 20 wants this in the target's database eventually.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{ImportError, Result};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub repositories: BTreeMap<String, BTreeMap<String, String>>,
}

impl State {
    pub fn load(path: &Path) -> Result<State> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| ImportError::Invalid(format!("state file {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(source) => Err(ImportError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Written to a temporary file and renamed, so an interrupted run leaves the previous one.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |source| ImportError::Io {
            path: path.display().to_string(),
            source,
        };
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| ImportError::Invalid(format!("state: {e}")))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = std::env::temp_dir().join(format!("arca-import-state-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let p = dir.join("s.json");
        let _ = std::fs::remove_file(&p);
        let mut s = State::load(&p).expect("missing file is empty state");
        assert!(s.repositories.is_empty());
        s.repositories
            .entry("r".into())
            .or_default()
            .insert("a/b".into(), "sha256:00".into());
        s.save(&p).expect("save");
        let back = State::load(&p).expect("load");
        assert_eq!(back.repositories["r"]["a/b"], "sha256:00");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
