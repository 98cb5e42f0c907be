//! The small enums that instructions and trace operations carry as static
//! data (an operator, an int type, a kind): each declared once with its
//! name in printed IR and its byte in encoded jitcodes.
//!
//! The printers, parsers, encoder and decoder of both IRs reach them
//! through [`Token`], so a new operator is one line here.

use super::ScalarTy;

/// A static operand: named in printed IR (`add`, `u8`, `int`), one or
/// two bytes in encoded jitcodes.
pub trait Token: Copy + 'static {
    /// The decoder's message for a byte that is none of these.
    const WHAT: &'static str;
    fn name(self) -> &'static str;
    fn from_name(name: &str) -> Option<Self>;
    fn encode(self, out: &mut Vec<u8>);
    /// From the bytes at `at`; the number of bytes read.
    fn decode(bytes: &[u8]) -> Result<(Self, usize), &'static str>;
}

/// Declares an enum whose variants are tokens, numbered in order.
macro_rules! tokens {
    ($(
        $(#[$meta:meta])*
        $ty:ident, $what:literal {
            $( $(#[$vmeta:meta])* $var:ident = $name:literal ),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $ty {
            $( $(#[$vmeta])* $var, )*
        }

        impl $ty {
            pub const ALL: [$ty; [$(stringify!($var)),*].len()] = [$($ty::$var),*];

            /// The name in printed IR.
            pub fn name(self) -> &'static str {
                match self { $( $ty::$var => $name, )* }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|t| t.name() == name)
            }
        }

        /// The first one: what a decoder or parser fills in.
        impl Default for $ty {
            fn default() -> Self {
                Self::ALL[0]
            }
        }

        impl Token for $ty {
            const WHAT: &'static str = $what;
            fn name(self) -> &'static str {
                $ty::name(self)
            }
            fn from_name(name: &str) -> Option<Self> {
                $ty::from_name(name)
            }
            fn encode(self, out: &mut Vec<u8>) {
                out.push(self as u8);
            }
            fn decode(bytes: &[u8]) -> Result<(Self, usize), &'static str> {
                let b = *bytes.first().ok_or("truncated instruction")?;
                Self::ALL.get(b as usize).map(|t| (*t, 1)).ok_or($what)
            }
        }
    )*};
}

tokens! {
    /// The integer types of Rust, each with its wrap-around and signedness.
    IntTy, "bad int type" {
        I8 = "i8",
        I16 = "i16",
        I32 = "i32",
        I64 = "i64",
        Isize = "isize",
        U8 = "u8",
        U16 = "u16",
        U32 = "u32",
        U64 = "u64",
        Usize = "usize",
    }

    /// Register kinds of jitcodes and traces, as in RPython.
    Kind, "bad register kind" {
        Int = "int",
        Ref = "ref",
        Float = "float",
    }

    IntBinOp, "bad int op" {
        Add = "add",
        Sub = "sub",
        Mul = "mul",
        /// Divisor checked non-zero (and not `MIN / -1`) by earlier code.
        Div = "div",
        Rem = "rem",
        And = "and",
        Or = "or",
        Xor = "xor",
        /// Shift amount taken modulo the bit width (release semantics).
        Shl = "shl",
        Shr = "shr",
    }

    CmpOp, "bad comparison" {
        Eq = "eq",
        Ne = "ne",
        Lt = "lt",
        Le = "le",
        Gt = "gt",
        Ge = "ge",
    }

    FloatBinOp, "bad float op" {
        Add = "add",
        Sub = "sub",
        Mul = "mul",
        Div = "div",
        Rem = "rem",
    }

    /// How a call was classified by the codewriter (from the callee's hints).
    CallFlavor, "bad call flavor" {
        /// A translated function: the tracer inlines it.
        Regular = "call",
        /// `#[elidable]`: pure, foldable on constant arguments.
        Elidable = "call_elidable",
        /// `#[loop_invariant]`.
        LoopInvariant = "call_loopinvariant",
    }

    PanicKind, "bad panic kind" {
        BoundsCheck = "boundscheck",
        DivideByZero = "dividebyzero",
        DivideOverflow = "divideoverflow",
        Unwrap = "unwrap",
        Explicit = "explicit",
    }
}

impl Default for ScalarTy {
    fn default() -> Self {
        ScalarTy::Int(IntTy::default())
    }
}

/// Encoded as a tag byte (0 int, then the `IntTy`; 1 bool, 2 char, 3 f64,
/// 4 ref).
impl Token for ScalarTy {
    const WHAT: &'static str = "bad scalar type";
    fn name(self) -> &'static str {
        ScalarTy::name(self)
    }
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "bool" => Some(ScalarTy::Bool),
            "char" => Some(ScalarTy::Char),
            "f64" => Some(ScalarTy::F64),
            "ref" => Some(ScalarTy::Ref),
            _ => IntTy::from_name(name).map(ScalarTy::Int),
        }
    }
    fn encode(self, out: &mut Vec<u8>) {
        match self {
            ScalarTy::Int(t) => {
                out.push(0);
                t.encode(out)
            }
            ScalarTy::Bool => out.push(1),
            ScalarTy::Char => out.push(2),
            ScalarTy::F64 => out.push(3),
            ScalarTy::Ref => out.push(4),
        }
    }
    fn decode(bytes: &[u8]) -> Result<(Self, usize), &'static str> {
        let b = *bytes.first().ok_or("truncated instruction")?;
        Ok(match b {
            0 => {
                let (t, n) = <IntTy as Token>::decode(&bytes[1..])?;
                (ScalarTy::Int(t), 1 + n)
            }
            1 => (ScalarTy::Bool, 1),
            2 => (ScalarTy::Char, 1),
            3 => (ScalarTy::F64, 1),
            4 => (ScalarTy::Ref, 1),
            _ => return Err(Self::WHAT),
        })
    }
}

