//! Eight bytes at a time ("SIMD within a register"): finding the first byte
//! a scanner must look at, for the JSON string scanner and the YAML fast
//! scanner.

const LO: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte.
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;

/// Non-zero when some byte of `w` equals `b` (exact as a yes/no).
#[inline(always)]
pub(crate) fn has_byte(w: u64, b: u8) -> u64 {
    let x = w ^ (LO * u64::from(b));
    x.wrapping_sub(LO) & !x & HI
}

/// Non-zero when some byte of `w` is below 0x20 (exact as a yes/no).
#[inline(always)]
pub(crate) fn has_less_than_0x20(w: u64) -> u64 {
    w.wrapping_sub(LO * 0x20) & !w & HI
}

/// The index of the first 8-byte word at or after `i` in which `special`
/// finds something (or of the tail shorter than 8 bytes): every byte
/// before it is ordinary. The caller inspects bytes one by one from there.
#[inline(always)]
pub(crate) fn skip_plain(bytes: &[u8], mut i: usize, special: impl Fn(u64) -> u64) -> usize {
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let found = special(u64::from_le_bytes(word));
        if found != 0 {
            // The lowest flagged byte is exact (false positives of the
            // SWAR tests only occur above a true match).
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}
