//! A small seeded generator (SplitMix64), the one the generated tests
//! share (`tests/differential.rs`, `tests/scanner_corpus.rs`): they need
//! reproducible streams that a printed seed can replay, nothing more.

/// A seeded pseudo-random stream.
pub struct Rng(u64);

impl Rng {
    /// A stream that depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// A stream derived from this one's state and `salt`, without
    /// advancing this one: a construct drawn from it can be switched on or
    /// off without changing anything else this stream generates.
    pub fn fork(&self, salt: u64) -> Rng {
        let mut r = Rng::new(self.0 ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        Rng::new(r.next_u64())
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// `len` characters drawn from `alphabet`.
    pub fn string(&mut self, alphabet: &str, len: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..len).map(|_| chars[self.below(chars.len())]).collect()
    }

    /// A string of `min` to `min + extra - 1` characters from `alphabet`.
    pub fn string_var(&mut self, alphabet: &str, min: usize, extra: usize) -> String {
        let len = min + self.below(extra);
        self.string(alphabet, len)
    }
}
