//! String interning (clox's `vm.strings` with `copyString`/`takeString`):
//! every Lox string is made here, once per distinct text, so that string
//! equality and table keys are pointer comparisons.
//!
//! Native code: the interner is a `HashSet`, which traced code may not
//! touch, so the VM reaches it only through the `#[dont_look_inside]`
//! function [`concatenate`] (the compiler, which runs before the portal,
//! uses [`Interner::intern`] directly). Making a string is an allocation
//! the JIT cannot remove, which is fine: Lox programs build few.
//!
//! With a real collector the interner must not keep strings alive (clox
//! removes unmarked strings from the table before sweeping,
//! `tableRemoveWhite`): it will need a weak table. With the stand-in
//! `Gc`, which never frees, a strong one is right.

use crate::gc::Gc;
use crate::object::LoxString;
use metatrace::prelude::*;
use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

/// Every string made so far.
#[derive(Default)]
pub struct Interner {
    strings: HashSet<Interned>,
}

/// A key of the interner's set: hashed and compared by the string's text,
/// so that the set can be probed with a `&str`.
struct Interned(Gc<LoxString>);

impl Hash for Interned {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.chars.as_str().hash(state)
    }
}

impl PartialEq for Interned {
    fn eq(&self, other: &Interned) -> bool {
        self.0.chars == other.0.chars
    }
}

impl Eq for Interned {}

impl Borrow<str> for Interned {
    fn borrow(&self) -> &str {
        &self.0.chars
    }
}

impl Interner {
    /// The string whose text is `chars` (clox's `copyString`).
    pub fn intern(&mut self, chars: &str) -> Gc<LoxString> {
        if let Some(s) = self.strings.get(chars) {
            return s.0;
        }
        self.insert(chars.to_string())
    }

    /// Like [`Interner::intern`], for a text the caller already owns
    /// (clox's `takeString`).
    pub fn intern_owned(&mut self, chars: String) -> Gc<LoxString> {
        if let Some(s) = self.strings.get(chars.as_str()) {
            return s.0;
        }
        self.insert(chars)
    }

    fn insert(&mut self, chars: String) -> Gc<LoxString> {
        let hash = hash_string(chars.as_bytes());
        let s = Gc::new(LoxString { chars, hash });
        self.strings.insert(Interned(s));
        s
    }
}

/// `a + b` on two strings.
#[dont_look_inside]
pub fn concatenate(strings: &mut Interner, a: Gc<LoxString>, b: Gc<LoxString>) -> Gc<LoxString> {
    let mut chars = String::with_capacity(a.chars.len() + b.chars.len());
    chars.push_str(&a.chars);
    chars.push_str(&b.chars);
    strings.intern_owned(chars)
}

/// 32-bit FNV-1a, clox's `hashString`.
pub fn hash_string(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 2166136261;
    for &b in bytes {
        hash ^= b as u32;
        hash = hash.wrapping_mul(16777619);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_are_one_object() {
        let mut strings = Interner::default();
        let a = strings.intern("ab");
        let b = strings.intern_owned("ab".to_string());
        assert!(Gc::ptr_eq(a, b));
        let x = strings.intern("a");
        let y = strings.intern("b");
        assert!(Gc::ptr_eq(concatenate(&mut strings, x, y), a));
        assert!(!Gc::ptr_eq(x, y));
        assert_eq!(a.hash, hash_string(b"ab"));
        assert_eq!(hash_string(b""), 2166136261);
    }
}
