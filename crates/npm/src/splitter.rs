//! Splits an `npm publish` body as it arrives: the packument JSON is kept (bounded), and the
//! base64 `data` of its attachment is decoded on the fly and handed on, so a tarball is never
//! held in memory whole, however large the publish.

use base64::Engine;

use crate::error::{NpmError, Result, bad};

#[derive(Debug)]
enum Frame {
    Object { expecting_key: bool, key: Vec<u8> },
    Array,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Str {
    Key,
    Value,
    Data,
}

/// What one chunk of body gave: decoded tarball bytes, in order.
pub type Decoded = Vec<u8>;

pub struct Splitter {
    stack: Vec<Frame>,
    /// Inside a string (which kind), and whether the last byte was a backslash.
    string: Option<(Str, bool)>,
    key: Vec<u8>,
    /// The packument without the attachment's data (which reads as `""`).
    doc: Vec<u8>,
    doc_limit: usize,
    /// Base64 characters not decoded yet (fewer than a quantum, or a chunk's worth).
    b64: Vec<u8>,
    /// Attachments seen.
    pub attachments: usize,
    /// Tarball bytes decoded so far.
    pub decoded: u64,
}

const KEY_LIMIT: usize = 4096;
/// Base64 decoded per step: a multiple of 4.
const B64_STEP: usize = 64 * 1024;

impl Splitter {
    pub fn new(doc_limit: usize) -> Self {
        Self {
            stack: Vec::new(),
            string: None,
            key: Vec::new(),
            doc: Vec::new(),
            doc_limit,
            b64: Vec::new(),
            attachments: 0,
            decoded: 0,
        }
    }

    fn keep(&mut self, b: u8) -> Result<()> {
        if self.doc.len() >= self.doc_limit {
            return Err(NpmError::TooLarge(self.doc_limit as u64));
        }
        self.doc.push(b);
        Ok(())
    }

    /// Whether a value string starting now is an attachment's `data`:
    /// `{"_attachments": {"<file>": {"data": "…"}}}`.
    fn at_data(&self) -> bool {
        match self.stack.as_slice() {
            [
                Frame::Object { key: k0, .. },
                Frame::Object { .. },
                Frame::Object { key: k2, .. },
            ] => k0 == b"_attachments" && k2 == b"data",
            _ => false,
        }
    }

    fn decode(&mut self, out: &mut Decoded, all: bool) -> Result<()> {
        let n = if all {
            self.b64.len()
        } else {
            self.b64.len() / 4 * 4
        };
        if n == 0 {
            return Ok(());
        }
        let before = out.len();
        base64::engine::general_purpose::STANDARD
            .decode_vec(&self.b64[..n], out)
            .map_err(|e| bad(format!("the attachment is not base64: {e}")))?;
        self.decoded += (out.len() - before) as u64;
        self.b64.drain(..n);
        Ok(())
    }

