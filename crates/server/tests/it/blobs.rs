//! Blob storage through the HTTP API: dedup, ranges, digest checks, limits, truncation, GC.

use std::path::Path;

use arca_testkit::{Backend, TestServer, both_backends};
use futures_util::StreamExt;

use crate::{DELETE, GET, PUT, json, raw_request};

/// Blob files on disk under the default store.
fn blob_files(data: &Path) -> Vec<std::path::PathBuf> {
    fn walk(d: &Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out)
                } else {
                    out.push(p)
                }
            }
        }
    }
    let mut v = vec![];
    walk(&data.join("blobs/sha256"), &mut v);
    v
}

fn tmp_files(data: &Path) -> usize {
    std::fs::read_dir(data.join("blobs/tmp"))
        .map(|d| d.count())
        .unwrap_or(0)
}

async fn dedup_range_and_gc(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("a", "ALLOW").await;
    s.create_raw_hosted("b", "ALLOW").await;
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for p in [
        "/repository/a/x.bin",
        "/repository/a/y.bin",
        "/repository/b/x.bin",
    ] {
        assert_eq!(
            s.admin(PUT, p)
                .body(body.clone())
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    // Three assets, one blob on disk.
    assert_eq!(blob_files(s.data_dir()).len(), 1);
    let stores = json(
        s.admin(GET, "/service/rest/v1/blobstores")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(stores[0]["blobCount"], 1);
    assert_eq!(stores[0]["totalSizeInBytes"], 200_000);

    // Full read with validators, ranged reads, HEAD, conditional GET.
    let r = s.admin(GET, "/repository/a/x.bin").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "200000");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &body[..]);
    let r = s
        .admin(GET, "/repository/a/x.bin")
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 1000-1999/200000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &body[1000..2000]);
    let r = s
        .admin(GET, "/repository/a/x.bin")
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &body[body.len() - 10..]);
    let r = s
        .admin(GET, "/repository/a/x.bin")
        .header("range", "bytes=200000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], "bytes */200000");
    let r = s
        .admin(arca_testkit::reqwest::Method::HEAD, "/repository/a/x.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "200000");
    let r = s
        .admin(GET, "/repository/a/x.bin")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // Deleting two of three references keeps the blob; the last one frees the disk at once.
    assert_eq!(
        s.admin(DELETE, "/repository/a/x.bin")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        s.admin(DELETE, "/repository/a/x.bin")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        s.admin(DELETE, "/repository/b/x.bin")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(blob_files(s.data_dir()).len(), 1);
    assert_eq!(
        s.admin(GET, "/repository/a/y.bin")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len(),
        200_000
    );
    assert_eq!(
        s.admin(DELETE, "/repository/a/y.bin")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(blob_files(s.data_dir()).len(), 0);

    // Overwriting releases the old content; deleting a repository frees what only it held.
    s.admin(PUT, "/repository/a/z.bin")
        .body("one")
        .send()
        .await
        .unwrap();
    s.admin(PUT, "/repository/a/z.bin")
        .body("two")
        .send()
        .await
        .unwrap();
    assert_eq!(blob_files(s.data_dir()).len(), 1);
    assert_eq!(
        s.admin(GET, "/repository/a/z.bin")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "two"
    );
    s.admin(PUT, "/repository/b/shared.bin")
        .body("two")
        .send()
        .await
        .unwrap();
    s.admin(PUT, "/repository/a/only-a.bin")
        .body("only a")
        .send()
        .await
        .unwrap();
    assert_eq!(blob_files(s.data_dir()).len(), 2);
    assert_eq!(
        s.admin(DELETE, "/service/rest/v1/repositories/a")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(blob_files(s.data_dir()).len(), 1);
    assert_eq!(
        s.admin(GET, "/repository/b/shared.bin")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "two"
    );
}

async fn concurrent_same_content(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("c", "ALLOW").await;
    let body = vec![42u8; 1 << 20];
    let puts = (0..16).map(|i| {
        s.admin(PUT, &format!("/repository/c/copy-{i}.bin"))
            .body(body.clone())
            .send()
    });
    for r in futures_util::future::join_all(puts).await {
        assert_eq!(r.unwrap().status(), 201);
    }
    // The same path from many writers at once: all succeed, one asset.
    let puts = (0..8).map(|_| {
        s.admin(PUT, "/repository/c/same.bin")
            .body(body.clone())
            .send()
    });
    for r in futures_util::future::join_all(puts).await {
        assert_eq!(r.unwrap().status(), 201);
    }
    assert_eq!(blob_files(s.data_dir()).len(), 1);
    assert_eq!(tmp_files(s.data_dir()), 0);
    let stores = json(
        s.admin(GET, "/service/rest/v1/blobstores")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(stores[0]["blobCount"], 1);
    for i in 0..16 {
        s.admin(DELETE, &format!("/repository/c/copy-{i}.bin"))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        blob_files(s.data_dir()).len(),
        1,
        "same.bin still holds the blob"
    );
}

async fn bad_uploads_leave_nothing(b: Backend) {
    let cfg = arca_server::Config {
        max_upload_bytes: Some(1000),
        ..Default::default()
    };
    let s = TestServer::with_config(b, cfg).await;
    s.create_raw_hosted("d", "ALLOW").await;

    // Expected SHA-256 (Artifactory's X-Checksum-Sha256) that does not match: 400, nothing kept.
    let r = s
        .admin(PUT, "/repository/d/bad.bin")
        .header("x-checksum-sha256", "0".repeat(64))
        .body("content")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("digest mismatch"));
    assert_eq!(
        s.admin(GET, "/repository/d/bad.bin")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // A malformed expected digest: 400.
    let r = s
        .admin(PUT, "/repository/d/bad.bin")
        .header("x-checksum-sha256", "xyz")
        .body("c")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // The right one is accepted.
    let good = "ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73"; // sha256("content")
    let r = s
        .admin(PUT, "/repository/d/good.bin")
        .header("x-checksum-sha256", good)
        .body("content")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Over the configured limit: 413, nothing kept.
    let r = s
        .admin(PUT, "/repository/d/big.bin")
        .body(vec![1u8; 1001])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        s.admin(GET, "/repository/d/big.bin")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Path traversal and other bad paths, sent as written (an HTTP client would normalise them).
    for p in [
        "/repository/d/a/%2e%2e/b.txt",
        "/repository/d/a/../../b.txt",
        "/repository/d/a//b.txt",
        "/repository/d/a%5cb.txt",
        "/repository/d/a%00b",
    ] {
        let status = raw_request(
            &s,
            &format!("PUT {p} HTTP/1.1\r\nContent-Length: 1\r\n"),
            b"x",
        )
        .await;
        assert!(status == 400 || status == 404, "{p}: {status}");
    }
    assert_eq!(
        s.admin(GET, "/repository/d/b.txt")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A truncated upload: Content-Length promises more than the client sends before it hangs up.
    raw_request(
        &s,
        "PUT /repository/d/cut.bin HTTP/1.1\r\nContent-Length: 900\r\n",
        &[7u8; 300],
    )
    .await;
    assert_eq!(
        s.admin(GET, "/repository/d/cut.bin")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    assert_eq!(blob_files(s.data_dir()).len(), 1, "only good.bin");
    assert_eq!(tmp_files(s.data_dir()), 0, "no temp files left");
}

/// A large body goes to disk in chunks: the response streams back byte for byte.
async fn large_streamed(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("big", "ALLOW").await;
    const MB: usize = 1 << 20;
    let chunks = futures_util::stream::iter(
        (0..64u8).map(|i| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![i; MB]))),
    );
    let r = s
        .admin(PUT, "/repository/big/64m.bin")
        .body(arca_testkit::reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut stream = s
        .admin(GET, "/repository/big/64m.bin")
        .send()
        .await
        .unwrap()
        .bytes_stream();
    let mut n = 0usize;
    while let Some(c) = stream.next().await {
        let c = c.unwrap();
        assert!(
            c.iter().all(|b| *b == (n / MB) as u8)
                || c.iter()
                    .enumerate()
                    .all(|(i, b)| *b == ((n + i) / MB) as u8)
        );
        n += c.len();
    }
    assert_eq!(n, 64 * MB);
}

both_backends!(
    dedup_range_and_gc,
    concurrent_same_content,
    bad_uploads_leave_nothing,
    large_streamed
);
