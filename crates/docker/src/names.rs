//! Image names, references and the endpoint a `/v2/...` path addresses.

/// What a path under `/v2/` asks for; `name` is the image name as the client wrote it.
#[derive(Debug, PartialEq, Eq)]
pub enum Endpoint<'a> {
    Manifest {
        name: &'a str,
        reference: &'a str,
    },
    Blob {
        name: &'a str,
        digest: &'a str,
    },
    /// `id` is `None` for the `POST .../blobs/uploads/` that starts one.
    Upload {
        name: &'a str,
        id: Option<&'a str>,
    },
    Tags {
        name: &'a str,
    },
    Referrers {
        name: &'a str,
        digest: &'a str,
    },
}

/// Splits the part of the path after `/v2/`.
pub fn endpoint(tail: &str) -> Option<Endpoint<'_>> {
    if let Some(name) = tail.strip_suffix("/tags/list") {
        return Some(Endpoint::Tags { name });
    }
    if let Some(i) = tail.rfind("/blobs/uploads") {
        let (name, rest) = (&tail[..i], &tail[i + "/blobs/uploads".len()..]);
        let id = match rest {
            "" | "/" => None,
            r => Some(r.strip_prefix('/')?).filter(|id| !id.contains('/')),
        };
        if id.is_none() && !matches!(rest, "" | "/") {
            return None;
        }
        return Some(Endpoint::Upload { name, id });
    }
    let split = |sep: &str| {
        tail.rfind(sep)
            .map(|i| (&tail[..i], &tail[i + sep.len()..]))
            .filter(|(n, r)| !n.is_empty() && !r.is_empty() && !r.contains('/'))
    };
    if let Some((name, reference)) = split("/manifests/") {
        return Some(Endpoint::Manifest { name, reference });
    }
    if let Some((name, digest)) = split("/blobs/") {
        return Some(Endpoint::Blob { name, digest });
    }
    if let Some((name, digest)) = split("/referrers/") {
        return Some(Endpoint::Referrers { name, digest });
    }
    None
}

/// The spec's name grammar: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
pub fn valid_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 255 {
        return Err("a name is 1 to 255 characters");
    }
    for comp in name.split('/') {
        let b = comp.as_bytes();
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
            return Err("each path component starts and ends with [a-z0-9]");
        }
        let mut i = 0;
        while i < b.len() {
            if alnum(b[i]) {
                i += 1;
                continue;
            }
            // A separator run: '.', '_', '__' or any number of '-'.
            let start = i;
            while i < b.len() && !alnum(b[i]) {
                i += 1;
            }
            let sep = &comp[start..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
            if !ok {
                return Err("components hold only [a-z0-9] joined by '.', '_', '__' or '-'");
            }
        }
    }
    Ok(())
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A reference is a digest when it holds a ':' (tags cannot).
pub fn is_digest(reference: &str) -> bool {
    reference.contains(':')
}

/// A content digest as clients name it: `sha256:<64 hex>` (also the key of blob storage) or
/// `sha512:<128 hex>` (content stored under its SHA-256 all the same, recorded under this name).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OciDigest {
    Sha256(arca_core::model::Digest),
    /// Lowercase hex.
    Sha512(String),
}

impl OciDigest {
    /// The digest of `bytes` in the same algorithm as `self`.
    pub fn same_algorithm_of(&self, bytes: &[u8]) -> Self {
        let mut h = arca_core::blob::MultiHasher::new(matches!(self, Self::Sha512(_)));
        h.update(bytes);
        let (d, sums) = h.finish();
        match self {
            Self::Sha256(_) => Self::Sha256(d),
            Self::Sha512(_) => Self::Sha512(sums.sha512),
        }
    }

    /// Whether content with these checksums has this digest (`false` when the checksum of
    /// the algorithm was not computed).
    pub fn matches(&self, sums: &arca_core::model::Checksums) -> bool {
        match self {
            Self::Sha256(d) => d.hex() == sums.sha256,
            Self::Sha512(h) => *h == sums.sha512,
        }
    }
}

impl std::fmt::Display for OciDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sha256(d) => d.fmt(f),
            Self::Sha512(h) => write!(f, "sha512:{h}"),
        }
    }
}

