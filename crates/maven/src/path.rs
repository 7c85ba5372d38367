//! Maven 2 repository paths: `{group/path}/{artifactId}/{version}/{artifactId}-{version}[-{classifier}].{ext}`,
//! `maven-metadata.xml` at artifact and (SNAPSHOT) version level, and checksum side files.

use crate::version::is_snapshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Algo {
    pub const ALL: [Algo; 4] = [Algo::Md5, Algo::Sha1, Algo::Sha256, Algo::Sha512];
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Md5 => ".md5",
            Self::Sha1 => ".sha1",
            Self::Sha256 => ".sha256",
            Self::Sha512 => ".sha512",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coords {
    pub group_id: String,
    pub artifact_id: String,
    /// The version directory: `1.0` or `1.0-SNAPSHOT`.
    pub base_version: String,
    /// The version in the file name: `1.0`, `1.0-SNAPSHOT` or `1.0-20260101.120000-3`.
    pub version: String,
    pub classifier: Option<String>,
    pub extension: String,
}

impl Coords {
    pub fn is_snapshot(&self) -> bool {
        is_snapshot(&self.base_version)
    }
    /// `(timestamp, buildNumber)` of a timestamped SNAPSHOT file.
    pub fn timestamp(&self) -> Option<(String, u32)> {
        let prefix = self.base_version.strip_suffix("SNAPSHOT")?;
        let rest = self.version.strip_prefix(prefix)?;
        let (ts, build) = rest.rsplit_once('-')?;
        let ok = ts.len() == 15
            && ts.as_bytes()[8] == b'.'
            && ts.chars().filter(|c| c.is_ascii_digit()).count() == 14;
        Some((ts.to_owned(), build.parse().ok().filter(|_| ok)?))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MavenPath {
    Artifact(Coords),
    /// `{g}/{a}/maven-metadata.xml`
    ArtifactMetadata {
        group_id: String,
        artifact_id: String,
    },
    /// `{g}/{a}/{v}-SNAPSHOT/maven-metadata.xml`
    VersionMetadata {
        group_id: String,
        artifact_id: String,
        version: String,
    },
    /// A checksum of the file at `of`.
    Checksum {
        of: String,
        algo: Algo,
    },
}

impl MavenPath {
    pub fn is_metadata(&self) -> bool {
        matches!(
            self,
            Self::ArtifactMetadata { .. } | Self::VersionMetadata { .. }
        )
    }
}

pub const METADATA: &str = "maven-metadata.xml";

fn valid_segment(s: &str) -> bool {
    // `.` and `..` never name a group, artifact or version (AssetPath refuses them too).
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '~'))
}

/// Parses a path; `None` when it is not a Maven 2 path (refused under the STRICT layout policy).
pub fn parse(path: &str) -> Option<MavenPath> {
    for algo in Algo::ALL {
        if let Some(of) = path.strip_suffix(algo.suffix()) {
            // What the checksums (of checksums...) are of, found in a loop: a recursive call
            // here nested one frame per `.md5` of a long URL.
            parse_file(strip_checksums(of))?;
            return Some(MavenPath::Checksum {
                of: of.to_owned(),
                algo,
            });
        }
    }
    parse_file(path)
}

fn strip_checksums(mut path: &str) -> &str {
    while let Some(of) = Algo::ALL.iter().find_map(|a| path.strip_suffix(a.suffix())) {
        path = of;
    }
    path
}

/// An artifact or metadata path (not a checksum).
fn parse_file(path: &str) -> Option<MavenPath> {
    let segs: Vec<&str> = path.split('/').collect();
    let (file, dirs) = segs.split_last()?;
    if !dirs.iter().all(|s| valid_segment(s)) {
        return None;
    }
    if *file == METADATA {
        return match dirs {
            [group @ .., artifact, version] if is_snapshot(version) && !group.is_empty() => {
                Some(MavenPath::VersionMetadata {
                    group_id: group.join("."),
                    artifact_id: (*artifact).to_owned(),
                    version: (*version).to_owned(),
                })
            }
            // Group-level metadata (plugin prefixes) has the same shape; it is kept as written.
            [group @ .., artifact] if !group.is_empty() => Some(MavenPath::ArtifactMetadata {
                group_id: group.join("."),
                artifact_id: (*artifact).to_owned(),
            }),
            _ => None,
        };
    }
    let [group @ .., artifact, base] = dirs else {
        return None;
    };
    if group.is_empty() {
        return None;
    }
    let rest = file.strip_prefix(artifact)?.strip_prefix('-')?;
    // The file's version: the directory's, or for SNAPSHOTs a timestamped one.
    let version = if rest.starts_with(base) && rest[base.len()..].starts_with(['.', '-']) {
        (*base).to_owned()
    } else {
        let prefix = base.strip_suffix("SNAPSHOT")?;
        let tail = rest.strip_prefix(prefix)?;
        // yyyyMMdd.HHmmss-N
        let ts_len = 15;
        let (ts, after) = (tail.get(..ts_len)?, &tail[ts_len..]);
        let after = after.strip_prefix('-')?;
        let n_len = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        if n_len == 0 || ts.as_bytes().get(8) != Some(&b'.') {
            return None;
        }
        format!("{prefix}{ts}-{}", &after[..n_len])
    };
    let after = &rest[version.len()..];
    let (classifier, extension) = if let Some(c) = after.strip_prefix('-') {
        let (cls, ext) = c.split_once('.')?;
        (Some(cls.to_owned()), ext.to_owned())
    } else {
        (None, after.strip_prefix('.')?.to_owned())
    };
    // The file name's parts are held to the directories' characters (a NUL or a control
    // character in an extension was accepted).
    if !valid_segment(&extension) || classifier.as_deref().is_some_and(|c| !valid_segment(c)) {
        return None;
    }
    Some(MavenPath::Artifact(Coords {
        group_id: group.join("."),
        artifact_id: (*artifact).to_owned(),
        base_version: (*base).to_owned(),
        version,
        classifier,
        extension,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts() {
        let Some(MavenPath::Artifact(c)) = parse("org/example/app/1.0/app-1.0.jar") else {
            panic!()
        };
        assert_eq!(
            (
                c.group_id.as_str(),
                c.artifact_id.as_str(),
                c.version.as_str()
            ),
            ("org.example", "app", "1.0")
        );
        assert_eq!((c.classifier, c.extension.as_str()), (None, "jar"));
        let Some(MavenPath::Artifact(c)) = parse("org/example/app/1.0/app-1.0-sources.tar.gz")
        else {
            panic!()
        };
        assert_eq!(
            (c.classifier.as_deref(), c.extension.as_str()),
            (Some("sources"), "tar.gz")
        );
        let Some(MavenPath::Artifact(c)) =
            parse("g/app/1.1-SNAPSHOT/app-1.1-20260101.120000-3-tests.jar")
        else {
            panic!()
        };
        assert_eq!(c.version, "1.1-20260101.120000-3");
        assert_eq!(c.timestamp(), Some(("20260101.120000".into(), 3)));
        assert_eq!(c.classifier.as_deref(), Some("tests"));
        assert!(c.is_snapshot());
        let Some(MavenPath::Artifact(c)) = parse("g/app/1.1-SNAPSHOT/app-1.1-SNAPSHOT.pom") else {
            panic!()
        };
        assert_eq!((c.version.as_str(), c.timestamp()), ("1.1-SNAPSHOT", None));
        for bad in [
            "app-1.0.jar",
            "g/app/1.0/other-1.0.jar",
            "g/app/1.0/app-2.0.jar",
            "g/app/1.0/app-1.0",
            "g/app/1.0/app-1.0-.jar",
            "g/a b/1/x",
            // Found by fuzzing: a NUL in the extension was accepted.
            "a0/a/1-SNAPSHOT/a-1-20260101.120000-7-aaaaaa.tar.gz\0",
            "g/app/1.0/app-1.0-a\u{7}.jar",
            "g/../1.0/..-1.0.jar",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn metadata_and_checksums() {
        assert_eq!(
            parse("org/example/app/maven-metadata.xml"),
            Some(MavenPath::ArtifactMetadata {
                group_id: "org.example".into(),
                artifact_id: "app".into()
            })
        );
        assert_eq!(
            parse("org/example/app/1.0-SNAPSHOT/maven-metadata.xml"),
            Some(MavenPath::VersionMetadata {
                group_id: "org.example".into(),
                artifact_id: "app".into(),
                version: "1.0-SNAPSHOT".into()
            })
        );
        assert_eq!(
            parse("org/example/app/1.0/app-1.0.jar.sha1"),
            Some(MavenPath::Checksum {
                of: "org/example/app/1.0/app-1.0.jar".into(),
                algo: Algo::Sha1
            })
        );
        assert!(matches!(
            parse("org/example/app/maven-metadata.xml.sha512"),
            Some(MavenPath::Checksum {
                algo: Algo::Sha512,
                ..
            })
        ));
        assert_eq!(parse("maven-metadata.xml"), None);
        assert!(matches!(
            parse("org/example/app/1.0/app-1.0.jar.sha1.md5"),
            Some(MavenPath::Checksum {
                algo: Algo::Md5,
                ..
            })
        ));
    }

    #[test]
    fn stacked_checksum_suffixes_do_not_recurse() {
        // Parsed recursively, one frame per suffix, this overflowed a worker's stack.
        let p = format!("g/a/1/a-1.jar{}", ".md5".repeat(200_000));
        assert!(parse(&p).is_some());
        assert_eq!(
            parse(&format!("g/a/1/b-1.jar{}", ".md5".repeat(200_000))),
            None
        );
    }
}
