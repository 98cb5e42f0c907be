//! The scanner (clox's scanner.c): tokens on demand, over the source's
//! bytes. Runs natively, before the VM.

/// The kinds of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    // Single-character tokens.
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    Comma,
    Dot,
    Minus,
    Plus,
    Semicolon,
    Slash,
    Star,
    // One or two character tokens.
    Bang,
    BangEqual,
    Equal,
    EqualEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    // Literals.
    Identifier,
    String,
    Number,
    // Keywords.
    And,
    Class,
    Else,
    False,
    For,
    Fun,
    If,
    Nil,
    Or,
    Print,
    Return,
    Super,
    This,
    True,
    Var,
    While,

    /// A lexical error; the token's text is the message.
    Error,
    Eof,
}

/// A token: its kind, its text and the line it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'src> {
    pub kind: TokenKind,
    /// The lexeme, or the message of an `Error` token.
    pub text: &'src str,
    pub line: u32,
}

impl<'src> Token<'src> {
    /// A token that is not in the source (`this`, `super` in the
    /// compiler's synthetic locals).
    pub fn synthetic(text: &'src str) -> Token<'src> {
        Token {
            kind: TokenKind::Identifier,
            text,
            line: 0,
        }
    }
}

pub struct Scanner<'src> {
    source: &'src str,
    start: usize,
    current: usize,
    line: u32,
}

impl<'src> Scanner<'src> {
    pub fn new(source: &'src str) -> Scanner<'src> {
        Scanner {
            source,
            start: 0,
            current: 0,
            line: 1,
        }
    }

    /// The next token; `Eof` forever at the end.
    pub fn scan_token(&mut self) -> Token<'src> {
        self.skip_whitespace();
        self.start = self.current;
        if self.is_at_end() {
            return self.make(TokenKind::Eof);
        }
        let c = self.advance();
        if is_alpha(c) {
            return self.identifier();
        }
        if c.is_ascii_digit() {
            return self.number();
        }
        let kind = match c {
            b'(' => TokenKind::LeftParen,
            b')' => TokenKind::RightParen,
            b'{' => TokenKind::LeftBrace,
            b'}' => TokenKind::RightBrace,
            b';' => TokenKind::Semicolon,
            b',' => TokenKind::Comma,
            b'.' => TokenKind::Dot,
            b'-' => TokenKind::Minus,
            b'+' => TokenKind::Plus,
            b'/' => TokenKind::Slash,
            b'*' => TokenKind::Star,
            b'!' => self.pick(b'=', TokenKind::BangEqual, TokenKind::Bang),
            b'=' => self.pick(b'=', TokenKind::EqualEqual, TokenKind::Equal),
            b'<' => self.pick(b'=', TokenKind::LessEqual, TokenKind::Less),
            b'>' => self.pick(b'=', TokenKind::GreaterEqual, TokenKind::Greater),
            b'"' => return self.string(),
            _ => {
                // Skip the rest of a multi-byte character: one error, as
                // one character (clox reports each byte, but all after the
                // first are swallowed by panic mode anyway).
                while !self.is_at_end() && !self.source.is_char_boundary(self.current) {
                    self.current += 1;
                }
                return self.error("Unexpected character.");
            }
        };
        self.make(kind)
    }

    fn is_at_end(&self) -> bool {
        self.current >= self.source.len()
    }

    fn advance(&mut self) -> u8 {
        self.current += 1;
        self.source.as_bytes()[self.current - 1]
    }

    fn peek(&self) -> u8 {
        self.source
            .as_bytes()
            .get(self.current)
            .copied()
            .unwrap_or(0)
    }

    fn peek_next(&self) -> u8 {
        self.source
            .as_bytes()
            .get(self.current + 1)
            .copied()
            .unwrap_or(0)
    }

