//! Measures the `check --scan` scanner on a labelled, seeded corpus
//! (tests/scanner_corpus/generator.rs): recall per kind of planted secret
//! and overall, and false positives per 10,000 clean lines. Run with
//! `cargo test --test scanner_corpus -- --nocapture` to see the numbers.

mod common;
#[path = "scanner_corpus/generator.rs"]
mod generator;

use std::collections::{BTreeMap, HashMap};

use enseal::check::scan;

/// Targets (docs/scanner.md).
const MIN_RECALL: f64 = 0.95;
const MAX_FALSE_POSITIVES_PER_10K: f64 = 1.0;

struct Measure {
    planted: BTreeMap<&'static str, (usize, usize)>,
    found: usize,
    total: usize,
    clean_lines: usize,
    false_positives: Vec<(String, usize, &'static str, String)>,
}

fn measure(corpus: &generator::Corpus) -> Measure {
    let mut by_file: HashMap<&str, Vec<&generator::Label>> = HashMap::new();
    for l in &corpus.labels {
        by_file.entry(l.file.as_str()).or_default().push(l);
    }
    let mut m = Measure {
        planted: BTreeMap::new(),
        found: 0,
        total: 0,
        clean_lines: 0,
        false_positives: Vec::new(),
    };
    for file in &corpus.files {
        let hits = scan::scan(file.text.as_bytes());
        let labels = by_file.get(file.name.as_str()).cloned().unwrap_or_default();
        let in_secret = |line: usize| labels.iter().any(|l| (l.first..=l.last).contains(&line));
        let lines: Vec<&str> = file.text.lines().collect();
        m.clean_lines += (1..=lines.len()).filter(|&n| !in_secret(n)).count();
        for hit in &hits {
            if !in_secret(hit.line) {
                m.false_positives.push((
                    file.name.clone(),
                    hit.line,
                    hit.rule,
                    lines[hit.line - 1].to_string(),
                ));
            }
        }
        for l in &labels {
            let found = hits.iter().any(|h| (l.first..=l.last).contains(&h.line));
            let entry = m.planted.entry(l.kind).or_default();
            entry.0 += 1;
            m.total += 1;
            if found {
                entry.1 += 1;
                m.found += 1;
            } else {
                eprintln!(
                    "missed {} at {}:{}: {}",
                    l.kind,
                    file.name,
                    l.first,
                    lines[l.first - 1]
                );
            }
        }
    }
    m
}

#[test]
fn scanner_meets_recall_and_false_positive_targets() {
    let corpus = generator::generate(0x5EA1_2026, 30, 220, 3);
    let started = std::time::Instant::now();
    let m = measure(&corpus);
    let elapsed = started.elapsed();
    assert!(
        m.planted.len() >= 20,
        "only {} kinds planted",
        m.planted.len()
    );
    let bytes: usize = corpus.files.iter().map(|f| f.text.len()).sum();
    println!(
        "scanner corpus: {} files, {} bytes, scanned in {:.2?}",
        corpus.files.len(),
        bytes,
        elapsed
    );
    println!(
        "{:<34} {:>7} {:>7} {:>8}",
        "kind", "planted", "found", "recall"
    );
    for (kind, (planted, found)) in &m.planted {
        println!(
            "{kind:<34} {planted:>7} {found:>7} {:>7.1}%",
            100.0 * *found as f64 / *planted as f64
        );
    }
    let recall = m.found as f64 / m.total as f64;
    let fp_rate = m.false_positives.len() as f64 * 10_000.0 / m.clean_lines as f64;
    println!(
        "overall recall: {}/{} = {:.1}%",
        m.found,
        m.total,
        100.0 * recall
    );
    println!(
        "false positives: {} in {} clean lines = {:.2} per 10,000 lines",
        m.false_positives.len(),
        m.clean_lines,
        fp_rate
    );
    for (file, line, rule, text) in m.false_positives.iter().take(20) {
        println!("false positive {file}:{line} ({rule}): {text}");
    }
    assert!(m.clean_lines >= 50_000, "{} clean lines", m.clean_lines);
    assert!(
        recall >= MIN_RECALL,
        "recall {:.3} below {MIN_RECALL}",
        recall
    );
    assert!(
        fp_rate <= MAX_FALSE_POSITIVES_PER_10K,
        "{fp_rate:.2} false positives per 10,000 lines"
    );
    // Every kind is found most of the time, not only on average.
    for (kind, (planted, found)) in &m.planted {
        assert!(
            *found as f64 >= 0.8 * *planted as f64,
            "{kind}: {found}/{planted}"
        );
    }
}

#[test]
fn the_corpus_is_reproducible() {
    let a = generator::generate(7, 2, 50, 3);
    let b = generator::generate(7, 2, 50, 3);
    let c = generator::generate(8, 2, 50, 3);
    let text = |c: &generator::Corpus| {
        c.files
            .iter()
            .map(|f| f.text.as_str())
            .collect::<Vec<_>>()
            .join("")
    };
    assert_eq!(text(&a), text(&b));
    assert_ne!(text(&a), text(&c));
    assert_eq!(a.labels.len(), b.labels.len());
    assert!(a.labels.len() >= 2 * 9 * 3);
}

#[test]
fn issue_examples_are_found() {
    // Passwords with punctuation (issue #20), assembled at run time so
    // that this file holds none.
    let pw = ["Xk9#mQ2", "$vL8pZ3wR"].concat();
    for line in [
        format!("password: {pw}"),
        format!("db_password: \"{}{}\"", "Tr0ub4dor", "&3xyzQ!"),
        format!("DB_PASSWORD='{}{}'", "p@ss,W0rd", ";2024!"),
        format!("password = {pw}"),
    ] {
        let hits = scan::scan(line.as_bytes());
        assert_eq!(hits.len(), 1, "{line}");
        assert_eq!(hits[0].rule, "generic-secret");
    }
    for line in [
        "password: changeme",
        "password: ${DB_PASSWORD}",
        "password: \"{{ vault_db_password }}\"",
        "    password = os.environ[\"DB_PASSWORD\"]",
        "\tpassword := cfg.Database.Password",
        "password: <your-password>",
    ] {
        assert!(scan::scan(line.as_bytes()).is_empty(), "{line}");
    }
}
