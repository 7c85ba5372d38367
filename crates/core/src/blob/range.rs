/// One HTTP byte range as asked (`bytes=a-b`, `bytes=a-`, `bytes=-n`), resolved against a size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    From { first: u64, last: Option<u64> },
    Suffix(u64),
}

impl ByteRange {
    /// Parses a `Range` header value. Multi-range and non-byte units give `None`, so the whole
    /// body is served, which RFC 9110 allows.
    pub fn parse_header(v: &str) -> Option<Self> {
        let spec = v.trim().strip_prefix("bytes=")?;
        if spec.contains(',') {
            return None;
        }
        let (a, b) = spec.split_once('-')?;
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() {
            return b.parse().ok().map(Self::Suffix);
        }
        let first = a.parse().ok()?;
        let last = if b.is_empty() {
            None
        } else {
            Some(b.parse().ok()?)
        };
        if last.is_some_and(|l| l < first) {
            return None;
        }
        Some(Self::From { first, last })
    }

    /// `(first, last)` inclusive, or `None` when unsatisfiable.
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        if size == 0 {
            return None;
        }
        match self {
            Self::From { first, last } if first < size => {
                Some((first, last.map_or(size - 1, |l| l.min(size - 1))))
            }
            Self::From { .. } => None,
            Self::Suffix(0) => None,
            Self::Suffix(n) => Some((size.saturating_sub(n), size - 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves() {
        let r = |s| ByteRange::parse_header(s);
        assert_eq!(r("bytes=0-9").unwrap().resolve(100), Some((0, 9)));
        assert_eq!(r("bytes=90-").unwrap().resolve(100), Some((90, 99)));
        assert_eq!(r("bytes=-10").unwrap().resolve(100), Some((90, 99)));
        assert_eq!(r("bytes=-1000").unwrap().resolve(100), Some((0, 99)));
        assert_eq!(r("bytes=50-1000").unwrap().resolve(100), Some((50, 99)));
        assert_eq!(r("bytes=100-").unwrap().resolve(100), None);
        assert!(r("bytes=5-1").is_none());
        assert!(r("items=0-1").is_none());
        assert!(r("bytes=0-1,5-6").is_none());
    }
}
