//! How a PyPI asset is used: pip and uv against the simple index, and whether a version is a
//! pre-release (cleanup policies' release type).

use arca_core::{
    format::{Usage, repository_url},
    model::{Asset, Component, Repository},
};

pub fn usage(base: &str, repo: &Repository, _a: &Asset, c: Option<&Component>) -> Vec<Usage> {
    let Some(c) = c else {
        return Vec::new();
    };
    let index = format!("{}simple/", repository_url(base, repo));
    ["pip", "uv pip"]
        .into_iter()
        .map(|tool| {
            Usage::new(
                tool.split(' ').next().unwrap_or(tool),
                format!(
                    "{tool} install --index-url {index} {}=={}",
                    c.name, c.version
                ),
            )
        })
        .collect()
}

/// PEP 440 pre-releases (`2.0.0a1`, `1.0rc2`, `1.0.0b3`, `1.0c1`) and developmental releases
/// (`3.1.dev4`).
pub fn is_prerelease(version: &str) -> bool {
    let v = version.to_ascii_lowercase();
    // The local label (`+…`) says nothing about the release.
    let v = v.split('+').next().unwrap_or_default();
    v.contains("dev")
        || v.split(|c: char| !c.is_ascii_alphanumeric()).any(|part| {
            let letters = part.trim_matches(|c: char| c.is_ascii_digit());
            matches!(
                letters,
                "a" | "b" | "c" | "rc" | "alpha" | "beta" | "pre" | "preview"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prereleases() {
        for v in [
            "2.0.0a1",
            "1.0rc2",
            "3.1.dev4",
            "1.0.0b3",
            "1.0c1",
            "1.0-preview2",
        ] {
            assert!(is_prerelease(v), "{v}");
        }
        for v in ["1.0", "2.31.0", "1.0.post1", "1.0+abc"] {
            assert!(!is_prerelease(v), "{v}");
        }
    }
}
