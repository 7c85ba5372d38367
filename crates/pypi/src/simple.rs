//! The simple repository API: PEP 503 HTML and PEP 691 JSON, rendered for clients and parsed
//! from remotes, with PEP 592 yanking, PEP 658/714 core metadata and `data-requires-python`.

use serde_json::{Value, json};

pub const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
pub const HTML_TYPE: &str = "application/vnd.pypi.simple.v1+html";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileEntry {
    pub filename: String,
    /// Absolute URL, without fragment.
    pub url: String,
    pub sha256: Option<String>,
    pub requires_python: Option<String>,
    /// `Some(hash)` when a `.metadata` file is served (hash may be empty when unknown).
    pub core_metadata: Option<String>,
    /// `Some(reason)` when yanked (the reason may be empty).
    pub yanked: Option<String>,
    pub size: Option<u64>,
    pub upload_time: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub name: String,
    pub files: Vec<FileEntry>,
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// Whether the client prefers PEP 691 JSON (by `Accept`, q-values honoured, or `?format=`).
pub fn wants_json(accept: Option<&str>, format_param: Option<&str>) -> bool {
    if let Some(f) = format_param {
        return f == JSON_TYPE;
    }
    let Some(accept) = accept else { return false };
    let mut best_json = -1.0f32;
    let mut best_html = -1.0f32;
    for part in accept.split(',') {
        let mut it = part.split(';');
        let ty = it.next().unwrap_or("").trim();
        let q = it
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        match ty {
            JSON_TYPE | "application/vnd.pypi.latest+json" => best_json = best_json.max(q),
            HTML_TYPE | "text/html" | "application/vnd.pypi.latest+html" | "*/*" => {
                best_html = best_html.max(q)
            }
            _ => {}
        }
    }
    best_json > 0.0 && best_json >= best_html
}

pub fn render_index_html(projects: &[String]) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Simple index</title></head><body>\n",
    );
    for p in projects {
        s.push_str(&format!("<a href=\"{0}/\">{0}</a><br/>\n", escape(p)));
    }
    s.push_str("</body></html>\n");
    s
}

pub fn render_index_json(projects: &[String]) -> String {
    json!({
        "meta": {"api-version": "1.1"},
        "projects": projects.iter().map(|p| json!({"name": p})).collect::<Vec<_>>(),
    })
    .to_string()
}

pub fn render_html(page: &Page) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Links for {0}</title></head><body>\n<h1>Links for {0}</h1>\n",
        escape(&page.name)
    );
    for f in &page.files {
        let mut href = f.url.clone();
        if let Some(h) = &f.sha256 {
            href.push_str(&format!("#sha256={h}"));
        }
        s.push_str(&format!("<a href=\"{}\"", escape(&href)));
        if let Some(rp) = &f.requires_python {
            s.push_str(&format!(" data-requires-python=\"{}\"", escape(rp)));
        }
        if let Some(m) = &f.core_metadata {
            let v = if m.is_empty() {
                "true".to_owned()
            } else {
                format!("sha256={m}")
            };
            s.push_str(&format!(
                " data-core-metadata=\"{v}\" data-dist-info-metadata=\"{v}\""
            ));
        }
        if let Some(y) = &f.yanked {
            s.push_str(&format!(" data-yanked=\"{}\"", escape(y)));
        }
        s.push_str(&format!(">{}</a><br/>\n", escape(&f.filename)));
    }
    s.push_str("</body></html>\n");
    s
}

pub fn render_json(page: &Page, versions: &[String]) -> String {
    let files: Vec<Value> = page
        .files
        .iter()
        .map(|f| {
            let mut o = json!({
                "filename": f.filename,
                "url": f.url,
                "hashes": f.sha256.as_ref().map(|h| json!({"sha256": h})).unwrap_or_else(|| json!({})),
                "yanked": match &f.yanked { Some(r) if !r.is_empty() => json!(r), Some(_) => json!(true), None => json!(false) },
            });
            if let Some(rp) = &f.requires_python {
                o["requires-python"] = json!(rp);
            }
            let cm = match &f.core_metadata {
                Some(h) if !h.is_empty() => json!({"sha256": h}),
                Some(_) => json!(true),
                None => json!(false),
            };
            o["core-metadata"] = cm.clone();
            o["dist-info-metadata"] = cm;
            if let Some(n) = f.size {
                o["size"] = json!(n);
            }
            if let Some(t) = &f.upload_time {
                o["upload-time"] = json!(t);
            }
            o
        })
        .collect();
    json!({"meta": {"api-version": "1.1"}, "name": page.name, "versions": versions, "files": files})
        .to_string()
}

