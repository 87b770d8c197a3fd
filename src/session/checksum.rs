//! Checksums of the files a checkpoint writes, recorded in the manifest so that a flipped bit or
//! a file replaced behind our back is noticed when it is read, not trained or probed on.
//!
//! FNV-1a over 64 bits: no dependency, fast enough for the weights of the models we train (it
//! guards against accidents, not adversaries). The value names its algorithm, so a reader that
//! meets one it does not know can leave the file unverified instead of calling it damaged.

use std::path::Path;

use super::SessionError;

const PREFIX: &str = "fnv1a64:";
const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The checksum of `bytes` as the manifest records it.
pub fn checksum(bytes: &[u8]) -> String {
    format!("{PREFIX}{:016x}", fnv1a64(bytes))
}

/// Checks `bytes`, read from `file`, against the recorded checksum; nothing is recorded (a
/// session written before checksums) or an unknown algorithm means nothing to check.
pub fn verify(file: &Path, bytes: &[u8], recorded: Option<&str>) -> Result<(), SessionError> {
    let Some(recorded) = recorded.filter(|r| r.starts_with(PREFIX)) else { return Ok(()) };
    let found = checksum(bytes);
    if found == recorded {
        Ok(())
    } else {
        Err(SessionError::corrupt(
            file,
            format!("checksum mismatch (the manifest records {recorded}, the file has {found}): changed since it was written"),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn known_values() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn verify_mismatch_unknown_and_missing() {
        let p = Path::new("w");
        let good = checksum(b"abc");
        assert!(verify(p, b"abc", Some(&good)).is_ok());
        assert!(verify(p, b"abc", None).is_ok());
        assert!(verify(p, b"abc", Some("sha999:00")).is_ok());
        let err = verify(p, b"abd", Some(&good)).unwrap_err().to_string();
        assert!(err.starts_with("w: checksum mismatch"), "{err}");
    }
}
