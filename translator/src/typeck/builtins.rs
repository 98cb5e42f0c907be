//! The std methods traced code may call, with their types. The lowering
//! gives each its operations (`lower/builtins.rs`); anything not listed here
//! is an error that suggests a `#[dont_look_inside]` helper.

use super::infer::IT;
use metatrace_jitcodegen::types::{IntTy, Ty};

/// A builtin method: its parameter types (after the receiver) and result.
pub struct BuiltinSig {
    pub name: &'static str,
    pub params: Vec<IT>,
    pub ret: IT,
}

fn sig(name: &'static str, params: Vec<IT>, ret: IT) -> Option<BuiltinSig> {
    Some(BuiltinSig { name, params, ret })
}

/// Look up `recv.method(..)` where `recv` has already been auto-dereferenced.
pub fn method(recv: &IT, method: &str) -> Option<BuiltinSig> {
    let u32t = IT::int(IntTy::U32);
    match recv {
        IT::Leaf(Ty::Int(t)) => {
            let me = IT::int(*t);
            match method {
                "wrapping_add" | "wrapping_sub" | "wrapping_mul" | "min" | "max" | "rem_euclid"
                | "wrapping_rem" | "wrapping_div" => sig(intern(method), vec![me.clone()], me),
                "wrapping_neg" | "abs" | "signum" | "clone" | "swap_bytes" => {
                    sig(intern(method), vec![], me)
                }
                "wrapping_shl" | "wrapping_shr" | "pow" | "wrapping_pow" => {
                    sig(intern(method), vec![u32t], me)
                }
                "count_ones" | "leading_zeros" | "trailing_zeros" => {
                    sig(intern(method), vec![], u32t)
                }
                "is_power_of_two" if !t.signed() => sig("is_power_of_two", vec![], IT::bool()),
                "is_positive" | "is_negative" if t.signed() => {
                    sig(intern(method), vec![], IT::bool())
                }
                "is_ascii_digit"
                | "is_ascii_alphabetic"
                | "is_ascii_alphanumeric"
                | "is_ascii_whitespace"
                | "is_ascii_uppercase"
                | "is_ascii_lowercase"
                | "is_ascii_punctuation"
                | "is_ascii_hexdigit"
                    if *t == IntTy::U8 =>
                {
                    sig(intern(method), vec![], IT::bool())
                }
                _ => None,
            }
        }
        IT::Leaf(Ty::Char) => match method {
            "is_ascii_digit"
            | "is_ascii_alphabetic"
            | "is_ascii_alphanumeric"
            | "is_ascii_whitespace"
            | "is_ascii_uppercase"
            | "is_ascii_lowercase"
            | "is_ascii_punctuation"
            | "is_ascii_hexdigit"
            | "is_ascii" => sig(intern(method), vec![], IT::bool()),
            "is_digit" => sig("is_digit", vec![u32t], IT::bool()),
            "to_digit" => sig("to_digit", vec![u32t.clone()], IT::Option(Box::new(u32t))),
            "clone" => sig("clone", vec![], IT::Leaf(Ty::Char)),
            _ => None,
        },
        IT::Leaf(Ty::Bool) => match method {
            "clone" => sig("clone", vec![], IT::bool()),
            _ => None,
        },
        IT::Leaf(Ty::F64) => {
            let f = IT::Leaf(Ty::F64);
            match method {
                "abs" | "sqrt" | "floor" | "ceil" | "round" | "trunc" | "clone" => {
                    sig(intern(method), vec![], f)
                }
                "min" | "max" | "powf" => sig(intern(method), vec![f.clone()], f),
                "powi" => sig("powi", vec![IT::int(IntTy::I32)], f),
                "is_nan" | "is_finite" => sig(intern(method), vec![], IT::bool()),
                _ => None,
            }
        }
        IT::Vec(elem) => match method {
            "len" => sig("len", vec![], IT::usize()),
            "is_empty" => sig("is_empty", vec![], IT::bool()),
            "push" => sig("push", vec![(**elem).clone()], IT::unit()),
            "pop" => sig("pop", vec![], IT::Option(elem.clone())),
            _ => None,
        },
        IT::Slice(_) | IT::Array(..) => match method {
            "len" => sig("len", vec![], IT::usize()),
            "is_empty" => sig("is_empty", vec![], IT::bool()),
            _ => None,
        },
        IT::Leaf(Ty::Str) | IT::Leaf(Ty::String) => match method {
            "len" => sig("len", vec![], IT::usize()),
            "is_empty" => sig("is_empty", vec![], IT::bool()),
            "as_bytes" => sig(
                "as_bytes",
                vec![],
                IT::Ref(false, Box::new(IT::Slice(Box::new(IT::int(IntTy::U8))))),
            ),
            "as_str" if matches!(recv, IT::Leaf(Ty::String)) => sig(
                "as_str",
                vec![],
                IT::Ref(false, Box::new(IT::Leaf(Ty::Str))),
            ),
            _ => None,
        },
        IT::Option(t) => match method {
            "is_some" | "is_none" => sig(intern(method), vec![], IT::bool()),
            "unwrap" => sig("unwrap", vec![], (**t).clone()),
            "expect" => sig("expect", vec![str_ref()], (**t).clone()),
            "unwrap_or" => sig("unwrap_or", vec![(**t).clone()], (**t).clone()),
            "clone" => sig("clone", vec![], recv.clone()),
            _ => None,
        },
        IT::Result(t, _) => match method {
            "is_ok" | "is_err" => sig(intern(method), vec![], IT::bool()),
            "unwrap" => sig("unwrap", vec![], (**t).clone()),
            "expect" => sig("expect", vec![str_ref()], (**t).clone()),
            "clone" => sig("clone", vec![], recv.clone()),
            _ => None,
        },
        IT::Tuple(_) => match method {
            "clone" => sig("clone", vec![], recv.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn str_ref() -> IT {
    IT::Ref(false, Box::new(IT::Leaf(Ty::Str)))
}

/// Method names are matched from user input; give them a static lifetime
/// from the fixed list above.
fn intern(name: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "wrapping_add",
        "wrapping_sub",
        "wrapping_mul",
        "min",
        "max",
        "rem_euclid",
        "wrapping_rem",
        "wrapping_div",
        "wrapping_neg",
        "abs",
        "signum",
        "clone",
        "swap_bytes",
        "wrapping_shl",
        "wrapping_shr",
        "pow",
        "wrapping_pow",
        "count_ones",
        "leading_zeros",
        "trailing_zeros",
        "is_positive",
        "is_negative",
        "is_ascii_digit",
        "is_ascii_alphabetic",
        "is_ascii_alphanumeric",
        "is_ascii_whitespace",
        "is_ascii_uppercase",
        "is_ascii_lowercase",
        "is_ascii_punctuation",
        "is_ascii_hexdigit",
        "is_ascii",
        "sqrt",
        "floor",
        "ceil",
        "round",
        "trunc",
        "powf",
        "is_nan",
        "is_finite",
        "is_some",
        "is_none",
        "is_ok",
        "is_err",
    ];
    NAMES.iter().find(|n| **n == name).copied().unwrap_or("?")
}

/// Methods that exist on std types but that traced code cannot use, with
/// what to do instead.
pub fn unsupported_method_help(method: &str) -> &'static str {
    match method {
        "iter" | "iter_mut" | "into_iter" | "map" | "filter" | "collect" | "enumerate" | "zip" | "fold" | "sum" | "chars" | "bytes" => {
            "iterators are not supported in traced code; loop over an index range: `for i in 0..v.len()`"
        }
        "clone" | "to_vec" | "to_string" | "to_owned" | "resize" | "extend" | "insert" | "remove" | "clear" | "truncate" | "split_off" => {
            "methods that allocate or free heap memory are not supported in traced code; do it in a #[dont_look_inside] function"
        }
        _ => "call it from a #[dont_look_inside] function, or use a supported method (see docs/subset.md)",
    }
}

/// `T::f(x)` forms: `u64::from(x)`, `i64::wrapping_add(a, b)`, ...
pub fn assoc_fn(ty_name: &str, f: &str) -> Option<(&'static str, usize)> {
    let int = IntTy::from_name(ty_name).is_some();
    match f {
        "from" if int || ty_name == "f64" || ty_name == "char" => Some(("from", 1)),
        "wrapping_add" | "wrapping_sub" | "wrapping_mul" | "min" | "max" if int => {
            Some((intern(f), 2))
        }
        "wrapping_neg" | "abs" if int => Some((intern(f), 1)),
        _ => None,
    }
}
