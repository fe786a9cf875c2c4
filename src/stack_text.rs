//! Short text written on the stack: numbers formatted without a heap
//! allocation (and wiped when dropped, as they may be plaintext).

use std::fmt;
use zeroize::Zeroize;

/// Up to `N` bytes of text; writing more fails with [`fmt::Error`].
pub(crate) struct StackText<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    /// The text `write` produces, or `None` when it is longer than `N`.
    pub(crate) fn new(write: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result) -> Option<Self> {
        let mut text = StackText {
            bytes: [0; N],
            len: 0,
        };
        write(&mut text).ok().map(|()| text)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `&str`s are written in: always UTF-8.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> fmt::Write for StackText<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<const N: usize> Drop for StackText<N> {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_text_up_to_its_size_and_no_more() {
        let t = StackText::<8>::new(|out| write!(out, "{}", 1234567)).unwrap();
        assert_eq!(t.as_str(), "1234567");
        assert!(StackText::<8>::new(|out| write!(out, "{}", 123456789)).is_none());
        let t = StackText::<8>::new(|out| out.write_str("")).unwrap();
        assert_eq!(t.as_str(), "");
    }
}
