//! What repodata needs of an RPM, read from its header only (lead, signature and main header;
//! the payload is never read). Kept as JSON in the asset's attributes, so repodata is rebuilt
//! from the database without opening a single RPM.

use rpm::{DependencyFlags, FileFlags, FileType, IndexSignatureTag, IndexTag, PackageMetadata};
use serde::{Deserialize, Serialize};

/// Headers beyond this are refused (a real one is kilobytes to a few MiB).
pub const MAX_HEADER: usize = 64 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dep {
    pub name: String,
    /// `EQ`, `LT`, `GT`, `LE`, `GE`, or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub flags: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pre: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct File {
    pub path: String,
    /// `dir`, `ghost` or empty for a plain file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Changelog {
    pub author: String,
    pub date: u64,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub arch: String,
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub summary: String,
    pub description: String,
    pub packager: String,
    pub url: String,
    pub build_time: u64,
    pub installed_size: u64,
    pub archive_size: u64,
    pub license: String,
    pub vendor: String,
    pub group: String,
    pub buildhost: String,
    pub sourcerpm: String,
    pub header_start: u64,
    pub header_end: u64,
    pub provides: Vec<Dep>,
    pub requires: Vec<Dep>,
    pub conflicts: Vec<Dep>,
    pub obsoletes: Vec<Dep>,
    pub recommends: Vec<Dep>,
    pub suggests: Vec<Dep>,
    pub supplements: Vec<Dep>,
    pub enhances: Vec<Dep>,
    pub files: Vec<File>,
    pub changelogs: Vec<Changelog>,
}

impl Package {
    /// `name-[epoch:]version-release.arch`
    pub fn nevra(&self) -> String {
        let e = if self.epoch > 0 {
            format!("{}:", self.epoch)
        } else {
            String::new()
        };
        format!(
            "{}-{e}{}-{}.{}",
            self.name, self.version, self.release, self.arch
        )
    }
    /// `epoch:version-release`, the component version.
    pub fn evr(&self) -> String {
        format!("{}:{}-{}", self.epoch, self.version, self.release)
    }
}

/// How many leading bytes hold lead, signature and header, once enough of them are known.
pub fn header_len(prefix: &[u8]) -> Option<Result<usize, String>> {
    const LEAD: usize = 96;
    let section = |at: usize| -> Option<Result<usize, String>> {
        let h = prefix.get(at..at + 16)?;
        if h[0..3] != [0x8e, 0xad, 0xe8] {
            return Some(Err("not an RPM: bad header magic".into()));
        }
        let n = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize;
        let dl = u32::from_be_bytes([h[12], h[13], h[14], h[15]]) as usize;
        Some(Ok(16 + 16 * n + dl))
    };
    if prefix.len() >= 4 && prefix[0..4] != [0xed, 0xab, 0xee, 0xdb] {
        return Some(Err("not an RPM: bad lead magic".into()));
    }
    let sig = match section(LEAD)? {
        Ok(n) => n,
        Err(e) => return Some(Err(e)),
    };
    // The signature header is padded to a multiple of 8.
    let main_at = LEAD + sig.div_ceil(8) * 8;
    let main = match section(main_at)? {
        Ok(n) => n,
        Err(e) => return Some(Err(e)),
    };
    let total = main_at + main;
    Some(if total > MAX_HEADER {
        Err(format!("RPM header of {total} bytes exceeds the limit"))
    } else {
        Ok(total)
    })
}

fn flags(f: DependencyFlags) -> &'static str {
    let cmp = f & (DependencyFlags::LESS | DependencyFlags::GREATER | DependencyFlags::EQUAL);
    match cmp {
        x if x == DependencyFlags::EQUAL => "EQ",
        x if x == DependencyFlags::LESS => "LT",
        x if x == DependencyFlags::GREATER => "GT",
        x if x == DependencyFlags::LE => "LE",
        x if x == DependencyFlags::GE => "GE",
        _ => "",
    }
}

