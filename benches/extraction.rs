//! Extraction benchmark: precision and recall on the labelled corpus in
//! `tests/extraction/`, and the cost of one extraction in microseconds.
//!
//! Run with `cargo bench --bench extraction`.

use agentsend::domain::extract::{corpus, extract};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

/// Rounds over which medians are taken.
const ROUNDS: usize = 15;

/// The median of `samples` (sorted in place).
fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

/// The median time, in µs, of one call of `f` (each round runs it `reps` times).
fn time_us(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / reps as f64
        })
        .collect();
    median(&mut samples)
}

/// A typical 2 KB plain-text reply: a short answer above a quoted message.
fn typical_reply() -> String {
    let mut s = String::from(
        "Hi Jane,\n\nThanks, Thursday works for me. I'll bring the numbers.\n\nBest,\nTom\n\n",
    );
    s.push_str("On Mon, Mar 4, 2024 at 9:12 AM Jane Doe <jane@example.com> wrote:\n");
    while s.len() < 2048 {
        s.push_str("> Could we move the review to Thursday? The draft is not ready yet.\n");
    }
    s
}

/// A 50 KB HTML reply in Outlook desktop's style.
fn large_html_reply() -> String {
    let mut s = String::from(
        "<html><head><style>p.MsoNormal{margin:0}</style></head><body><div class=WordSection1>\
         <p class=MsoNormal>Approved, go ahead.</p><p class=MsoNormal>Tom</p>\
         <div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in'>\
         <p class=MsoNormal><b>From:</b> Jane Doe &lt;jane@example.com&gt;<br><b>Sent:</b> Monday, March 4, 2024 9:12 AM\
         <br><b>To:</b> Tom<br><b>Subject:</b> Budget</p></div>",
    );
    while s.len() < 50 * 1024 {
        s.push_str("<p class=MsoNormal><span style='font-size:11pt'>Line of the quoted budget discussion &amp; figures.</span></p>\n");
    }
    s.push_str("</div></body></html>");
    s
}

fn main() -> Result<(), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/extraction");
    let cases = corpus::load(&dir)?;
    let total = cases.len();
    let scores: Vec<corpus::Score> = cases
        .iter()
        .map(|c| corpus::score(c, &extract(c.text.as_deref(), c.html.as_deref())))
        .collect();
    let kept = scores.iter().filter(|s| s.kept).count();
    let removed = scores.iter().filter(|s| s.removed).count();
    let pct = |n: usize| n as f64 * 100.0 / total.max(1) as f64;

    let corpus_us = time_us(1, || {
        for c in &cases {
            black_box(extract(
                black_box(c.text.as_deref()),
                black_box(c.html.as_deref()),
            ));
        }
    }) / total.max(1) as f64;
    let reply = typical_reply();
    let reply_us = time_us(200, || {
        black_box(extract(black_box(Some(reply.as_str())), None));
    });
    let html = large_html_reply();
    let html_us = time_us(10, || {
        black_box(extract(None, black_box(Some(html.as_str()))));
    });

    println!("extraction corpus: {total} cases");
    println!(
        "  precision (no new content lost) {kept:>4}/{total:<4} {:>6.1} %",
        pct(kept)
    );
    println!(
        "  recall (all history removed)    {removed:>4}/{total:<4} {:>6.1} %",
        pct(removed)
    );
    println!("  per corpus message (median)     {corpus_us:>10.1} µs");
    println!("  2 KB text reply (median)        {reply_us:>10.1} µs");
    println!("  50 KB HTML reply (median)       {html_us:>10.1} µs");
    Ok(())
}
