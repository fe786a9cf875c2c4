//! The values a walk replaced, kept until the file is written.

use crate::tree::Value;

/// Values a batch replaced in the tree, already wiped, whose memory is
/// given back when this is dropped (or never, with [`Retired::leak`]).
/// Freeing 100,000 small blocks before a file is written makes the
/// allocator sort them all at the writer's first large allocation, which
/// costs milliseconds; held until after writing, they cost nothing.
///
/// Not part of any value: neither `Clone` nor `PartialEq`, so the types
/// that hold it say for themselves what their copies and equality mean.
#[derive(Default)]
pub struct Retired(pub(super) Vec<Option<Value>>);

impl Retired {
    /// Leaves the memory to the process exit (for a command about to end).
    pub fn leak(self) {
        std::mem::forget(self.0);
    }
}

impl std::fmt::Debug for Retired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Retired({} values)", self.0.len())
    }
}
