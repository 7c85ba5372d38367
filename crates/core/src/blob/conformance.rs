//! Behaviour every `BlobStore` must show; run against each implementation.

use std::io;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};

use super::*;

fn body(chunks: Vec<&'static [u8]>) -> ByteStream {
    stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c)))).boxed()
}

async fn read_all(b: BlobBody) -> Vec<u8> {
    b.stream
        .try_fold(Vec::new(), |mut v, c| async move {
            v.extend_from_slice(&c);
            Ok(v)
        })
        .await
        .unwrap()
}

pub async fn run(store: &dyn BlobStore) {
    let data: &'static [u8] = b"hello, blob store";
    let d = Digest::of(data);

    // A put streams in chunks and returns the digest and size.
    let r = store
        .put(
            body(vec![&data[..5], &data[5..]]),
            PutOptions {
                all_checksums: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.digest, d);
    assert_eq!(r.size, data.len() as u64);
    assert!(r.created);
    // Independent values (python hashlib) for this input.
    assert_eq!(r.checksums.sha1, "b118c70832420562539438f79b7e61904fb5e040");
    assert_eq!(r.checksums.md5, "910c4b66fc085b1e484456dd90750ba9");
    assert_eq!(r.checksums.sha512.len(), 128);
    assert_eq!(store.stat(&d).await.unwrap(), Some(data.len() as u64));
    // The orphan sweep sees it in its shard, written just now.
    let written = store.modified(&d).await.unwrap().unwrap();
    let age = std::time::SystemTime::now()
        .duration_since(written)
        .unwrap_or_default();
    assert!(age < std::time::Duration::from_secs(120), "{age:?}");
    let shard = u8::from_str_radix(&d.hex()[..2], 16).unwrap();
    let listed = store.list_shard(shard).await.unwrap();
    assert!(listed.iter().any(|(x, _)| *x == d), "{listed:?}");
    assert!(
        store
            .list_shard(shard.wrapping_add(1))
            .await
            .unwrap()
            .iter()
            .all(|(x, _)| *x != d)
    );
    assert_eq!(
        store.modified(&Digest::of(b"never stored")).await.unwrap(),
        None
    );

    // Same content again is deduplicated.
    let r2 = store
        .put(body(vec![data]), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(r2.digest, d);
    assert!(!r2.created);

    // Full and ranged reads.
    assert_eq!(read_all(store.get(&d, None).await.unwrap()).await, data);
    let part = store
        .get(&d, ByteRange::parse_header("bytes=7-10"))
        .await
        .unwrap();
    assert_eq!(part.range, Some((7, 10)));
    assert_eq!(part.size, data.len() as u64);
    assert_eq!(read_all(part).await, &data[7..=10]);
    let tail = store
        .get(&d, ByteRange::parse_header("bytes=-5"))
        .await
        .unwrap();
    assert_eq!(read_all(tail).await, &data[data.len() - 5..]);
    assert!(matches!(
        store.get(&d, ByteRange::parse_header("bytes=999-")).await,
        Err(BlobError::RangeNotSatisfiable { .. })
    ));

    // A wrong expected digest stores nothing.
    let other: &'static [u8] = b"other content";
    let od = Digest::of(other);
    let e = store
        .put(
            body(vec![other]),
            PutOptions {
                expect: Some(d.clone()),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(e, Err(BlobError::DigestMismatch { .. })));
    assert_eq!(store.stat(&od).await.unwrap(), None);

    // Too large stores nothing.
    let e = store
        .put(
            body(vec![other]),
            PutOptions {
                max_size: Some(3),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(e, Err(BlobError::TooLarge { max: 3 })));
    assert_eq!(store.stat(&od).await.unwrap(), None);

    // A body that fails midway (truncated upload) stores nothing.
    let broken = stream::iter(vec![
        Ok(Bytes::from_static(other)),
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "client went away",
        )),
    ])
    .boxed();
    let e = store.put(broken, PutOptions::default()).await;
    assert!(matches!(e, Err(BlobError::Body(_))));
    assert_eq!(store.stat(&od).await.unwrap(), None);

    // Concurrent identical puts both succeed and leave one blob.
    let big: &'static [u8] = Box::leak(vec![7u8; 3 * 1024 * 1024].into_boxed_slice());
    let bd = Digest::of(big);
    let puts = (0..8).map(|_| {
        store.put(
            body(vec![&big[..1 << 20], &big[1 << 20..]]),
            PutOptions::default(),
        )
    });
    for r in futures_util::future::join_all(puts).await {
        assert_eq!(r.unwrap().digest, bd);
    }
    assert_eq!(
        read_all(store.get(&bd, None).await.unwrap()).await.len(),
        big.len()
    );

    // Delete.
    assert!(store.delete(&d).await.unwrap());
    assert!(!store.delete(&d).await.unwrap());
    assert!(matches!(
        store.get(&d, None).await,
        Err(BlobError::NotFound(_))
    ));
}

/// Resumable uploads, for stores that support them.
pub async fn resumable(store: &dyn BlobStore) {
    let chunk = |b: &'static [u8]| body(vec![b]);
    let id = store.begin_upload().await.unwrap();
    assert_eq!(store.upload_size(&id).await.unwrap(), 0);
    assert_eq!(
        store
            .append_upload(&id, Some(0), chunk(b"hello, "), None)
            .await
            .unwrap(),
        7
    );
    assert_eq!(
        store
            .append_upload(&id, None, chunk(b"chunked "), None)
            .await
            .unwrap(),
        15
    );
    // A chunk that does not follow on is refused and changes nothing.
    assert!(matches!(
        store.append_upload(&id, Some(3), chunk(b"x"), None).await,
        Err(BlobError::OffsetMismatch { have: 15, got: 3 })
    ));
    // A chunk that breaks off midway is rolled back.
    let broken = stream::iter(vec![
        Ok(Bytes::from_static(b"garbage")),
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "client went away",
        )),
    ])
    .boxed();
    assert!(matches!(
        store.append_upload(&id, Some(15), broken, None).await,
        Err(BlobError::Body(_))
    ));
    assert_eq!(store.upload_size(&id).await.unwrap(), 15);
    assert!(matches!(
        store
            .append_upload(&id, None, chunk(b"world!!"), Some(20))
            .await,
        Err(BlobError::TooLarge { .. })
    ));
    assert_eq!(
        store
            .append_upload(&id, Some(15), chunk(b"world"), None)
            .await
            .unwrap(),
        20
    );
    let want = Digest::of(b"hello, chunked world");
    let r = store.commit_upload(&id, &want).await.unwrap();
    assert_eq!((r.digest.clone(), r.size), (want.clone(), 20));
    assert_eq!(
        read_all(store.get(&want, None).await.unwrap()).await,
        b"hello, chunked world"
    );
    assert!(matches!(
        store.upload_size(&id).await,
        Err(BlobError::UploadUnknown(_))
    ));

    // A wrong digest at commit discards the upload and stores nothing.
    let id = store.begin_upload().await.unwrap();
    store
        .append_upload(&id, Some(0), chunk(b"some bytes"), None)
        .await
        .unwrap();
    assert!(matches!(
        store.commit_upload(&id, &want).await,
        Err(BlobError::DigestMismatch { .. })
    ));
    assert_eq!(store.stat(&Digest::of(b"some bytes")).await.unwrap(), None);
    assert!(matches!(
        store.upload_size(&id).await,
        Err(BlobError::UploadUnknown(_))
    ));

    // Cancel; unknown and malformed ids are just unknown.
    let id = store.begin_upload().await.unwrap();
    assert!(store.cancel_upload(&id).await.unwrap());
    assert!(matches!(
        store.append_upload(&id, None, chunk(b"x"), None).await,
        Err(BlobError::UploadUnknown(_))
    ));
    for bad in ["../../etc/passwd", "nope", ""] {
        assert!(
            matches!(
                store.upload_size(bad).await,
                Err(BlobError::UploadUnknown(_))
            ),
            "{bad}"
        );
    }
}