fn deps(list: Result<Vec<rpm::Dependency>, rpm::Error>) -> Vec<Dep> {
    let pre_mask = DependencyFlags::PREREQ
        | DependencyFlags::SCRIPT_PRE
        | DependencyFlags::SCRIPT_POST
        | DependencyFlags::PRETRANS
        | DependencyFlags::POSTTRANS;
    list.unwrap_or_default()
        .into_iter()
        .map(|d| {
            let f = flags(d.flags);
            let (epoch, ver, rel) = if d.version.is_empty() {
                (None, None, None)
            } else {
                // `[epoch:]version[-release]`; createrepo writes epoch 0 when absent.
                let (e, rest) = match d.version.split_once(':') {
                    Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e.to_owned(), r),
                    _ => ("0".to_owned(), d.version.as_str()),
                };
                let (v, r) = match rest.rsplit_once('-') {
                    Some((v, r)) => (v.to_owned(), Some(r.to_owned())),
                    None => (rest.to_owned(), None),
                };
                (Some(e), Some(v), r)
            };
            Dep {
                name: d.name,
                flags: f.to_owned(),
                epoch,
                ver,
                rel,
                pre: d.flags.intersects(pre_mask),
            }
        })
        .collect()
}

/// Checks one header structure (signature or main, at `at`) the way the rpm crate reads it,
/// so that crate never sees a count or an offset beyond the bytes there are: it allocates by
/// count and slices by offset unchecked (found by fuzzing: a 52 GB allocation that aborts the
/// process, overflowing multiplications, out-of-range slices). Returns the structure's length.
fn check_section(b: &[u8], at: usize) -> Result<usize, String> {
    let bad = |why: &str| Err(format!("not a valid RPM: header at byte {at}: {why}"));
    let word = |i: usize| -> Option<u32> {
        let w = b.get(at + i..at + i + 4)?;
        Some(u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    let (Some(n), Some(data)) = (word(8), word(12)) else {
        return bad("truncated");
    };
    let (n, data) = (n as usize, data as usize);
    let len = 16 + 16 * n + data;
    if at + len > b.len() {
        return bad("counts beyond its bytes");
    }
    for e in 0..n {
        let entry = 16 + 16 * e;
        let (Some(kind), Some(offset), Some(count)) =
            (word(entry + 4), word(entry + 8), word(entry + 12))
        else {
            return bad("truncated index");
        };
        let (offset, count) = (offset as usize, count as usize);
        // The offset is signed in the format: a negative one is huge here and refused too.
        let Some(room) = data.checked_sub(offset) else {
            return bad("entry offset beyond the data");
        };
        let size = match kind {
            0..=2 | 7 => 1,
            3 => 2,
            4 => 4,
            5 => 8,
            // Strings take at least their NUL each.
            6 | 8 | 9 => 1,
            _ => return bad("unknown entry type"),
        };
        if count.checked_mul(size).is_none_or(|need| need > room) {
            return bad("entry count beyond the data");
        }
    }
    Ok(len)
}

/// Reads the package metadata from the leading bytes of an RPM (at least [`header_len`]).
pub fn parse(header: &[u8]) -> Result<Package, String> {
    const LEAD: usize = 96;
    let sig = check_section(header, LEAD)?;
    check_section(header, LEAD + sig.div_ceil(8) * 8)?;
    let mut input = header;
    // A panic in the rpm crate on a hostile header must fail this upload, not the worker.
    let m = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        PackageMetadata::parse(&mut input)
    }))
    .map_err(|_| "not a valid RPM: unreadable header".to_string())?
    .map_err(|e| format!("not a valid RPM: {e}"))?;
    let s = |r: Result<&str, rpm::Error>| r.map(str::to_owned).unwrap_or_default();
    let name = m
        .get_name()
        .map_err(|e| format!("RPM without a name: {e}"))?;
    let offsets = m.get_package_segment_offsets();
    let h = &m.header;
    let installed_size = h
        .get_entry_data_as_u64(IndexTag::RPMTAG_LONGSIZE)
        .or_else(|_| {
            h.get_entry_data_as_u32(IndexTag::RPMTAG_SIZE)
                .map(u64::from)
        })
        .unwrap_or(0);
    let archive_size = h
        .get_entry_data_as_u64(IndexTag::RPMTAG_LONGARCHIVESIZE)
        .or_else(|_| {
            h.get_entry_data_as_u32(IndexTag::RPMTAG_ARCHIVESIZE)
                .map(u64::from)
        })
        .or_else(|_| {
            m.signature
                .get_entry_data_as_u64(IndexSignatureTag::RPMSIGTAG_LONGARCHIVESIZE)
        })
        .or_else(|_| {
            m.signature
                .get_entry_data_as_u32(IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE)
                .map(u64::from)
        })
        .unwrap_or(0);
    let files = m
        .get_file_entries()
        .unwrap_or_default()
        .into_iter()
        .map(|f| File {
            path: f.path().to_string_lossy().into_owned(),
            kind: if f.flags().contains(FileFlags::GHOST) {
                "ghost".into()
            } else if f.file_type() == FileType::Dir {
                "dir".into()
            } else {
                String::new()
            },
        })
        .collect();
    let changelogs = m
        .get_changelog_entries()
        .unwrap_or_default()
        .into_iter()
        .map(|c| Changelog {
            author: c.name,
            date: c.timestamp,
            text: c.description,
        })
        .collect();
    let arch = if m.is_source_package() {
        "src".to_owned()
    } else {
        s(m.get_arch())
    };
    Ok(Package {
        name: name.to_owned(),
        arch,
        epoch: m.get_epoch().unwrap_or(0),
        version: s(m.get_version()),
        release: s(m.get_release()),
        summary: s(m.get_summary()),
        description: s(m.get_description()),
        packager: s(m.get_packager()),
        url: s(m.get_url()),
        build_time: m.get_build_time().unwrap_or(0),
        installed_size,
        archive_size,
        license: s(m.get_license()),
        vendor: s(m.get_vendor()),
        group: s(m.get_group()),
        buildhost: s(m.get_build_host()),
        sourcerpm: s(m.get_source_rpm()),
        header_start: offsets.header,
        header_end: offsets.payload,
        provides: deps(m.get_provides()),
        requires: deps(m.get_requires()),
        conflicts: deps(m.get_conflicts()),
        obsoletes: deps(m.get_obsoletes()),
        recommends: deps(m.get_recommends()),
        suggests: deps(m.get_suggests()),
        supplements: deps(m.get_supplements()),
        enhances: deps(m.get_enhances()),
        files,
        changelogs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RPM: &[u8] =
        include_bytes!("../../server/tests/fixtures/yum/arca-hello-1.0-1.noarch.rpm");

    fn be(b: &[u8], at: usize) -> usize {
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
    }

    #[test]
    fn hostile_counts_and_offsets_are_refused() {
        let n = header_len(RPM).unwrap().unwrap();
        let good = &RPM[..n];
        assert!(parse(good).is_ok());
        let sig_len = 16 + 16 * be(good, 96 + 8) + be(good, 96 + 12);
        let main = 96 + sig_len.div_ceil(8) * 8;
        let entries = be(good, main + 8);
        // Found by fuzzing: a huge count made the rpm crate allocate tens of GB (abort), a
        // huge offset or index count panicked in it.
        for e in 0..entries {
            let at = main + 16 + 16 * e;
            for (field, value) in [(12, 0x0fff_fff0u32), (8, 0xffff_fff0), (8, 0x7fff_ffff)] {
                let mut h = good.to_vec();
                h[at + field..at + field + 4].copy_from_slice(&value.to_be_bytes());
                assert!(parse(&h).is_err(), "entry {e} field {field}");
            }
        }
        let mut h = good.to_vec();
        h[96 + 8..96 + 12].copy_from_slice(&0x1000_0000u32.to_be_bytes());
        assert!(parse(&h).is_err());
        assert!(parse(&good[..n / 2]).is_err());
    }
}
