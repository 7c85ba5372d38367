//! Project names (PEP 503 normalisation) and distribution file names (wheels, sdists).

/// `Foo.Bar_baz` → `foo-bar-baz`
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A valid project name (PEP 508): letters and digits at both ends, `.-_` inside.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 200
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 100
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '_' | '-'))
        && v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Wheel,
    Sdist,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistFile {
    pub project: String,
    pub version: String,
    pub kind: Kind,
}

const SDIST_EXTS: [&str; 4] = [".tar.gz", ".zip", ".tar.bz2", ".tgz"];

/// Parses a wheel or sdist file name; `None` when it follows neither naming rule.
pub fn parse_filename(f: &str) -> Option<DistFile> {
    if f.contains('/') || f.contains('\\') || f.starts_with('.') {
        return None;
    }
    if let Some(stem) = f.strip_suffix(".whl") {
        // {distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl
        let parts: Vec<&str> = stem.split('-').collect();
        if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        if !valid_name(parts[0]) || !valid_version(parts[1]) {
            return None;
        }
        if parts.len() == 6 && !parts[2].starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        // Build and compatibility tags (`1`, `py2.py3`, `manylinux_2_17_x86_64`): a NUL or
        // a control character there was accepted into the stored file name.
        let tag_ok = |t: &&str| {
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
        };
        if !parts[2..].iter().all(tag_ok) {
            return None;
        }
        return Some(DistFile {
            project: parts[0].into(),
            version: parts[1].into(),
            kind: Kind::Wheel,
        });
    }
    let stem = SDIST_EXTS.iter().find_map(|e| f.strip_suffix(e))?;
    // The version starts after the last '-' followed by a digit (legacy names may hold '-').
    let idx = stem
        .char_indices()
        .rev()
        .find(|(i, c)| *c == '-' && stem[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(i, _)| i)?;
    let (name, version) = (&stem[..idx], &stem[idx + 1..]);
    (valid_name(name) && valid_version(version)).then(|| DistFile {
        project: name.into(),
        version: version.into(),
        kind: Kind::Sdist,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        assert_eq!(normalize("Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(normalize("requests"), "requests");
        assert_eq!(normalize("zope.interface"), "zope-interface");
    }

    #[test]
    fn filenames() {
        let w = parse_filename("arca_demo-1.0.2-py3-none-any.whl").unwrap();
        assert_eq!(
            (w.project.as_str(), w.version.as_str(), w.kind),
            ("arca_demo", "1.0.2", Kind::Wheel)
        );
        let w = parse_filename("numpy-2.0.0-1-cp311-cp311-manylinux_2_17_x86_64.whl").unwrap();
        assert_eq!(w.version, "2.0.0");
        let s = parse_filename("arca-demo-1.0.2.tar.gz").unwrap();
        assert_eq!(
            (s.project.as_str(), s.version.as_str(), s.kind),
            ("arca-demo", "1.0.2", Kind::Sdist)
        );
        assert_eq!(
            parse_filename("zope.interface-6.0.zip").unwrap().project,
            "zope.interface"
        );
        for bad in [
            "x.whl",
            "a-1.0.whl",
            "a-1.0-py3-none.whl",
            "a.tar.gz",
            "evil/../a-1.0.tar.gz",
            "-1.0.tar.gz",
            "a-1.0.exe",
            "a-b.tar.gz",
            // Found by fuzzing: tags were not checked.
            "00A-0a-1\0-cp311-cp311-manylinux_2_17_x86_64.whl",
            "a-1.0-py3-none-any\u{7}.whl",
        ] {
            assert_eq!(parse_filename(bad), None, "{bad}");
        }
    }
}
