//! Extraction of the *new content* of a message.
//!
//! A reply usually carries the whole conversation below (or around) the few
//! lines the sender actually wrote: quoted replies, attribution lines ("On …
//! wrote:"), forwarded history, Outlook header blocks and signatures. An agent
//! reading the message only needs what is new, so every stored message gets an
//! extracted text and HTML body with that history removed.
//!
//! The module is pure: it depends on `std`, `lol_html` (the HTML side, streamed
//! in two passes: one to locate quotes and markers by byte position, one to
//! remove them) and `mail_parser` (only for the test corpus scoring).
//!
//! The hard rule is that new content must never be lost: whenever a heuristic
//! is unsure, the content is kept, and a body that would become empty is
//! returned unchanged (a bare forward or a reply consisting only of a quote is
//! then kept whole, since that is all the message says).

/// The new content of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The new content of the text body, or `None` when the message has no
    /// text body (or only whitespace).
    pub text: Option<String>,
    /// The new content of the HTML body, or `None` when the message has no
    /// HTML body (or only whitespace).
    pub html: Option<String>,
}

/// Extracts the new content of a message from its decoded bodies.
///
/// `text`/`html` are the message's decoded bodies (either may be `None`).
/// A body that is absent or blank gives `None`; a body whose extraction would
/// be empty is returned unchanged (trailing whitespace trimmed), so that new
/// content is never lost.
pub fn extract(text: Option<&str>, html: Option<&str>) -> Extracted {
    Extracted {
        text: text.and_then(extract_text),
        html: html.and_then(extract_html),
    }
}

