//! The harness itself, on pages served with a strict Content-Security-Policy (no inline
//! script): what the UI tests rely on works there.

use serde_json::json;

use crate::harness::{Pages, axe_check, browser, serve_pages, shot};
use crate::webdriver::key;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; frame-src 'self'";

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harness</title>
<script>document.title = 'inline script ran';</script>
<script src="/page.js" defer></script></head>
<body><main>
<h1>Harness</h1>
<label>Name <input id="name"></label>
<label>File <input id="file" type="file"></label>
<button id="go" type="button">Go</button>
<p id="late" hidden>Shown later</p>
<p id="keys" data-test="keys"></p>
<a id="next" href="/next">Next</a>
<iframe id="frame" src="/frame" title="Frame"></iframe>
</main></body></html>"#;

const SCRIPT: &str = "
document.addEventListener('keydown', e => {
  document.getElementById('keys').textContent += '[' + (e.shiftKey ? 'S-' : '') + e.key + ']';
});
document.getElementById('go').addEventListener('click', () => {
  console.error('clicked');
  setTimeout(() => { document.getElementById('late').hidden = false; }, 200);
});";

const FRAME: &str = r#"<!doctype html><html lang="en"><head><title>Inner</title></head>
<body><p id="inner">Inside the frame</p></body></html>"#;

const NEXT: &str = r#"<!doctype html><html lang="en"><head><title>Next</title></head>
<body><main><h1>Next page</h1></main></body></html>"#;

/// An image without alt text and a button without a name: critical violations.
const BAD: &str = r#"<!doctype html><html lang="en"><head><title>Bad</title></head>
<body><main><h1>Bad</h1><img src="/none.png"><button id="b"></button></main></body></html>"#;

async fn pages() -> Pages {
    serve_pages(
        CSP,
        &[
            ("/", "text/html", PAGE),
            ("/page.js", "text/javascript", SCRIPT),
            ("/frame", "text/html", FRAME),
            ("/next", "text/html", NEXT),
            ("/bad", "text/html", BAD),
        ],
    )
    .await
}

