//! Two-way parallelism for the large-file paths (the YAML store's halves,
//! the batch of values in the crypto walk): plain scoped threads, only
//! when the machine has a second core.

use std::sync::OnceLock;

/// Whether a second thread can run at the same time (cached).
pub fn has_second_core() -> bool {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
}

/// Runs `a` on this thread and `b` on a scoped second thread, and returns
/// both results. A panic in `b` is resumed here.
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB + Send,
    RB: Send,
{
    std::thread::scope(|scope| {
        let other = scope.spawn(b);
        let mine = a();
        let theirs = other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (mine, theirs)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn join_returns_both_results_in_order() {
        let data = [1u64, 2, 3, 4, 5, 6];
        let (left, right) = data.split_at(3);
        let (a, b) = super::join(|| left.iter().sum::<u64>(), || right.iter().sum::<u64>());
        assert_eq!((a, b), (6, 15));
    }
}
