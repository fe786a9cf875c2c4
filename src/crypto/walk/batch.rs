//! Large files: the walk defers every leaf into a batch and seals or opens
//! them all at the end, on two threads when there are many (a large single
//! document is also walked in two halves on two threads).
//!
//! It must give what the simple path gives, the walk one leaf at a time
//! (`Walk::one_by_one` in `mod.rs`): the same values (through the same
//! `leaf.rs` functions), the same MAC (the plaintexts hashed in
//! walk order), the same warnings, and the same error for the first bad
//! value in file order, named by its key path. Tests in `super::tests`
//! prove it: `two_thread_batch_matches_one_by_one_walk`,
//! `split_walk_matches_one_by_one_with_top_level_comments_and_warnings`,
//! `batch_errors_match_the_one_by_one_walk` and
//! `two_thread_batch_reports_the_first_bad_value_with_its_path`.

use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use super::leaf::{self, LeafCipher};
use super::{finish, Direction, Retired, State, Walk, WalkError, WalkOutcome};
use crate::crypto::cipher::{Cipher, Nonces};
use crate::parallel;
use crate::tree::{Item, Map, Value};

/// Values at least this many leaves are shared between threads.
pub(super) const PARALLEL_MIN_JOBS: usize = 4096;

/// The cost of hashing one value's plaintext into the MAC, in hundredths
/// of the cost of encrypting one value. With the cost below, it decides
/// how many values the thread that also hashes takes
/// ([`hashing_thread_share`]). Both come from the shares that made the two
/// threads finish together on the 100,000-leaf `large.yaml` of
/// `scripts/gen_corpus.py` (timed with `scripts/bench`): 38% of the values
/// when encrypting, 4/9 when decrypting.
pub(super) const HASH_COST_PER_100_ENCRYPTIONS: usize = 24;
/// The same, in hundredths of the cost of decrypting one value.
pub(super) const HASH_COST_PER_100_DECRYPTIONS: usize = 25;

/// How many of `total` values the hashing thread seals or opens itself so
/// that both threads finish together; with the cost of a value `v` and of
/// hashing one `h`:
///
/// * encrypting, it hashes every plaintext (still in the tree), then
///   seals its share `f`: `h + f·v = (1 − f)·v`, so `f = (v − h) / 2v`;
/// * decrypting, it opens its share and hashes it while the other thread
///   opens the rest (hashed after both): `f·(v + h) = (1 − f)·v`, so
///   `f = v / (2v + h)`.
pub(super) fn hashing_thread_share(direction: Direction, total: usize) -> usize {
    const V: usize = 100;
    match direction {
        Direction::Encrypt => total * (V - HASH_COST_PER_100_ENCRYPTIONS) / (2 * V),
        Direction::Decrypt => total * V / (2 * V + HASH_COST_PER_100_DECRYPTIONS),
    }
}

/// What the batch does with one leaf.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum JobKind {
    /// Encrypt it (its plaintext is already in the MAC).
    Encrypt,
    /// Decrypt it, then add it to the MAC.
    Decrypt { in_list: bool },
    /// Only add it to the MAC (an unencrypted leaf of an encrypted file).
    Hash,
}

/// A leaf whose encryption or decryption waits for the end of the walk.
struct Job<'t> {
    leaf: &'t mut Value,
    /// The collection it sits in ([`Paths::containers`]).
    container: usize,
    /// Its key (none for a list element): with the container's path, its
    /// key path and additional data.
    key: Option<&'t str>,
    kind: JobKind,
}

/// A collection of the walk: where its key path is in [`Paths`].
struct Container {
    /// Its additional-data prefix in [`Paths::prefixes`].
    prefix: (usize, usize),
    /// Its key path in [`Paths::components`].
    path: (usize, usize),
}

/// The key paths of the collections a batch's leaves sit in.
#[derive(Default)]
struct Paths<'t> {
    /// Every collection's key path joined with `:` (each followed by `:`).
    prefixes: String,
    /// Every collection's key path, one key after the other.
    components: Vec<&'t str>,
    containers: Vec<Container>,
}

impl Paths<'_> {
    /// The additional data of a deferred leaf, written into `out`.
    fn aad(&self, job: &Job<'_>, out: &mut String) {
        let (start, end) = self.containers[job.container].prefix;
        out.clear();
        out.push_str(&self.prefixes[start..end]);
        if let Some(key) = job.key {
            out.push_str(key);
            out.push(':');
        }
    }

    /// The key path of a deferred leaf (for messages).
    fn path<'p>(&'p self, job: &'p Job<'_>) -> Vec<&'p str> {
        let (start, end) = self.containers[job.container].path;
        let mut path = self.components[start..end].to_vec();
        path.extend(job.key);
        path
    }
}

