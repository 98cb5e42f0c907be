//! Expressions: the Pratt parser proper (clox's parse rules, with the
//! rule table written as `match`es on the token kind).

use super::Parser;
use crate::chunk::*;
use crate::object::{Obj, Value};
use crate::scanner::TokenKind;

/// Binding power, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Precedence {
    None,
    Assignment, // =
    Or,         // or
    And,        // and
    Equality,   // == !=
    Comparison, // < > <= >=
    Term,       // + -
    Factor,     // * /
    Unary,      // ! -
    Call,       // . ()
    Primary,
}

impl Precedence {
    fn next(self) -> Precedence {
        match self {
            Precedence::None => Precedence::Assignment,
            Precedence::Assignment => Precedence::Or,
            Precedence::Or => Precedence::And,
            Precedence::And => Precedence::Equality,
            Precedence::Equality => Precedence::Comparison,
            Precedence::Comparison => Precedence::Term,
            Precedence::Term => Precedence::Factor,
            Precedence::Factor => Precedence::Unary,
            Precedence::Unary => Precedence::Call,
            Precedence::Call | Precedence::Primary => Precedence::Primary,
        }
    }
}

/// The precedence of `kind` as an infix operator.
fn infix_precedence(kind: TokenKind) -> Precedence {
    match kind {
        TokenKind::LeftParen | TokenKind::Dot => Precedence::Call,
        TokenKind::Minus | TokenKind::Plus => Precedence::Term,
        TokenKind::Slash | TokenKind::Star => Precedence::Factor,
        TokenKind::BangEqual | TokenKind::EqualEqual => Precedence::Equality,
        TokenKind::Greater | TokenKind::GreaterEqual | TokenKind::Less | TokenKind::LessEqual => {
            Precedence::Comparison
        }
        TokenKind::And => Precedence::And,
        TokenKind::Or => Precedence::Or,
        _ => Precedence::None,
    }
}

impl<'src, 'i> Parser<'src, 'i> {
    pub(super) fn expression(&mut self) {
        self.parse_precedence(Precedence::Assignment);
    }

    fn parse_precedence(&mut self, precedence: Precedence) {
        self.advance();
        let can_assign = precedence <= Precedence::Assignment;
        if !self.prefix(self.previous.kind, can_assign) {
            self.error("Expect expression.");
            return;
        }
        while precedence <= infix_precedence(self.current.kind) {
            self.advance();
            self.infix(self.previous.kind, can_assign);
        }
        if can_assign && self.match_token(TokenKind::Equal) {
            self.error("Invalid assignment target.");
        }
    }

    /// Compiles the expression that `kind` (just consumed) starts; false
    /// if no expression starts with it.
    fn prefix(&mut self, kind: TokenKind, can_assign: bool) -> bool {
        match kind {
            TokenKind::LeftParen => {
                self.expression();
                self.consume(TokenKind::RightParen, "Expect ')' after expression.");
            }
            TokenKind::Minus | TokenKind::Bang => self.unary(kind),
            TokenKind::Identifier => self.variable(can_assign),
            TokenKind::String => {
                let text = self.previous.text;
                let s = self.strings.intern(&text[1..text.len() - 1]);
                self.emit_constant(Value::Obj(Obj::String(s)));
            }
            TokenKind::Number => {
                // The scanner's numbers are digits with an optional
                // fraction: they always parse.
                let n = self.previous.text.parse::<f64>().unwrap_or(0.0);
                self.emit_constant(Value::Number(n));
            }
            TokenKind::False => self.emit_byte(OP_FALSE),
            TokenKind::Nil => self.emit_byte(OP_NIL),
            TokenKind::True => self.emit_byte(OP_TRUE),
            TokenKind::Super => self.super_(),
            TokenKind::This => {
                if self.classes.is_empty() {
                    self.error("Can't use 'this' outside of a class.");
                } else {
                    self.variable(false);
                }
            }
            _ => return false,
        }
        true
    }

    /// Compiles the rest of the infix expression whose operator `kind` was
    /// just consumed.
    fn infix(&mut self, kind: TokenKind, can_assign: bool) {
        match kind {
            TokenKind::LeftParen => {
                let count = self.argument_list();
                self.emit_bytes(OP_CALL, count);
            }
            TokenKind::Dot => self.dot(can_assign),
            TokenKind::And => {
                let end_jump = self.emit_jump(OP_JUMP_IF_FALSE);
                self.emit_byte(OP_POP);
                self.parse_precedence(Precedence::And);
                self.patch_jump(end_jump);
            }
            TokenKind::Or => {
                let else_jump = self.emit_jump(OP_JUMP_IF_FALSE);
                let end_jump = self.emit_jump(OP_JUMP);
                self.patch_jump(else_jump);
                self.emit_byte(OP_POP);
                self.parse_precedence(Precedence::Or);
                self.patch_jump(end_jump);
            }
            _ => self.binary(kind),
        }
    }

