//! Tokens of LogsQL text.
//!
//! Owns: splitting a query into words, quoted strings and punctuation,
//! remembering whether a token touches the previous one (`err*` is a prefix
//! filter, `err *` is two filters) and the text consumed so far (the
//! `context: [...]` of VictoriaLogs' error messages).
//! Must not: decide what a token means (see `parser.rs`).

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// End of the query.
    Eof,
    /// A bare word (`error`, `loki.source.kubernetes.pods`, `5m`).
    Word(String),
    /// A quoted string, unescaped (`"..."`, `'...'` or `` `...` ``).
    Quoted(String),
    /// One punctuation character: `( ) | , : * ~ = ! - [ ] { } < >`.
    Punct(char),
}

/// A cursor over the query text with one current token.
#[derive(Debug)]
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// The current token.
    pub tok: Tok,
    /// Byte offset where the current token starts.
    pub tok_start: usize,
    /// True when whitespace (or the start of the text) precedes the token.
    pub spaced: bool,
    /// Set when a quoted string is not terminated.
    pub bad_quote: bool,
}

const PUNCT: &str = "()|,:*~=![]{}<>";

fn is_word_char(c: char) -> bool {
    !(c.is_whitespace() || PUNCT.contains(c) || matches!(c, '"' | '\'' | '`'))
}

impl<'a> Lexer<'a> {
    /// Starts at the first token of `src`.
    pub fn new(src: &'a str) -> Lexer<'a> {
        let mut lx = Lexer {
            src,
            pos: 0,
            tok: Tok::Eof,
            tok_start: 0,
            spaced: true,
            bad_quote: false,
        };
        lx.next();
        lx
    }

    /// The text up to the end of the current token (VictoriaLogs' context).
    pub fn context(&self) -> &'a str {
        &self.src[..self.pos]
    }

    /// The whole query text.
    pub fn src(&self) -> &'a str {
        self.src
    }

    /// True when the current token is the word `w` (ASCII case-insensitive).
    pub fn is_word(&self, w: &str) -> bool {
        matches!(&self.tok, Tok::Word(x) if x.eq_ignore_ascii_case(w))
    }

    /// True when the current token is the punctuation `c`.
    pub fn is_punct(&self, c: char) -> bool {
        self.tok == Tok::Punct(c)
    }

    /// The current token as written, for error messages.
    pub fn tok_text(&self) -> &'a str {
        &self.src[self.tok_start..self.pos]
    }

    /// Moves to the next token.
    pub fn next(&mut self) {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start();
        self.spaced = self.pos == 0 || trimmed.len() != rest.len();
        self.pos += rest.len() - trimmed.len();
        self.tok_start = self.pos;
        let Some(c) = trimmed.chars().next() else {
            self.tok = Tok::Eof;
            return;
        };
        if matches!(c, '"' | '\'' | '`') {
            let (value, len) = read_quoted(trimmed, c);
            self.bad_quote |= value.is_none();
            self.pos += len;
            self.tok = Tok::Quoted(value.unwrap_or_default());
            return;
        }
        // `-` negates only at the start of a term: `-error` but `foo-bar`.
        let starts_term = self.spaced || self.src[..self.pos].ends_with('(');
        if PUNCT.contains(c) || (c == '-' && starts_term && trimmed.len() > 1) {
            self.pos += c.len_utf8();
            self.tok = Tok::Punct(c);
            return;
        }
        let len = trimmed
            .find(|ch| !is_word_char(ch))
            .unwrap_or(trimmed.len());
        self.pos += len;
        self.tok = Tok::Word(trimmed[..len].to_string());
    }

    /// Reads raw text from the start of the current token up to (not
    /// including) the first char for which `stop` is true, then moves to the
    /// token after it. Used for `_time:[2026-11-25T04:00:00Z, now)`.
    pub fn raw_until(&mut self, stop: impl Fn(char) -> bool) -> &'a str {
        let start = self.tok_start;
        let rest = &self.src[start..];
        let len = rest.find(stop).unwrap_or(rest.len());
        self.pos = start + len;
        let raw = &self.src[start..start + len];
        self.next();
        raw
    }

    /// Consumes one char at the current position if it is `c` (used after
    /// [`Lexer::raw_until`] to take the closing bracket).
    pub fn take_raw_char(&mut self, c: char) -> bool {
        if self.src[self.tok_start..].starts_with(c) {
            self.pos = self.tok_start + c.len_utf8();
            self.next();
            true
        } else {
            false
        }
    }
}

/// Reads a quoted string starting at `s[0] == q`. Returns the unescaped
/// value (None when unterminated) and the bytes consumed.
fn read_quoted(s: &str, q: char) -> (Option<String>, usize) {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == q {
            return (Some(out), i + 1);
        }
        if c == '\\' && q != '`' {
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, e)) => out.push(e),
                None => break,
            }
            continue;
        }
        out.push(c);
    }
    (None, s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<(Tok, bool)> {
        let mut lx = Lexer::new(s);
        let mut out = Vec::new();
        while lx.tok != Tok::Eof {
            out.push((lx.tok.clone(), lx.spaced));
            lx.next();
        }
        out
    }

    #[test]
    fn words_quotes_and_adjacency() {
        let t = toks(r#"_msg:*"status":5* -foo-bar 'a\'b'*"#);
        let w = |s: &str| Tok::Word(s.into());
        assert_eq!(
            t,
            vec![
                (w("_msg"), true),
                (Tok::Punct(':'), false),
                (Tok::Punct('*'), false),
                (Tok::Quoted("status".into()), false),
                (Tok::Punct(':'), false),
                (w("5"), false),
                (Tok::Punct('*'), false),
                (Tok::Punct('-'), true),
                (w("foo-bar"), false),
                (Tok::Quoted("a'b".into()), true),
                (Tok::Punct('*'), false),
            ]
        );
    }

    #[test]
    fn context_is_text_up_to_the_current_token() {
        let mut lx = Lexer::new("error | stats by (namespace count()");
        for _ in 0..6 {
            lx.next();
        }
        assert_eq!(lx.tok, Tok::Word("count".into()));
        assert_eq!(lx.context(), "error | stats by (namespace count");
    }
}
