//! Detached, ASCII-armored OpenPGP signatures of `repomd.xml` (`repomd.xml.asc`) with the key
//! configured as Nexus configures it (`yumSigning.keypair`, `yumSigning.passphrase`). The
//! signing itself is the `rpm` crate's (rpgp underneath).

use base64::Engine;
use rpm::signature::{Signing, pgp::Signer};

/// The signer of a repository, if it configures one.
pub fn signer(attrs: &serde_json::Value) -> Result<Option<Signer>, String> {
    let Some(key) = attrs
        .pointer("/yumSigning/keypair")
        .and_then(|v| v.as_str())
        .filter(|k| !k.trim().is_empty())
    else {
        return Ok(None);
    };
    let mut s = Signer::from_asc(key).map_err(|e| format!("yumSigning.keypair: {e}"))?;
    if let Some(p) = attrs
        .pointer("/yumSigning/passphrase")
        .and_then(|v| v.as_str())
        .filter(|p| !p.is_empty())
    {
        s = s.with_key_passphrase(p);
    }
    Ok(Some(s))
}

/// `-----BEGIN PGP SIGNATURE-----` over `data`.
pub fn sign(signer: &Signer, data: &[u8]) -> Result<String, String> {
    let now = arca_core::model::now_ms() / 1000;
    let sig = signer
        .sign(data, rpm::Timestamp(now as u32))
        .map_err(|e| format!("signing repomd.xml failed: {e}"))?;
    Ok(armor(&sig))
}

/// RFC 4880 §6: base64 in 64-column lines and a CRC-24 checksum line.
fn armor(bin: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = b64.encode(bin);
    let mut out = String::from("-----BEGIN PGP SIGNATURE-----\n\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    let crc = crc24(bin).to_be_bytes();
    out.push('=');
    out.push_str(&b64.encode(&crc[1..]));
    out.push_str("\n-----END PGP SIGNATURE-----\n");
    out
}

fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0x00B7_04CE;
    for &b in data {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc24_of_rfc_example() {
        // The CRC-24 of no bytes is the initial value; of "a" computed by reference code.
        assert_eq!(super::crc24(b""), 0x00B7_04CE);
        assert_eq!(super::crc24(b"123456789"), 0x0021_CF02);
    }
}
