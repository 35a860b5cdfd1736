//! Query templates: `{{ ... }}` placeholders filled per request (B-3).
//!
//! Owns the template syntax, its parse errors and rendering. A template is
//! parsed once (value files are read then); rendering only draws random
//! numbers and writes into the caller's writer, so it does not allocate.
//! It does not know about endpoints or URL encoding: the caller wraps the
//! writer when it needs encoding.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rand::Rng;

use crate::time::{parse_duration, TimeValue};

/// A query text with placeholders, parsed once and rendered per request.
///
/// See the crate documentation for the placeholder functions.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Literal(String),
    /// One of the values at random (`choice`, `duration_choice`, `file`).
    Choice(Vec<String>),
    /// An integer in `lo..=hi` at random.
    Int {
        lo: i64,
        hi: i64,
    },
    /// A time resolved at render time, as RFC3339 or unix seconds.
    Time {
        value: TimeValue,
        unix: bool,
    },
}

/// Why a template could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The placeholder at `offset` is malformed.
    #[error("template placeholder `{placeholder}` at byte {offset}: {reason}")]
    Syntax {
        /// Byte offset of the placeholder's `{{` in the template.
        offset: usize,
        /// The placeholder text (up to its `}}`, or the rest of the template).
        placeholder: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A `file` placeholder names a file that cannot be read.
    #[error("template value file {}: cannot read it: {source}; check the path (relative paths start at the config file's directory)", path.display())]
    File {
        /// The file as resolved against the base directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `file` placeholder names a file with no non-blank line.
    #[error("template value file {} has no values: put one value per line", path.display())]
    EmptyFile {
        /// The file as resolved against the base directory.
        path: PathBuf,
    },
}

impl Template {
    /// Parses `src`; `file` placeholders are read now, relative to `base_dir`.
    pub fn parse(src: &str, base_dir: &Path) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = src;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                push_literal(&mut pieces, &rest[..open]);
            }
            let start = offset + open;
            let body = &rest[open + 2..];
            let (tokens, body_len) = tokenize(body).map_err(|reason| TemplateError::Syntax {
                offset: start,
                placeholder: src[start..].to_owned(),
                reason,
            })?;
            let placeholder = &src[start..start + 2 + body_len + 2];
            let piece = build_piece(&tokens, base_dir).map_err(|e| match e {
                PieceError::Syntax(reason) => TemplateError::Syntax {
                    offset: start,
                    placeholder: placeholder.to_owned(),
                    reason,
                },
                PieceError::Other(e) => e,
            })?;
            match piece {
                Piece::Literal(text) => push_literal(&mut pieces, &text),
                p => pieces.push(p),
            }
            let consumed = open + 2 + body_len + 2;
            rest = &rest[consumed..];
            offset += consumed;
        }
        if !rest.is_empty() {
            push_literal(&mut pieces, rest);
        }
        Ok(Template {
            source: src.to_owned(),
            pieces,
        })
    }

    /// The text the template was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the template has no random or time-dependent part, so every
    /// rendering is the same text.
    pub fn is_static(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Literal(_)))
    }

    /// Appends one rendering to `out` (not cleared). Random choices use
    /// `rng`; times resolve against `now`.
    pub fn render(&self, rng: &mut (impl Rng + ?Sized), now: SystemTime, out: &mut String) {
        // Writing into a String cannot fail.
        let _ = self.render_to(rng, now, out);
    }

    /// Writes one rendering into any writer (the request encoder wraps its
    /// buffer in a percent-encoding writer so nothing is rendered twice).
    pub fn render_to<W: fmt::Write + ?Sized>(
        &self,
        rng: &mut (impl Rng + ?Sized),
        now: SystemTime,
        w: &mut W,
    ) -> fmt::Result {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => w.write_str(s)?,
                Piece::Choice(values) => {
                    // `values` is never empty: `build_piece` checks it.
                    let i = rng.random_range(0..values.len().max(1));
                    w.write_str(values.get(i).map_or("", String::as_str))?;
                }
                Piece::Int { lo, hi } => write!(w, "{}", rng.random_range(*lo..=*hi))?,
                Piece::Time { value, unix: true } => value.write_unix(now, w)?,
                Piece::Time { value, unix: false } => value.write_rfc3339(now, w)?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn push_literal(pieces: &mut Vec<Piece>, text: &str) {
    if let Some(Piece::Literal(prev)) = pieces.last_mut() {
        prev.push_str(text);
    } else {
        pieces.push(Piece::Literal(text.to_owned()));
    }
}

/// A placeholder argument: quoted strings keep their quotes' meaning so a
/// lone `"..."` is a literal while a bare word is a function name.
#[derive(Debug)]
enum Token {
    Bare(String),
    Quoted(String),
}

impl Token {
    fn text(&self) -> &str {
        match self {
            Token::Bare(s) | Token::Quoted(s) => s,
        }
    }
}

/// Splits the text after `{{` into tokens up to the closing `}}`; returns
/// the tokens and the length of the text before `}}`.
fn tokenize(body: &str) -> Result<(Vec<Token>, usize), String> {
    let mut tokens = Vec::new();
    let mut chars = body.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if body[i..].starts_with("}}") {
            return Ok((tokens, i));
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, e @ ('"' | '\\'))) => s.push(e),
                        Some((_, 'n')) => s.push('\n'),
                        Some((_, 't')) => s.push('\t'),
                        _ => {
                            return Err("unknown escape in a quoted string; use \\\" or \\\\".into())
                        }
                    },
                    Some((_, ch)) => s.push(ch),
                    None => return Err("unterminated quoted string; close it with \"".into()),
                }
            }
            tokens.push(Token::Quoted(s));
        } else {
            let mut s = String::new();
            while let Some(&(j, ch)) = chars.peek() {
                if ch.is_whitespace() || ch == '"' || body[j..].starts_with("}}") {
                    break;
                }
                s.push(ch);
                chars.next();
            }
            tokens.push(Token::Bare(s));
        }
    }
    Err("no closing }}".into())
}

