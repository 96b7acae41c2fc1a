//! Full-text search queries: the syntax clients write, checked and rewritten into the index's
//! own (SQLite FTS5) syntax, so that no query can reach the index in a form it rejects, and a
//! mistake is reported with where it is.
//!
//! The syntax:
//! - `invoice march`: messages with both words (any case, accents ignored);
//! - `"quarterly report"`: the words next to each other, in order;
//! - `inv*`: a word starting with `inv` (at least two letters or digits before the `*`);
//! - `invoice OR receipt`, `invoice AND NOT draft`, `invoice -draft`, parentheses;
//!   `AND`, `OR`, `NOT` are operators only in capitals;
//! - `subject:invoice`, `body:"see attached"`, `address:example.com`: only in that part;
//! - anything else with punctuation (`ada@example.com`, `INV-2031`) matches as a phrase of its
//!   words.

use std::fmt::Write as _;

use super::Label;
use super::ids::InboxId;
use super::message::{Direction, MessageStatus};
use super::time::Timestamp;

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 512;
/// Deepest nesting of parentheses.
const MAX_DEPTH: usize = 16;
/// The parts of a message a term may be limited to, and the index column each one is.
const FIELDS: [(&str, &str); 3] = [
    ("subject", "subject"),
    ("body", "body"),
    ("address", "addresses"),
];

/// A checked query, in the syntax of each engine's index: SQLite's FTS5 and PostgreSQL's
/// `tsquery` (a column is a weight there: subject A, addresses B, body C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    fts: String,
    tsquery: String,
}

/// Why a query cannot run: what is wrong, and at which character (1-based) it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct QueryError {
    /// The character position, counting from 1.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Phrase(String),
    Open,
    Close,
    And,
    Or,
    Not,
}

/// The query split into tokens, each with its 1-based character position.
fn tokens(q: &str) -> Result<Vec<(usize, Token)>, QueryError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push((at, if c == '(' { Token::Open } else { Token::Close }));
            i += 1;
        } else if c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == '"')
                .ok_or_else(|| QueryError {
                    position: at,
                    message: "this quote is not closed".to_owned(),
                })?;
            out.push((
                at,
                Token::Phrase(chars[i + 1..i + 1 + end].iter().collect()),
            ));
            i += end + 2;
        } else {
            let end = chars[i..]
                .iter()
                .position(|&c| c.is_whitespace() || c == '"' || c == '(' || c == ')')
                .map_or(chars.len(), |n| i + n);
            let word: String = chars[i..end].iter().collect();
            out.push((
                at,
                match word.as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    "NOT" => Token::Not,
                    _ => Token::Word(word),
                },
            ));
            i = end;
        }
    }
    Ok(out)
}