/// The deferred leaves of a walk and the key paths of the collections
/// they sit in.
#[derive(Default)]
pub(super) struct Batch<'t> {
    jobs: Vec<Job<'t>>,
    paths: Paths<'t>,
    /// The open collections, innermost last.
    open: Vec<usize>,
}

impl<'t> Batch<'t> {
    /// Records a collection at `path`; it stays open until
    /// [`Batch::close_container`].
    pub(super) fn open_container(&mut self, path: &[&'t str]) {
        let paths = &mut self.paths;
        let prefix_start = paths.prefixes.len();
        for p in path {
            paths.prefixes.push_str(p);
            paths.prefixes.push(':');
        }
        let path_start = paths.components.len();
        paths.components.extend_from_slice(path);
        let index = paths.containers.len();
        paths.containers.push(Container {
            prefix: (prefix_start, paths.prefixes.len()),
            path: (path_start, paths.components.len()),
        });
        self.open.push(index);
    }

    /// Closes the innermost open collection.
    pub(super) fn close_container(&mut self) {
        self.open.pop();
    }

    /// Defers `leaf`, in the innermost open collection.
    pub(super) fn defer(&mut self, leaf: &'t mut Value, key: Option<&'t str>, kind: JobKind) {
        if self.open.is_empty() {
            self.open_container(&[]);
        }
        let container = self.open.last().copied().unwrap_or_default();
        self.jobs.push(Job {
            leaf,
            container,
            key,
            kind,
        });
    }
}

impl Walk<'_> {
    /// The walk that defers every leaf into batches, then runs them.
    pub(super) fn batched<'t>(
        &self,
        documents: &'t mut [Map],
        mut state: State<'_, 't>,
    ) -> Result<WalkOutcome, WalkError> {
        let mut batches = self.collect(documents, &mut state)?;
        let retired = run_batches(&mut batches, self, &mut state)?;
        Ok(WalkOutcome {
            retired,
            ..finish(state)
        })
    }

    /// Walks the documents and defers their leaves into batches: a large
    /// single document in two halves, walked on two threads.
    fn collect<'t>(
        &self,
        documents: &'t mut [Map],
        state: &mut State<'_, 't>,
    ) -> Result<Vec<Batch<'t>>, WalkError> {
        let split = match documents {
            // The size first: asking for the core count reads cgroup files.
            [document] => walk_split(&document.0).filter(|_| parallel::has_second_core()),
            _ => None,
        };
        match (split, documents) {
            (Some(k), [document]) => self.collect_halves(&mut document.0, k, state),
            (_, documents) => {
                state.batch = Some(Batch::default());
                self.walk_documents(documents, state)?;
                Ok(vec![state.batch.take().unwrap_or_default()])
            }
        }
    }

    /// Walks the top-level `items` of a document in two batches, split
    /// before `items[k]`, on two threads.
    fn collect_halves<'t>(
        &self,
        items: &'t mut [Item],
        k: usize,
        state: &mut State<'_, 't>,
    ) -> Result<Vec<Batch<'t>>, WalkError> {
        let (head, tail) = items.split_at_mut(k);
        let mut sibling = state.cipher.sibling();
        let (a, b) = parallel::join(
            || self.collect_items(head, state),
            || {
                let mut tail_state = State::new(&mut sibling, Sha512::new(), None);
                self.collect_items(tail, &mut tail_state)
                    .map(|batch| (batch, tail_state.warnings))
            },
        );
        let head_batch = a?;
        let (tail_batch, tail_warnings) = b?;
        // As if walked after the head: the note on unencrypted comments
        // comes only when nothing was said before it.
        let said_before = !state.warnings.is_empty();
        state.warnings.extend(
            tail_warnings
                .into_iter()
                .filter(|w| !(said_before && w == super::POSSIBLY_UNENCRYPTED_COMMENT)),
        );
        Ok(vec![head_batch, tail_batch])
    }

    /// Walks the top-level `items` of a document into a batch of their own.
    fn collect_items<'t>(
        &self,
        items: &'t mut [Item],
        state: &mut State<'_, 't>,
    ) -> Result<Batch<'t>, WalkError> {
        state.batch = Some(Batch::default());
        state.enter(&[]);
        self.walk_items(items, &mut Vec::new(), state)?;
        state.leave();
        Ok(state.batch.take().unwrap_or_default())
    }
}