enum PieceError {
    Syntax(String),
    Other(TemplateError),
}

impl From<String> for PieceError {
    fn from(s: String) -> Self {
        PieceError::Syntax(s)
    }
}

const FUNCTIONS: &str =
    "choice, int, file, now, unix, duration_choice, or a quoted string for literal text";

fn build_piece(tokens: &[Token], base_dir: &Path) -> Result<Piece, PieceError> {
    let (name, args) = match tokens {
        [] => return Err(format!("empty placeholder; use one of: {FUNCTIONS}").into()),
        [Token::Quoted(text)] => return Ok(Piece::Literal(text.clone())),
        [Token::Quoted(_), ..] => {
            return Err("a quoted literal must be alone in its placeholder"
                .to_owned()
                .into())
        }
        [Token::Bare(name), args @ ..] => (name.as_str(), args),
    };
    match name {
        "choice" => {
            if args.is_empty() {
                return Err("choice needs at least one value: {{ choice \"a\" \"b\" }}"
                    .to_owned()
                    .into());
            }
            Ok(Piece::Choice(
                args.iter().map(|t| t.text().to_owned()).collect(),
            ))
        }
        "duration_choice" => {
            if args.is_empty() {
                return Err("duration_choice needs at least one duration: {{ duration_choice \"5m\" \"1h\" }}".to_owned().into());
            }
            for a in args {
                parse_duration(a.text()).map_err(|e| e.to_string())?;
            }
            Ok(Piece::Choice(
                args.iter().map(|t| t.text().to_owned()).collect(),
            ))
        }
        "int" => int_piece(args),
        "file" => {
            let [file] = args else {
                return Err("file takes one path: {{ file \"values.txt\" }}"
                    .to_owned()
                    .into());
            };
            read_values(&base_dir.join(file.text()))
                .map(Piece::Choice)
                .map_err(PieceError::Other)
        }
        "now" | "unix" => time_piece(name, args),
        other => Err(format!("unknown function {other:?}; use one of: {FUNCTIONS}").into()),
    }
}

/// `int lo hi`: both bounds inclusive, `lo <= hi`.
fn int_piece(args: &[Token]) -> Result<Piece, PieceError> {
    let [lo, hi] = args else {
        return Err("int takes two bounds: {{ int 1 100 }}".to_owned().into());
    };
    let parse = |t: &Token| {
        t.text()
            .parse::<i64>()
            .map_err(|_| format!("int bound {:?} is not an integer", t.text()))
    };
    let (lo, hi) = (parse(lo)?, parse(hi)?);
    if lo > hi {
        return Err(format!("int bounds are reversed: {lo} > {hi}").into());
    }
    Ok(Piece::Int { lo, hi })
}

/// `now [time]` (RFC3339) or `unix [time]` (unix seconds).
fn time_piece(name: &str, args: &[Token]) -> Result<Piece, PieceError> {
    let value = match args {
        [] => TimeValue::Now,
        [v] => TimeValue::parse(v.text()).map_err(|e| e.to_string())?,
        _ => {
            return Err(
                format!("{name} takes at most one time value: {{{{ {name} \"-1h\" }}}}").into(),
            )
        }
    };
    Ok(Piece::Time {
        value,
        unix: name == "unix",
    })
}

/// Reads the non-blank lines of a value file (trailing `\r` removed).
fn read_values(path: &Path) -> Result<Vec<String>, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::File {
        path: path.to_owned(),
        source,
    })?;
    let values: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if values.is_empty() {
        return Err(TemplateError::EmptyFile {
            path: path.to_owned(),
        });
    }
    Ok(values)
}