/// A term or a group, rendered; and whether it only excludes (`NOT x`, `-x`).
struct Part {
    fts: String,
    negative: bool,
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
    len: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens
            .get(self.next)
            .map_or(self.len + 1, |(at, _)| *at)
    }

    fn error<T>(&self, at: usize, message: impl Into<String>) -> Result<T, QueryError> {
        Err(QueryError {
            position: at,
            message: message.into(),
        })
    }

    /// `a OR b OR …`
    fn any(&mut self, depth: usize) -> Result<String, QueryError> {
        let mut alternatives = vec![self.all(depth)?];
        while self.peek() == Some(&Token::Or) {
            self.next += 1;
            alternatives.push(self.all(depth)?);
        }
        if alternatives.len() == 1 {
            return Ok(alternatives.remove(0));
        }
        // Each alternative grouped, so that precedence never depends on the index's rules.
        let grouped: Vec<String> = alternatives
            .into_iter()
            .map(|a| {
                if a.contains(" AND ") || a.contains(" NOT ") {
                    format!("({a})")
                } else {
                    a
                }
            })
            .collect();
        Ok(format!("({})", grouped.join(" OR ")))
    }

    /// `a b AND c -d …`: every positive part, then the exclusions.
    fn all(&mut self, depth: usize) -> Result<String, QueryError> {
        let start = self.position();
        let mut parts = Vec::new();
        loop {
            match self.peek() {
                None | Some(Token::Or) | Some(Token::Close) => break,
                Some(Token::And) if !parts.is_empty() => {
                    self.next += 1;
                    if matches!(self.peek(), None | Some(Token::Or) | Some(Token::Close)) {
                        return self.error(self.position(), "AND needs something after it");
                    }
                }
                _ => parts.push(self.unary(depth)?),
            }
        }
        if parts.is_empty() {
            return self.error(start, "expected a word, a \"phrase\" or a group here");
        }
        let (negative, positive): (Vec<Part>, Vec<Part>) =
            parts.into_iter().partition(|p| p.negative);
        if positive.is_empty() {
            return self.error(
                start,
                "NOT only narrows a search: add a word the messages must contain",
            );
        }
        let mut fts = positive
            .into_iter()
            .map(|p| p.fts)
            .collect::<Vec<_>>()
            .join(" AND ");
        if !negative.is_empty() {
            fts = format!("({fts})");
            for n in negative {
                let _ = write!(fts, " NOT {}", n.fts);
            }
        }
        Ok(fts)
    }

    fn unary(&mut self, depth: usize) -> Result<Part, QueryError> {
        let at = self.position();
        match self.peek() {
            Some(Token::Not) => {
                self.next += 1;
                if matches!(self.peek(), Some(Token::Not)) {
                    return self.error(self.position(), "NOT cannot follow NOT");
                }
                let inner = self.primary(depth)?;
                Ok(Part {
                    fts: inner,
                    negative: true,
                })
            }
            Some(Token::Word(w)) if w.len() > 1 && w.starts_with('-') => {
                let rest = w[1..].to_owned();
                self.next += 1;
                Ok(Part {
                    fts: self.word(at + 1, &rest, None)?,
                    negative: true,
                })
            }
            _ => Ok(Part {
                fts: self.primary(depth)?,
                negative: false,
            }),
        }
    }

    fn primary(&mut self, depth: usize) -> Result<String, QueryError> {
        let at = self.position();
        let Some((_, token)) = self.tokens.get(self.next).cloned() else {
            return self.error(at, "the query ends where a word was expected");
        };
        self.next += 1;
        match token {
            Token::Open => {
                if depth >= MAX_DEPTH {
                    return self.error(at, format!("at most {MAX_DEPTH} nested parentheses"));
                }
                let inner = self.any(depth + 1)?;
                if self.peek() != Some(&Token::Close) {
                    return self.error(self.position(), "expected \")\" to close the group");
                }
                self.next += 1;
                Ok(format!("({inner})"))
            }
            Token::Phrase(p) => phrase(at, &p, false, None),
            Token::Word(w) => {
                // `subject:` right before a phrase or a group limits that.
                if let Some(column) = w.strip_suffix(':').and_then(column_of) {
                    return match self.peek() {
                        Some(Token::Phrase(p)) => {
                            let p = p.clone();
                            let at = self.position();
                            self.next += 1;
                            phrase(at, &p, false, Some(column))
                        }
                        Some(Token::Open) => Ok(format!("{column} : {}", self.primary(depth)?)),
                        _ => self.error(
                            self.position(),
                            format!("expected a word or a \"phrase\" after {w}"),
                        ),
                    };
                }
                self.word(at, &w, None)
            }
            Token::Close => self.error(at, "this \")\" closes no group"),
            Token::And | Token::Or | Token::Not => self.error(
                at,
                "expected a word, a \"phrase\" or a group here (AND, OR and NOT join terms)",
            ),
        }
    }

    /// A bare word, perhaps `field:word` or `prefix*`.
    fn word(&self, at: usize, w: &str, column: Option<&str>) -> Result<String, QueryError> {
        if column.is_none()
            && let Some((field, rest)) = w.split_once(':')
            && let Some(column) = column_of(field)
            && !rest.is_empty()
        {
            return self.word(at + field.chars().count() + 1, rest, Some(column));
        }
        match w.strip_suffix('*') {
            Some(stem) => phrase(at, stem, true, column),
            None => phrase(at, w, false, column),
        }
    }
}

fn column_of(field: &str) -> Option<&'static str> {
    FIELDS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, column)| *column)
}

/// A phrase in the index's syntax: the text quoted (the index splits it into words as it
/// split the messages), optionally a prefix, optionally limited to one column.
fn phrase(at: usize, text: &str, prefix: bool, column: Option<&str>) -> Result<String, QueryError> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let Some(last) = words.last() else {
        return Err(QueryError {
            position: at,
            message: format!("{text:?} has no letters or digits to search for"),
        });
    };
    if prefix && last.chars().count() < 2 {
        return Err(QueryError {
            position: at,
            message: "a prefix search needs at least two letters or digits before the *".to_owned(),
        });
    }
    let mut fts = String::new();
    if let Some(column) = column {
        let _ = write!(fts, "{column} : ");
    }
    let _ = write!(fts, "\"{}\"", words.join(" "));
    if prefix {
        fts.push_str(" *");
    }
    Ok(fts)
}