/// How deep [`leaf_count`] looks to choose a split: below, a collection
/// counts as its length (reading every node of a large tree costs
/// milliseconds; the split only needs proportions).
const SPLIT_DEPTH: usize = 3;

/// How many leaves (and list comments) `value` holds, looking `depth`
/// levels down.
fn leaf_count(value: &Value, depth: usize) -> usize {
    match value {
        Value::Map(m) if depth == 0 => m.0.len(),
        Value::List(items) if depth == 0 => items.len(),
        Value::Map(m) => {
            m.0.iter()
                .map(|item| item_leaf_count(item, depth - 1))
                .sum()
        }
        Value::List(items) => items.iter().map(|v| leaf_count(v, depth - 1)).sum(),
        _ => 1,
    }
}

fn item_leaf_count(item: &Item, depth: usize) -> usize {
    match item {
        Item::Entry(_, value) => leaf_count(value, depth),
        Item::Comment(_) => 1,
    }
}

/// Where to split the top-level `items` of a document for walking it on
/// two threads: after an entry (so no comment above an item is on the
/// other side), near the middle by (estimated) leaves, with a fifth of
/// them on each side at least.
pub(super) fn walk_split(items: &[Item]) -> Option<usize> {
    let counts: Vec<usize> = items
        .iter()
        .map(|item| item_leaf_count(item, SPLIT_DEPTH))
        .collect();
    if counts.iter().sum::<usize>() < PARALLEL_MIN_JOBS {
        return None;
    }
    parallel::balanced_split(&counts, |k| matches!(items[k - 1], Item::Entry(..)))
}

/// The jobs of a batch with the key paths they refer to.
#[derive(Clone, Copy)]
struct Segment<'b, 't> {
    paths: &'b Paths<'t>,
    jobs: &'b [Job<'t>],
}

/// `segments` (jobs in walk order) cut after the first `at` jobs.
fn split_segments<'b, 't>(
    segments: &[Segment<'b, 't>],
    mut at: usize,
) -> (Vec<Segment<'b, 't>>, Vec<Segment<'b, 't>>) {
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    for segment in segments {
        let n = at.min(segment.jobs.len());
        let (a, b) = segment.jobs.split_at(n);
        at -= n;
        for (side, jobs) in [(&mut head, a), (&mut tail, b)] {
            if !jobs.is_empty() {
                side.push(Segment {
                    paths: segment.paths,
                    jobs,
                });
            }
        }
    }
    (head, tail)
}

