//! The differential harness's streams: the shared generator
//! (`tests/common/rng.rs`) and the seed of each batch.

pub use super::common::rng::Rng;

/// Mixes a run seed with a format tag and a batch number into the seed of
/// one batch, so every batch can be replayed on its own.
pub fn batch_seed(run_seed: u64, format: &str, batch: usize) -> u64 {
    let mut r = Rng::new(run_seed ^ (batch as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut h = r.next_u64();
    for b in format.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    Rng::new(h).next_u64()
}
