//! Shamir secret sharing over GF(2^8) with the AES polynomial, byte-compatible
//! with sops (docs/spec/format.md §7.3): the x-coordinate is the last byte of a share.

use zeroize::Zeroizing;

/// Why shares could not be made or combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShamirError {
    /// Threshold below 2.
    #[error("threshold must be at least 2")]
    ThresholdTooSmall,
    /// Fewer parts than the threshold.
    #[error("parts cannot be less than threshold")]
    TooFewParts,
    /// More than 255 parts.
    #[error("parts cannot exceed 255")]
    TooManyParts,
    /// Fewer than two shares given to combine.
    #[error("less than two parts cannot be used to reconstruct the secret")]
    NotEnoughShares,
    /// Shares shorter than two bytes.
    #[error("parts must be at least two bytes")]
    ShareTooShort,
    /// Shares of different lengths.
    #[error("all parts must be the same length")]
    LengthMismatch,
    /// Two shares with the same x-coordinate.
    #[error("duplicate part detected")]
    DuplicateShare,
    /// The random generator failed.
    #[error("could not read random bytes")]
    Random,
}

fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    for _ in 0..8 {
        // Branch-free: the masks are all-ones or all-zeros.
        product ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    product
}

fn inverse(a: u8) -> u8 {
    // a^254 = a^-1 in GF(2^8).
    let mut result = 1u8;
    let mut base = a;
    let mut exp = 254u8;
    while exp > 0 {
        if exp & 1 == 1 {
            result = mul(result, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    result
}

/// Splits `secret` into `parts` shares of which `threshold` reconstruct it.
pub fn split(
    secret: &[u8],
    parts: usize,
    threshold: usize,
) -> Result<Vec<Zeroizing<Vec<u8>>>, ShamirError> {
    if threshold < 2 {
        return Err(ShamirError::ThresholdTooSmall);
    }
    if parts < threshold {
        return Err(ShamirError::TooFewParts);
    }
    if parts > 255 {
        return Err(ShamirError::TooManyParts);
    }
    let mut shares: Vec<Zeroizing<Vec<u8>>> = (1..=parts)
        .map(|x| {
            let mut share = Zeroizing::new(vec![0u8; secret.len() + 1]);
            share[secret.len()] = x as u8;
            share
        })
        .collect();
    let mut coefficients = Zeroizing::new(vec![0u8; threshold - 1]);
    for (j, &s) in secret.iter().enumerate() {
        getrandom::getrandom(&mut coefficients).map_err(|_| ShamirError::Random)?;
        for share in shares.iter_mut() {
            let x = share[secret.len()];
            // Horner: p(x) = s + c1 x + c2 x^2 + …
            let mut y = 0u8;
            for &c in coefficients.iter().rev() {
                y = mul(y, x) ^ c;
            }
            share[j] = mul(y, x) ^ s;
        }
    }
    Ok(shares)
}

/// Reconstructs the secret from two or more shares.
pub fn combine(shares: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    if shares.len() < 2 {
        return Err(ShamirError::NotEnoughShares);
    }
    let len = shares[0].len();
    if len < 2 {
        return Err(ShamirError::ShareTooShort);
    }
    if shares.iter().any(|s| s.len() != len) {
        return Err(ShamirError::LengthMismatch);
    }
    let xs: Vec<u8> = shares.iter().map(|s| s[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err(ShamirError::DuplicateShare);
        }
    }
    let mut secret = Zeroizing::new(vec![0u8; len - 1]);
    for (i, share) in shares.iter().enumerate() {
        // Lagrange basis at 0: Π x_m / (x_i ⊕ x_m).
        let mut basis = 1u8;
        for (m, &xm) in xs.iter().enumerate() {
            if m != i {
                basis = mul(basis, mul(xm, inverse(xs[i] ^ xm)));
            }
        }
        for (j, out) in secret.iter_mut().enumerate() {
            *out ^= mul(share[j], basis);
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_arithmetic() {
        assert_eq!(mul(0x57, 0x83), 0xc1); // FIPS-197 example
        for a in 1..=255u8 {
            assert_eq!(mul(a, inverse(a)), 1);
        }
    }

    #[test]
    fn any_threshold_subset_reconstructs() {
        let secret: Vec<u8> = (0..32).collect();
        let shares = split(&secret, 3, 2).unwrap();
        assert_eq!(shares[0].len(), 33);
        assert_eq!(shares.iter().map(|s| s[32]).collect::<Vec<_>>(), [1, 2, 3]);
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            assert_eq!(&**combine(&[&shares[a], &shares[b]]).unwrap(), &secret[..]);
        }
        assert_eq!(
            &**combine(&[&shares[0], &shares[1], &shares[2]]).unwrap(),
            &secret[..]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            split(b"k", 3, 1).unwrap_err(),
            ShamirError::ThresholdTooSmall
        );
        assert_eq!(split(b"k", 2, 3).unwrap_err(), ShamirError::TooFewParts);
        let s = split(b"key", 2, 2).unwrap();
        assert_eq!(combine(&[&s[0]]).unwrap_err(), ShamirError::NotEnoughShares);
        assert_eq!(
            combine(&[&s[0], &s[0]]).unwrap_err(),
            ShamirError::DuplicateShare
        );
    }
}
