//! Eight bytes at a time ("SIMD within a register"): finding the first byte
//! a scanner must look at, for the JSON string scanner and the YAML fast
//! scanner.
//!
//! The simple path it must equal is a loop over single bytes: [`has_byte`]
//! and [`has_less_than_0x20`] are non-zero exactly when some byte matches,
//! and [`skip_plain`] never skips a matching byte (it stops at the first one,
//! or at the start of the tail shorter than eight bytes). The proptests
//! below compare them with that loop on any input.

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn word(bytes: &[u8; 8]) -> u64 {
        u64::from_le_bytes(*bytes)
    }

    proptest! {
        #[test]
        fn has_byte_is_exact(bytes in any::<[u8; 8]>(), b in any::<u8>()) {
            prop_assert_eq!(has_byte(word(&bytes), b) != 0, bytes.contains(&b));
        }

        #[test]
        fn has_less_than_0x20_is_exact(bytes in any::<[u8; 8]>()) {
            prop_assert_eq!(
                has_less_than_0x20(word(&bytes)) != 0,
                bytes.iter().any(|&c| c < 0x20)
            );
        }

        #[test]
        fn skip_plain_stops_where_the_byte_loop_does(
            bytes in proptest::collection::vec(prop_oneof![Just(b'"'), Just(b'\\'), Just(b'\n'), 0x20u8..0x7f, any::<u8>()], 0..64),
            start in 0usize..64,
        ) {
            let start = start.min(bytes.len());
            let special = |w: u64| has_byte(w, b'"') | has_byte(w, b'\\') | has_less_than_0x20(w);
            let first = bytes[start..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .map(|p| start + p);
            let stop = skip_plain(&bytes, start, special);
            // Never past the first special byte, never back, and either on
            // it or in the tail shorter than a word.
            prop_assert!(stop >= start);
            match first {
                Some(f) => prop_assert!(stop == f || (stop <= f && bytes.len() - stop < 8)),
                None => prop_assert!(bytes.len() - stop < 8),
            }
        }
    }
}
