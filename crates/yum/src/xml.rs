//! The rpm-md documents dnf reads: `primary.xml`, `filelists.xml`, `other.xml`, `repomd.xml`,
//! written as createrepo_c writes them.

use std::fmt::Write;

use crate::package::{Dep, Package};

pub const NS_COMMON: &str = "http://linux.duke.edu/metadata/common";
pub const NS_RPM: &str = "http://linux.duke.edu/metadata/rpm";
pub const NS_FILELISTS: &str = "http://linux.duke.edu/metadata/filelists";
pub const NS_OTHER: &str = "http://linux.duke.edu/metadata/other";
pub const NS_REPO: &str = "http://linux.duke.edu/metadata/repo";

/// XML text and attribute escaping (control characters other than tab/newline dropped, as XML 1.0
/// cannot carry them).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// An RPM as the repodata lists it: its metadata and where and what the file is.
pub struct Entry<'a> {
    pub pkg: &'a Package,
    /// The rpm's sha256 (`pkgid`).
    pub sha256: &'a str,
    /// Path relative to the repodata root.
    pub href: &'a str,
    pub size: u64,
    /// Upload time, seconds.
    pub file_time: u64,
}

/// createrepo's rule for files listed in primary (the ones dependency solving asks about).
pub fn is_primary_file(path: &str) -> bool {
    path.starts_with("/etc/") || path.contains("bin/") || path == "/usr/lib/sendmail"
}

fn version_attrs(p: &Package) -> String {
    format!(
        "epoch=\"{}\" ver=\"{}\" rel=\"{}\"",
        p.epoch,
        esc(&p.version),
        esc(&p.release)
    )
}

fn deps(out: &mut String, tag: &str, list: &[Dep]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "    <rpm:{tag}>");
    for d in list {
        let _ = write!(out, "      <rpm:entry name=\"{}\"", esc(&d.name));
        if !d.flags.is_empty() {
            let _ = write!(out, " flags=\"{}\"", d.flags);
        }
        if let Some(e) = &d.epoch {
            let _ = write!(out, " epoch=\"{}\"", esc(e));
        }
        if let Some(v) = &d.ver {
            let _ = write!(out, " ver=\"{}\"", esc(v));
        }
        if let Some(r) = &d.rel {
            let _ = write!(out, " rel=\"{}\"", esc(r));
        }
        if d.pre {
            out.push_str(" pre=\"1\"");
        }
        out.push_str("/>\n");
    }
    let _ = writeln!(out, "    </rpm:{tag}>");
}

/// Requires as createrepo lists them: no `rpmlib(...)`, no duplicates, none the package
/// itself provides (by name and exact version) or ships as a file.
pub fn listed_requires(p: &Package) -> Vec<Dep> {
    let mut out: Vec<Dep> = Vec::new();
    for r in &p.requires {
        if r.name.starts_with("rpmlib(") {
            continue;
        }
        let self_provided = p.provides.iter().any(|pr| {
            pr.name == r.name
                && pr.flags == r.flags
                && pr.epoch == r.epoch
                && pr.ver == r.ver
                && pr.rel == r.rel
        }) || (r.name.starts_with('/')
            && is_primary_file(&r.name)
            && p.files.iter().any(|f| f.path == r.name));
        if self_provided {
            continue;
        }
        // As createrepo: a repeat of the requirement emitted last with this name is dropped.
        if out
            .iter()
            .rev()
            .find(|d| d.name == r.name)
            .is_some_and(|d| d == r)
        {
            continue;
        }
        out.push(r.clone());
    }
    out
}