    fn unary(&mut self, operator: TokenKind) {
        self.parse_precedence(Precedence::Unary);
        if operator == TokenKind::Bang {
            self.emit_byte(OP_NOT);
        } else {
            self.emit_byte(OP_NEGATE);
        }
    }

    fn binary(&mut self, operator: TokenKind) {
        self.parse_precedence(infix_precedence(operator).next());
        match operator {
            TokenKind::BangEqual => self.emit_bytes(OP_EQUAL, OP_NOT),
            TokenKind::EqualEqual => self.emit_byte(OP_EQUAL),
            TokenKind::Greater => self.emit_byte(OP_GREATER),
            TokenKind::GreaterEqual => self.emit_bytes(OP_LESS, OP_NOT),
            TokenKind::Less => self.emit_byte(OP_LESS),
            TokenKind::LessEqual => self.emit_bytes(OP_GREATER, OP_NOT),
            TokenKind::Plus => self.emit_byte(OP_ADD),
            TokenKind::Minus => self.emit_byte(OP_SUBTRACT),
            TokenKind::Star => self.emit_byte(OP_MULTIPLY),
            TokenKind::Slash => self.emit_byte(OP_DIVIDE),
            _ => unreachable!("{operator:?} is not a binary operator"),
        }
    }

    fn argument_list(&mut self) -> u8 {
        let mut count: usize = 0;
        if !self.check(TokenKind::RightParen) {
            loop {
                self.expression();
                if count == 255 {
                    self.error("Can't have more than 255 arguments.");
                }
                count += 1;
                if !self.match_token(TokenKind::Comma) {
                    break;
                }
            }
        }
        self.consume(TokenKind::RightParen, "Expect ')' after arguments.");
        count as u8
    }

    fn dot(&mut self, can_assign: bool) {
        self.consume(TokenKind::Identifier, "Expect property name after '.'.");
        let name = self.identifier_constant(self.previous.text);
        if can_assign && self.match_token(TokenKind::Equal) {
            self.expression();
            self.emit_bytes(OP_SET_PROPERTY, name);
        } else if self.match_token(TokenKind::LeftParen) {
            let count = self.argument_list();
            self.emit_bytes(OP_INVOKE, name);
            self.emit_byte(count);
        } else {
            self.emit_bytes(OP_GET_PROPERTY, name);
        }
    }

    pub(super) fn variable(&mut self, can_assign: bool) {
        self.named_variable(self.previous.text, can_assign);
    }

    /// A read of, or an assignment to, the variable `name`: a local, an
    /// upvalue or a global, in that order.
    pub(super) fn named_variable(&mut self, name: &'src str, can_assign: bool) {
        let level = self.compilers.len() - 1;
        let (get, set, arg) = if let Some(slot) = self.resolve_local(level, name) {
            (OP_GET_LOCAL, OP_SET_LOCAL, slot)
        } else if let Some(index) = self.resolve_upvalue(level, name) {
            (OP_GET_UPVALUE, OP_SET_UPVALUE, index)
        } else {
            let constant = self.identifier_constant(name);
            (OP_GET_GLOBAL, OP_SET_GLOBAL, constant)
        };
        if can_assign && self.match_token(TokenKind::Equal) {
            self.expression();
            self.emit_bytes(set, arg);
        } else {
            self.emit_bytes(get, arg);
        }
    }

    fn super_(&mut self) {
        match self.classes.last() {
            None => self.error("Can't use 'super' outside of a class."),
            Some(class) if !class.has_superclass => {
                self.error("Can't use 'super' in a class with no superclass.")
            }
            Some(_) => {}
        }
        self.consume(TokenKind::Dot, "Expect '.' after 'super'.");
        self.consume(TokenKind::Identifier, "Expect superclass method name.");
        let name = self.identifier_constant(self.previous.text);
        self.named_variable("this", false);
        if self.match_token(TokenKind::LeftParen) {
            let count = self.argument_list();
            self.named_variable("super", false);
            self.emit_bytes(OP_SUPER_INVOKE, name);
            self.emit_byte(count);
        } else {
            self.named_variable("super", false);
            self.emit_bytes(OP_GET_SUPER, name);
        }
    }
}