/// What [`extract`] gives for a text body it takes nothing out of: every line without its
/// trailing whitespace, `\n` line ends, no trailing blank lines. (Storage keeps such a result
/// as "unchanged" rather than as a second copy of the body.)
pub fn unchanged_text(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    for line in body.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

/// What [`extract`] gives for an HTML body it takes nothing out of.
pub fn unchanged_html(body: &str) -> String {
    body.trim_end().to_owned()
}

/// Extracts the new content of a text body; `None` when the body is blank.
fn extract_text(body: &str) -> Option<String> {
    if body.trim().is_empty() {
        return None;
    }
    let lines: Vec<&str> = body.lines().collect();
    let keep = text::kept_lines(&lines);
    let mut out = String::with_capacity(body.len());
    for (line, kept) in lines.iter().zip(keep) {
        if kept {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    let out = out.trim_end();
    if out.trim().is_empty() {
        return Some(body.trim_end().to_string());
    }
    Some(out.to_string())
}

/// Extracts the new content of an HTML body; `None` when the body is blank.
fn extract_html(body: &str) -> Option<String> {
    if body.trim().is_empty() {
        return None;
    }
    let out = html::extract(body).unwrap_or_else(|| body.to_string());
    Some(out.trim_end().to_string())
}

/// Lowercases and collapses runs of whitespace (including no-break spaces)
/// into single spaces, trimming both ends.
fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c == '\u{a0}') {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Recognisers of single lines (or short text runs): attributions, header
/// labels, separators and mobile signatures. All work on one line at a time
/// and ignore lines longer than [`markers::MAX_MARKER_LEN`].
mod markers {
    use super::normalize;

    /// Lines longer than this (in bytes) are never markers.
    pub(super) const MAX_MARKER_LEN: usize = 400;

    /// Verbs that end an attribution line, lowercase.
    const VERBS: &[&str] = &[
        "wrote",
        "writes",
        "schrieb",
        "a écrit",
        "escribió",
        "escribio",
        "ha scritto",
        "scrisse",
        "escreveu",
        "schreef",
        "geschreven",
        "skrev",
        "pisze",
        "napisał(a)",
        "napisał",
        "napisała",
        "пишет",
        "написал(а)",
        "написал",
        "написала",
        "のメッセージ",
        "書きました",
        "写道",
        "寫道",
        "kirjoitti",
        "írta",
        "napsal(a)",
        "napsal",
        "έγραψε",
        "yazdı",
        "작성",
        "a scris",
    ];

    /// Words that open an attribution line, lowercase, followed by a space.
    const PREFIXES: &[&str] = &[
        "on", "am", "le", "el", "il", "em", "op", "den", "w dniu", "dnia", "в", "le jeu.", "at",
    ];

    /// How sure a line is to be an attribution.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Attribution {
        /// Looks like one, but could be prose: only trusted before a quote.
        Weak,
        /// Opens with a known word and carries a date or an address: trusted
        /// even when no quote follows (unquoted history follows).
        Strong,
    }

    /// Classifies `line` as an attribution line ("On …, … wrote:").
    pub(super) fn attribution(line: &str) -> Option<Attribution> {
        let line = line.trim().trim_matches('*').trim();
        if line.len() > MAX_MARKER_LEN || line.len() < 6 {
            return None;
        }
        if !(line.ends_with(':') || line.ends_with('：')) {
            return None;
        }
        let lower = normalize(line);
        let body = lower.trim_end_matches([':', '：', ' ']);
        let has_digit = lower.chars().any(|c| c.is_ascii_digit());
        let has_address = lower.contains('@');
        let ends_with_verb = VERBS.iter().any(|v| body.ends_with(v));
        // mutt's "* Name <a@b> [2024-03-04 09:12]:" ends with a bracket.
        let ends_with_address = body.ends_with(['>', ')', ']']);
        let has_verb = VERBS.iter().any(|v| lower.contains(v));
        let opens = PREFIXES
            .iter()
            .any(|p| lower.strip_prefix(p).is_some_and(|r| r.starts_with(' ')))
            || lower.starts_with(|c: char| c.is_ascii_digit());
        // "Am 04.03.24 um 09:12 schrieb Anna Schmidt:": the verb before the name.
        let verb_form = ends_with_verb || (has_verb && (ends_with_address || opens));
        // Gmail in Japanese or Russian: "2024年3月4日(月) 9:12 Name <a@b>:".
        let bare_form = ends_with_address && has_address && has_digit;
        if !(verb_form || bare_form) {
            return None;
        }
        if !(has_digit || has_address) {
            return None;
        }
        if opens && verb_form && (has_time(&lower) || has_address) {
            Some(Attribution::Strong)
        } else {
            Some(Attribution::Weak)
        }
    }

    /// Whether `s` holds a clock time such as `9:12` (a digit, a colon, two
    /// digits).
    fn has_time(s: &str) -> bool {
        let b = s.as_bytes();
        b.windows(4).any(|w| {
            w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit() && w[3].is_ascii_digit()
        })
    }

    /// Header labels that open an Outlook header block ("From:").
    const FROM_LABELS: &[&str] = &[
        "from:",
        "from :",
        "von:",
        "de:",
        "de :",
        "da:",
        "van:",
        "från:",
        "fra:",
        "od:",
        "от:",
        "от кого:",
        "发件人:",
        "发件人：",
        "寄件者:",
        "差出人:",
        "送信者:",
        "afzender:",
    ];

    /// Other labels of an Outlook header block (date, recipients, subject).
    const OTHER_LABELS: &[&str] = &[
        "sent:",
        "date:",
        "to:",
        "cc:",
        "subject:",
        "gesendet:",
        "datum:",
        "an:",
        "betreff:",
        "envoyé :",
        "envoyé:",
        "date :",
        "à :",
        "à:",
        "cc :",
        "objet :",
        "objet:",
        "enviado:",
        "enviado el:",
        "fecha:",
        "para:",
        "asunto:",
        "inviato:",
        "data:",
        "a:",
        "oggetto:",
        "enviada:",
        "assunto:",
        "verzonden:",
        "aan:",
        "onderwerp:",
        "skickat:",
        "till:",
        "ämne:",
        "sendt:",
        "til:",
        "emne:",
        "wysłane:",
        "wysłano:",
        "do:",
        "temat:",
        "отправлено:",
        "кому:",
        "тема:",
        "дата:",
        "送信日時:",
        "宛先:",
        "件名:",
        "发送时间:",
        "发送时间：",
        "收件人:",
        "收件人：",
        "主题:",
        "主题：",
        "日期:",
    ];

    /// The line with its leading emphasis (`*From:*` in text renderings of
    /// bold HTML) removed, lowercased.
    fn label_form(line: &str) -> String {
        let t = line.trim_start().trim_start_matches(['*', '>', ' ']);
        let head: String = t.chars().take(24).collect();
        normalize(&head.replace('*', ""))
    }

    /// Whether `line` starts with a "From:" label of some language.
    pub(super) fn is_from_label(line: &str) -> bool {
        let l = label_form(line);
        FROM_LABELS.iter().any(|p| l.starts_with(p))
    }

    /// Whether `line` starts with another header label of some language.
    pub(super) fn is_other_label(line: &str) -> bool {
        let l = label_form(line);
        OTHER_LABELS.iter().any(|p| l.starts_with(p))
    }

    /// Names of separator lines such as `-----Original Message-----`.
    const SEPARATOR_NAMES: &[&str] = &[
        "original message",
        "ursprüngliche nachricht",
        "originalnachricht",
        "message d'origine",
        "message d’origine",
        "mensaje original",
        "messaggio originale",
        "mensagem original",
        "oorspronkelijk bericht",
        "ursprungligt meddelande",
        "originalmeddelande",
        "oprindelig meddelelse",
        "opprinnelig melding",
        "oryginalna wiadomość",
        "wiadomość oryginalna",
        "исходное сообщение",
        "forwarded message",
        "weitergeleitete nachricht",
        "message transféré",
        "mensaje reenviado",
        "messaggio inoltrato",
        "mensagem encaminhada",
        "mensagem reencaminhada",
        "doorgestuurd bericht",
        "vidarebefordrat meddelande",
        "videresendt meddelelse",
        "videresendt melding",
        "wiadomość przekazana",
        "przekazana wiadomość",
        "пересланное сообщение",
        "転送されたメッセージ",
        "转发的邮件",
        "原始邮件",
        "元のメッセージ",
    ];

    /// Lines that introduce a forward without dashes, lowercase.
    const FORWARD_INTROS: &[&str] = &[
        "begin forwarded message:",
        "anfang der weitergeleiteten nachricht:",
        "début du message réexpédié :",
        "début du message transféré :",
        "début du message réexpédié:",
        "début du message transféré:",
        "inicio del mensaje reenviado:",
        "comienzo del mensaje reenviado:",
        "inizio messaggio inoltrato:",
        "início da mensagem reencaminhada:",
        "início da mensagem encaminhada:",
        "begin doorgestuurd bericht:",
        "vidarebefordrat brev:",
        "videresendt besked:",
        "początek przekazanej wiadomości:",
        "начало переадресованного сообщения:",
        "転送されたメッセージ:",
        "转发的邮件：",
        "转发的邮件:",
    ];

    /// Whether `line` is a separator before quoted or forwarded history
    /// (`-----Original Message-----`, `---------- Forwarded message ---------`,
    /// `Begin forwarded message:` and their translations).
    pub(super) fn is_separator(line: &str) -> bool {
        let t = line.trim();
        if t.len() > 120 || t.is_empty() {
            return false;
        }
        let lower = normalize(t);
        if FORWARD_INTROS.contains(&lower.as_str()) {
            return true;
        }
        if !t.starts_with(['-', '=', '_', '*']) {
            return false;
        }
        let name = lower.trim_matches(['-', '=', '_', '*', ' ', ':']);
        SEPARATOR_NAMES.contains(&name)
    }

    /// Whether `line` is a long underscore rule (Outlook puts one above the
    /// header block of the quoted message).
    pub(super) fn is_underscore_rule(line: &str) -> bool {
        let t = line.trim();
        t.len() >= 10 && t.bytes().all(|b| b == b'_')
    }

    /// Whether `line` is a signature delimiter: `-- ` (RFC 3676) or `--`.
    pub(super) fn signature_delimiter(line: &str) -> Option<SignatureKind> {
        if line == "-- " {
            Some(SignatureKind::Standard)
        } else if line.trim() == "--" || line.trim() == "—" {
            Some(SignatureKind::Loose)
        } else {
            None
        }
    }

    /// The kind of signature delimiter found.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum SignatureKind {
        /// Exactly `-- `, as RFC 3676 defines.
        Standard,
        /// `--` without the space (or an em dash): only trusted near the end.
        Loose,
    }

    /// Openings of the signatures that mobile and webmail clients add.
    const MOBILE_SIGNATURES: &[&str] = &[
        "sent from my ",
        "sent from yahoo mail",
        "sent from mail for windows",
        "sent from outlook",
        "sent from the all new aol",
        "sent with proton mail",
        "sent with protonmail",
        "sent from proton mail",
        "get outlook for ios",
        "get outlook for android",
        "get outlook for mac",
        "envoyé de mon ",
        "envoyé depuis mon ",
        "envoyé à partir de ",
        "obtenir outlook pour ",
        "von meinem iphone gesendet",
        "von meinem ipad gesendet",
        "von meinem smartphone gesendet",
        "gesendet von meinem ",
        "gesendet mit der ",
        "outlook für ios beziehen",
        "outlook für android herunterladen",
        "enviado desde mi ",
        "enviado desde yahoo mail",
        "obtener outlook para ",
        "enviado do meu ",
        "enviado do yahoo mail",
        "inviato da iphone",
        "inviato da ipad",
        "inviato dal mio ",
        "inviato da il mio ",
        "inviato da yahoo mail",
        "verzonden vanaf mijn ",
        "verstuurd vanaf mijn ",
        "verzonden met ",
        "skickat från min ",
        "skickat från ",
        "sendt fra min ",
        "wysłane z mojego ",
        "wysłano z mojego ",
        "wysłane z iphone",
        "отправлено с iphone",
        "отправлено с моего ",
        "отправлено из мобильной ",
        "iphoneから送信",
        "ipadから送信",
        "从我的iphone发送",
        "發自我的iphone",
        "发自我的iphone",
    ];

    /// Whether `line` is a mobile or webmail signature such as
    /// "Sent from my iPhone" or "Get Outlook for iOS<https://aka.ms/…>".
    pub(super) fn is_mobile_signature(line: &str) -> bool {
        let t = line.trim();
        if t.is_empty() || t.len() > 120 {
            return false;
        }
        let linked = t.contains('<') || t.contains("http");
        let limit = if linked { 90 } else { 45 };
        if t.chars().count() > limit || t.contains([',', ';']) {
            return false;
        }
        let lower = normalize(t);
        MOBILE_SIGNATURES.iter().any(|p| lower.starts_with(p))
    }
}

/// The text side: a line-based pass over the body.
mod text {
    use super::markers::{self, Attribution, SignatureKind};

    /// How many non-blank lines may follow a `-- ` delimiter for it to be
    /// taken as a signature; `--` without space allows fewer.
    const SIGNATURE_LINES_STANDARD: usize = 12;
    const SIGNATURE_LINES_LOOSE: usize = 6;

    /// Decides, for every line of the body, whether it is new content.
    pub(super) fn kept_lines(lines: &[&str]) -> Vec<bool> {
        let cut = find_cut(lines);
        let mut keep: Vec<bool> = (0..lines.len()).map(|i| i < cut).collect();
        remove_quotes(lines, cut, &mut keep);
        for (i, line) in lines.iter().enumerate().take(cut) {
            if markers::is_mobile_signature(line) {
                keep[i] = false;
            }
        }
        keep
    }

    /// Whether the line is part of a `>` quote.
    fn is_quote(line: &str) -> bool {
        line.trim_start_matches([' ', '\t']).starts_with('>') && !line.starts_with("    ")
    }

    /// The attribution starting at line `i`, on one line or wrapped over two
    /// (as Gmail does): its strength and how many lines it spans.
    fn attribution_at(lines: &[&str], i: usize) -> Option<(Attribution, usize)> {
        let line = lines.get(i)?;
        if line.trim().is_empty() || is_quote(line) {
            return None;
        }
        if let Some(a) = markers::attribution(line) {
            return Some((a, 1));
        }
        let next = lines.get(i + 1)?;
        if next.trim().is_empty() || is_quote(next) || next.len() > markers::MAX_MARKER_LEN {
            return None;
        }
        let joined = format!("{} {}", line.trim(), next.trim());
        markers::attribution(&joined).map(|a| (a, 2))
    }

    /// The index of the next non-blank line at or after `i`, if any.
    fn next_non_blank(lines: &[&str], mut i: usize) -> Option<usize> {
        while i < lines.len() {
            if !lines[i].trim().is_empty() {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// Whether an Outlook header block ("From:", then "Sent:", "To:",
    /// "Subject:"…) starts at line `i`.
    fn header_block_at(lines: &[&str], i: usize) -> bool {
        if !lines.get(i).is_some_and(|l| markers::is_from_label(l)) {
            return false;
        }
        let others = lines
            .iter()
            .skip(i + 1)
            .take(8)
            .filter(|l| markers::is_other_label(l))
            .count();
        others >= 2
    }

    /// The first line at which everything that follows is history: a
    /// separator, a header block, an attribution followed by unquoted history,
    /// or a signature. `lines.len()` when there is none.
    fn find_cut(lines: &[&str]) -> usize {
        for i in 0..lines.len() {
            let line = lines[i];
            if line.len() > markers::MAX_MARKER_LEN || is_quote(line) {
                continue;
            }
            if markers::is_separator(line) || header_block_at(lines, i) {
                return i;
            }
            if markers::is_underscore_rule(line)
                && next_non_blank(lines, i + 1).is_some_and(|j| header_block_at(lines, j))
            {
                return i;
            }
            if let Some((Attribution::Strong, n)) = attribution_at(lines, i) {
                let quoted = next_non_blank(lines, i + n).is_some_and(|j| is_quote(lines[j]));
                if !quoted {
                    return i;
                }
            }
            if let Some(kind) = markers::signature_delimiter(line)
                && is_signature(lines, i + 1, kind)
            {
                return i;
            }
        }
        lines.len()
    }

    /// Whether the lines from `start` look like a signature: few non-blank
    /// lines before the end or before history (a quote, an attribution, a
    /// separator or a header block).
    fn is_signature(lines: &[&str], start: usize, kind: SignatureKind) -> bool {
        let limit = match kind {
            SignatureKind::Standard => SIGNATURE_LINES_STANDARD,
            SignatureKind::Loose => SIGNATURE_LINES_LOOSE,
        };
        let mut count = 0;
        for (offset, line) in lines.iter().enumerate().skip(start) {
            if is_quote(line)
                || markers::is_separator(line)
                || markers::is_underscore_rule(line)
                || header_block_at(lines, offset)
                || attribution_at(lines, offset).is_some()
            {
                return true;
            }
            if !line.trim().is_empty() {
                count += 1;
                if count > limit {
                    return false;
                }
            }
        }
        true
    }

    /// Removes `>` quote blocks that are history, and the attribution lines
    /// that introduce them. A block is history when an attribution precedes
    /// it, when it opens the message or ends it (only blank lines or mobile
    /// signatures around), or when an earlier block was history (interleaved
    /// replies). A lone block in the middle of new text (a pasted snippet) is
    /// kept.
    fn remove_quotes(lines: &[&str], cut: usize, keep: &mut [bool]) {
        let mut seen_attribution = false;
        let mut removed_before = false;
        let first_content = lines.iter().position(|l| !is_blank_or_signature(l));
        let last_content = lines[..cut].iter().rposition(|l| !is_blank_or_signature(l));
        let mut i = 0;
        while i < cut {
            if let Some((_, n)) = attribution_at(lines, i) {
                let quoted =
                    next_non_blank(lines, i + n).is_some_and(|j| j < cut && is_quote(lines[j]));
                if quoted {
                    seen_attribution = true;
                    for k in keep.iter_mut().skip(i).take(n) {
                        *k = false;
                    }
                    i += n;
                    continue;
                }
            }
            if !is_quote(lines[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < cut && is_quote(lines[i]) {
                i += 1;
            }
            let opens = first_content.is_none_or(|f| start <= f);
            let ends = last_content.is_none_or(|l| l < i);
            if seen_attribution || removed_before || opens || ends {
                removed_before = true;
                for k in keep.iter_mut().take(i).skip(start) {
                    *k = false;
                }
            }
        }
    }

    /// Whether a line carries nothing new: blank or a mobile signature.
    fn is_blank_or_signature(line: &&str) -> bool {
        line.trim().is_empty() || markers::is_mobile_signature(line)
    }
}

/// The HTML side: two streaming passes with `lol_html`.
///
/// The first pass records, by byte position in the source, the elements that
/// hold history (Gmail, Apple Mail, Thunderbird, Yahoo, Proton quotes and
/// signatures), the markers after which everything is history (Outlook's
/// reply header, `-----Original Message-----`…), and the text nodes. The
/// decision is then made on that list, and the second pass removes the chosen
/// elements, text nodes, and everything after the cut position.
mod html {
    use super::markers;
    use lol_html::html_content::{Comment, Element, TextChunk, TextType};
    use lol_html::{DocumentContentHandlers, ElementContentHandlers, RewriteStrSettings, Selector};
    use std::borrow::Cow;
    use std::cell::RefCell;
    use std::collections::HashSet;
    use std::rc::Rc;

    /// What an element means for extraction.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        /// A quote or signature container: removed with its content.
        History,
        /// A marker: it and everything after it are history.
        Cut,
        /// Outlook desktop's bordered header div: a cut when a "From:" label
        /// follows.
        OutlookBorder,
        /// A horizontal rule (Outlook web puts one before its header).
        Rule,
        /// A plain blockquote: history only after an attribution.
        Blockquote,
        /// Anything else.
        Other,
    }

    /// One item of the first pass, in document order.
    #[derive(Debug)]
    enum Event {
        /// An element start tag at byte `start`; `end` is where its end tag
        /// ends (the document end when unclosed).
        Element {
            start: usize,
            end: usize,
            kind: Kind,
        },
        /// A text node (data text only) spanning `start..end` in the source.
        Text {
            start: usize,
            end: usize,
            raw: String,
        },
    }

    /// Extracts the new content of an HTML body; `None` when the HTML cannot
    /// be processed (the caller then keeps the body as it is).
    pub(super) fn extract(body: &str) -> Option<String> {
        let events = scan(body)?;
        let plan = plan(&events, body.len());
        if plan.is_noop() {
            return Some(body.to_string());
        }
        if plan.leaves_no_text(&events) {
            return Some(body.to_string());
        }
        apply(body, &plan)
    }

    /// Classifies an element by tag name, class, id, type and style.
    fn classify(el: &Element) -> Kind {
        let tag = el.tag_name();
        let class = el.get_attribute("class").unwrap_or_default();
        let id = el.get_attribute("id").unwrap_or_default();
        let id = id.trim_start_matches("x_");
        const HISTORY_CLASSES: &[&str] = &[
            "gmail_quote",
            "gmail_quote_container",
            "gmail_signature",
            "gmail_signature_prefix",
            "moz-cite-prefix",
            "moz-signature",
            "moz-forward-container",
            "yahoo_quoted",
            "protonmail_quote",
            "protonmail_signature_block",
            "ms-outlook-mobile-signature",
        ];
        let has_class = |c: &str| {
            class
                .split_whitespace()
                .any(|k| k.trim_start_matches("x_") == c)
        };
        if HISTORY_CLASSES.iter().any(|c| has_class(c)) {
            return Kind::History;
        }
        if matches!(
            id,
            "Signature" | "signature" | "ymail_android_signature" | "ymail_iphone_signature"
        ) {
            return Kind::History;
        }
        if matches!(
            id,
            "appendonsend" | "divRplyFwdMsg" | "mail-editor-reference-message-container"
        ) {
            return Kind::Cut;
        }
        match tag.as_str() {
            "blockquote" => {
                let cite = el
                    .get_attribute("type")
                    .is_some_and(|t| t.eq_ignore_ascii_case("cite"));
                if cite {
                    Kind::History
                } else {
                    Kind::Blockquote
                }
            }
            "hr" => Kind::Rule,
            "div" | "p" => {
                let style = el.get_attribute("style").unwrap_or_default();
                let style: String = style
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .flat_map(char::to_lowercase)
                    .collect();
                let border = style.contains("border-top:solid#e1e1e1")
                    || style.contains("border-top:solid#b5c4df")
                    || style.contains("border-top:1ptsolid#b5c4df")
                    || style.contains("border-top:1ptsolid#e1e1e1");
                if border {
                    Kind::OutlookBorder
                } else {
                    Kind::Other
                }
            }
            _ => Kind::Other,
        }
    }

    /// Parses a selector; lol_html's macros unwrap, so this does it by hand.
    fn selector(s: &str) -> Option<Cow<'static, Selector>> {
        s.parse::<Selector>().ok().map(Cow::Owned)
    }

    /// The first pass: records elements and text nodes in document order.
    fn scan(body: &str) -> Option<Vec<Event>> {
        let events: Rc<RefCell<Vec<Event>>> = Rc::new(RefCell::new(Vec::new()));
        let text_buf: RefCell<(usize, String)> = RefCell::new((usize::MAX, String::new()));
        let doc_len = body.len();
        let el_events = Rc::clone(&events);
        let on_element = move |el: &mut Element| {
            let kind = classify(el);
            let start = el.source_location().bytes().start;
            let index = {
                let mut ev = el_events.borrow_mut();
                ev.push(Event::Element {
                    start,
                    end: doc_len,
                    kind,
                });
                ev.len() - 1
            };
            if matches!(
                kind,
                Kind::History | Kind::Blockquote | Kind::OutlookBorder | Kind::Cut
            ) && let Some(handlers) = el.end_tag_handlers()
            {
                let end_events = Rc::clone(&el_events);
                handlers.push(Box::new(move |end| {
                    let stop = end.source_location().bytes().end;
                    if let Some(Event::Element { end, .. }) = end_events.borrow_mut().get_mut(index)
                    {
                        *end = stop;
                    }
                    Ok(())
                }));
            }
            Ok(())
        };
        let text_events = Rc::clone(&events);
        let on_text = move |chunk: &mut TextChunk| {
            if chunk.text_type() != TextType::Data {
                return Ok(());
            }
            let range = chunk.source_location().bytes();
            let mut buf = text_buf.borrow_mut();
            if buf.0 == usize::MAX {
                buf.0 = range.start;
            }
            buf.1.push_str(chunk.as_str());
            if chunk.last_in_text_node() {
                let raw = std::mem::take(&mut buf.1);
                let start = std::mem::replace(&mut buf.0, usize::MAX);
                if !raw.is_empty() {
                    text_events.borrow_mut().push(Event::Text {
                        start,
                        end: range.end,
                        raw,
                    });
                }
            }
            Ok(())
        };
        let settings = RewriteStrSettings {
            element_content_handlers: vec![(
                selector("*")?,
                ElementContentHandlers::default().element(on_element),
            )],
            document_content_handlers: vec![DocumentContentHandlers::default().text(on_text)],
            ..RewriteStrSettings::new()
        };
        lol_html::rewrite_str(body, settings).ok()?;
        let events = std::mem::take(&mut *events.borrow_mut());
        Some(events)
    }

    /// What the second pass removes.
    #[derive(Debug, Default)]
    struct Plan {
        /// Start positions of elements removed with their content.
        elements: HashSet<usize>,
        /// Source ranges of elements removed with their content.
        element_ranges: Ranges,
        /// Source ranges of text nodes removed.
        texts: Ranges,
        /// Everything starting at or after this position is removed.
        cut: usize,
        /// The document length (no cut when `cut == len`).
        len: usize,
    }

    /// Source ranges, kept sorted and without nesting once [`Ranges::seal`]
    /// is called, so that lookups are binary searches.
    #[derive(Debug, Default)]
    struct Ranges(Vec<(usize, usize)>);

    impl Ranges {
        /// Adds a range.
        fn push(&mut self, range: (usize, usize)) {
            self.0.push(range);
        }

        /// Adds ranges.
        fn extend(&mut self, ranges: impl IntoIterator<Item = (usize, usize)>) {
            self.0.extend(ranges);
        }

        /// Whether there is no range.
        fn is_empty(&self) -> bool {
            self.0.is_empty()
        }

        /// Sorts the ranges and drops those nested in an earlier one.
        fn seal(&mut self) {
            self.0.sort_unstable();
            let mut out: Vec<(usize, usize)> = Vec::with_capacity(self.0.len());
            for r in self.0.drain(..) {
                match out.last_mut() {
                    Some(last) if r.0 < last.1 => last.1 = last.1.max(r.1),
                    _ => out.push(r),
                }
            }
            self.0 = out;
        }

        /// The range that starts last at or before `pos`, if any.
        fn around(&self, pos: usize) -> Option<(usize, usize)> {
            let i = self.0.partition_point(|r| r.0 <= pos);
            i.checked_sub(1).and_then(|i| self.0.get(i)).copied()
        }

        /// Whether `start..end` lies inside one range.
        fn covers(&self, start: usize, end: usize) -> bool {
            self.around(start)
                .is_some_and(|(a, b)| a <= start && end <= b)
        }

        /// Whether `pos` lies inside a range.
        fn holds(&self, pos: usize) -> bool {
            self.around(pos).is_some_and(|(a, b)| a <= pos && pos < b)
        }
    }

    impl Plan {
        /// Whether nothing would be removed.
        fn is_noop(&self) -> bool {
            self.elements.is_empty() && self.texts.is_empty() && self.cut >= self.len
        }

        /// Whether the text at `start..end` is removed: inside a removed
        /// element or text, or after the cut.
        fn removes(&self, start: usize, end: usize) -> bool {
            self.removes_element(start) || self.texts.covers(start, end)
        }

        /// Whether an element starting at `start` is removed.
        fn removes_element(&self, start: usize) -> bool {
            start >= self.cut || self.element_ranges.holds(start)
        }

        /// Whether the plan leaves no visible text at all (then the body is
        /// kept whole: a bare forward or a reply with nothing but a quote).
        fn leaves_no_text(&self, events: &[Event]) -> bool {
            !events.iter().any(|e| match e {
                Event::Text { start, end, raw } => {
                    !self.removes(*start, *end) && !decode(raw).trim().is_empty()
                }
                Event::Element { .. } => false,
            })
        }
    }

    /// Decides what to remove from the first pass's events.
    fn plan(events: &[Event], len: usize) -> Plan {
        let mut plan = Plan {
            cut: len,
            len,
            ..Plan::default()
        };
        for e in events {
            if let Event::Element {
                start,
                end,
                kind: Kind::History,
            } = e
            {
                plan.elements.insert(*start);
                plan.element_ranges.push((*start, *end));
            }
        }
        plan.element_ranges.seal();
        plan.cut = find_cut(events, &plan).unwrap_or(len);
        remove_attributions(events, &mut plan);
        remove_mobile_signatures(events, &mut plan);
        plan.element_ranges.seal();
        plan.texts.seal();
        if let Some(cut) = signature_cut(events, &plan) {
            plan.cut = plan.cut.min(cut);
        }
        plan
    }

    /// The decoded, whitespace-normalised text of `events[i]` if it is a
    /// non-blank text node.
    fn text_of(e: &Event) -> Option<String> {
        match e {
            Event::Text { raw, .. } => {
                let t = decode(raw);
                let t = t.trim();
                (!t.is_empty()).then(|| t.to_string())
            }
            Event::Element { .. } => None,
        }
    }

    /// The start of the first marker after which everything is history.
    fn find_cut(events: &[Event], plan: &Plan) -> Option<usize> {
        let mut last_rule: Option<usize> = None;
        for (i, e) in events.iter().enumerate() {
            match e {
                Event::Element { start, kind, .. } => {
                    if plan.removes_element(*start) {
                        continue;
                    }
                    match kind {
                        Kind::Cut => return Some(last_rule.unwrap_or(*start)),
                        Kind::OutlookBorder if from_label_follows(&events[i + 1..]) => {
                            return Some(last_rule.unwrap_or(*start));
                        }
                        Kind::Rule => last_rule = Some(*start),
                        _ => {}
                    }
                }
                Event::Text { start, end, raw } => {
                    if plan.removes(*start, *end) {
                        continue;
                    }
                    if let Some(pos) = text_marker(raw) {
                        return Some(start + pos);
                    }
                    if text_of(e).is_some() {
                        last_rule = None;
                    }
                    if header_sequence_at(events, i) {
                        return Some(*start);
                    }
                }
            }
        }
        None
    }

    /// How many events a marker looks ahead at most.
    const LOOKAHEAD: usize = 60;

    /// Whether one of the next few text nodes starts with a "From:" label.
    fn from_label_follows(events: &[Event]) -> bool {
        events
            .iter()
            .take(LOOKAHEAD)
            .filter_map(text_of)
            .take(3)
            .any(|t| markers::is_from_label(&t))
    }

    /// Whether an Outlook header block made of several text nodes
    /// (`<b>From:</b> …<br><b>Sent:</b> …`) starts at `events[i]`.
    fn header_sequence_at(events: &[Event], i: usize) -> bool {
        let Some(first) = events.get(i).and_then(text_of) else {
            return false;
        };
        if !markers::is_from_label(&first) {
            return false;
        }
        events[i + 1..]
            .iter()
            .take(LOOKAHEAD)
            .filter_map(text_of)
            .take(10)
            .filter(|t| markers::is_other_label(t))
            .count()
            >= 2
    }

    /// Within one text node (possibly several lines, as in `<pre>`), the byte
    /// offset of a separator line or of a header block, if any.
    fn text_marker(raw: &str) -> Option<usize> {
        let lines: Vec<(usize, &str)> = line_offsets(raw);
        for (n, (offset, line)) in lines.iter().enumerate() {
            if line.len() > markers::MAX_MARKER_LEN {
                continue;
            }
            let line = decode(line);
            if markers::is_separator(&line) {
                return Some(*offset);
            }
            if markers::is_from_label(&line) {
                let others = lines
                    .iter()
                    .skip(n + 1)
                    .take(8)
                    .filter(|(_, l)| markers::is_other_label(&decode(l)))
                    .count();
                if others >= 2 {
                    return Some(*offset);
                }
            }
        }
        None
    }

    /// The lines of `s` with their byte offsets.
    fn line_offsets(s: &str) -> Vec<(usize, &str)> {
        let mut out = Vec::new();
        let mut offset = 0;
        for line in s.split_inclusive('\n') {
            out.push((offset, line.trim_end_matches(['\n', '\r'])));
            offset += line.len();
        }
        out
    }

    /// Removes attribution text just before a removed quote (or a plain
    /// blockquote, which is then removed too). The attribution may be split
    /// over a few text nodes (`On …, <a>jane@…</a> wrote:`).
    fn remove_attributions(events: &[Event], plan: &mut Plan) {
        let mut i = 0;
        while i < events.len() {
            let Event::Element { start, end, kind } = &events[i] else {
                i += 1;
                continue;
            };
            let quote = matches!(kind, Kind::History | Kind::Blockquote);
            if !quote || *start >= plan.cut {
                i += 1;
                continue;
            }
            if let Some(texts) = attribution_before(events, i, plan) {
                plan.texts.extend(texts);
                if *kind == Kind::Blockquote {
                    plan.elements.insert(*start);
                    plan.element_ranges.push((*start, *end));
                }
            }
            i += 1;
        }
    }

    /// The text ranges of an attribution that ends right before `events[i]`
    /// (only elements and blank text in between).
    fn attribution_before(events: &[Event], i: usize, plan: &Plan) -> Option<Vec<(usize, usize)>> {
        let mut ranges = Vec::new();
        let mut joined = String::new();
        for e in events[..i].iter().rev().take(12) {
            let Event::Text { start, end, raw } = e else {
                continue;
            };
            if plan.removes_element(*start) || *end > plan.cut {
                return None;
            }
            let t = decode(raw);
            if t.trim().is_empty() && ranges.is_empty() {
                continue;
            }
            joined = format!("{} {}", t.trim(), joined);
            ranges.push((*start, *end));
            if joined.len() > markers::MAX_MARKER_LEN {
                return None;
            }
            if !joined.trim_end().ends_with([':', '：']) {
                return None;
            }
            if markers::attribution(joined.trim()).is_some() {
                return Some(ranges);
            }
            if ranges.len() >= 5 {
                return None;
            }
        }
        None
    }

    /// Removes text nodes that are a mobile signature ("Sent from my iPhone").
    fn remove_mobile_signatures(events: &[Event], plan: &mut Plan) {
        for e in events {
            if let Event::Text { start, end, .. } = e
                && *start < plan.cut
                && text_of(e).is_some_and(|t| markers::is_mobile_signature(&t))
            {
                plan.texts.push((*start, *end));
            }
        }
    }

    /// A `-- ` signature delimiter in its own text node with little text after
    /// it (before the cut): the position to cut at.
    fn signature_cut(events: &[Event], plan: &Plan) -> Option<usize> {
        // after[i]: visible text length of events[i..].
        let mut after = vec![0usize; events.len() + 1];
        for (i, e) in events.iter().enumerate().rev() {
            let own = match e {
                Event::Text { start, end, raw } if !plan.removes(*start, *end) => {
                    decode(raw).trim().len()
                }
                _ => 0,
            };
            after[i] = after[i + 1] + own;
        }
        for (i, e) in events.iter().enumerate() {
            let Event::Text { start, end, raw } = e else {
                continue;
            };
            if *start >= plan.cut || plan.removes(*start, *end) {
                continue;
            }
            let t = decode(raw);
            if t.trim() != "--" {
                continue;
            }
            if after[i + 1] <= 600 {
                return Some(*start);
            }
        }
        None
    }

    /// The second pass: removes what the plan says.
    fn apply(body: &str, plan: &Plan) -> Option<String> {
        let on_element = |el: &mut Element| {
            let start = el.source_location().bytes().start;
            if start >= plan.cut || plan.elements.contains(&start) {
                el.remove();
            }
            Ok(())
        };
        let on_text = |chunk: &mut TextChunk| {
            let range = chunk.source_location().bytes();
            if range.start >= plan.cut {
                chunk.remove();
            } else if range.end > plan.cut {
                let keep = chunk
                    .as_str()
                    .get(..plan.cut - range.start)
                    .map(str::to_string);
                if let Some(keep) = keep {
                    chunk.replace(&keep, lol_html::html_content::ContentType::Html);
                }
            } else if plan.texts.covers(range.start, range.end) {
                chunk.remove();
            }
            Ok(())
        };
        let on_comment = |c: &mut Comment| {
            if c.source_location().bytes().start >= plan.cut {
                c.remove();
            }
            Ok(())
        };
        let settings = RewriteStrSettings {
            element_content_handlers: vec![(
                selector("*")?,
                ElementContentHandlers::default().element(on_element),
            )],
            document_content_handlers: vec![
                DocumentContentHandlers::default()
                    .text(on_text)
                    .comments(on_comment),
            ],
            ..RewriteStrSettings::new()
        };
        lol_html::rewrite_str(body, settings).ok()
    }

    /// Decodes the common HTML character references of a text node.
    pub(super) fn decode(raw: &str) -> String {
        if !raw.contains('&') {
            return raw.to_string();
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(pos) = rest.find('&') {
            out.push_str(&rest[..pos]);
            rest = &rest[pos..];
            let end = rest.bytes().take(12).position(|b| b == b';');
            let decoded = end.and_then(|e| entity(&rest[1..e]).map(|c| (c, e)));
            match decoded {
                Some((c, e)) => {
                    out.push(c);
                    rest = &rest[e + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The character of an entity name (`amp`, `#39`, `#x27`…).
    fn entity(name: &str) -> Option<char> {
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => '\u{a0}',
            "rsquo" => '’',
            "lsquo" => '‘',
            "eacute" => 'é',
            "egrave" => 'è',
            "agrave" => 'à',
            "uuml" => 'ü',
            "ouml" => 'ö',
            "auml" => 'ä',
            "ccedil" => 'ç',
            "oacute" => 'ó',
            "iacute" => 'í',
            "aacute" => 'á',
            "atilde" => 'ã',
            "ecirc" => 'ê',
            "mdash" => '—',
            "ndash" => '–',
            _ => {
                let num = name.strip_prefix('#')?;
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => num.parse::<u32>().ok()?,
                };
                char::from_u32(code)?
            }
        };
        Some(c)
    }
}

/// The labelled test corpus (`tests/extraction/*.case`) and its scoring,
/// shared by the integration test and the benchmark.
#[doc(hidden)]
pub mod corpus {
    use super::Extracted;
    use std::path::Path;

    /// The line prefix of section markers in a case file.
    const MARKER: &str = "=#= ";

    /// One labelled message.
    #[derive(Debug, Clone, Default)]
    pub struct Case {
        /// The file name without extension.
        pub name: String,
        /// The client that produced the message ("Gmail web").
        pub client: String,
        /// The language of the message ("de").
        pub lang: String,
        /// The text body, if the message has one.
        pub text: Option<String>,
        /// The HTML body, if the message has one.
        pub html: Option<String>,
        /// Lines of new content: each must survive extraction.
        pub new: Vec<String>,
        /// Lines of history: none may survive extraction.
        pub history: Vec<String>,
    }

    /// How an extraction fared on a case.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct Score {
        /// No new line was lost (precision).
        pub kept: bool,
        /// No history line was left (recall).
        pub removed: bool,
        /// New lines lost, prefixed with the body they were lost from.
        pub lost: Vec<String>,
        /// History lines left, prefixed with the body they were left in.
        pub left: Vec<String>,
    }

    /// Loads every `*.case` file of `dir`, sorted by name.
    pub fn load(dir: &Path) -> Result<Vec<Case>, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "case"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| {
                let content =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let name = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                parse(&name, &content)
            })
            .collect()
    }

    /// Parses a case file: `=#= client: …`, `=#= lang: …`, then sections
    /// `=#= text`, `=#= html`, `=#= new`, `=#= history`, each running to the
    /// next marker line.
    pub fn parse(name: &str, content: &str) -> Result<Case, String> {
        let mut case = Case {
            name: name.to_string(),
            ..Case::default()
        };
        let mut section: Option<String> = None;
        let mut buf: Vec<&str> = Vec::new();
        for line in content.lines().chain(std::iter::once("=#= end")) {
            let Some(marker) = line.strip_prefix(MARKER) else {
                buf.push(line);
                continue;
            };
            if let Some(s) = section.take() {
                store(&mut case, &s, &buf)?;
            }
            buf.clear();
            if let Some(v) = marker.strip_prefix("client:") {
                case.client = v.trim().to_string();
            } else if let Some(v) = marker.strip_prefix("lang:") {
                case.lang = v.trim().to_string();
            } else {
                section = Some(marker.trim().to_string());
            }
        }
        if case.new.is_empty() {
            return Err(format!("{name}: no new lines"));
        }
        if case.text.is_none() && case.html.is_none() {
            return Err(format!("{name}: no body"));
        }
        Ok(case)
    }

    /// Stores one section's lines into the case.
    fn store(case: &mut Case, section: &str, lines: &[&str]) -> Result<(), String> {
        let body = lines.join("\n");
        let list = || {
            lines
                .iter()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
        };
        match section {
            "text" => case.text = Some(body),
            "html" => case.html = Some(body),
            "new" => case.new = list(),
            "history" => case.history = list(),
            "end" => {}
            other => return Err(format!("{}: unknown section {other:?}", case.name)),
        }
        Ok(())
    }

    /// Collapses whitespace (including no-break spaces) to single spaces.
    fn squash(s: &str) -> String {
        s.split(|c: char| c.is_whitespace() || c == '\u{a0}')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Scores an extraction against a case: every new line must appear in the
    /// extracted text and in the text of the extracted HTML (for the bodies
    /// the case has), no history line may.
    pub fn score(case: &Case, extracted: &Extracted) -> Score {
        let mut views = Vec::new();
        if case.text.is_some() {
            views.push(("text", squash(extracted.text.as_deref().unwrap_or(""))));
        }
        if case.html.is_some() {
            let html = extracted.html.as_deref().unwrap_or("");
            let text = mail_parser::decoders::html::html_to_text(html);
            views.push(("html", squash(&text)));
        }
        let mut score = Score::default();
        for (label, view) in &views {
            for line in &case.new {
                if !view.contains(&squash(line)) {
                    score.lost.push(format!("{label}: {line}"));
                }
            }
            for line in &case.history {
                if view.contains(&squash(line)) {
                    score.left.push(format!("{label}: {line}"));
                }
            }
        }
        score.kept = score.lost.is_empty();
        score.removed = score.left.is_empty();
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn absent_or_blank_bodies_give_none() {
        assert_eq!(extract(None, None), Extracted::default());
        assert_eq!(extract(Some(""), Some("")), Extracted::default());
        assert_eq!(
            extract(Some(" \n\t\n"), Some("  \r\n")),
            Extracted::default()
        );
    }

    #[test]
    fn a_message_without_quotes_is_unchanged() {
        let text = "Hi Jane,\n\nThe report is attached.\n\nTom";
        let html = "<div dir=\"ltr\">Hi Jane,<br><br>The report is attached.<br><br>Tom</div>";
        let out = extract(Some(text), Some(html));
        assert_eq!(out.text.as_deref(), Some(text));
        assert_eq!(out.html.as_deref(), Some(html));
    }

    #[test]
    fn trailing_whitespace_is_trimmed() {
        let out = extract(Some("Thanks!\n\n\n  \n"), Some("<p>Thanks!</p>\n\n"));
        assert_eq!(out.text.as_deref(), Some("Thanks!"));
        assert_eq!(out.html.as_deref(), Some("<p>Thanks!</p>"));
    }

    #[test]
    fn a_quoted_reply_keeps_only_the_answer() {
        let text = "Yes.\n\nOn Mon, Mar 4, 2024 at 9:12 AM Jane Doe <jane@example.com> wrote:\n\n> Ready?\n";
        assert_eq!(extract(Some(text), None).text.as_deref(), Some("Yes."));
    }

    #[test]
    fn a_bare_quote_is_kept_whole() {
        let text = "> Only a quote\n> and nothing new\n";
        let out = extract(Some(text), None);
        assert_eq!(out.text.as_deref(), Some(text.trim_end()));
    }

    #[test]
    fn gmail_quote_is_removed_from_html_and_head_is_kept() {
        let html = "<html><head><style>p{margin:0}</style></head><body><div>Yes.</div>\
                    <div class=\"gmail_quote\">On Mon, Jane wrote:<blockquote>Ready?</blockquote></div></body></html>";
        let out = extract(None, Some(html));
        assert_eq!(
            out.html.as_deref(),
            Some(
                "<html><head><style>p{margin:0}</style></head><body><div>Yes.</div></body></html>"
            )
        );
    }

    #[test]
    fn a_megabyte_of_quote_lines_is_fast() {
        let text = "> quoted line of history\n".repeat(40_000) + "answer\n";
        let html = "<blockquote type=cite>".repeat(2_000) + &"<p>&gt; x</p>".repeat(60_000);
        let start = Instant::now();
        let out = extract(Some(&text), Some(&html));
        assert!(out.text.is_some() && out.html.is_some());
        let many =
            "<p>Sent from my iPhone</p><p>--</p><div style='border-top:solid #E1E1E1 1pt'>x</div>"
                .repeat(20_000);
        assert!(extract(None, Some(&many)).html.is_some());
        let long_line = "On ".to_string() + &"x wrote: ".repeat(200_000);
        let out = extract(Some(&long_line), None);
        assert!(out.text.is_some());
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "took {:?}",
            start.elapsed()
        );
    }

    #[test]
    fn invalid_html_does_not_panic() {
        let inputs = [
            "<div class=gmail_quote><blockquote",
            "<<<>>></div></div></blockquote type=cite>",
            "<p>text &#xFFFFFFFF; &#0; &; &#; &#x; <hr><div id=divRplyFwdMsg>",
            "<div style='border-top:solid #E1E1E1 1.0pt'><b>From:</b> é<br><b>Sent:</b><b>To:</b>",
            "\u{0}\u{feff}<select><xmp><script>\"use strict\";</script></select>",
            "<html><body>é-----Original Message-----ü</body></html>",
            "<pre>ok\n-----Original Message-----\nFrom: a\nSent: b\nTo: c</pre>",
        ];
        for input in inputs {
            let _ = extract(Some(input), Some(input));
        }
    }

    #[test]
    fn original_message_inside_a_text_node_keeps_the_text_before() {
        let html = "<pre>Done.\n\n-----Original Message-----\nFrom: Jane\nSent: Monday\nTo: Tom\n\nPlease do it.</pre>";
        let out = extract(None, Some(html));
        assert_eq!(out.html.as_deref(), Some("<pre>Done.\n\n</pre>"));
    }

    #[test]
    fn a_body_with_nothing_to_take_out_gives_what_unchanged_says() {
        for body in [
            "Hello,\r\nsee you at noon.  \r\n\r\n",
            "one line",
            "a\n\n\nb\t\n",
        ] {
            let got = extract(Some(body), Some(body));
            assert_eq!(got.text, Some(unchanged_text(body)), "{body:?}");
        }
        let html = "<p>Hello, see you at noon.</p>\r\n";
        assert_eq!(extract(None, Some(html)).html, Some(unchanged_html(html)));
    }

    #[test]
    fn attribution_recognition() {
        use markers::{Attribution, attribution};
        let strong = "On Mon, Mar 4, 2024 at 9:12 AM Jane Doe <jane@example.com> wrote:";
        assert_eq!(attribution(strong), Some(Attribution::Strong));
        assert_eq!(
            attribution("Am 04.03.24 um 09:12 schrieb Anna Schmidt:"),
            Some(Attribution::Strong)
        );
        assert!(
            attribution("王芳 <wang.fang@example.cn> 于2024年3月4日周一 09:12写道：").is_some()
        );
        assert_eq!(attribution("As the auditor wrote:"), None);
        assert_eq!(
            attribution("On 3 occasions last year, Finance wrote:"),
            Some(Attribution::Weak)
        );
    }
}