pub fn primary_package(e: &Entry<'_>) -> String {
    let p = e.pkg;
    let mut o = String::with_capacity(2048);
    let _ = write!(
        o,
        "<package type=\"rpm\">\n  <name>{}</name>\n  <arch>{}</arch>\n  <version {}/>\n  <checksum type=\"sha256\" pkgid=\"YES\">{}</checksum>\n  <summary>{}</summary>\n  <description>{}</description>\n  <packager>{}</packager>\n  <url>{}</url>\n  <time file=\"{}\" build=\"{}\"/>\n  <size package=\"{}\" installed=\"{}\" archive=\"{}\"/>\n  <location href=\"{}\"/>\n  <format>\n",
        esc(&p.name),
        esc(&p.arch),
        version_attrs(p),
        e.sha256,
        esc(&p.summary),
        esc(&p.description),
        esc(&p.packager),
        esc(&p.url),
        e.file_time,
        p.build_time,
        e.size,
        p.installed_size,
        p.archive_size,
        esc(e.href),
    );
    let _ = write!(
        o,
        "    <rpm:license>{}</rpm:license>\n    <rpm:vendor>{}</rpm:vendor>\n    <rpm:group>{}</rpm:group>\n    <rpm:buildhost>{}</rpm:buildhost>\n    <rpm:sourcerpm>{}</rpm:sourcerpm>\n    <rpm:header-range start=\"{}\" end=\"{}\"/>\n",
        esc(&p.license),
        esc(&p.vendor),
        esc(&p.group),
        esc(&p.buildhost),
        esc(&p.sourcerpm),
        p.header_start,
        p.header_end
    );
    deps(&mut o, "provides", &p.provides);
    deps(&mut o, "requires", &listed_requires(p));
    deps(&mut o, "conflicts", &p.conflicts);
    deps(&mut o, "obsoletes", &p.obsoletes);
    deps(&mut o, "suggests", &p.suggests);
    deps(&mut o, "enhances", &p.enhances);
    deps(&mut o, "recommends", &p.recommends);
    deps(&mut o, "supplements", &p.supplements);
    for f in p.files.iter().filter(|f| is_primary_file(&f.path)) {
        match f.kind.as_str() {
            "" => {
                let _ = writeln!(o, "    <file>{}</file>", esc(&f.path));
            }
            k => {
                let _ = writeln!(o, "    <file type=\"{k}\">{}</file>", esc(&f.path));
            }
        }
    }
    o.push_str("  </format>\n</package>\n");
    o
}

/// `<package pkgid name arch>` with its `<version/>`, as filelists and other open an entry.
fn package_head(e: &Entry<'_>) -> String {
    let p = e.pkg;
    format!(
        "<package pkgid=\"{}\" name=\"{}\" arch=\"{}\">\n  <version {}/>\n",
        e.sha256,
        esc(&p.name),
        esc(&p.arch),
        version_attrs(p)
    )
}

pub fn filelists_package(e: &Entry<'_>) -> String {
    let mut o = package_head(e);
    for f in &e.pkg.files {
        match f.kind.as_str() {
            "" => {
                let _ = writeln!(o, "  <file>{}</file>", esc(&f.path));
            }
            k => {
                let _ = writeln!(o, "  <file type=\"{k}\">{}</file>", esc(&f.path));
            }
        }
    }
    o.push_str("</package>\n");
    o
}

pub fn other_package(e: &Entry<'_>) -> String {
    let mut o = package_head(e);
    // As createrepo: the newest ten entries, oldest first.
    for c in e.pkg.changelogs.iter().take(10).rev() {
        let _ = writeln!(
            o,
            "  <changelog author=\"{}\" date=\"{}\">{}</changelog>",
            esc(&c.author),
            c.date,
            esc(&c.text)
        );
    }
    o.push_str("</package>\n");
    o
}

pub const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

pub fn primary_open(n: usize) -> String {
    format!("{XML_DECL}<metadata xmlns=\"{NS_COMMON}\" xmlns:rpm=\"{NS_RPM}\" packages=\"{n}\">\n")
}
pub const PRIMARY_CLOSE: &str = "</metadata>\n";
pub fn filelists_open(n: usize) -> String {
    format!("{XML_DECL}<filelists xmlns=\"{NS_FILELISTS}\" packages=\"{n}\">\n")
}
pub const FILELISTS_CLOSE: &str = "</filelists>\n";
pub fn other_open(n: usize) -> String {
    format!("{XML_DECL}<otherdata xmlns=\"{NS_OTHER}\" packages=\"{n}\">\n")
}
pub const OTHER_CLOSE: &str = "</otherdata>\n";

/// One `<data>` of repomd.xml.
pub struct DataFile {
    pub kind: &'static str,
    pub href: String,
    pub sha256: String,
    pub size: u64,
    pub open_sha256: String,
    pub open_size: u64,
}

pub fn repomd(revision: u64, timestamp: u64, files: &[DataFile]) -> String {
    let mut o = format!(
        "{XML_DECL}<repomd xmlns=\"{NS_REPO}\" xmlns:rpm=\"{NS_RPM}\">\n  <revision>{revision}</revision>\n"
    );
    for f in files {
        let _ = write!(
            o,
            "  <data type=\"{}\">\n    <checksum type=\"sha256\">{}</checksum>\n    <open-checksum type=\"sha256\">{}</open-checksum>\n    <location href=\"{}\"/>\n    <timestamp>{timestamp}</timestamp>\n    <size>{}</size>\n    <open-size>{}</open-size>\n  </data>\n",
            f.kind,
            f.sha256,
            f.open_sha256,
            esc(&f.href),
            f.size,
            f.open_size
        );
    }
    o.push_str("</repomd>\n");
    o
}