    /// Feeds a chunk; decoded tarball bytes are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Decoded) -> Result<()> {
        for &b in chunk {
            if let Some((kind, escaped)) = self.string {
                if escaped {
                    self.string = Some((kind, false));
                    match kind {
                        // Base64 has one character JSON may escape.
                        Str::Data if b == b'/' => self.b64.push(b'/'),
                        Str::Data => return Err(bad("the attachment is not base64")),
                        Str::Key => {
                            self.keep(b)?;
                            if self.key.len() < KEY_LIMIT {
                                self.key.push(b);
                            }
                        }
                        Str::Value => self.keep(b)?,
                    }
                    continue;
                }
                if b == b'\\' {
                    self.string = Some((kind, true));
                    match kind {
                        Str::Data => {}
                        Str::Key => {
                            self.keep(b)?;
                            if self.key.len() < KEY_LIMIT {
                                self.key.push(b);
                            }
                        }
                        Str::Value => self.keep(b)?,
                    }
                    continue;
                }
                if b == b'"' {
                    self.string = None;
                    self.keep(b)?;
                    match kind {
                        Str::Data => self.decode(out, true)?,
                        Str::Key => {
                            let key = std::mem::take(&mut self.key);
                            if let Some(Frame::Object {
                                expecting_key,
                                key: k,
                            }) = self.stack.last_mut()
                            {
                                *expecting_key = false;
                                *k = key;
                            }
                        }
                        Str::Value => {}
                    }
                    continue;
                }
                match kind {
                    Str::Data => {
                        if b.is_ascii_whitespace() {
                            continue;
                        }
                        self.b64.push(b);
                        if self.b64.len() >= B64_STEP {
                            self.decode(out, false)?;
                        }
                    }
                    Str::Key => {
                        self.keep(b)?;
                        if self.key.len() < KEY_LIMIT {
                            self.key.push(b);
                        }
                    }
                    Str::Value => self.keep(b)?,
                }
                continue;
            }
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => continue,
                b'{' => {
                    if self.stack.len() >= 64 {
                        return Err(bad("the packument is nested too deeply"));
                    }
                    self.stack.push(Frame::Object {
                        expecting_key: true,
                        key: Vec::new(),
                    });
                }
                b'[' => {
                    if self.stack.len() >= 64 {
                        return Err(bad("the packument is nested too deeply"));
                    }
                    self.stack.push(Frame::Array);
                }
                b'}' | b']' => {
                    self.stack.pop();
                }
                b',' => {
                    if let Some(Frame::Object { expecting_key, .. }) = self.stack.last_mut() {
                        *expecting_key = true;
                    }
                }
                b'"' => {
                    let kind = match self.stack.last() {
                        Some(Frame::Object {
                            expecting_key: true,
                            ..
                        }) => Str::Key,
                        _ if self.at_data() => Str::Data,
                        _ => Str::Value,
                    };
                    if kind == Str::Data {
                        self.attachments += 1;
                        if self.attachments > 1 {
                            return Err(bad("one attachment per publish"));
                        }
                    }
                    self.key.clear();
                    self.string = Some((kind, false));
                }
                _ => {}
            }
            self.keep(b)?;
        }
        Ok(())
    }

    /// The packument, once the body ended.
    pub fn finish(self) -> Result<serde_json::Value> {
        if self.string.is_some() || !self.stack.is_empty() {
            return Err(bad("the packument JSON ends early"));
        }
        serde_json::from_slice(&self.doc).map_err(|e| bad(format!("invalid packument JSON: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(body: &str, chunk: usize) -> (serde_json::Value, Vec<u8>) {
        let mut s = Splitter::new(1 << 20);
        let mut out = Vec::new();
        for c in body.as_bytes().chunks(chunk) {
            s.feed(c, &mut out).expect("feed");
        }
        (s.finish().expect("finish"), out)
    }

    #[test]
    fn data_is_decoded_and_dropped_from_the_document() {
        let tgz: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&tgz);
        let escaped = b64.replace('/', "\\/");
        let body = format!(
            r#"{{"name":"a\"b","versions":{{"1.0.0":{{"data":"keep me"}}}},"_attachments":{{"a-1.0.0.tgz":{{"content_type":"application/octet-stream","data":"{escaped}","length":{}}}}}}}"#,
            tgz.len()
        );
        for chunk in [1, 3, 7, 4096, body.len()] {
            let (doc, out) = split(&body, chunk);
            assert_eq!(out, tgz, "chunk {chunk}");
            assert_eq!(doc["_attachments"]["a-1.0.0.tgz"]["data"], "");
            assert_eq!(doc["versions"]["1.0.0"]["data"], "keep me");
            assert_eq!(doc["name"], "a\"b");
        }
    }

    proptest::proptest! {
        /// Any bytes, cut anywhere: an answer or an error, never a panic, and the kept
        /// document never beyond its bound.
        #[test]
        fn arbitrary_bodies(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048), cut in 1usize..64) {
            let mut s = Splitter::new(1024);
            let mut out = Vec::new();
            for c in body.chunks(cut) {
                if s.feed(c, &mut out).is_err() {
                    return Ok(());
                }
            }
            proptest::prop_assert!(s.doc.len() <= 1024);
            let _ = s.finish();
        }

        /// Any tarball bytes, any chunking: decoded exactly.
        #[test]
        fn attachments_round_trip(tgz in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..5000), cut in 1usize..300) {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&tgz);
            let body = format!(r#"{{"versions":{{}},"_attachments":{{"x.tgz":{{"data":"{b64}"}}}}}}"#);
            let (doc, out) = split(&body, cut);
            proptest::prop_assert_eq!(out, tgz);
            proptest::prop_assert_eq!(&doc["_attachments"]["x.tgz"]["data"], "");
        }
    }

    #[test]
    fn refusals() {
        let mut s = Splitter::new(10);
        assert!(matches!(
            s.feed(br#"{"name":"0123456789"}"#, &mut vec![]),
            Err(NpmError::TooLarge(10))
        ));
        let mut s = Splitter::new(1 << 20);
        let two = r#"{"_attachments":{"a":{"data":"AA=="},"b":{"data":"AA=="}}}"#;
        assert!(s.feed(two.as_bytes(), &mut vec![]).is_err());
        let mut s = Splitter::new(1 << 20);
        let bad = r#"{"_attachments":{"a":{"data":"!!!!"}}}"#;
        assert!(s.feed(bad.as_bytes(), &mut vec![]).is_err());
        let mut s = Splitter::new(1 << 20);
        s.feed(br#"{"a":"#, &mut vec![]).expect("feed");
        assert!(s.finish().is_err());
    }
}
