//! The tree walk that encrypts or decrypts every selected leaf and computes
//! the MAC on the way (format.md §4–§6).

use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroize;

use super::cipher::{Cipher, Nonces};
use super::enc::{self, EncFields, EncValue};
use super::plaintext;
use super::rules::Selector;
use crate::parallel;
use crate::tree::{Comment, Item, Map, Value};

/// What the walk does to each selected leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Plaintext → `ENC[…]`.
    Encrypt,
    /// `ENC[…]` → plaintext.
    Decrypt,
}

/// Why the walk stopped. Messages name the key path, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    /// A value could not be encrypted.
    #[error("{0}")]
    Encrypt(String),
    /// A value could not be decrypted.
    #[error("{0}")]
    Decrypt(String),
}

/// The result of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkOutcome {
    /// The MAC over the plaintext values: SHA-512 in uppercase hex.
    pub mac: String,
    /// Warnings to show the user (e.g. comments that were never encrypted).
    pub warnings: Vec<String>,
    /// The values the walk replaced, wiped.
    pub retired: Retired,
}

/// Values a batch replaced in the tree, already wiped, whose memory is
/// given back when this is dropped (or never, with [`Retired::leak`]).
/// Freeing 100,000 small blocks before a file is written makes the
/// allocator sort them all at the writer's first large allocation, which
/// costs milliseconds; held until after writing, they cost nothing. Not
/// part of any value: clones are empty and all compare equal.
#[derive(Default)]
pub struct Retired(Vec<Option<Value>>);

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

impl Clone for Retired {
    fn clone(&self) -> Retired {
        Retired::default()
    }
}

impl PartialEq for Retired {
    fn eq(&self, _: &Retired) -> bool {
        true
    }
}

impl Eq for Retired {}

/// Options of one walk.
pub struct Walk<'a> {
    /// Encrypt or decrypt.
    pub direction: Direction,
    /// Which leaves are encrypted.
    pub selector: &'a Selector,
    /// Hash only the selected values (`mac_only_encrypted`).
    pub mac_only_encrypted: bool,
}

struct State<'c, 't> {
    cipher: &'c mut Cipher,
    hasher: Sha512,
    comments: Vec<Vec<String>>,
    warnings: Vec<String>,
    aad: String,
    /// Leaves left for [`Batch::run`] (`None`: each leaf is done at once).
    batch: Option<Batch<'t>>,
}

impl<'c, 't> State<'c, 't> {
    fn new(cipher: &'c mut Cipher, hasher: Sha512, batch: Option<Batch<'t>>) -> State<'c, 't> {
        State {
            cipher,
            hasher,
            comments: Vec::new(),
            warnings: Vec::new(),
            aad: String::new(),
            batch,
        }
    }
}

/// The note when a selected comment of an encrypted file is plain.
const POSSIBLY_UNENCRYPTED_COMMENT: &str = "Found possibly unencrypted comment in file. This is to be expected if the file being decrypted was created with an older version of SOPS.";

/// Values at least this many leaves are shared between threads.
const PARALLEL_MIN_JOBS: usize = 4096;

/// What [`Batch::run`] does with one leaf.
#[derive(Clone, Copy, PartialEq, Eq)]
enum JobKind {
    /// Encrypt it (its plaintext is already in the MAC).
    Encrypt,
    /// Decrypt it, then add it to the MAC.
    Decrypt { in_list: bool },
    /// Only add it to the MAC (an unencrypted leaf of an encrypted file).
    Hash,
}

/// A leaf whose encryption or decryption waits for the end of the walk,
/// where all of them are done at once, on two threads for large files.
struct Job<'t> {
    leaf: &'t mut Value,
    /// Additional data: the container's prefix, then the key and `:`
    /// (no key for a list element).
    prefix: (usize, usize),
    key: Option<&'t str>,
    kind: JobKind,
}

/// The deferred leaves of a walk and the additional-data prefixes of the
/// collections they sit in.
#[derive(Default)]
struct Batch<'t> {
    jobs: Vec<Job<'t>>,
    /// Every container's key path joined with `:` (each followed by `:`).
    prefixes: String,
    /// Ranges into `prefixes` of the open containers.
    open: Vec<(usize, usize)>,
}

/// Why the batch did not complete.
enum BatchFailed {
    /// A value did not decrypt: the tree is unchanged, and the walk is run
    /// again one leaf at a time, which stops at the same leaf with its key
    /// path in the message.
    Retry,
    /// Encryption failed (no random bytes): the walk fails.
    Encrypt(String),
}

