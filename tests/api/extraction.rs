//! Reply, quote and signature extraction, measured on the labelled corpus in
//! `tests/extraction/` (see `agentsend::domain::extract::corpus` for the format).

use agentsend::domain::extract::corpus::{self, Case, Score};
use agentsend::domain::extract::extract;
use std::path::Path;

/// The corpus directory.
fn corpus_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/extraction")
}

/// Runs the extraction on one case and scores it.
fn run(case: &Case) -> Score {
    let extracted = extract(case.text.as_deref(), case.html.as_deref());
    corpus::score(case, &extracted)
}

#[test]
fn extraction_corpus_precision_and_recall() -> Result<(), String> {
    let cases = corpus::load(&corpus_dir())?;
    assert!(
        cases.len() >= 60,
        "the corpus has only {} cases",
        cases.len()
    );

    let scores: Vec<(&Case, Score)> = cases.iter().map(|c| (c, run(c))).collect();
    let lost: Vec<String> = scores
        .iter()
        .filter(|(_, s)| !s.kept)
        .map(|(c, s)| format!("{} ({}, {}): lost {:?}", c.name, c.client, c.lang, s.lost))
        .collect();
    assert!(
        lost.is_empty(),
        "new content lost in {} of {} cases:\n{}",
        lost.len(),
        cases.len(),
        lost.join("\n")
    );

    let removed = scores.iter().filter(|(_, s)| s.removed).count();
    let recall = removed as f64 / cases.len() as f64;
    let left: Vec<String> = scores
        .iter()
        .filter(|(_, s)| !s.removed)
        .map(|(c, s)| format!("{} ({}, {}): left {:?}", c.name, c.client, c.lang, s.left))
        .collect();
    assert!(
        recall >= 0.90,
        "recall {:.1} % ({removed}/{}) is below 90 %; history left in:\n{}",
        recall * 100.0,
        cases.len(),
        left.join("\n")
    );
    Ok(())
}

#[test]
fn extraction_corpus_covers_clients_and_languages() -> Result<(), String> {
    let cases = corpus::load(&corpus_dir())?;
    let mut langs: Vec<&str> = cases.iter().map(|c| c.lang.as_str()).collect();
    langs.sort_unstable();
    langs.dedup();
    assert!(
        langs.len() >= 8,
        "only {} languages: {langs:?}",
        langs.len()
    );
    let text_only = cases.iter().filter(|c| c.html.is_none()).count();
    let html_only = cases.iter().filter(|c| c.text.is_none()).count();
    let both = cases.len() - text_only - html_only;
    assert!(
        text_only > 0 && html_only > 0 && both > 0,
        "{text_only}/{html_only}/{both}"
    );
    Ok(())
}
