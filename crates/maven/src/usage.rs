//! How a Maven asset is used: the dependency for Maven and Gradle, the repository entry, and
//! whether a version is a pre-release (cleanup policies' release type).

use arca_core::{
    format::{Usage, repository_url},
    model::{Asset, Component, Repository},
};

pub fn usage(base: &str, repo: &Repository, a: &Asset, c: Option<&Component>) -> Vec<Usage> {
    let Some(c) = c else {
        return Vec::new();
    };
    let ext = a.path.rsplit_once('.').map_or("jar", |(_, e)| e);
    // A jar (or its pom and checksums) is Maven's default type; anything else is named.
    let kind = if matches!(ext, "jar" | "pom" | "sha1" | "md5") {
        String::new()
    } else {
        format!("\n  <type>{ext}</type>")
    };
    vec![
        Usage::new(
            "Maven dependency",
            format!(
                "<dependency>\n  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n  <version>{}</version>{kind}\n</dependency>",
                c.namespace, c.name, c.version
            ),
        ),
        Usage::new(
            "Gradle",
            format!(
                "implementation(\"{}:{}:{}\")",
                c.namespace, c.name, c.version
            ),
        ),
        Usage::new(
            "Repository (pom.xml)",
            format!(
                "<repository>\n  <id>{0}</id>\n  <url>{1}</url>\n</repository>",
                repo.name,
                repository_url(base, repo)
            ),
        ),
    ]
}

/// Maven's pre-releases: snapshots, and versions qualified alpha, beta, milestone or release
/// candidate (`1.0-SNAPSHOT`, `2.0-beta-1`, `3.0-M2`, `1.1-RC1`).
pub fn is_prerelease(version: &str) -> bool {
    let v = version.to_ascii_lowercase();
    v.ends_with("-snapshot")
        || v.split(['-', '.']).skip(1).any(|part| {
            let letters = part.trim_end_matches(|c: char| c.is_ascii_digit());
            matches!(
                letters,
                "alpha" | "a" | "beta" | "b" | "m" | "milestone" | "rc" | "cr"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prereleases() {
        for v in [
            "1.0-SNAPSHOT",
            "0.9-alpha1",
            "1.2.3-beta",
            "3.0-M2",
            "1.1-RC1",
            "2.0.0-rc.1",
        ] {
            assert!(is_prerelease(v), "{v}");
        }
        for v in ["1.0", "2.31.0", "1.0.0-final", "1.0-jre", "beta"] {
            assert!(!is_prerelease(v), "{v}");
        }
    }
}
