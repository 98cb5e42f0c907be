//! The single-pass compiler (clox's compiler.c): a Pratt parser that emits
//! bytecode as it parses. Runs natively, before the VM, so it may use any
//! Rust; it allocates the functions and the strings it makes constants of.
//!
//! This file holds the parser state, emission, scopes and variables,
//! declarations and statements; `expr.rs` the expressions. The error
//! messages, the order they are found in and the limits (256 constants,
//! locals and upvalues per function, 255 parameters and arguments, 64 KiB
//! jumps) are clox's, so that the test suite's expectations hold.

mod expr;

use crate::chunk::*;
use crate::object::{Chunk, Function, LoxString, Obj, Value};
use crate::scanner::{Scanner, Token, TokenKind};
use crate::strings::Interner;
use metatrace::{Gc, Root};

/// Compiles a script. On error, the messages (`[line N] Error...`), in the
/// order clox prints them.
pub fn compile(source: &str, strings: &mut Interner) -> Result<Gc<Function>, Vec<String>> {
    let mut parser = Parser {
        scanner: Scanner::new(source),
        current: Token::synthetic(""),
        previous: Token::synthetic(""),
        panic_mode: false,
        errors: Vec::new(),
        strings,
        compilers: Root::new(Vec::new()),
        classes: Vec::new(),
    };
    parser.begin_function(FunctionKind::Script);
    parser.advance();
    while !parser.match_token(TokenKind::Eof) {
        parser.declaration();
    }
    let (function, _) = parser.end_function();
    if parser.errors.is_empty() {
        Ok(function)
    } else {
        Err(parser.errors)
    }
}

/// What kind of function is being compiled: decides slot 0's name, what a
/// bare `return` returns, and which `return`s are errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FunctionKind {
    Function,
    Initializer,
    Method,
    Script,
}

struct Local<'src> {
    name: &'src str,
    /// The scope depth; `None` while its initializer is being compiled.
    depth: Option<usize>,
    is_captured: bool,
}

/// Where a closure's upvalue comes from: a local of the enclosing
/// function, or one of its upvalues.
#[derive(Clone, Copy, PartialEq, Eq)]
struct UpvalueRef {
    index: u8,
    is_local: bool,
}

/// The state of one function being compiled (clox's `Compiler`).
pub(crate) struct FunctionCompiler<'src> {
    kind: FunctionKind,
    arity: usize,
    /// Its constants (strings, finished inner functions) hold `Gc`s: the
    /// compilers in progress are a root (see `Parser::compilers`).
    pub(crate) chunk: Chunk,
    pub(crate) name: Option<Gc<LoxString>>,
    locals: Vec<Local<'src>>,
    upvalues: Vec<UpvalueRef>,
    scope_depth: usize,
}

/// The class being compiled (clox's `ClassCompiler`).
struct ClassCompiler {
    has_superclass: bool,
}

/// The most locals and upvalues a function may have (their indexes are
/// one byte).
const UINT8_COUNT: usize = 256;

struct Parser<'src, 'i> {
    scanner: Scanner<'src>,
    current: Token<'src>,
    previous: Token<'src>,
    /// After an error, further errors are dropped until the parser
    /// resynchronizes at a statement boundary.
    panic_mode: bool,
    errors: Vec<String>,
    strings: &'i mut Interner,
    /// The functions being compiled, innermost last: a root, since
    /// compiling allocates (strings, functions) while the constants made
    /// so far are in these chunks, on the Rust heap.
    compilers: Root<Vec<FunctionCompiler<'src>>>,
    /// The classes being compiled, innermost last.
    classes: Vec<ClassCompiler>,
}

impl<'src, 'i> Parser<'src, 'i> {
    // ---- Errors and tokens.

    fn error_at(&mut self, token: Token<'src>, message: &str) {
        if self.panic_mode {
            return;
        }
        self.panic_mode = true;
        let location = match token.kind {
            TokenKind::Eof => " at end".to_string(),
            TokenKind::Error => String::new(),
            _ => format!(" at '{}'", token.text),
        };
        self.errors
            .push(format!("[line {}] Error{location}: {message}", token.line));
    }

    fn error(&mut self, message: &str) {
        self.error_at(self.previous, message);
    }