/// A file `repomd.xml` names: its location and, when given, its sha256.
#[derive(Debug, Clone, PartialEq)]
pub struct RepomdRef {
    pub kind: String,
    pub href: String,
    pub sha256: Option<String>,
}

/// The `<data>` entries of a `repomd.xml`.
pub fn repomd_refs(text: &str) -> Result<Vec<RepomdRef>, String> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(text);
    let mut out = Vec::new();
    let mut cur: Option<RepomdRef> = None;
    let mut in_checksum: Option<String> = None;
    loop {
        match r.read_event().map_err(|e| format!("repomd.xml: {e}"))? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"data" => {
                let kind = e
                    .try_get_attribute("type")
                    .ok()
                    .flatten()
                    .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                    .unwrap_or_default();
                cur = Some(RepomdRef {
                    kind,
                    href: String::new(),
                    sha256: None,
                });
            }
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"location" => {
                if let Some(c) = &mut cur
                    && let Ok(Some(a)) = e.try_get_attribute("href")
                {
                    c.href = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
                }
            }
            Event::Start(e) if e.local_name().as_ref() == b"checksum" => {
                in_checksum = e
                    .try_get_attribute("type")
                    .ok()
                    .flatten()
                    .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
            }
            Event::Text(t) => {
                if let (Some(kind), Some(c)) = (&in_checksum, &mut cur)
                    && kind == "sha256"
                {
                    let v = t.decode().map_err(|e| e.to_string())?;
                    c.sha256 = Some(v.trim().to_owned());
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"checksum" => in_checksum = None,
            Event::End(e) if e.local_name().as_ref() == b"data" => {
                if let Some(c) = cur.take()
                    && !c.href.is_empty()
                {
                    out.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// The top-level `<package ...>...</package>` elements of a primary, filelists or other document.
pub fn split_packages(doc: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = doc;
    let mut offset = 0;
    while let Some(i) = rest.find("<package") {
        let after = &rest[i + "<package".len()..];
        if !after.starts_with([' ', '>', '\n', '\t', '\r']) {
            rest = after;
            offset += i + "<package".len();
            continue;
        }
        let Some(j) = rest[i..].find("</package>") else {
            break;
        };
        let end = i + j + "</package>".len();
        out.push(&doc[offset + i..offset + end]);
        rest = &rest[end..];
        offset += end;
    }
    out
}

/// The `pkgid` of a package element: the attribute (filelists, other) or the checksum (primary).
pub fn pkgid(pkg: &str) -> Option<&str> {
    if let Some(i) = pkg.find("pkgid=\"") {
        let head = &pkg[..i];
        // In primary, `pkgid="YES"` sits on <checksum>; the id is the element's text.
        if !head.contains("<checksum") {
            let v = &pkg[i + 7..];
            return v.find('"').map(|j| &v[..j]);
        }
    }
    let c = pkg.find("<checksum")?;
    let open_end = pkg[c..].find('>')? + c + 1;
    let close = pkg[open_end..].find("</checksum>")? + open_end;
    Some(pkg[open_end..close].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_split_and_ids() {
        let repomd = repomd(
            1,
            1,
            &[DataFile {
                kind: "primary",
                href: "repodata/ab-primary.xml.gz".into(),
                sha256: "ab".into(),
                size: 1,
                open_sha256: "cd".into(),
                open_size: 2,
            }],
        );
        assert_eq!(
            repomd_refs(&repomd).expect("parse"),
            vec![RepomdRef {
                kind: "primary".into(),
                href: "repodata/ab-primary.xml.gz".into(),
                sha256: Some("ab".into())
            }]
        );
        let doc = "<metadata packages=\"2\">\n<package type=\"rpm\"><name>a</name><checksum type=\"sha256\" pkgid=\"YES\">111</checksum></package>\n<package type=\"rpm\"><checksum type=\"sha256\" pkgid=\"YES\">222</checksum></package></metadata>";
        let p = split_packages(doc);
        assert_eq!(p.len(), 2);
        assert_eq!(pkgid(p[0]), Some("111"));
        assert_eq!(pkgid(p[1]), Some("222"));
        let fl = "<filelists><package pkgid=\"333\" name=\"a\" arch=\"noarch\"><file>/x</file></package></filelists>";
        assert_eq!(pkgid(split_packages(fl)[0]), Some("333"));
        assert_eq!(esc("a<b>&\"c\u{1}"), "a&lt;b&gt;&amp;&quot;c");
    }
}