impl SearchQuery {
    /// Checks a query and rewrites it for the index.
    pub fn parse(q: &str) -> Result<Self, QueryError> {
        let len = q.chars().count();
        if q.trim().is_empty() {
            return Err(QueryError {
                position: 1,
                message: "the query is empty".to_owned(),
            });
        }
        if len > MAX_QUERY_CHARS {
            return Err(QueryError {
                position: MAX_QUERY_CHARS + 1,
                message: format!("the query is longer than {MAX_QUERY_CHARS} characters"),
            });
        }
        let mut parser = Parser {
            tokens: tokens(q)?,
            next: 0,
            len,
        };
        let fts = parser.any(0)?;
        if parser.next < parser.tokens.len() {
            let message = match parser.peek() {
                Some(Token::Close) => "this \")\" closes no group",
                _ => "unexpected here",
            };
            return parser.error(parser.position(), message);
        }
        let tsquery = tsquery_of(&fts);
        Ok(Self { fts, tsquery })
    }

    /// The query in FTS5's syntax.
    pub fn as_fts(&self) -> &str {
        &self.fts
    }

    /// The query in PostgreSQL's `tsquery` syntax (for `to_tsquery('simple', …)`).
    pub fn as_tsquery(&self) -> &str {
        &self.tsquery
    }
}

/// The order of search results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchOrder {
    /// Newest first (the order messages were stored in), paged by cursor or offset.
    #[default]
    Newest,
    /// Best match first (BM25), paged by offset.
    Rank,
}

/// Which messages a list or a search returns: every given condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageQuery {
    /// Words to match.
    pub text: Option<SearchQuery>,
    /// In this inbox.
    pub inbox_id: Option<InboxId>,
    /// The sender (`Name <address>`) contains this, any case.
    pub from: Option<String>,
    /// A To, Cc or Bcc recipient contains this, any case.
    pub to: Option<String>,
    /// Stored at or after.
    pub after: Option<Timestamp>,
    /// Stored before.
    pub before: Option<Timestamp>,
    /// With (or without) attachments.
    pub has_attachment: Option<bool>,
    /// Carrying this label.
    pub label: Option<Label>,
    /// This way.
    pub direction: Option<Direction>,
    /// In this status.
    pub status: Option<MessageStatus>,
    /// Result order.
    pub order: SearchOrder,
}

/// `word` without its diacritics (`café` → `cafe`), as FTS5's `remove_diacritics` finds it:
/// what PostgreSQL's index is given, for the words of messages and of queries alike.
pub fn without_diacritics(word: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    word.nfd().filter(|c| !is_combining_mark(*c)).collect()
}

/// The weight a column has in PostgreSQL's index.
fn weight_of(column: &str) -> &'static str {
    match column {
        "subject" => "A",
        "addresses" => "B",
        _ => "C",
    }
}

