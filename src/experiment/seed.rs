//! Seeds: every stream of random draws derives its own seed from the experiment's and a purpose,
//! so that changing how much one consumer draws never shifts another's data.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Derives an independent stream seed for one purpose, so that changing how much one consumer
/// draws never shifts another's data.
pub fn derive_seed(seed: u64, purpose: &str) -> u64 {
    // FNV-1a of the purpose, then splitmix64: stable across platforms and crate versions.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in purpose.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn rng_for(seed: u64, purpose: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive_seed(seed, purpose))
}