    /// `yes` if the next byte is `expected` (consuming it), else `no`.
    fn pick(&mut self, expected: u8, yes: TokenKind, no: TokenKind) -> TokenKind {
        if !self.is_at_end() && self.peek() == expected {
            self.current += 1;
            yes
        } else {
            no
        }
    }

    fn make(&self, kind: TokenKind) -> Token<'src> {
        Token {
            kind,
            text: &self.source[self.start..self.current],
            line: self.line,
        }
    }

    fn error(&self, message: &'static str) -> Token<'src> {
        Token {
            kind: TokenKind::Error,
            text: message,
            line: self.line,
        }
    }

    fn skip_whitespace(&mut self) {
        loop {
            match self.peek() {
                b' ' | b'\r' | b'\t' => {
                    self.current += 1;
                }
                b'\n' => {
                    self.line += 1;
                    self.current += 1;
                }
                b'/' if self.peek_next() == b'/' => {
                    // A comment goes until the end of the line.
                    while self.peek() != b'\n' && !self.is_at_end() {
                        self.current += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn string(&mut self) -> Token<'src> {
        while self.peek() != b'"' && !self.is_at_end() {
            if self.peek() == b'\n' {
                self.line += 1;
            }
            self.current += 1;
        }
        if self.is_at_end() {
            return self.error("Unterminated string.");
        }
        // The closing quote.
        self.current += 1;
        self.make(TokenKind::String)
    }

    fn number(&mut self) -> Token<'src> {
        while self.peek().is_ascii_digit() {
            self.current += 1;
        }
        // A fractional part needs a digit after the '.'.
        if self.peek() == b'.' && self.peek_next().is_ascii_digit() {
            self.current += 1;
            while self.peek().is_ascii_digit() {
                self.current += 1;
            }
        }
        self.make(TokenKind::Number)
    }

    fn identifier(&mut self) -> Token<'src> {
        while is_alpha(self.peek()) || self.peek().is_ascii_digit() {
            self.current += 1;
        }
        self.make(keyword(&self.source[self.start..self.current]))
    }
}

fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn keyword(text: &str) -> TokenKind {
    match text {
        "and" => TokenKind::And,
        "class" => TokenKind::Class,
        "else" => TokenKind::Else,
        "false" => TokenKind::False,
        "for" => TokenKind::For,
        "fun" => TokenKind::Fun,
        "if" => TokenKind::If,
        "nil" => TokenKind::Nil,
        "or" => TokenKind::Or,
        "print" => TokenKind::Print,
        "return" => TokenKind::Return,
        "super" => TokenKind::Super,
        "this" => TokenKind::This,
        "true" => TokenKind::True,
        "var" => TokenKind::Var,
        "while" => TokenKind::While,
        _ => TokenKind::Identifier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, String, u32)> {
        let mut s = Scanner::new(src);
        let mut out = Vec::new();
        loop {
            let t = s.scan_token();
            out.push((t.kind, t.text.to_string(), t.line));
            if t.kind == TokenKind::Eof {
                return out;
            }
        }
    }

    #[test]
    fn tokens_lines_and_errors() {
        use TokenKind::*;
        let got = kinds("var x = 1.5 >= 2.;// c\n\"a\nb\" @ classy");
        let want = [
            (Var, "var", 1),
            (Identifier, "x", 1),
            (Equal, "=", 1),
            (Number, "1.5", 1),
            (GreaterEqual, ">=", 1),
            (Number, "2", 1),
            (Dot, ".", 1),
            (Semicolon, ";", 1),
            (String, "\"a\nb\"", 3),
            (Error, "Unexpected character.", 3),
            (Identifier, "classy", 3),
            (Eof, "", 3),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(k, t, l)| (*k, t.to_string(), *l))
            .collect();
        assert_eq!(got, want);
        assert_eq!(kinds("\"open")[0].1, "Unterminated string.");
        assert_eq!(kinds("é!")[0].0, Error);
        assert_eq!(kinds("é!")[1].0, Bang);
    }
}