impl Walk<'_> {
    /// Walks every document in order, transforming selected leaves in place.
    pub fn run(
        &self,
        documents: &mut [Map],
        cipher: &mut Cipher,
    ) -> Result<WalkOutcome, WalkError> {
        let mut hasher = Sha512::new();
        if self.mac_only_encrypted {
            hasher.update(Sha256::digest(b"sops"));
        }
        // Values are encrypted or decrypted after the walk, in a batch that
        // large files share between threads. A cipher that remembers
        // nonces (edit, rotate, set) needs them in order, one by one.
        if cipher.is_remembering() {
            return self.one_by_one(documents, cipher, hasher);
        }
        let mut state = State::new(cipher, hasher.clone(), None);
        let mut batches = self.collect(documents, &mut state)?;
        match run_batches(&mut batches, self, &mut state) {
            Ok(retired) => Ok(WalkOutcome {
                retired,
                ..finish(state)
            }),
            Err(BatchFailed::Encrypt(message)) => Err(WalkError::Encrypt(message)),
            // Nothing of the tree was changed by the failed batch.
            Err(BatchFailed::Retry) => {
                drop(batches);
                let cipher = state.cipher;
                self.one_by_one(documents, cipher, hasher)
            }
        }
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
                .filter(|w| !(said_before && w == POSSIBLY_UNENCRYPTED_COMMENT)),
        );
        Ok(vec![head_batch, tail_batch])
    }

    /// Walks the top-level `items` of a document into a batch of their own.
    fn collect_items<'t>(
        &self,
        items: &'t mut [Item],
        state: &mut State<'_, 't>,
    ) -> Result<Batch<'t>, WalkError> {
        let mut batch = Batch::default();
        batch.open_container(&[]);
        state.batch = Some(batch);
        state.comments.push(Vec::new());
        self.walk_items(items, &mut Vec::new(), state)?;
        state.comments.pop();
        Ok(state.batch.take().unwrap_or_default())
    }

    /// The walk that encrypts or decrypts each leaf as it reaches it.
    fn one_by_one(
        &self,
        documents: &mut [Map],
        cipher: &mut Cipher,
        hasher: Sha512,
    ) -> Result<WalkOutcome, WalkError> {
        let mut state = State::new(cipher, hasher, None);
        self.walk_documents(documents, &mut state)?;
        Ok(finish(state))
    }

    fn walk_documents<'t>(
        &self,
        documents: &'t mut [Map],
        state: &mut State<'_, 't>,
    ) -> Result<(), WalkError> {
        for document in documents.iter_mut() {
            let mut path = Vec::new();
            state.comments.push(Vec::new());
            if let Some(batch) = state.batch.as_mut() {
                batch.open_container(&path);
            }
            self.walk_items(&mut document.0, &mut path, state)?;
            if let Some(batch) = state.batch.as_mut() {
                batch.open.pop();
            }
            state.comments.pop();
        }
        Ok(())
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
/// other side), near the middle by (estimated) leaves, with a fifth of them on each
/// side at least.
fn walk_split(items: &[Item]) -> Option<usize> {
    let counts: Vec<usize> = items
        .iter()
        .map(|item| item_leaf_count(item, SPLIT_DEPTH))
        .collect();
    if counts.iter().sum::<usize>() < PARALLEL_MIN_JOBS {
        return None;
    }
    parallel::balanced_split(&counts, |k| matches!(items[k - 1], Item::Entry(..)))
}

/// The MAC and warnings of a finished walk.
fn finish(state: State<'_, '_>) -> WalkOutcome {
    let digest = state.hasher.finalize();
    let mac = digest.iter().map(|b| format!("{b:02X}")).collect();
    WalkOutcome {
        mac,
        warnings: state.warnings,
        retired: Retired::default(),
    }
}

impl Walk<'_> {
    /// The items of a mapping.
    fn walk_items<'t>(
        &self,
        items: &'t mut [Item],
        path: &mut Vec<&'t str>,
        state: &mut State<'_, 't>,
    ) -> Result<(), WalkError> {
        for item in items.iter_mut() {
            match item {
                Item::Comment(comment) => self.visit_comment(comment, path, state)?,
                Item::Entry(key, value) => {
                    let key: &'t String = key;
                    path.push(key.as_str());
                    self.walk_value(value, path, state, false)?;
                    path.pop();
                    clear_innermost(state);
                }
            }
        }
        Ok(())
    }

    fn walk_list<'t>(
        &self,
        items: &'t mut [Value],
        path: &mut Vec<&'t str>,
        state: &mut State<'_, 't>,
    ) -> Result<(), WalkError> {
        for element in items.iter_mut() {
            if let Value::Comment(comment) = element {
                if self.direction == Direction::Encrypt {
                    if let Some(encrypted) = self.encrypt_comment(comment, path, state)? {
                        // In a sequence sops stores an encrypted comment as an element.
                        *element = Value::Str(encrypted);
                    }
                } else {
                    self.visit_comment(comment, path, state)?;
                }
                continue;
            }
            self.walk_value(element, path, state, true)?;
            clear_innermost(state);
        }
        Ok(())
    }

    fn walk_value<'t>(
        &self,
        value: &'t mut Value,
        path: &mut Vec<&'t str>,
        state: &mut State<'_, 't>,
        in_list: bool,
    ) -> Result<(), WalkError> {
        match value {
            Value::Map(_) | Value::List(_) => {
                state.comments.push(Vec::new());
                if let Some(batch) = state.batch.as_mut() {
                    batch.open_container(path);
                }
                match value {
                    Value::Map(map) => self.walk_items(&mut map.0, path, state)?,
                    Value::List(items) => self.walk_list(items, path, state)?,
                    _ => {}
                }
                if let Some(batch) = state.batch.as_mut() {
                    batch.open.pop();
                }
                state.comments.pop();
            }
            Value::Null => {}
            Value::Comment(_) => {}
            leaf => {
                let selected = self.selector.should_encrypt(path, &state.comments, false);
                match self.direction {
                    Direction::Encrypt => {
                        self.encrypt_leaf(leaf, selected, path, state, in_list)?
                    }
                    Direction::Decrypt => {
                        self.decrypt_leaf(leaf, selected, path, state, in_list)?
                    }
                }
            }
        }
        Ok(())
    }

    fn hash(&self, value: &Value, selected: bool, hasher: &mut Sha512) {
        if self.mac_only_encrypted && !selected {
            return;
        }
        // From the value's own bytes (numbers written on the stack).
        plaintext::with_plaintext(value, |_, bytes| hasher.update(bytes));
    }

    fn encrypt_leaf<'t>(
        &self,
        leaf: &'t mut Value,
        selected: bool,
        path: &[&'t str],
        state: &mut State<'_, 't>,
        in_list: bool,
    ) -> Result<(), WalkError> {
        let encrypt = selected && !matches!(leaf, Value::Str(s) if s.is_empty());
        if let Some(batch) = state.batch.as_mut() {
            // The batch hashes the plaintext too, in walk order.
            if encrypt {
                let key = if in_list { None } else { path.last().copied() };
                batch.defer(leaf, key, JobKind::Encrypt);
            } else if selected || !self.mac_only_encrypted {
                batch.defer(leaf, None, JobKind::Hash);
            }
            return Ok(());
        }
        self.hash(leaf, selected, &mut state.hasher);
        if !encrypt {
            return Ok(());
        }
        if let Some((type_name, bytes)) = plaintext::serialize(leaf) {
            fill_aad(&mut state.aad, path);
            let encrypted = state
                .cipher
                .encrypt(&bytes, state.aad.as_bytes(), type_name)
                .map_err(|e| WalkError::Encrypt(e.to_string()))?;
            // Wipe the plaintext it replaces.
            std::mem::replace(leaf, Value::Str(encrypted)).zeroize();
        }
        Ok(())
    }

    fn decrypt_leaf<'t>(
        &self,
        leaf: &'t mut Value,
        selected: bool,
        path: &[&'t str],
        state: &mut State<'_, 't>,
        in_list: bool,
    ) -> Result<(), WalkError> {
        if !selected {
            match state.batch.as_mut() {
                // Hashed in order with the decrypted values, after them.
                Some(batch) => batch.defer(leaf, None, JobKind::Hash),
                None => self.hash(leaf, false, &mut state.hasher),
            }
            return Ok(());
        }
        let text = match leaf {
            Value::Str(s) => s,
            other => {
                return Err(WalkError::Decrypt(format!(
                    "at {}: expected an encrypted value (a string), but got {}",
                    display_path(path),
                    other.type_name()
                )))
            }
        };
        if text.is_empty() {
            return Ok(());
        }
        if let Some(batch) = state.batch.as_mut() {
            let key = if in_list { None } else { path.last().copied() };
            batch.defer(leaf, key, JobKind::Decrypt { in_list });
            return Ok(());
        }
        let at = || display_path(path);
        let parsed: EncValue = text
            .parse()
            .map_err(|e| WalkError::Decrypt(format!("at {}: {e}", at())))?;
        let type_name = parsed.type_name.clone();
        fill_aad(&mut state.aad, path);
        let bytes = state
            .cipher
            .decrypt_owned(parsed, state.aad.as_bytes())
            .map_err(|e| WalkError::Decrypt(format!("at {}: {e}", at())))?;
        let value = plaintext::parse_owned(&type_name, bytes)
            .map_err(|e| WalkError::Decrypt(format!("at {}: {e}", at())))?;
        if let Value::Comment(c) = value {
            if !in_list {
                return Err(WalkError::Decrypt(format!(
                    "at {}: a comment stored as a mapping value",
                    at()
                )));
            }
            *leaf = Value::Comment(c);
            return Ok(());
        }
        self.hash(&value, true, &mut state.hasher);
        *leaf = value;
        Ok(())
    }

    /// Encrypts a comment when selected; returns the `ENC[…]` text.
    fn encrypt_comment<'t>(
        &self,
        comment: &Comment,
        path: &[&str],
        state: &mut State<'_, 't>,
    ) -> Result<Option<String>, WalkError> {
        if let Some(level) = state.comments.last_mut() {
            level.push(comment.text.clone());
        }
        if comment.text.is_empty() || !self.selector.should_encrypt(path, &state.comments, true) {
            return Ok(None);
        }
        let encrypted = state
            .cipher
            .encrypt(comment.text.as_bytes(), aad(path).as_bytes(), "comment")
            .map_err(|e| WalkError::Encrypt(e.to_string()))?;
        if let Some(re) = self.selector.unencrypted_comment_regex() {
            if re.is_match(&encrypted) {
                return Err(WalkError::Encrypt(format!(
                    "an encrypted comment matches the unencrypted_comment_regex {:?}: make sure that it cannot match an encrypted comment",
                    re.as_str()
                )));
            }
        }
        Ok(Some(encrypted))
    }

    /// A comment item of a mapping (or an unencrypted comment of a list).
    fn visit_comment<'t>(
        &self,
        comment: &mut Comment,
        path: &[&str],
        state: &mut State<'_, 't>,
    ) -> Result<(), WalkError> {
        match self.direction {
            Direction::Encrypt => {
                if let Some(encrypted) = self.encrypt_comment(comment, path, state)? {
                    std::mem::replace(&mut comment.text, encrypted).zeroize();
                }
            }
            Direction::Decrypt => {
                // As when encrypting, the comment joins the stack before it is
                // judged; once decrypted, its plaintext replaces the stored text.
                if let Some(level) = state.comments.last_mut() {
                    level.push(comment.text.clone());
                }
                let selected = self.selector.should_encrypt(path, &state.comments, true);
                if selected && enc::is_encrypted(&comment.text) {
                    let decrypted = comment.text.parse::<EncValue>().ok().and_then(|v| {
                        state
                            .cipher
                            .decrypt_remembering(&v, aad(path).as_bytes())
                            .ok()
                    });
                    match decrypted {
                        Some(bytes) => {
                            comment.text = String::from_utf8_lossy(&bytes).into_owned();
                            if let Some(last) = state.comments.last_mut().and_then(|l| l.last_mut())
                            {
                                last.clone_from(&comment.text);
                            }
                        }
                        None => state.warnings.push(format!(
                            "a comment at {} could not be decrypted and is kept as it is",
                            display_path(path)
                        )),
                    }
                } else if selected && !comment.text.is_empty() && state.warnings.is_empty() {
                    state
                        .warnings
                        .push(POSSIBLY_UNENCRYPTED_COMMENT.to_string());
                }
            }
        }
        Ok(())
    }
}