/// Encrypts or decrypts every deferred leaf of the batches (in walk order)
/// and hashes the plaintexts into the MAC in that order; with many leaves,
/// on two threads: one does a part of the values and the hashing, the
/// other the rest of the values. Results go into the tree only once all
/// are done, so on failure the tree is left as it was; the error is the
/// first bad value's in walk order.
fn run_batches<'t>(
    batches: &mut [Batch<'t>],
    walk: &Walk<'_>,
    state: &mut State<'_, 't>,
) -> Result<Retired, WalkError> {
    let cipher: &Cipher = state.cipher;
    let segments: Vec<Segment<'_, 't>> = batches
        .iter()
        .map(|batch| Segment {
            paths: &batch.paths,
            jobs: &batch.jobs,
        })
        .collect();
    let total: usize = segments.iter().map(|s| s.jobs.len()).sum();
    let mut out: Vec<Option<Value>> = Vec::new();
    out.resize_with(total, || None);
    let hasher = &mut state.hasher;
    let work = |segments: &[Segment<'_, '_>], out: &mut [Option<Value>]| {
        run_jobs(walk.direction, segments, out, cipher)
    };
    let two_threads = total >= PARALLEL_MIN_JOBS && parallel::has_second_core();
    let done = if two_threads {
        let mine = hashing_thread_share(walk.direction, total);
        let (segments_a, segments_b) = split_segments(&segments, mine);
        let (out_a, out_b) = out.split_at_mut(mine);
        let (a, b) = parallel::join(
            || match walk.direction {
                // The plaintexts are still in the tree: hash them all.
                Direction::Encrypt => {
                    hash_jobs(walk, &segments, None, hasher);
                    work(&segments_a, out_a)
                }
                Direction::Decrypt => {
                    let done = work(&segments_a, out_a);
                    if done.is_ok() {
                        hash_jobs(walk, &segments_a, Some(out_a), hasher);
                    }
                    done
                }
            },
            || work(&segments_b, out_b),
        );
        // The first thread's values come first in walk order.
        let done = a.and(b);
        if done.is_ok() && walk.direction == Direction::Decrypt {
            hash_jobs(walk, &segments_b, Some(out_b), hasher);
        }
        done
    } else {
        if walk.direction == Direction::Encrypt {
            hash_jobs(walk, &segments, None, hasher);
        }
        let done = work(&segments, &mut out);
        if done.is_ok() && walk.direction == Direction::Decrypt {
            hash_jobs(walk, &segments, Some(&out), hasher);
        }
        done
    };
    drop(segments);
    if let Err(failed) = done {
        for value in out.iter_mut().flatten() {
            value.zeroize();
        }
        return Err(failed);
    }
    // Into the tree, each batch (or half of one) on its own thread; the
    // replaced values stay in `out`.
    let mut parts: Vec<(&mut [Job<'t>], &mut [Option<Value>])> = Vec::new();
    let mut rest = &mut out[..];
    for batch in batches.iter_mut() {
        let (mine, others) = rest.split_at_mut(batch.jobs.len());
        rest = others;
        parts.push((&mut batch.jobs[..], mine));
    }
    if two_threads && parts.len() == 1 {
        if let Some((jobs, values)) = parts.pop() {
            let half = jobs.len() / 2;
            let (jobs_a, jobs_b) = jobs.split_at_mut(half);
            let (values_a, values_b) = values.split_at_mut(half);
            parts = vec![(jobs_a, values_a), (jobs_b, values_b)];
        }
    }
    match parts.as_mut_slice() {
        [(jobs_a, values_a), (jobs_b, values_b)] if two_threads => {
            parallel::join(|| assign(jobs_a, values_a), || assign(jobs_b, values_b));
        }
        parts => {
            for (jobs, values) in parts {
                assign(jobs, values);
            }
        }
    }
    Ok(Retired(out))
}

/// Puts the results into the leaves; each value replaced (the plaintext
/// when encrypting) is wiped and takes the result's place in `values`.
fn assign(jobs: &mut [Job<'_>], values: &mut [Option<Value>]) {
    for (job, value) in jobs.iter_mut().zip(values) {
        if let Some(new) = value.take() {
            let mut old = std::mem::replace(&mut *job.leaf, new);
            old.zeroize();
            *value = Some(old);
        }
    }
}

/// Hashes the plaintext of each job into the MAC: the leaf itself, or the
/// decrypted value in `out` (decrypted comments are not hashed).
fn hash_jobs(
    walk: &Walk<'_>,
    segments: &[Segment<'_, '_>],
    out: Option<&[Option<Value>]>,
    hasher: &mut Sha512,
) {
    let jobs = segments.iter().flat_map(|s| s.jobs);
    for (i, job) in jobs.enumerate() {
        match job.kind {
            JobKind::Hash => walk.hash(job.leaf, false, hasher),
            JobKind::Encrypt => walk.hash(job.leaf, true, hasher),
            JobKind::Decrypt { .. } => {
                if let Some(Some(value)) = out.map(|o| &o[i]) {
                    if !matches!(value, Value::Comment(_)) {
                        walk.hash(value, true, hasher);
                    }
                }
            }
        }
    }
}

/// Encrypts (or decrypts) the jobs of that direction into `out`, in order,
/// stopping at the first that fails; the tree is not changed.
fn run_jobs(
    direction: Direction,
    segments: &[Segment<'_, '_>],
    out: &mut [Option<Value>],
    cipher: &Cipher,
) -> Result<(), WalkError> {
    let mut nonces = Nonces::default();
    let mut leaf_cipher = LeafCipher::Shared {
        cipher,
        nonces: &mut nonces,
    };
    let mut aad = String::new();
    let jobs = segments
        .iter()
        .flat_map(|s| s.jobs.iter().map(move |job| (s.paths, job)));
    for ((paths, job), out) in jobs.zip(out) {
        match (direction, job.kind) {
            (Direction::Encrypt, JobKind::Encrypt) => {
                paths.aad(job, &mut aad);
                *out = leaf::seal(job.leaf, &aad, &mut leaf_cipher)
                    .map_err(|e| WalkError::Encrypt(e.to_string()))?;
            }
            (Direction::Decrypt, JobKind::Decrypt { in_list }) => {
                paths.aad(job, &mut aad);
                let value = leaf::open(job.leaf, in_list, &aad, &mut leaf_cipher)
                    .map_err(|e| WalkError::leaf(&paths.path(job), &e))?;
                *out = Some(value);
            }
            _ => {}
        }
    }
    Ok(())
}
