//! The filter language of `gcloud --filter`, shared by the engine and the console.
//!
//! Grammar (as gcloud: `OR` binds tighter than `AND`; adjacent terms are joined by AND):
//!
//! ```text
//! expr    := or_expr (["AND"] or_expr)*
//! or_expr := unary ("OR" unary)*
//! unary   := ("NOT" | "-") unary | "(" expr ")" | key op value
//! op      := "=" | "!=" | ":" | "<" | "<=" | ">" | ">="
//! value   := bare-word | "double quoted" | 'single quoted'
//! ```
//!
//! Text compares ignoring (ASCII) case; `=` and `:` take `*` as a wildcard (`jobId=train_*`);
//! `:` matches a part of the value and `key:*` means "key is set". Times compare as
//! times: `createTime>2026-11-24` or `createTime>=2026-11-24T10:00:00Z`.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use parse::Parser;

/// How a field's values compare.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// Text, compared ignoring case; ordered lexically.
    Text,
    /// A point in time; the filter value must parse as one.
    Time,
    /// A named level compared by rank, such as a log severity (`severity>=WARNING`):
    /// `rank` turns a filter value into its rank, `names` lists what it takes.
    Rank {
        /// The rank of a value, if it is one.
        rank: fn(&str) -> Option<i64>,
        /// The values taken, for error messages.
        names: &'static str,
    },
}

/// A field's value in one item, as a filter sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// The item has no value for this field.
    Missing,
    /// Compared as text, ignoring ASCII case.
    Text(Cow<'a, str>),
    /// A list of words, compared as the text of them joined by spaces.
    Words(&'a [String]),
    /// Compared as an instant.
    Time(DateTime<Utc>),
    /// A ranked level (see [`FieldKind::Rank`]).
    Rank(i64),
}

/// Something a [`Filter`] can select: it names its fields and gives their values.
pub trait Filterable {
    /// The kind of a field, or `None` if there is no such field.
    fn field_kind(key: &str) -> Option<FieldKind>;
    /// The names of the fields, for error messages (`labels.*` for a family).
    fn known_fields() -> Vec<&'static str>;
    /// The value of `key` in this item.
    fn field(&self, key: &str) -> FieldValue<'_>;
}

/// A malformed filter: what is wrong and where (0-based character offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter error at column {}: {message}", position + 1)]
pub struct FilterError {
    /// Character offset of the problem, counting from 0.
    pub position: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// A comparison operator of the filter language.
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `:` (has)
    Has,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Has => ":",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A comparison's right-hand side, prepared once so matching allocates nothing.
#[derive(Debug, Clone, PartialEq)]
struct Pattern {
    raw: String,
    /// `raw` lower-cased, split at `*` wildcards.
    pieces: Vec<String>,
    starts_with_star: bool,
    ends_with_star: bool,
    time: Option<DateTime<Utc>>,
    /// The value's rank, for a ranked field.
    rank: Option<i64>,
}

/// A node of a parsed filter.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare { key: String, op: Op, value: Pattern },
}

/// Longest filter taken, in characters.
pub const MAX_FILTER_LEN: usize = 16 * 1024;
/// Deepest nesting of parentheses and NOTs in a filter.
pub const MAX_FILTER_DEPTH: usize = 32;

/// A parsed filter expression. The empty filter selects everything.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    root: Option<Expr>,
    text: String,
}

impl Filter {
    /// Parses `text` and checks its fields against `T`'s. A filter longer than
    /// [`MAX_FILTER_LEN`] or nested deeper than [`MAX_FILTER_DEPTH`] is refused.
    pub fn parse<T: Filterable>(text: &str) -> Result<Filter, FilterError> {
        let length = text.chars().count();
        if length > MAX_FILTER_LEN {
            return Err(FilterError {
                position: MAX_FILTER_LEN,
                message: format!(
                    "the filter is {length} characters long; at most {MAX_FILTER_LEN} are taken"
                ),
            });
        }
        let mut parser = Parser {
            chars: text.chars().collect(),
            pos: 0,
            depth: 0,
            check_field: T::field_kind,
            known: T::known_fields,
        };
        parser.skip_space();
        if parser.at_end() {
            return Ok(Filter {
                root: None,
                text: text.to_owned(),
            });
        }
        let root = parser.expr()?;
        parser.skip_space();
        if !parser.at_end() {
            let found = parser.chars[parser.pos];
            let message = if found == ')' {
                "unbalanced ')': no '(' opens it".to_owned()
            } else {
                format!("unexpected {found:?}")
            };
            return Err(parser.error_here(message));
        }
        Ok(Filter {
            root: Some(root),
            text: text.to_owned(),
        })
    }

    /// True when the filter selects every item.
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    /// The text the filter was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True if `item` is selected.
    pub fn matches<T: Filterable>(&self, item: &T) -> bool {
        self.root.as_ref().is_none_or(|e| eval(e, item))
    }

    /// The values `key` must equal for an item to be selected, when the filter says so
    /// at its top (`key="a" AND …` or `(key="a" OR key="b") AND …`): what an index can
    /// narrow the search to. `None` when any value may do.
    pub fn required_values(&self, key: &str) -> Option<Vec<String>> {
        self.root.as_ref().and_then(|e| required(e, key))
    }

    /// The earliest time `key` may have for an item to be selected, when the filter
    /// bounds it (`key>=T`, `key>T`, `key=T`, also within AND and every branch of OR).
    pub fn lower_bound(&self, key: &str) -> Option<DateTime<Utc>> {
        self.root.as_ref().and_then(|e| lower_bound(e, key))
    }
}

fn exact(pattern: &Pattern) -> bool {
    !pattern.raw.contains('*')
}

