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

/// Where to cut a sequence of parts with these `weights` in two for two
/// threads: the index `k` (the first part of the second half) nearest to
/// half the total weight among those `allowed`, when each side then gets a
/// fifth of the weight at least.
pub fn balanced_split(weights: &[usize], allowed: impl Fn(usize) -> bool) -> Option<usize> {
    let total: usize = weights.iter().sum();
    let mut before = 0usize;
    let mut best: Option<(usize, usize, usize)> = None;
    for k in 1..weights.len() {
        before += weights[k - 1];
        if !allowed(k) {
            continue;
        }
        let distance = before.abs_diff(total / 2);
        if best.is_none_or(|(_, _, d)| distance < d) {
            best = Some((k, before, distance));
        }
    }
    let (k, head, _) = best?;
    (head.min(total - head) >= total / 5).then_some(k)
}

#[cfg(test)]
mod tests {
    #[test]
    fn balanced_split_takes_the_allowed_cut_nearest_the_middle() {
        let w = [10, 10, 10, 10, 60];
        assert_eq!(super::balanced_split(&w, |_| true), Some(4));
        assert_eq!(super::balanced_split(&w, |k| k != 4), Some(3));
        // Lopsided: the second half would get less than a fifth.
        assert_eq!(super::balanced_split(&[100, 1], |_| true), None);
        assert_eq!(super::balanced_split(&[5], |_| true), None);
        assert_eq!(super::balanced_split(&[5, 5], |_| false), None);
    }

    #[test]
    fn join_returns_both_results_in_order() {
        let data = [1u64, 2, 3, 4, 5, 6];
        let (left, right) = data.split_at(3);
        let (a, b) = super::join(|| left.iter().sum::<u64>(), || right.iter().sum::<u64>());
        assert_eq!((a, b), (6, 15));
    }
}