impl<'t> Batch<'t> {
    /// Records the prefix of a collection at `path` (it stays open until
    /// the caller pops it from `open`).
    fn open_container(&mut self, path: &[&str]) {
        let start = self.prefixes.len();
        for p in path {
            self.prefixes.push_str(p);
            self.prefixes.push(':');
        }
        self.open.push((start, self.prefixes.len()));
    }

    fn defer(&mut self, leaf: &'t mut Value, key: Option<&'t str>, kind: JobKind) {
        let prefix = self.open.last().copied().unwrap_or((0, 0));
        self.jobs.push(Job {
            leaf,
            prefix,
            key,
            kind,
        });
    }
}

/// The jobs of a batch with the prefixes they refer to.
#[derive(Clone, Copy)]
struct Segment<'b, 't> {
    prefixes: &'b str,
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
                    prefixes: segment.prefixes,
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
/// are done, so on failure the tree is left as it was.
fn run_batches<'t>(
    batches: &mut [Batch<'t>],
    walk: &Walk<'_>,
    state: &mut State<'_, 't>,
) -> Result<Retired, BatchFailed> {
    let cipher: &Cipher = state.cipher;
    let segments: Vec<Segment<'_, 't>> = batches
        .iter()
        .map(|batch| Segment {
            prefixes: &batch.prefixes,
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
        // Hashing costs about a third of encrypting and a quarter of
        // decrypting: the hashing thread takes fewer values (shares
        // measured on the 100k-value benchmark file).
        let mine = match walk.direction {
            Direction::Encrypt => total * 38 / 100,
            Direction::Decrypt => total * 4 / 9,
        };
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

/// The additional data of a deferred leaf, written into `out`.
fn job_aad(out: &mut String, prefixes: &str, job: &Job<'_>) {
    out.clear();
    out.push_str(&prefixes[job.prefix.0..job.prefix.1]);
    if let Some(key) = job.key {
        out.push_str(key);
        out.push(':');
    }
}

/// Encrypts (or decrypts) the jobs of that direction into `out`; the tree
/// is not changed.
fn run_jobs(
    direction: Direction,
    segments: &[Segment<'_, '_>],
    out: &mut [Option<Value>],
    cipher: &Cipher,
) -> Result<(), BatchFailed> {
    let mut nonces = Nonces::default();
    let mut aad = String::new();
    let jobs = segments
        .iter()
        .flat_map(|s| s.jobs.iter().map(move |job| (s.prefixes, job)));
    for ((prefixes, job), out) in jobs.zip(out) {
        match (direction, job.kind) {
            (Direction::Encrypt, JobKind::Encrypt) => {
                job_aad(&mut aad, prefixes, job);
                *out = seal(job.leaf, &aad, cipher, &mut nonces)?;
            }
            (Direction::Decrypt, JobKind::Decrypt { in_list }) => {
                job_aad(&mut aad, prefixes, job);
                *out = Some(open(job.leaf, in_list, &aad, cipher)?);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `ENC[…]` value of a plaintext leaf.
fn seal(
    leaf: &Value,
    aad: &str,
    cipher: &Cipher,
    nonces: &mut Nonces,
) -> Result<Option<Value>, BatchFailed> {
    // Encrypted from the leaf's own bytes: no copy of strings, numbers
    // written on the stack.
    let sealed = plaintext::with_plaintext(leaf, |type_name, bytes| {
        cipher.seal(bytes, aad.as_bytes(), type_name, nonces)
    });
    match sealed {
        Some(Ok(encrypted)) => Ok(Some(Value::Str(encrypted))),
        Some(Err(e)) => Err(BatchFailed::Encrypt(e.to_string())),
        None => Ok(None),
    }
}

/// The plaintext value of an `ENC[…]` leaf.
fn open(leaf: &Value, in_list: bool, aad: &str, cipher: &Cipher) -> Result<Value, BatchFailed> {
    let Value::Str(text) = leaf else {
        return Err(BatchFailed::Retry);
    };
    let fields = EncFields::split(text).map_err(|_| BatchFailed::Retry)?;
    let bytes = cipher
        .open(&fields, aad.as_bytes())
        .ok_or(BatchFailed::Retry)?;
    let value = plaintext::parse_owned(fields.type_name, bytes).map_err(|_| BatchFailed::Retry)?;
    if matches!(value, Value::Comment(_)) && !in_list {
        return Err(BatchFailed::Retry);
    }
    Ok(value)
}

fn clear_innermost(state: &mut State<'_, '_>) {
    if let Some(level) = state.comments.last_mut() {
        level.clear();
    }
}

/// The additional data of a value: its key path joined with `:`, plus `:`.
pub fn aad(path: &[&str]) -> String {
    let mut out = String::new();
    fill_aad(&mut out, path);
    out
}

/// Writes the additional data of `path` into a reused buffer.
fn fill_aad(out: &mut String, path: &[&str]) {
    out.clear();
    for p in path {
        out.push_str(p);
        out.push(':');
    }
    if path.is_empty() {
        out.push(':');
    }
}

/// A key path in sops' index syntax, for messages: `["db"]["password"]`.
pub fn display_path(path: &[&str]) -> String {
    if path.is_empty() {
        return "the top level".to_string();
    }
    path.iter().map(|p| format!("[{p:?}]")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{DataKey, EncryptionRule};

    fn sample() -> Map {
        let mut db = Map::new();
        db.push("password", Value::Str("hunter2".into()));
        db.push("port", Value::Int(5432));
        let mut doc = Map::new();
        doc.0.push(Item::Comment(Comment::new(" db settings")));
        doc.push("db", Value::Map(db));
        doc.push(
            "list",
            Value::List(vec![
                Value::Str("a".into()),
                Value::Comment(Comment::new(" c")),
                Value::Null,
            ]),
        );
        doc.push("empty", Value::Str(String::new()));
        doc.push("plain_unencrypted", Value::Bool(true));
        doc
    }

    fn walk(direction: Direction, selector: &Selector, mac_only: bool) -> Walk<'_> {
        Walk {
            direction,
            selector,
            mac_only_encrypted: mac_only,
        }
    }

    #[test]
    fn mac_matches_spec_example() {
        // format.md §11: SHA512("hunter2" ‖ "5432").
        let mut db = Map::new();
        db.push("password", Value::Str("hunter2".into()));
        db.push("port", Value::Int(5432));
        let mut doc = Map::new();
        doc.0.push(Item::Comment(Comment::new(" db settings")));
        doc.push("db", Value::Map(db));
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let selector = Selector::new(&EncryptionRule::default());
        let out = walk(Direction::Encrypt, &selector, false)
            .run(&mut [doc], &mut cipher)
            .unwrap();
        assert!(out.mac.starts_with("9615C10A899BAE3C"), "{}", out.mac);
    }

    #[test]
    fn encrypt_then_decrypt_restores_tree_and_mac() {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let selector = Selector::new(&EncryptionRule::default());
        let mut docs = vec![sample()];
        let enc = walk(Direction::Encrypt, &selector, false)
            .run(&mut docs, &mut cipher)
            .unwrap();
        let Some(Value::List(list)) = docs[0].get("list") else {
            panic!()
        };
        assert!(matches!(&list[1], Value::Str(s) if s.ends_with("type:comment]")));
        assert_eq!(docs[0].get("empty"), Some(&Value::Str(String::new())));
        assert_eq!(docs[0].get("plain_unencrypted"), Some(&Value::Bool(true)));
        let dec = walk(Direction::Decrypt, &selector, false)
            .run(&mut docs, &mut cipher)
            .unwrap();
        assert_eq!(enc.mac, dec.mac);
        assert_eq!(docs[0], sample());
    }

    #[test]
    fn mac_only_encrypted_differs_and_skips_clear_values() {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let selector = Selector::new(&EncryptionRule::default());
        let full = walk(Direction::Encrypt, &selector, false)
            .run(&mut [sample()], &mut cipher)
            .unwrap();
        let only = walk(Direction::Encrypt, &selector, true)
            .run(&mut [sample()], &mut cipher)
            .unwrap();
        assert_ne!(full.mac, only.mac);
        let mut changed = sample();
        *changed.get_mut("plain_unencrypted").unwrap() = Value::Bool(false);
        let only_changed = walk(Direction::Encrypt, &selector, true)
            .run(&mut [changed], &mut cipher)
            .unwrap();
        assert_eq!(only.mac, only_changed.mac);
    }

    #[test]
    fn swapped_values_fail_authentication_with_path_not_value() {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let selector = Selector::new(&EncryptionRule::default());
        let mut docs = vec![sample()];
        walk(Direction::Encrypt, &selector, false)
            .run(&mut docs, &mut cipher)
            .unwrap();
        let Some(Value::Map(db)) = docs[0].get_mut("db") else {
            panic!()
        };
        let pw = db.get("password").cloned().unwrap();
        *db.get_mut("port").unwrap() = pw;
        let err = walk(Direction::Decrypt, &selector, false)
            .run(&mut docs, &mut cipher)
            .unwrap_err();
        assert!(err.to_string().contains("[\"db\"][\"port\"]"), "{err}");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn comment_regex_rules_decrypt_as_they_encrypted_without_warnings() {
        for rule in [
            EncryptionRule::UnencryptedCommentRegex("keep".into()),
            EncryptionRule::EncryptedCommentRegex("enc".into()),
        ] {
            let mut doc = Map::new();
            doc.0.push(Item::Comment(Comment::new(" keep me")));
            doc.push("a", Value::Str("1".into()));
            doc.0.push(Item::Comment(Comment::new(" enc")));
            doc.0.push(Item::Comment(Comment::new(" secret note")));
            doc.push("b", Value::Str("2".into()));
            let original = doc.clone();
            let key = DataKey::generate().unwrap();
            let mut cipher = Cipher::new(&key);
            let selector = Selector::new(&rule);
            let mut docs = vec![doc];
            let enc = walk(Direction::Encrypt, &selector, false)
                .run(&mut docs, &mut cipher)
                .unwrap();
            let dec = walk(Direction::Decrypt, &selector, false)
                .run(&mut docs, &mut cipher)
                .unwrap();
            assert_eq!(enc.mac, dec.mac);
            assert!(dec.warnings.is_empty(), "{rule:?}: {:?}", dec.warnings);
            assert_eq!(docs[0], original, "{rule:?}");
        }
    }

    /// A document with enough leaves for the two-thread batch: every value
    /// type, lists in lists, comments, empty strings, unencrypted keys.
    fn large() -> Map {
        let mut doc = Map::new();
        for i in 0..(PARALLEL_MIN_JOBS / 4 + 10) {
            let mut m = Map::new();
            m.0.push(Item::Comment(Comment::new(format!(" note {i}"))));
            m.push("s", Value::Str(format!("secret-{i}")));
            m.push("n", Value::Int(i as i64 - 500));
            m.push("f", Value::Float(i as f64 / 8.0));
            m.push("empty", Value::Str(String::new()));
            m.push("b_unencrypted", Value::Bool(i % 2 == 0));
            m.push(
                "l",
                Value::List(vec![
                    Value::Str("x".into()),
                    Value::Comment(Comment::new(" in list")),
                    Value::List(vec![Value::Bool(true), Value::Null]),
                ]),
            );
            doc.push(format!("k{i}"), Value::Map(m));
        }
        doc
    }

    #[test]
    fn two_thread_batch_matches_one_by_one_walk() {
        for mac_only in [false, true] {
            let key = DataKey::generate().unwrap();
            let selector = Selector::new(&EncryptionRule::UnencryptedSuffix("_unencrypted".into()));
            let original = large();
            // Batched (two threads) and one by one (a remembering cipher).
            let mut batched = vec![original.clone()];
            let mut single = vec![original.clone()];
            let mut cipher = Cipher::new(&key);
            assert!(!cipher.is_remembering());
            let enc_batched = walk(Direction::Encrypt, &selector, mac_only)
                .run(&mut batched, &mut cipher)
                .unwrap();
            let enc_single = walk(Direction::Encrypt, &selector, mac_only)
                .run(&mut single, &mut Cipher::remembering(&key))
                .unwrap();
            assert_eq!(enc_batched.mac, enc_single.mac);
            assert_ne!(batched, single, "fresh nonces differ");
            // Each decrypts the other's output.
            let dec_batched = walk(Direction::Decrypt, &selector, mac_only)
                .run(&mut single, &mut Cipher::new(&key))
                .unwrap();
            let dec_single = walk(Direction::Decrypt, &selector, mac_only)
                .run(&mut batched, &mut Cipher::remembering(&key))
                .unwrap();
            assert_eq!(dec_batched.mac, enc_single.mac);
            assert_eq!(dec_single.mac, enc_single.mac);
            assert_eq!(single[0], original);
            assert_eq!(batched[0], original);
        }
    }

    #[test]
    fn split_walk_matches_one_by_one_with_top_level_comments_and_warnings() {
        let key = DataKey::generate().unwrap();
        let selector = Selector::new(&EncryptionRule::default());
        let mut original = large();
        // Comments between top-level entries, all through the document.
        for at in (0..original.0.len()).step_by(97).rev() {
            let comment = Comment::new(format!(" top {at}"));
            original.0.insert(at, Item::Comment(comment));
        }
        let k = walk_split(&original.0).expect("large enough to split");
        assert!(matches!(original.0[k - 1], Item::Entry(..)));
        let mut batched = vec![original.clone()];
        let mut single = vec![original.clone()];
        let enc_batched = walk(Direction::Encrypt, &selector, false)
            .run(&mut batched, &mut Cipher::new(&key))
            .unwrap();
        let enc_single = walk(Direction::Encrypt, &selector, false)
            .run(&mut single, &mut Cipher::remembering(&key))
            .unwrap();
        assert_eq!(enc_batched.mac, enc_single.mac);
        // Plain comments in both halves of an encrypted file: the same
        // warnings either way.
        for doc in [&mut batched[0], &mut single[0]] {
            let n = doc.0.len();
            for at in [1, n / 2 + 3, n - 2] {
                doc.0.insert(at, Item::Comment(Comment::new(" plain")));
            }
        }
        let dec_batched = walk(Direction::Decrypt, &selector, false)
            .run(&mut batched, &mut Cipher::new(&key))
            .unwrap();
        let dec_single = walk(Direction::Decrypt, &selector, false)
            .run(&mut single, &mut Cipher::remembering(&key))
            .unwrap();
        assert_eq!(dec_batched.warnings, dec_single.warnings);
        assert_eq!(dec_batched.warnings, [POSSIBLY_UNENCRYPTED_COMMENT]);
        assert_eq!(dec_batched.mac, enc_single.mac);
        assert_eq!(batched, single);
    }

    #[test]
    fn replaced_values_are_wiped_and_held_until_dropped() {
        let key = DataKey::generate().unwrap();
        let selector = Selector::new(&EncryptionRule::default());
        let mut docs = vec![large()];
        let outcome = walk(Direction::Encrypt, &selector, false)
            .run(&mut docs, &mut Cipher::new(&key))
            .unwrap();
        let held: Vec<&Value> = outcome.retired.0.iter().flatten().collect();
        assert!(held.len() > PARALLEL_MIN_JOBS, "{}", held.len());
        for value in held {
            assert!(!format!("{value:?}").contains("secret-"), "{value:?}");
        }
        assert_eq!(outcome.retired.clone().0.len(), 0);
    }

    #[test]
    fn small_or_single_entry_documents_are_walked_whole() {
        let mut doc = Map::new();
        doc.push("a", Value::Str("x".into()));
        doc.push("b", Value::Str("y".into()));
        assert_eq!(walk_split(&doc.0), None);
        let mut one = Map::new();
        one.push("all", Value::Map(large()));
        assert_eq!(walk_split(&one.0), None);
    }

    #[test]
    fn two_thread_batch_reports_the_first_bad_value_with_its_path() {
        let key = DataKey::generate().unwrap();
        let selector = Selector::new(&EncryptionRule::default());
        let mut encrypted = vec![large()];
        walk(Direction::Encrypt, &selector, false)
            .run(&mut encrypted, &mut Cipher::new(&key))
            .unwrap();
        let swap = |docs: &mut Vec<Map>, a: &str, b: &str| {
            let get = |docs: &mut Vec<Map>, k: &str| match docs[0].get_mut(k) {
                Some(Value::Map(m)) => m.get("s").cloned().unwrap(),
                _ => panic!(),
            };
            let (va, vb) = (get(docs, a), get(docs, b));
            let Some(Value::Map(m)) = docs[0].get_mut(a) else {
                panic!()
            };
            *m.get_mut("s").unwrap() = vb;
            let Some(Value::Map(m)) = docs[0].get_mut(b) else {
                panic!()
            };
            *m.get_mut("s").unwrap() = va;
        };
        let last = format!("k{}", PARALLEL_MIN_JOBS / 4 + 9);
        // Values swapped in the second thread's part, then in the first's:
        // the message names the first one in file order.
        for (a, b) in [("k1000", last.as_str()), ("k5", "k1000")] {
            let mut docs = encrypted.clone();
            swap(&mut docs, a, b);
            let err = walk(Direction::Decrypt, &selector, false)
                .run(&mut docs, &mut Cipher::new(&key))
                .unwrap_err();
            let want = format!("[\"{a}\"][\"s\"]");
            assert!(err.to_string().contains(&want), "{err}");
            assert!(!err.to_string().contains("secret-"), "{err}");
        }
    }

    #[test]
    fn aad_paths() {
        assert_eq!(aad(&[]), ":");
        assert_eq!(aad(&["db", "password"]), "db:password:");
    }
}