fn required(expr: &Expr, key: &str) -> Option<Vec<String>> {
    match expr {
        Expr::Compare {
            key: k,
            op: Op::Eq,
            value,
        } if k == key && exact(value) => Some(vec![value.raw.clone()]),
        Expr::And(terms) => terms.iter().find_map(|t| required(t, key)),
        Expr::Or(branches) => {
            let mut all = Vec::new();
            for branch in branches {
                all.extend(required(branch, key)?);
            }
            Some(all)
        }
        _ => None,
    }
}

fn lower_bound(expr: &Expr, key: &str) -> Option<DateTime<Utc>> {
    match expr {
        Expr::Compare {
            key: k,
            op: Op::Eq | Op::Gt | Op::Ge,
            value,
        } if k == key => value.time,
        Expr::And(terms) => terms.iter().filter_map(|t| lower_bound(t, key)).max(),
        Expr::Or(branches) => {
            let bounds: Option<Vec<DateTime<Utc>>> =
                branches.iter().map(|b| lower_bound(b, key)).collect();
            bounds?.into_iter().min()
        }
        _ => None,
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn eval<T: Filterable>(expr: &Expr, item: &T) -> bool {
    match expr {
        Expr::And(all) => all.iter().all(|e| eval(e, item)),
        Expr::Or(any) => any.iter().any(|e| eval(e, item)),
        Expr::Not(inner) => !eval(inner, item),
        Expr::Compare { key, op, value } => compare(&item.field(key), *op, value),
    }
}

fn compare(field: &FieldValue<'_>, op: Op, pattern: &Pattern) -> bool {
    if let FieldValue::Words(words) = field {
        if words.is_empty() {
            return compare(&FieldValue::Missing, op, pattern);
        }
        // Join into a reused buffer: filtering 100k jobs must not allocate per job.
        thread_local!(static JOINED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) });
        return JOINED.with_borrow_mut(|joined| {
            joined.clear();
            for (i, word) in words.iter().enumerate() {
                if i > 0 {
                    joined.push(' ');
                }
                joined.push_str(word);
            }
            compare(
                &FieldValue::Text(Cow::Borrowed(joined.as_str())),
                op,
                pattern,
            )
        });
    }
    match (field, op) {
        (FieldValue::Missing, Op::Ne) => true,
        (FieldValue::Missing, _) => false,
        (_, Op::Ne) => !compare(field, Op::Eq, pattern),
        (_, Op::Has) if pattern.raw == "*" => true,
        (FieldValue::Text(text), Op::Eq) => wildcard_match(text, pattern, false),
        (FieldValue::Text(text), Op::Has) => wildcard_match(text, pattern, true),
        (FieldValue::Text(text), _) => ordered(text.as_ref().cmp(pattern.raw.as_str()), op),
        (FieldValue::Words(_), _) => false, // joined above
        (FieldValue::Time(time), Op::Has) => wildcard_match(&time.to_rfc3339(), pattern, true),
        (FieldValue::Time(time), _) => match pattern.time {
            Some(t) => ordered(time.cmp(&t), op),
            None => false,
        },
        (FieldValue::Rank(rank), _) => match pattern.rank {
            Some(p) => ordered(rank.cmp(&p), if op == Op::Has { Op::Eq } else { op }),
            None => false,
        },
    }
}

fn ordered(order: std::cmp::Ordering, op: Op) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => order == Equal,
        Op::Lt => order == Less,
        Op::Le => order != Greater,
        Op::Gt => order == Greater,
        Op::Ge => order != Less,
        Op::Ne | Op::Has => false,
    }
}

/// Case-insensitive match of `text` against `pattern`'s `*`-separated pieces; `partial`
/// lets the pattern match anywhere inside the text (the `:` operator).
fn wildcard_match(text: &str, pattern: &Pattern, partial: bool) -> bool {
    let anchored_start = !partial && !pattern.starts_with_star;
    let anchored_end = !partial && !pattern.ends_with_star;
    let pieces = &pattern.pieces;
    if pieces.len() == 1 && anchored_start && anchored_end {
        return text.eq_ignore_ascii_case(&pieces[0]);
    }
    let mut rest = text;
    for (i, piece) in pieces.iter().enumerate() {
        let first = i == 0;
        let last = i + 1 == pieces.len();
        if first && anchored_start {
            if !starts_with_ignore_case(rest, piece) {
                return false;
            }
            rest = &rest[piece.len()..];
            if last && anchored_end {
                return rest.is_empty();
            }
            continue;
        }
        if last && anchored_end {
            return rest.len() >= piece.len() && ends_with_ignore_case(rest, piece);
        }
        match find_ignore_case(rest, piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    let start = text.len() - suffix.len();
    text.as_bytes()[start..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// Byte offset of the first ASCII-case-insensitive occurrence of `needle` in `text`.
/// Needle and text are UTF-8 and folding touches only ASCII bytes, so a match always
/// starts and ends on character boundaries.
pub fn find_ignore_case(text: &str, needle: &str) -> Option<usize> {
    let (text, needle) = (text.as_bytes(), needle.as_bytes());
    let Some(&first) = needle.first() else {
        return Some(0);
    };
    let last_start = text.len().checked_sub(needle.len())?;
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut from = 0;
    while from <= last_start {
        let at = from + memchr::memchr2(lower, upper, &text[from..=last_start])?;
        if text[at..at + needle.len()].eq_ignore_ascii_case(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Parses the time forms a filter accepts: RFC 3339, `YYYY-MM-DDTHH:MM:SS` (UTC) or a date.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

mod parse;
#[cfg(test)]
mod tests;
