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