fn split_fragment(href: &str) -> (String, Option<String>) {
    match href.split_once('#') {
        Some((u, frag)) => (
            u.to_owned(),
            frag.strip_prefix("sha256=").map(str::to_owned),
        ),
        None => (href.to_owned(), None),
    }
}

/// Resolves a link against the page URL it was found on.
fn absolute(base: &str, href: &str) -> String {
    if href.starts_with("http://") || href.starts_with("https://") {
        return href.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let host = rest.split('/').next().unwrap_or("");
    if href.starts_with("//") {
        return format!("{scheme}:{href}");
    }
    if href.starts_with('/') {
        return format!("{scheme}://{host}{href}");
    }
    let mut segs: Vec<&str> = rest.split('/').collect();
    segs.pop(); // the page's own last segment (empty for a trailing slash)
    for part in href.split('/') {
        match part {
            ".." => {
                if segs.len() > 1 {
                    segs.pop();
                }
            }
            "." => {}
            p => segs.push(p),
        }
    }
    format!("{scheme}://{}", segs.join("/"))
}

fn hash_attr(v: &str) -> Option<String> {
    match v {
        "true" => Some(String::new()),
        "false" | "" => None,
        v => Some(v.strip_prefix("sha256=").unwrap_or("").to_owned()),
    }
}

/// Parses a PEP 691 JSON project page fetched from `page_url`.
pub fn parse_json(text: &str, page_url: &str) -> Option<Page> {
    let v: Value = serde_json::from_str(text).ok()?;
    let files = v.get("files")?.as_array()?;
    let mut page = Page {
        name: v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        files: vec![],
    };
    for f in files {
        let filename = f.get("filename")?.as_str()?.to_owned();
        let url = absolute(page_url, f.get("url")?.as_str()?);
        let cm = f
            .get("core-metadata")
            .or_else(|| f.get("dist-info-metadata"));
        page.files.push(FileEntry {
            filename,
            url: split_fragment(&url).0,
            sha256: f
                .pointer("/hashes/sha256")
                .and_then(Value::as_str)
                .map(str::to_owned),
            requires_python: f
                .get("requires-python")
                .and_then(Value::as_str)
                .map(str::to_owned),
            core_metadata: match cm {
                Some(Value::Bool(true)) => Some(String::new()),
                Some(Value::Object(o)) => Some(
                    o.get("sha256")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                ),
                _ => None,
            },
            yanked: match f.get("yanked") {
                Some(Value::Bool(true)) => Some(String::new()),
                Some(Value::String(r)) => Some(r.clone()),
                _ => None,
            },
            size: f.get("size").and_then(Value::as_u64),
            upload_time: f
                .get("upload-time")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
    Some(page)
}

/// Parses a PEP 503 HTML project page fetched from `page_url`.
pub fn parse_html(text: &str, page_url: &str) -> Page {
    let mut page = Page::default();
    let lower = text.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(start) = lower[pos..].find("<a ").map(|i| i + pos) {
        let Some(tag_end) = lower[start..].find('>').map(|i| i + start) else {
            break;
        };
        let Some(close) = lower[tag_end..].find("</a>").map(|i| i + tag_end) else {
            break;
        };
        let attrs = parse_attrs(&text[start + 3..tag_end]);
        let label = unescape(text[tag_end + 1..close].trim());
        pos = close + 4;
        let Some(href) = attrs
            .iter()
            .find(|(k, _)| k == "href")
            .map(|(_, v)| v.clone())
        else {
            continue;
        };
        let (url, sha256) = split_fragment(&absolute(page_url, &href));
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        page.files.push(FileEntry {
            filename: label,
            url,
            sha256,
            requires_python: get("data-requires-python"),
            core_metadata: get("data-core-metadata")
                .or_else(|| get("data-dist-info-metadata"))
                .and_then(|v| hash_attr(&v)),
            yanked: get("data-yanked"),
            size: None,
            upload_time: None,
        });
    }
    page
}

fn parse_attrs(s: &str) -> Vec<(String, String)> {
    // Splits only at ASCII bytes, so every slice falls on a character boundary: a byte taken
    // as a `char` made 0x85 and 0xA0 (inside `à`, `…`) whitespace and slicing then panicked.
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() && b[i] != b'/' {
            i += 1;
        }
        let key = s[ks..i].to_ascii_lowercase();
        if key.is_empty() {
            i += 1;
            continue;
        }
        if i < b.len() && b[i] == b'=' {
            i += 1;
            let (q, vs) = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                (Some(b[i]), i + 1)
            } else {
                (None, i)
            };
            let mut j = vs;
            while j < b.len()
                && match q {
                    Some(q) => b[j] != q,
                    None => !b[j].is_ascii_whitespace(),
                }
            {
                j += 1;
            }
            out.push((key, unescape(&s[vs..j])));
            i = j + 1;
        } else {
            out.push((key, String::new()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert!(!wants_json(None, None));
        assert!(wants_json(Some(JSON_TYPE), None));
        assert!(!wants_json(Some("text/html"), None));
        assert!(wants_json(
            Some(&format!("{JSON_TYPE}, {HTML_TYPE};q=0.2, text/html;q=0.01")),
            None
        ));
        assert!(!wants_json(
            Some(&format!("{JSON_TYPE};q=0.1, text/html")),
            None
        ));
        assert!(wants_json(Some("text/html"), Some(JSON_TYPE)));
    }

    #[test]
    fn html_round_trip_and_remote_forms() {
        let page = Page {
            name: "demo".into(),
            files: vec![FileEntry {
                filename: "demo-1.0-py3-none-any.whl".into(),
                url: "http://h/repository/p/packages/demo/1.0/demo-1.0-py3-none-any.whl".into(),
                sha256: Some("ab".repeat(32)),
                requires_python: Some(">=3.8,<4".into()),
                core_metadata: Some("cd".repeat(32)),
                yanked: Some("broken".into()),
                ..Default::default()
            }],
        };
        let parsed = parse_html(&render_html(&page), "http://h/repository/p/simple/demo/");
        assert_eq!(parsed.files, page.files);
        let j: Value = serde_json::from_str(&render_json(&page, &["1.0".into()])).unwrap();
        assert_eq!(j["files"][0]["yanked"], "broken");
        assert_eq!(j["files"][0]["core-metadata"]["sha256"], "cd".repeat(32));
        let back = parse_json(&j.to_string(), "http://h/simple/demo/").unwrap();
        assert_eq!(back.files[0].sha256, page.files[0].sha256);
        assert_eq!(back.files[0].requires_python.as_deref(), Some(">=3.8,<4"));

        // Relative links as PyPI-compatible servers write them.
        let html = "<html><body><A HREF='../../packages/x/demo-1.0.tar.gz#sha256=00' data-requires-python='&gt;=3'>demo-1.0.tar.gz</A></body></html>";
        let p = parse_html(html, "https://idx.example/simple/demo/");
        assert_eq!(
            p.files[0].url,
            "https://idx.example/packages/x/demo-1.0.tar.gz"
        );
        assert_eq!(p.files[0].sha256.as_deref(), Some("00"));
        assert_eq!(p.files[0].requires_python.as_deref(), Some(">=3"));
        assert_eq!(
            absolute("https://a/simple/x/", "/f/y.whl"),
            "https://a/f/y.whl"
        );
        assert_eq!(
            absolute("https://a/simple/x/", "//cdn/y.whl"),
            "https://cdn/y.whl"
        );
    }

    #[test]
    fn non_ascii_attributes_do_not_panic() {
        // `à` is C3 A0, and A0 read as a char is a no-break space: slicing there panicked.
        let p = parse_html(
            "<a href=x\u{e0}y data-\u{2026}=1>f</a>",
            "https://h/simple/p/",
        );
        assert_eq!(p.files[0].url, "https://h/simple/p/x\u{e0}y");
    }
}
