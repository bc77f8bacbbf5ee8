//! The filter language's parser: the grammar in the parent module's doc, with the depth
//! limit and a position on every error.

use super::{Expr, FieldKind, FilterError, MAX_FILTER_DEPTH, Op, Pattern, parse_time};

/// Reads a filter's text into its expression tree, one character at a time.
pub(super) struct Parser {
    pub(super) chars: Vec<char>,
    pub(super) pos: usize,
    /// Parentheses and NOTs open around the current position.
    pub(super) depth: usize,
    pub(super) check_field: fn(&str) -> Option<FieldKind>,
    pub(super) known: fn() -> Vec<&'static str>,
}

impl Parser {
    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(super) fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error_at(&self, position: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            position,
            message: message.into(),
        }
    }

    pub(super) fn error_here(&self, message: impl Into<String>) -> FilterError {
        self.error_at(self.pos, message)
    }

    /// If the next word is `keyword` (followed by a space, a parenthesis or the end), takes it.
    fn take_keyword(&mut self, keyword: &str) -> bool {
        let len = keyword.chars().count();
        let end = self.pos + len;
        if end > self.chars.len() {
            return false;
        }
        let word: String = self.chars[self.pos..end].iter().collect();
        let boundary = self
            .chars
            .get(end)
            .is_none_or(|c| c.is_whitespace() || *c == '(' || *c == ')');
        if word == keyword && boundary {
            self.pos = end;
            true
        } else {
            false
        }
    }

    pub(super) fn expr(&mut self) -> Result<Expr, FilterError> {
        let mut terms = vec![self.or_expr()?];
        loop {
            self.skip_space();
            if self.at_end() || self.peek() == Some(')') {
                break;
            }
            let and_at = self.pos;
            if self.take_keyword("AND") {
                self.skip_space();
                if self.at_end() || self.peek() == Some(')') {
                    return Err(self.error_at(and_at, "AND needs a term after it"));
                }
            }
            terms.push(self.or_expr()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn or_expr(&mut self) -> Result<Expr, FilterError> {
        let mut terms = vec![self.unary()?];
        loop {
            self.skip_space();
            let or_at = self.pos;
            if !self.take_keyword("OR") {
                break;
            }
            self.skip_space();
            if self.at_end() || self.peek() == Some(')') {
                return Err(self.error_at(or_at, "OR needs a term after it"));
            }
            terms.push(self.unary()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        self.skip_space();
        if self.depth >= MAX_FILTER_DEPTH {
            return Err(self.error_here(format!(
                "the filter nests parentheses and NOTs more than {MAX_FILTER_DEPTH} deep"
            )));
        }
        self.depth += 1;
        let unary = self.unary_within();
        self.depth -= 1;
        unary
    }

    fn unary_within(&mut self) -> Result<Expr, FilterError> {
        let start = self.pos;
        if self.take_keyword("NOT") || self.peek() == Some('-') {
            if self.peek() == Some('-') {
                self.pos += 1;
            }
            self.skip_space();
            if self.at_end() {
                return Err(self.error_at(start, "NOT needs a term after it"));
            }
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        match self.peek() {
            None => Err(self.error_here("expected a term such as state=RUNNING")),
            Some('(') => {
                self.pos += 1;
                self.skip_space();
                if self.peek() == Some(')') {
                    return Err(self.error_here("empty parentheses"));
                }
                let inner = self.expr()?;
                self.skip_space();
                if self.peek() != Some(')') {
                    return Err(self.error_at(start, "'(' is never closed"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(')') => Err(self.error_here("unexpected ')'")),
            Some(_) => self.comparison(),
        }
    }

    fn comparison(&mut self) -> Result<Expr, FilterError> {
        let key_start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            self.pos += 1;
        }
        let key: String = self.chars[key_start..self.pos].iter().collect();
        if key.is_empty() {
            return Err(self.error_here(format!(
                "expected a field name, found {:?}",
                self.peek().unwrap_or(' ')
            )));
        }
        let Some(kind) = (self.check_field)(&key) else {
            return Err(self.error_at(
                key_start,
                format!(
                    "unknown field {key:?}; filterable fields are {}",
                    (self.known)().join(", ")
                ),
            ));
        };
        self.skip_space();
        let op_at = self.pos;
        let op = self.operator().ok_or_else(|| {
            self.error_at(
                op_at,
                format!("expected an operator (=, !=, :, <, <=, >, >=) after {key:?}"),
            )
        })?;
        self.skip_space();
        let value_at = self.pos;
        let raw = self.value()?;
        let time = parse_time(&raw);
        if matches!(kind, FieldKind::Time) && !matches!(op, Op::Has) && time.is_none() {
            return Err(self.error_at(
                value_at,
                format!(
                    "{key} {} needs a time such as 2026-11-24 or 2026-11-24T10:00:00Z, not {raw:?}",
                    op.symbol()
                ),
            ));
        }
        let rank = match kind {
            FieldKind::Rank { rank, names } => match rank(&raw) {
                Some(r) => Some(r),
                None => {
                    return Err(
                        self.error_at(value_at, format!("{key} takes {names}, not {raw:?}"))
                    );
                }
            },
            _ => None,
        };
        let lower = raw.to_ascii_lowercase();
        let pattern = Pattern {
            rank,
            starts_with_star: lower.starts_with('*'),
            ends_with_star: lower.ends_with('*'),
            pieces: lower
                .split('*')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>(),
            raw,
            time,
        };
        let pattern = if pattern.pieces.is_empty() {
            // A value of only stars matches anything that is set.
            Pattern {
                pieces: vec![String::new()],
                starts_with_star: true,
                ends_with_star: true,
                ..pattern
            }
        } else {
            pattern
        };
        Ok(Expr::Compare {
            key,
            op,
            value: pattern,
        })
    }

    fn operator(&mut self) -> Option<Op> {
        let two: String = self.chars[self.pos..(self.pos + 2).min(self.chars.len())]
            .iter()
            .collect();
        let (op, len) = match two.as_str() {
            "!=" => (Op::Ne, 2),
            "<=" => (Op::Le, 2),
            ">=" => (Op::Ge, 2),
            _ => match self.peek()? {
                '=' => (Op::Eq, 1),
                ':' => (Op::Has, 1),
                '<' => (Op::Lt, 1),
                '>' => (Op::Gt, 1),
                _ => return None,
            },
        };
        self.pos += len;
        Some(op)
    }

    fn value(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        match self.peek() {
            None => Err(self.error_here("expected a value")),
            Some(quote @ ('"' | '\'')) => {
                self.pos += 1;
                let mut value = String::new();
                loop {
                    match self.peek() {
                        None => {
                            return Err(self.error_at(start, "this quoted value is never closed"));
                        }
                        Some('\\') if self.chars.get(self.pos + 1).is_some() => {
                            value.push(self.chars[self.pos + 1]);
                            self.pos += 2;
                        }
                        Some(c) if c == quote => {
                            self.pos += 1;
                            return Ok(value);
                        }
                        Some(c) => {
                            value.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            Some(c) if c.is_whitespace() || c == ')' || c == '(' => {
                Err(self.error_here("expected a value"))
            }
            Some(_) => {
                while self
                    .peek()
                    .is_some_and(|c| !c.is_whitespace() && c != ')' && c != '(')
                {
                    self.pos += 1;
                }
                Ok(self.chars[start..self.pos].iter().collect())
            }
        }
    }
}
