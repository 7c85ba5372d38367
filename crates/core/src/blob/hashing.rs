use md5::Md5;
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha512};

use crate::model::{Checksums, Digest};

/// SHA-256 always, the legacy checksums only when a format wants them.
pub struct MultiHasher {
    sha256: Sha256,
    extra: Option<(Sha1, Md5, Sha512)>,
}

impl MultiHasher {
    pub fn new(all: bool) -> Self {
        Self {
            sha256: Sha256::new(),
            extra: all.then(|| (Sha1::new(), Md5::new(), Sha512::new())),
        }
    }
    pub fn update(&mut self, data: &[u8]) {
        self.sha256.update(data);
        if let Some((s1, m5, s5)) = &mut self.extra {
            s1.update(data);
            m5.update(data);
            s5.update(data);
        }
    }
    pub fn finish(self) -> (Digest, Checksums) {
        let sha: [u8; 32] = self.sha256.finalize().into();
        let digest = Digest::from_bytes(sha);
        let mut sums = Checksums {
            sha256: digest.hex(),
            ..Default::default()
        };
        if let Some((s1, m5, s5)) = self.extra {
            sums.sha1 = hex::encode(s1.finalize());
            sums.md5 = hex::encode(m5.finalize());
            sums.sha512 = hex::encode(s5.finalize());
        }
        (digest, sums)
    }
}