/// A static operand of an instruction, whatever its type: what the
/// instruction table's visitors hand out.
pub trait StaticOperand {
    fn name(&self) -> &'static str;
    /// Set from a printed name; false if it is none of this type's.
    fn set_name(&mut self, name: &str) -> bool;
    fn encode(&self, out: &mut Vec<u8>);
    /// Set from the bytes; the number of bytes read.
    fn decode(&mut self, bytes: &[u8]) -> Result<usize, &'static str>;
}

impl<T: Token> StaticOperand for T {
    fn name(&self) -> &'static str {
        Token::name(*self)
    }
    fn set_name(&mut self, name: &str) -> bool {
        match T::from_name(name) {
            Some(t) => {
                *self = t;
                true
            }
            None => false,
        }
    }
    fn encode(&self, out: &mut Vec<u8>) {
        Token::encode(*self, out)
    }
    fn decode(&mut self, bytes: &[u8]) -> Result<usize, &'static str> {
        let (t, n) = T::decode(bytes)?;
        *self = t;
        Ok(n)
    }
}

/// A printed name from its template: each `{}` filled by the next of
/// `params` (`int_{}/{}` with `add`, `u8` gives `int_add/u8`).
pub fn fill_template(template: &str, params: &[String]) -> String {
    let mut parts = template.split("{}");
    let mut out = parts.next().unwrap_or("").to_string();
    for (part, p) in parts.zip(params) {
        out.push_str(p);
        out.push_str(part);
    }
    out
}

/// The index of the bracket closing the one `s` starts with (a `->` is no
/// closing `>`).
pub(crate) fn closing(s: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close && !(close == '>' && s[..i].ends_with('-')) {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// The inverse of [`fill_template`]: the parameter texts of `name` under
/// `template` (`int_{}/{}` against `int_add/u8` gives `["add", "u8"]`),
/// or `None` when the name does not have the template's shape. A middle
/// separator is found at its first occurrence, the last one at the end,
/// so a parameter may hold brackets (`getitem<{}>`, `Vec<u8>`).
pub fn match_template<'a>(template: &str, name: &'a str) -> Option<Vec<&'a str>> {
    let mut parts = template.split("{}").peekable();
    let mut rest = name.strip_prefix(parts.next()?)?;
    let mut params = Vec::new();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            params.push(rest.strip_suffix(part)?);
            rest = "";
        } else {
            let at = rest.find(part)?;
            params.push(&rest[..at]);
            rest = &rest[at + part.len()..];
        }
    }
    rest.is_empty().then_some(params)
}