/// Parses `sha256:<64 hex>` or `sha512:<128 hex>` (lowercase); other algorithms are refused.
pub fn parse_oci_digest(s: &str) -> Result<OciDigest, String> {
    if let Some(hex) = s.strip_prefix("sha512:") {
        if hex.len() != 128
            || !hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return Err(format!("invalid digest {s:?}"));
        }
        return Ok(OciDigest::Sha512(hex.to_owned()));
    }
    parse_digest(s).map(OciDigest::Sha256)
}

/// Parses `sha256:<64 hex>`; other algorithms are refused.
pub fn parse_digest(s: &str) -> Result<arca_core::model::Digest, String> {
    let Some(hex) = s.strip_prefix("sha256:") else {
        return Err(format!(
            "unsupported digest algorithm in {s:?}: only sha256 and sha512"
        ));
    };
    // Digest::parse also takes a `sha256:` prefix: `sha256:sha256:<hex>` was accepted.
    if hex.contains(':') {
        return Err(format!("invalid digest {s:?}"));
    }
    arca_core::model::Digest::parse(hex).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint("hosted/team/app/manifests/1"),
            Some(Endpoint::Manifest {
                name: "hosted/team/app",
                reference: "1"
            })
        );
        assert_eq!(
            endpoint("a/manifests/b/manifests/sha256:ab"),
            Some(Endpoint::Manifest {
                name: "a/manifests/b",
                reference: "sha256:ab"
            })
        );
        assert_eq!(
            endpoint("h/app/blobs/uploads/"),
            Some(Endpoint::Upload {
                name: "h/app",
                id: None
            })
        );
        assert_eq!(
            endpoint("h/app/blobs/uploads/1234-ab"),
            Some(Endpoint::Upload {
                name: "h/app",
                id: Some("1234-ab")
            })
        );
        assert_eq!(endpoint("h/app/blobs/uploads/a/b"), None);
        assert_eq!(
            endpoint("h/app/blobs/sha256:00"),
            Some(Endpoint::Blob {
                name: "h/app",
                digest: "sha256:00"
            })
        );
        assert_eq!(
            endpoint("h/app/tags/list"),
            Some(Endpoint::Tags { name: "h/app" })
        );
        assert_eq!(
            endpoint("h/app/referrers/sha256:00"),
            Some(Endpoint::Referrers {
                name: "h/app",
                digest: "sha256:00"
            })
        );
        assert_eq!(endpoint("h/app/other"), None);
    }

    #[test]
    fn names_and_tags() {
        for ok in ["a", "team/app", "a.b/c_d/e__f/g---h", "0/1"] {
            assert!(valid_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "-a", "a-", "a..b", "a___b", "a/../b", "a b",
        ] {
            assert!(valid_name(bad).is_err(), "{bad}");
        }
        assert!(valid_tag("1.0_rc-1") && valid_tag("_x") && valid_tag("latest"));
        assert!(
            !valid_tag(".x") && !valid_tag("") && !valid_tag("a:b") && !valid_tag(&"x".repeat(129))
        );
    }

    #[test]
    fn digests() {
        let hex = "ab".repeat(32);
        assert!(parse_digest(&format!("sha256:{hex}")).is_ok());
        // Found by fuzzing: a doubled prefix was accepted (and read as another string).
        assert!(parse_digest(&format!("sha256:sha256:{hex}")).is_err());
        assert!(parse_digest(&hex).is_err());
        assert!(parse_digest(&format!("sha512:{hex}")).is_err());
        let long = "cd".repeat(64);
        let d = parse_oci_digest(&format!("sha512:{long}")).expect("sha512");
        assert_eq!(d.to_string(), format!("sha512:{long}"));
        assert!(parse_oci_digest(&format!("sha512:{hex}")).is_err());
        assert!(parse_oci_digest(&format!("sha512:{}", "CD".repeat(64))).is_err());
        assert!(parse_oci_digest(&format!("sha384:{hex}")).is_err());
        assert!(matches!(
            parse_oci_digest(&format!("sha256:{hex}")),
            Ok(OciDigest::Sha256(_))
        ));
        let e = OciDigest::Sha512(String::new()).same_algorithm_of(b"");
        assert!(e.to_string().starts_with("sha512:cf83e135"));
    }
}
