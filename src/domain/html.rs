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

/// `html` with the `src` of every `<img>` that names an inline part (`cid:<content id>`) set to
/// what `resolve` gives for the content id (a `data:` URL, say); references it cannot resolve
/// are left as they are. `None` when `html` cannot be rewritten.
pub fn resolve_inline_images(
    html: &str,
    resolve: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let on_img = |el: &mut Element| {
        let target = el.get_attribute("src").and_then(|src| {
            let (scheme, id) = src.split_at_checked(4)?;
            if !scheme.eq_ignore_ascii_case("cid:") {
                return None;
            }
            let id =
                url::form_urlencoded::parse(format!("x={}", id.replace('+', "%2B")).as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())?;
            resolve(id.trim_start_matches('<').trim_end_matches('>'))
        });
        if let Some(target) = target {
            el.set_attribute("src", &target)?;
        }
        Ok(())
    };
    let settings = RewriteStrSettings {
        element_content_handlers: vec![element!("img[src]", on_img)],
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
        let html = "<p>Logo: <img src=\"cid:logo@x\"> <IMG SRC='CID:%3Cpic%3E'> \
                    <img src=\"cid:unknown\"> <img src=\"https://e.com/a.png\"></p>";
        let out = resolve_inline_images(html, |id| {
            (id == "logo@x" || id == "pic").then(|| format!("data:image/png;base64,{id}"))
        })
        .unwrap();
        assert_eq!(
            out,
            "<p>Logo: <img src=\"data:image/png;base64,logo@x\"> \
             <IMG SRC=\"data:image/png;base64,pic\"> <img src=\"cid:unknown\"> \
             <img src=\"https://e.com/a.png\"></p>"
        );
    }
}