/// A query in FTS5's syntax, as this parser writes it (quoted phrases of letters and digits,
/// `*` after a prefix, `column :` before a phrase or a group, AND, OR, binary NOT, groups), in
/// PostgreSQL's `tsquery` syntax: AND `&`, OR `|`, `a NOT b` `a & !b`, a phrase's words joined
/// by `<->`, a prefix `:*`, a column a weight on each word it covers.
fn tsquery_of(fts: &str) -> String {
    let mut out = String::with_capacity(fts.len() + 16);
    // The weight of each open group (a group inside `column : (…)` keeps its column).
    let mut groups: Vec<Option<&str>> = Vec::new();
    let mut pending: Option<&str> = None;
    let mut rest = fts;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else if c == '(' {
            let weight = pending.take().or(groups.last().copied().flatten());
            groups.push(weight);
            out.push('(');
            rest = &rest[1..];
        } else if c == ')' {
            groups.pop();
            out.push(')');
            rest = &rest[1..];
        } else if c == '"' {
            let end = rest[1..].find('"').map_or(rest.len(), |n| n + 1);
            let words: Vec<&str> = rest[1..end].split_whitespace().collect();
            rest = rest.get(end + 1..).unwrap_or("");
            let trimmed = rest.trim_start();
            let prefix = trimmed.starts_with('*');
            if prefix {
                rest = &trimmed[1..];
            }
            let weight = pending
                .take()
                .or(groups.last().copied().flatten())
                .unwrap_or("");
            let last = words.len().saturating_sub(1);
            let terms: Vec<String> = words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let star = if prefix && i == last { "*" } else { "" };
                    let w = without_diacritics(w);
                    if star.is_empty() && weight.is_empty() {
                        w
                    } else {
                        format!("{w}:{star}{weight}")
                    }
                })
                .collect();
            if terms.len() > 1 {
                out.push('(');
                out.push_str(&terms.join(" <-> "));
                out.push(')');
            } else {
                out.push_str(&terms.concat());
            }
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '"')
                .unwrap_or(rest.len());
            let word = &rest[..end];
            rest = &rest[end..];
            match word {
                "AND" => out.push_str(" & "),
                "OR" => out.push_str(" | "),
                "NOT" => out.push_str(" & !"),
                ":" => {}
                column => pending = Some(weight_of(column)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fts(q: &str) -> String {
        SearchQuery::parse(q).unwrap().fts
    }

    fn error(q: &str) -> QueryError {
        SearchQuery::parse(q).unwrap_err()
    }

    #[test]
    fn queries_are_rewritten_for_the_index() {
        assert_eq!(fts("invoice"), r#""invoice""#);
        assert_eq!(fts("invoice march"), r#""invoice" AND "march""#);
        assert_eq!(fts(r#""quarterly report""#), r#""quarterly report""#);
        assert_eq!(fts("inv*"), r#""inv" *"#);
        assert_eq!(fts("a OR b c"), r#"("a" OR ("b" AND "c"))"#);
        assert_eq!(fts("invoice -draft"), r#"("invoice") NOT "draft""#);
        assert_eq!(fts("invoice AND NOT draft"), r#"("invoice") NOT "draft""#);
        assert_eq!(fts("(a OR b) c"), r#"(("a" OR "b")) AND "c""#);
        let ts = |q: &str| SearchQuery::parse(q).unwrap().as_tsquery().to_owned();
        assert_eq!(ts("invoice march"), "invoice & march");
        assert_eq!(
            ts(r#""quarterly report" inv*"#),
            "(quarterly <-> report) & inv:*"
        );
        assert_eq!(ts("a OR b c"), "(a | (b & c))");
        assert_eq!(ts("invoice -draft"), "(invoice) & !draft");
        assert_eq!(
            ts(r#"subject:"big news" body:(x OR yo*)"#),
            "(big:A <-> news:A) & ((x:C | yo:*C))"
        );
        assert_eq!(
            ts("address:alice@example.com"),
            "(alice:B <-> example:B <-> com:B)"
        );
        assert_eq!(ts("Café Zürich"), "Cafe & Zurich");
        assert_eq!(fts("ada@example.com"), r#""ada example com""#);
        assert_eq!(fts("subject:hello"), r#"subject : "hello""#);
        assert_eq!(fts(r#"body:"see attached""#), r#"body : "see attached""#);
        assert_eq!(fts("address:example.com"), r#"addresses : "example com""#);
        assert_eq!(fts("subject:(a OR b)"), r#"subject : (("a" OR "b"))"#);
        assert_eq!(fts("and or not"), r#""and" AND "or" AND "not""#);
        assert_eq!(fts("http://x.test"), r#""http x test""#);
        assert_eq!(fts("naïve"), r#""naïve""#);
    }

    #[test]
    fn mistakes_say_where_they_are() {
        assert_eq!(error("").position, 1);
        assert_eq!(error("   ").position, 1);
        assert_eq!(error(r#"a "open"#).position, 3);
        assert_eq!(error("a )").position, 3);
        assert_eq!(error("(a").position, 3);
        assert_eq!(error("a OR").position, 5);
        assert_eq!(error("OR a").position, 1);
        assert_eq!(error("-a").position, 1);
        assert_eq!(error("NOT a").position, 1);
        assert_eq!(error("a AND").position, 6);
        assert_eq!(error("a*").position, 1);
        assert_eq!(error("@@@").position, 1);
        assert_eq!(error("subject:").position, 9);
        assert_eq!(error(&"x".repeat(513)).position, 513);
        assert_eq!(error(&"(".repeat(40)).position, 17);
        assert!(error("a )").to_string().contains("position 3"));
    }
}
