//! Text put into HTML, and HTML rewritten for showing.

use lol_html::html_content::Element;
use lol_html::{RewriteStrSettings, element, rewrite_str};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The content id an `<img src>` names, when it names an inline part (`cid:<id>`, the id
/// percent-decoded, angle brackets dropped).
fn content_id(src: &str) -> Option<String> {
    let (scheme, id) = src.split_at_checked(4)?;
    if !scheme.eq_ignore_ascii_case("cid:") {
        return None;
    }
    let id = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .ok()?;
    Some(id.trim_start_matches('<').trim_end_matches('>').to_owned())
}

/// The content ids of the inline parts `html`'s images name (`<img src="cid:…">`).
pub fn inline_image_ids(html: &str) -> Vec<String> {
    let ids = std::cell::RefCell::new(Vec::new());
    let on_img = |el: &mut Element| {
        if let Some(id) = el.get_attribute("src").as_deref().and_then(content_id) {
            ids.borrow_mut().push(id);
        }
        Ok(())
    };
    let settings = RewriteStrSettings {
        element_content_handlers: vec![element!("img[src]", on_img)],
        ..RewriteStrSettings::new()
    };
    // Only the ids are wanted; a document that cannot be read names none.
    let _ = rewrite_str(html, settings);
    ids.into_inner()
}

/// A received message's `html` made ready to show in a frame that runs no script: every
/// `<img>` naming an inline part (`cid:<content id>`) gets what `resolve` gives for the id (a
/// `data:` URL; references it cannot resolve stay as they are), and what could reach the
/// network or the opener without script goes: `<link>` (prefetch, preconnect, stylesheets),
/// `<meta http-equiv>` other than a charset (refresh, DNS prefetch), `ping` and
/// `referrerpolicy` attributes (the frame's address must not leave as a referrer) and `rel`
/// on links (`opener`). `None` when `html` cannot be rewritten.
pub fn prepare_for_view(html: &str, resolve: impl Fn(&str) -> Option<String>) -> Option<String> {
    let on_img = |el: &mut Element| {
        let target = el
            .get_attribute("src")
            .as_deref()
            .and_then(content_id)
            .and_then(|id| resolve(&id));
        if let Some(target) = target {
            el.set_attribute("src", &target)?;
        }
        Ok(())
    };
    let on_any = |el: &mut Element| {
        el.remove_attribute("ping");
        el.remove_attribute("referrerpolicy");
        Ok(())
    };
    let on_link = |el: &mut Element| {
        el.remove();
        Ok(())
    };
    let on_meta = |el: &mut Element| {
        let charset = el
            .get_attribute("http-equiv")
            .is_some_and(|v| v.eq_ignore_ascii_case("content-type"));
        if !charset {
            el.remove();
        }
        Ok(())
    };
    let on_anchor = |el: &mut Element| {
        el.remove_attribute("rel");
        Ok(())
    };
    let settings = RewriteStrSettings {
        element_content_handlers: vec![
            element!("img[src]", on_img),
            element!("*", on_any),
            element!("link", on_link),
            element!("meta[http-equiv]", on_meta),
            element!("a[rel], area[rel], form[rel]", on_anchor),
        ],
        ..RewriteStrSettings::new()
    };
    rewrite_str(html, settings).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_covers_content_and_attributes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn inline_images_resolve_by_content_id() {
        let html = "<p>Logo: <img src=\"cid:logo@x\"> <IMG SRC='CID:%3Cpic%26more%2B%3E'> \
                    <img src=\"cid:unknown\"> <img src=\"https://e.com/a.png\"></p>";
        assert_eq!(inline_image_ids(html), ["logo@x", "pic&more+", "unknown"]);
        let out = prepare_for_view(html, |id| {
            (id == "logo@x" || id == "pic&more+")
                .then(|| format!("data:image/png;base64,{}", id.len()))
        })
        .unwrap();
        assert_eq!(
            out,
            "<p>Logo: <img src=\"data:image/png;base64,6\"> \
             <IMG SRC=\"data:image/png;base64,9\"> <img src=\"cid:unknown\"> \
             <img src=\"https://e.com/a.png\"></p>"
        );
    }

    #[test]
    fn a_view_keeps_nothing_that_reaches_out_without_script() {
        let html = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html\">\
            <meta http-equiv=\"refresh\" content=\"0;url=https://e.com\">\
            <meta http-equiv=\"x-dns-prefetch-control\" content=\"on\">\
            <link rel=\"dns-prefetch\" href=\"//track.example\"><link rel=stylesheet href=x.css>\
            </head><body><a href=\"https://e.com\" ping=\"https://t.e.com\" rel=\"opener\" \
            referrerpolicy=\"unsafe-url\">go</a><img src=\"https://e.com/p.png\" \
            referrerpolicy=\"unsafe-url\"></body></html>";
        let out = prepare_for_view(html, |_| None).unwrap();
        assert_eq!(
            out,
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html\">\
            </head><body><a href=\"https://e.com\">go</a><img src=\"https://e.com/p.png\">\
            </body></html>"
        );
    }
}
