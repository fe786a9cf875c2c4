//! The fast path of the scalar analysis for ASCII text (nearly every key
//! and `ENC[…]` value). It must give exactly what the simple path,
//! [`analyze_chars`], gives for the same text: it runs the same [`Scan`]
//! and only skips what cannot change it (runs of [`PLAIN_SAFE`] bytes after
//! the first character; whole "words", see [`analyze_word`]).
//! `fast_path_equals_simple_path` (exhaustive on short strings) and the
//! proptest `fast_path_equals_simple_path_on_any_ascii` hold that.

#[cfg(test)]
use super::analysis::analyze_chars;
use super::analysis::{finish_analysis, Flags, ScalarAnalysis, Scan, EMPTY};

/// Bytes that never change the analysis when they are not the first
/// character: printable ASCII that is no space, break, tab or indicator.
const PLAIN_SAFE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0x21;
    while c < 0x7F {
        t[c] = !matches!(
            c as u8,
            b',' | b'?' | b'[' | b']' | b'{' | b'}' | b':' | b'#'
        );
        c += 1;
    }
    t
};

/// Classes of bytes for [`analyze_word`]: bit 0 for printable ASCII other
/// than space, bit 1 for the flow indicators among them.
const WORD_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0x21;
    while c < 0x7F {
        t[c] = if matches!(c as u8, b',' | b'?' | b'[' | b']' | b'{' | b'}' | b':') {
            3
        } else {
            1
        };
        c += 1;
    }
    t
};

/// The analysis of a "word": printable ASCII without spaces that starts
/// with a letter or digit and does not end with `:` (keys, numbers,
/// `ENC[…]` values: nearly every scalar). Such a word has no block
/// indicator (`:` is always followed by a character that is not a space,
/// `#` never follows a space), no break or special character; a flow
/// indicator anywhere only rules out flow plain style. One branch-free
/// pass instead of the general loop, which stops at every indicator.
fn analyze_word(b: &[u8]) -> Option<ScalarAnalysis> {
    let (&first, &last) = (b.first()?, b.last()?);
    if !first.is_ascii_alphanumeric() || last == b':' {
        return None;
    }
    let (mut all, mut any) = (1u8, 0u8);
    for &c in b {
        let class = WORD_CLASS[c as usize];
        all &= class;
        any |= class;
    }
    (all & 1 == 1).then(|| {
        finish_analysis(Flags {
            flow_indicators: any & 2 != 0,
            ..Flags::default()
        })
    })
}

/// [`analyze_chars`] for ASCII text (a character is a byte). `None` at the
/// first byte that is not ASCII.
pub(super) fn analyze_ascii(b: &[u8]) -> Option<ScalarAnalysis> {
    if b.is_empty() {
        return Some(EMPTY);
    }
    if let Some(analysis) = analyze_word(b) {
        return Some(analysis);
    }
    let n = b.len();
    let mut scan = Scan::new(b);
    let mut i = 0usize;
    while i < n {
        if i > 0 && PLAIN_SAFE[b[i] as usize] {
            i += 1;
            let safe = |i: usize| PLAIN_SAFE[b[i] as usize];
            while i + 4 <= n && safe(i) & safe(i + 1) & safe(i + 2) & safe(i + 3) {
                i += 4;
            }
            while i < n && safe(i) {
                i += 1;
            }
            scan.ordinary_run();
            continue;
        }
        let c = b[i];
        if !c.is_ascii() {
            return None;
        }
        scan.char(char::from(c), i == 0, b.get(i + 1).map(|&n| char::from(n)));
        i += 1;
    }
    Some(scan.finish())
}

#[cfg(test)]
mod tests {
    use super::super::analysis::analyze_scalar;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fast_path_equals_simple_path() {
        let alphabet: &[u8] = b" \t\r\n\0\x01\x7f-.:?#,[]{}&*!|>'\"%@`aZ09_=/+";
        let check = |v: &[u8]| {
            let s = std::str::from_utf8(v).unwrap();
            assert_eq!(analyze_ascii(v), Some(analyze_chars(s)), "{s:?}");
            assert!(analyze_scalar(s).ascii);
        };
        check(b"");
        assert_eq!(analyze_ascii("ab\u{e9}c".as_bytes()), None);
        assert!(!analyze_scalar("ab\u{e9}c").ascii);
        // Every string of up to four characters of the alphabet.
        let mut buf = Vec::new();
        fn rec(buf: &mut Vec<u8>, alphabet: &[u8], depth: usize, check: &dyn Fn(&[u8])) {
            check(buf);
            if depth == 0 {
                return;
            }
            for &c in alphabet {
                buf.push(c);
                rec(buf, alphabet, depth - 1, check);
                buf.pop();
            }
        }
        rec(&mut buf, alphabet, 4, &check);
        // Longer pseudo-random strings, mostly plain-safe.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let len = (x % 40) as usize;
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x.is_multiple_of(3) {
                        alphabet[(x >> 8) as usize % alphabet.len()]
                    } else {
                        b'A' + (x >> 8) as u8 % 26
                    }
                })
                .collect();
            check(&v);
        }
        check(b"ENC[AES256_GCM,data:8yzh/A==,iv:Kq+9=,tag:a/b==,type:str]");
    }

    proptest! {
        #[test]
        fn fast_path_equals_simple_path_on_any_ascii(v in proptest::collection::vec(0u8..0x80, 0..64)) {
            let s = std::str::from_utf8(&v).unwrap();
            prop_assert_eq!(analyze_ascii(&v), Some(analyze_chars(s)));
        }

        #[test]
        fn fast_path_leaves_other_text_to_the_simple_path(s in "\\PC{0,24}") {
            match analyze_ascii(s.as_bytes()) {
                Some(a) => prop_assert_eq!(a, analyze_chars(&s)),
                None => prop_assert!(!s.is_ascii()),
            }
        }
    }
}