    fn error_at_current(&mut self, message: &str) {
        self.error_at(self.current, message);
    }

    fn advance(&mut self) {
        self.previous = self.current;
        loop {
            self.current = self.scanner.scan_token();
            if self.current.kind != TokenKind::Error {
                break;
            }
            self.error_at_current(self.current.text);
        }
    }

    fn consume(&mut self, kind: TokenKind, message: &str) {
        if self.current.kind == kind {
            self.advance();
        } else {
            self.error_at_current(message);
        }
    }

    fn check(&self, kind: TokenKind) -> bool {
        self.current.kind == kind
    }

    fn match_token(&mut self, kind: TokenKind) -> bool {
        if !self.check(kind) {
            return false;
        }
        self.advance();
        true
    }

    // ---- Emitting bytecode.

    fn compiler(&mut self) -> &mut FunctionCompiler<'src> {
        self.compilers
            .last_mut()
            .expect("a function is being compiled")
    }

    fn chunk(&mut self) -> &mut Chunk {
        &mut self.compiler().chunk
    }

    fn emit_byte(&mut self, byte: u8) {
        let line = self.previous.line;
        self.chunk().write(byte, line);
    }

    fn emit_bytes(&mut self, a: u8, b: u8) {
        self.emit_byte(a);
        self.emit_byte(b);
    }

    fn emit_loop(&mut self, loop_start: usize) {
        self.emit_byte(OP_LOOP);
        let offset = self.chunk().code.len() - loop_start + 2;
        if offset > u16::MAX as usize {
            self.error("Loop body too large.");
        }
        self.emit_byte((offset >> 8) as u8);
        self.emit_byte(offset as u8);
    }

    /// Emits a jump with a placeholder offset; the offset's position, for
    /// [`Parser::patch_jump`].
    fn emit_jump(&mut self, instruction: u8) -> usize {
        self.emit_byte(instruction);
        self.emit_byte(0xff);
        self.emit_byte(0xff);
        self.chunk().code.len() - 2
    }

    fn patch_jump(&mut self, offset: usize) {
        // -2 for the offset's own two bytes.
        let jump = self.chunk().code.len() - offset - 2;
        if jump > u16::MAX as usize {
            self.error("Too much code to jump over.");
        }
        let code = &mut self.chunk().code;
        code[offset] = (jump >> 8) as u8;
        code[offset + 1] = jump as u8;
    }

    fn emit_return(&mut self) {
        if self.compiler().kind == FunctionKind::Initializer {
            self.emit_bytes(OP_GET_LOCAL, 0);
        } else {
            self.emit_byte(OP_NIL);
        }
        self.emit_byte(OP_RETURN);
    }

    fn make_constant(&mut self, value: Value) -> u8 {
        let index = self.chunk().add_constant(value);
        if index > u8::MAX as usize {
            self.error("Too many constants in one chunk.");
            return 0;
        }
        index as u8
    }

    fn emit_constant(&mut self, value: Value) {
        let index = self.make_constant(value);
        self.emit_bytes(OP_CONSTANT, index);
    }

    // ---- Functions and scopes.

    fn begin_function(&mut self, kind: FunctionKind) {
        let name = match kind {
            FunctionKind::Script => None,
            _ => Some(self.strings.intern(self.previous.text)),
        };
        // Slot 0 holds the function itself, or `this` in methods.
        let slot0 = match kind {
            FunctionKind::Function => "",
            _ => "this",
        };
        self.compilers.push(FunctionCompiler {
            kind,
            arity: 0,
            chunk: Chunk::default(),
            name,
            locals: vec![Local {
                name: slot0,
                depth: Some(0),
                is_captured: false,
            }],
            upvalues: Vec::new(),
            scope_depth: 0,
        });
    }

    /// Finishes the innermost function: the function, and where its
    /// upvalues come from.
    fn end_function(&mut self) -> (Gc<Function>, Vec<UpvalueRef>) {
        self.emit_return();
        let c = self.compilers.pop().expect("a function is being compiled");
        let function = Gc::new(Function {
            arity: c.arity,
            upvalue_count: c.upvalues.len(),
            chunk: c.chunk,
            name: c.name,
        });
        (function, c.upvalues)
    }

    fn begin_scope(&mut self) {
        self.compiler().scope_depth += 1;
    }

    fn end_scope(&mut self) {
        self.compiler().scope_depth -= 1;
        loop {
            let c = self.compiler();
            let depth = c.scope_depth;
            let captured = match c.locals.last() {
                Some(local) if local.depth.is_some_and(|d| d > depth) => local.is_captured,
                _ => break,
            };
            self.emit_byte(if captured { OP_CLOSE_UPVALUE } else { OP_POP });
            self.compiler().locals.pop();
        }
    }

    // ---- Variables.

    fn identifier_constant(&mut self, name: &str) -> u8 {
        let s = self.strings.intern(name);
        self.make_constant(Value::Obj(Obj::String(s)))
    }

    /// The slot of local `name` in function `level` of the stack.
    fn resolve_local(&mut self, level: usize, name: &str) -> Option<u8> {
        let found = self.compilers[level]
            .locals
            .iter()
            .rposition(|local| local.name == name)?;
        if self.compilers[level].locals[found].depth.is_none() {
            self.error("Can't read local variable in its own initializer.");
        }
        Some(found as u8)
    }

    fn add_upvalue(&mut self, level: usize, index: u8, is_local: bool) -> u8 {
        let wanted = UpvalueRef { index, is_local };
        let upvalues = &self.compilers[level].upvalues;
        if let Some(i) = upvalues.iter().position(|u| *u == wanted) {
            return i as u8;
        }
        if upvalues.len() == UINT8_COUNT {
            self.error("Too many closure variables in function.");
            return 0;
        }
        self.compilers[level].upvalues.push(wanted);
        (self.compilers[level].upvalues.len() - 1) as u8
    }

    /// The upvalue index of `name` in function `level`, capturing it from
    /// the enclosing functions.
    fn resolve_upvalue(&mut self, level: usize, name: &str) -> Option<u8> {
        if level == 0 {
            return None;
        }
        if let Some(local) = self.resolve_local(level - 1, name) {
            self.compilers[level - 1].locals[local as usize].is_captured = true;
            return Some(self.add_upvalue(level, local, true));
        }
        let upvalue = self.resolve_upvalue(level - 1, name)?;
        Some(self.add_upvalue(level, upvalue, false))
    }

    fn add_local(&mut self, name: &'src str) {
        if self.compiler().locals.len() == UINT8_COUNT {
            self.error("Too many local variables in function.");
            return;
        }
        self.compiler().locals.push(Local {
            name,
            depth: None,
            is_captured: false,
        });
    }

    /// Declares the local named by the previous token (nothing for a
    /// global).
    fn declare_variable(&mut self) {
        let c = self.compilers.last().expect("a function is being compiled");
        if c.scope_depth == 0 {
            return;
        }
        let name = self.previous.text;
        let depth = c.scope_depth;
        let clash = c
            .locals
            .iter()
            .rev()
            .take_while(|local| local.depth.is_none_or(|d| d >= depth))
            .any(|local| local.name == name);
        if clash {
            self.error("Already a variable with this name in this scope.");
        }
        self.add_local(name);
    }

    /// Parses a variable's name: its name constant if it is a global.
    fn parse_variable(&mut self, message: &str) -> u8 {
        self.consume(TokenKind::Identifier, message);
        self.declare_variable();
        if self.compiler().scope_depth > 0 {
            return 0;
        }
        self.identifier_constant(self.previous.text)
    }

    fn mark_initialized(&mut self) {
        let c = self.compiler();
        if c.scope_depth == 0 {
            return;
        }
        let depth = c.scope_depth;
        if let Some(local) = c.locals.last_mut() {
            local.depth = Some(depth);
        }
    }

    fn define_variable(&mut self, global: u8) {
        if self.compiler().scope_depth > 0 {
            self.mark_initialized();
            return;
        }
        self.emit_bytes(OP_DEFINE_GLOBAL, global);
    }

    // ---- Declarations.

    fn declaration(&mut self) {
        if self.match_token(TokenKind::Class) {
            self.class_declaration();
        } else if self.match_token(TokenKind::Fun) {
            self.fun_declaration();
        } else if self.match_token(TokenKind::Var) {
            self.var_declaration();
        } else {
            self.statement();
        }
        if self.panic_mode {
            self.synchronize();
        }
    }

    /// Skips tokens to a likely statement boundary after an error.
    fn synchronize(&mut self) {
        self.panic_mode = false;
        while self.current.kind != TokenKind::Eof {
            if self.previous.kind == TokenKind::Semicolon {
                return;
            }
            match self.current.kind {
                TokenKind::Class
                | TokenKind::Fun
                | TokenKind::Var
                | TokenKind::For
                | TokenKind::If
                | TokenKind::While
                | TokenKind::Print
                | TokenKind::Return => return,
                _ => {}
            }
            self.advance();
        }
    }

    fn class_declaration(&mut self) {
        self.consume(TokenKind::Identifier, "Expect class name.");
        let class_name = self.previous;
        let name_constant = self.identifier_constant(class_name.text);
        self.declare_variable();
        self.emit_bytes(OP_CLASS, name_constant);
        self.define_variable(name_constant);

        self.classes.push(ClassCompiler {
            has_superclass: false,
        });
        if self.match_token(TokenKind::Less) {
            self.consume(TokenKind::Identifier, "Expect superclass name.");
            self.variable(false);
            if class_name.text == self.previous.text {
                self.error("A class can't inherit from itself.");
            }
            // `super` is a local of a scope around the methods, so that
            // their closures capture it.
            self.begin_scope();
            self.add_local("super");
            self.define_variable(0);
            self.named_variable(class_name.text, false);
            self.emit_byte(OP_INHERIT);
            if let Some(class) = self.classes.last_mut() {
                class.has_superclass = true;
            }
        }

        self.named_variable(class_name.text, false);
        self.consume(TokenKind::LeftBrace, "Expect '{' before class body.");
        while !self.check(TokenKind::RightBrace) && !self.check(TokenKind::Eof) {
            self.method();
        }
        self.consume(TokenKind::RightBrace, "Expect '}' after class body.");
        self.emit_byte(OP_POP);
        if self.classes.pop().is_some_and(|c| c.has_superclass) {
            self.end_scope();
        }
    }

    fn method(&mut self) {
        self.consume(TokenKind::Identifier, "Expect method name.");
        let constant = self.identifier_constant(self.previous.text);
        let kind = if self.previous.text == "init" {
            FunctionKind::Initializer
        } else {
            FunctionKind::Method
        };
        self.function(kind);
        self.emit_bytes(OP_METHOD, constant);
    }

    fn fun_declaration(&mut self) {
        let global = self.parse_variable("Expect function name.");
        // A function may refer to itself.
        self.mark_initialized();
        self.function(FunctionKind::Function);
        self.define_variable(global);
    }

    /// Compiles a function's parameters and body (the previous token is
    /// its name) and emits the closure that makes it.
    fn function(&mut self, kind: FunctionKind) {
        self.begin_function(kind);
        // No end_scope: the frame goes away with its locals at return.
        self.begin_scope();
        self.consume(TokenKind::LeftParen, "Expect '(' after function name.");
        if !self.check(TokenKind::RightParen) {
            loop {
                self.compiler().arity += 1;
                if self.compiler().arity > 255 {
                    self.error_at_current("Can't have more than 255 parameters.");
                }
                let constant = self.parse_variable("Expect parameter name.");
                self.define_variable(constant);
                if !self.match_token(TokenKind::Comma) {
                    break;
                }
            }
        }
        self.consume(TokenKind::RightParen, "Expect ')' after parameters.");
        self.consume(TokenKind::LeftBrace, "Expect '{' before function body.");
        self.block();
        let (function, upvalues) = self.end_function();
        let constant = self.make_constant(Value::Obj(Obj::Function(function)));
        self.emit_bytes(OP_CLOSURE, constant);
        for upvalue in upvalues {
            self.emit_bytes(upvalue.is_local as u8, upvalue.index);
        }
    }

    fn var_declaration(&mut self) {
        let global = self.parse_variable("Expect variable name.");
        if self.match_token(TokenKind::Equal) {
            self.expression();
        } else {
            self.emit_byte(OP_NIL);
        }
        self.consume(
            TokenKind::Semicolon,
            "Expect ';' after variable declaration.",
        );
        self.define_variable(global);
    }

    // ---- Statements.

    fn statement(&mut self) {
        if self.match_token(TokenKind::Print) {
            self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after value.");
            self.emit_byte(OP_PRINT);
        } else if self.match_token(TokenKind::For) {
            self.for_statement();
        } else if self.match_token(TokenKind::If) {
            self.if_statement();
        } else if self.match_token(TokenKind::Return) {
            self.return_statement();
        } else if self.match_token(TokenKind::While) {
            self.while_statement();
        } else if self.match_token(TokenKind::LeftBrace) {
            self.begin_scope();
            self.block();
            self.end_scope();
        } else {
            self.expression_statement();
        }
    }

    fn block(&mut self) {
        while !self.check(TokenKind::RightBrace) && !self.check(TokenKind::Eof) {
            self.declaration();
        }
        self.consume(TokenKind::RightBrace, "Expect '}' after block.");
    }

    fn expression_statement(&mut self) {
        self.expression();
        self.consume(TokenKind::Semicolon, "Expect ';' after expression.");
        self.emit_byte(OP_POP);
    }

    fn for_statement(&mut self) {
        self.begin_scope();
        self.consume(TokenKind::LeftParen, "Expect '(' after 'for'.");
        if self.match_token(TokenKind::Semicolon) {
            // No initializer.
        } else if self.match_token(TokenKind::Var) {
            self.var_declaration();
        } else {
            self.expression_statement();
        }

        let mut loop_start = self.chunk().code.len();
        let mut exit_jump = None;
        if !self.match_token(TokenKind::Semicolon) {
            self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after loop condition.");
            exit_jump = Some(self.emit_jump(OP_JUMP_IF_FALSE));
            self.emit_byte(OP_POP);
        }

        if !self.match_token(TokenKind::RightParen) {
            // The increment runs after the body: jump over it, and loop
            // back to it from the body's end.
            let body_jump = self.emit_jump(OP_JUMP);
            let increment_start = self.chunk().code.len();
            self.expression();
            self.emit_byte(OP_POP);
            self.consume(TokenKind::RightParen, "Expect ')' after for clauses.");
            self.emit_loop(loop_start);
            loop_start = increment_start;
            self.patch_jump(body_jump);
        }

        self.statement();
        self.emit_loop(loop_start);
        if let Some(exit_jump) = exit_jump {
            self.patch_jump(exit_jump);
            self.emit_byte(OP_POP);
        }
        self.end_scope();
    }

    fn if_statement(&mut self) {
        self.consume(TokenKind::LeftParen, "Expect '(' after 'if'.");
        self.expression();
        self.consume(TokenKind::RightParen, "Expect ')' after condition.");
        let then_jump = self.emit_jump(OP_JUMP_IF_FALSE);
        self.emit_byte(OP_POP);
        self.statement();
        let else_jump = self.emit_jump(OP_JUMP);
        self.patch_jump(then_jump);
        self.emit_byte(OP_POP);
        if self.match_token(TokenKind::Else) {
            self.statement();
        }
        self.patch_jump(else_jump);
    }

    fn return_statement(&mut self) {
        if self.compiler().kind == FunctionKind::Script {
            self.error("Can't return from top-level code.");
        }
        if self.match_token(TokenKind::Semicolon) {
            self.emit_return();
        } else {
            if self.compiler().kind == FunctionKind::Initializer {
                self.error("Can't return a value from an initializer.");
            }
            self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after return value.");
            self.emit_byte(OP_RETURN);
        }
    }

    fn while_statement(&mut self) {
        let loop_start = self.chunk().code.len();
        self.consume(TokenKind::LeftParen, "Expect '(' after 'while'.");
        self.expression();
        self.consume(TokenKind::RightParen, "Expect ')' after condition.");
        let exit_jump = self.emit_jump(OP_JUMP_IF_FALSE);
        self.emit_byte(OP_POP);
        self.statement();
        self.emit_loop(loop_start);
        self.patch_jump(exit_jump);
        self.emit_byte(OP_POP);
    }
}