#[tokio::test]
async fn the_webdriver_client_drives_a_page_under_a_strict_csp() {
    let Some(b) = browser().await else { return };
    let site = pages().await;
    b.goto(&format!("{}/", site.base)).await.unwrap();
    b.wait_for("#go").await;
    // The CSP is in force: the inline script did not run, the page's own file did.
    assert_eq!(b.title().await.unwrap(), "Harness");
    // execute is not governed by the page's CSP.
    let sum = b
        .execute("return arguments[0] + arguments[1]", &[json!(2), json!(3)])
        .await
        .unwrap();
    assert_eq!(sum, 5);
    let evaluated = b.execute("return eval('6 * 7')", &[]).await;
    eprintln!("selftest: eval in execute under script-src 'self': {evaluated:?}");
    let later = b
        .execute_async(
            "const done = arguments[arguments.length - 1]; setTimeout(() => done('later'), 50);",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(later, "later");
    let err = b.execute("throw new Error('boom')", &[]).await.unwrap_err();
    assert_eq!(err.error, "javascript error");
    assert!(err.message.contains("boom"), "{err}");

    // Elements: find, attributes, properties, typing, clicking, waiting.
    let name = b.find("#name").await.unwrap();
    name.send_keys("Ada").await.unwrap();
    assert_eq!(name.property("value").await.unwrap(), "Ada");
    assert_eq!(name.attr("id").await.unwrap().as_deref(), Some("name"));
    assert_eq!(name.attr("data-nothing").await.unwrap(), None);
    assert_eq!(b.find_all("label").await.unwrap().len(), 2);
    assert!(b.find_all(".nothing").await.unwrap().is_empty());
    let missing = b.find(".nothing").await.unwrap_err();
    assert_eq!(missing.error, "no such element");
    assert!(!b.find("#late").await.unwrap().is_displayed().await.unwrap());
    b.find("#go").await.unwrap().click().await.unwrap();
    let late = b.wait_for("#late").await;
    assert_eq!(late.text().await.unwrap(), "Shown later");
    let log = b.browser_log().await.unwrap();
    assert!(
        log.iter()
            .any(|e| e["message"].as_str().unwrap_or("").contains("clicked")),
        "{log:?}"
    );
    // An element passed to and returned from a script.
    let same = b
        .execute("return arguments[0].closest('main')", &[json!(late)])
        .await
        .unwrap();
    let main = b.element(&same).unwrap();
    assert_eq!(main.tag_name().await.unwrap(), "main");
    assert_eq!(main.find_all("p").await.unwrap().len(), 2);

    // Keyboard shortcuts go to the document when nothing is focused.
    b.execute(
        "document.activeElement.blur(); document.getElementById('keys').textContent = ''",
        &[],
    )
    .await
    .unwrap();
    b.keys(&format!("jk{}{}", key::ENTER, key::ESCAPE))
        .await
        .unwrap();
    b.keys(&format!("{}j", key::SHIFT)).await.unwrap();
    let keys = b.find("[data-test=keys]").await.unwrap();
    assert_eq!(
        keys.text().await.unwrap(),
        "[j][k][Enter][Escape][S-Shift][S-J]"
    );

    // A file input takes a path.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.txt");
    std::fs::write(&file, "twelve bytes").unwrap();
    let input = b.find("#file").await.unwrap();
    input.send_keys(file.to_str().unwrap()).await.unwrap();
    let picked = b
        .execute(
            "const f = arguments[0].files[0]; return [f.name, f.size]",
            &[json!(input)],
        )
        .await
        .unwrap();
    assert_eq!(picked, json!(["report.txt", 12]));

    // Frames.
    let frame = b.find("#frame").await.unwrap();
    b.switch_to_frame(&frame).await.unwrap();
    assert_eq!(
        b.wait_for("#inner").await.text().await.unwrap(),
        "Inside the frame"
    );
    b.switch_to_parent().await.unwrap();
    assert!(b.find("#inner").await.is_err());
    b.switch_to_frame(&frame).await.unwrap();
    b.switch_to_top().await.unwrap();
    b.find("#go").await.unwrap();

    // Window size, screenshots.
    b.set_window_rect(500, 700).await.unwrap();
    let width = b.execute("return window.innerWidth", &[]).await.unwrap();
    assert_eq!(width, 500);
    let png = shot(&b, "selftest-narrow").await;
    let bytes = std::fs::read(png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");

    // Navigation.
    b.find("#next").await.unwrap().click().await.unwrap();
    b.wait_until("the next page", "document.title === 'Next'")
        .await;
    assert_eq!(
        b.current_url().await.unwrap(),
        format!("{}/next", site.base)
    );
    b.back().await.unwrap();
    b.wait_for("#go").await;
    assert_eq!(b.current_url().await.unwrap(), format!("{}/", site.base));
}

#[tokio::test]
async fn axe_core_runs_under_a_strict_csp_and_finds_serious_violations() {
    let Some(b) = browser().await else { return };
    let site = pages().await;
    b.goto(&format!("{}/bad", site.base)).await.unwrap();
    b.wait_for("h1").await;
    let found = axe_check(&b).await;
    if crate::harness::axe_path().is_file() {
        let ids: Vec<&str> = found.iter().map(|v| v.id.as_str()).collect();
        assert!(ids.contains(&"image-alt"), "{found:?}");
        assert!(ids.contains(&"button-name"), "{found:?}");
        let alt = found.iter().find(|v| v.id == "image-alt").unwrap();
        assert_eq!(alt.impact, "critical");
        assert_eq!(alt.targets, ["img"]);
        // Injected once per page: a second run reuses it.
        assert_eq!(axe_check(&b).await.len(), found.len());
    }
    b.goto(&format!("{}/next", site.base)).await.unwrap();
    b.wait_for("h1").await;
    crate::harness::assert_accessible(&b, "/next").await;
}
