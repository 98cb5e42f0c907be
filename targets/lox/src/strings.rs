//! String interning (clox's `vm.strings` with `copyString`/`takeString`):
//! every Lox string is made here, once per distinct text, so that string
//! equality and table keys are pointer comparisons.
//!
//! Native code: the interner is a hash map, which traced code may not
//! touch, so the VM reaches it only through the `#[dont_look_inside]`
//! function [`concatenate`] (the compiler, which runs before the portal,
//! uses [`Interner::intern`] directly). Making a string is an allocation
//! the JIT cannot remove, which is fine: Lox programs build few.
//!
//! The interner must not keep strings alive: a string nothing else
//! reaches is garbage, and its entry must go when it dies (clox's
//! `tableRemoveWhite`, which clears unmarked keys between marking and
//! sweeping). So the table is a weak one: a `metatrace::gc::WeakRoot`,
//! swept by the collector after marking ([`Sweep`]), which drops the
//! strings that died and follows the ones that moved.

use crate::object::LoxString;
use metatrace::gc::{Alive, Sweep, WeakRoot};
use metatrace::prelude::*;
use metatrace::Gc;
use std::collections::HashMap;

/// Every live string, by text.
pub struct Interner {
    strings: WeakRoot<StringTable>,
}

/// The strings by their FNV-1a hash (clox's, which `Table`s use too);
/// strings whose hashes collide share a bucket.
#[derive(Default)]
struct StringTable {
    buckets: HashMap<u32, Vec<Gc<LoxString>>>,
}

impl Sweep for StringTable {
    fn sweep(&mut self, alive: &Alive) {
        self.buckets.retain(|_, strings| {
            strings.retain_mut(|s| match alive.of(*s) {
                Some(moved) => {
                    *s = moved;
                    true
                }
                None => false,
            });
            !strings.is_empty()
        });
    }
}

impl Default for Interner {
    fn default() -> Interner {
        Interner {
            strings: WeakRoot::new(StringTable::default()),
        }
    }
}

impl Interner {
    /// The string whose text is `chars` (clox's `copyString`).
    pub fn intern(&mut self, chars: &str) -> Gc<LoxString> {
        let hash = hash_string(chars.as_bytes());
        match self.find(chars, hash) {
            Some(s) => s,
            None => self.insert(chars.to_string(), hash),
        }
    }

    /// Like [`Interner::intern`], for a text the caller already owns
    /// (clox's `takeString`).
    pub fn intern_owned(&mut self, chars: String) -> Gc<LoxString> {
        let hash = hash_string(chars.as_bytes());
        match self.find(&chars, hash) {
            Some(s) => s,
            None => self.insert(chars, hash),
        }
    }

    /// How many strings are interned (alive at the last collection, or
    /// made since).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.strings.buckets.values().map(Vec::len).sum()
    }

    fn find(&self, chars: &str, hash: u32) -> Option<Gc<LoxString>> {
        let bucket = self.strings.buckets.get(&hash)?;
        bucket.iter().copied().find(|s| s.chars == chars)
    }

    fn insert(&mut self, chars: String, hash: u32) -> Gc<LoxString> {
        // No borrow of the table across the allocation: a collection there
        // sweeps it.
        let s = Gc::new(LoxString { chars, hash });
        self.strings.buckets.entry(hash).or_default().push(s);
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
pub(crate) mod tests {
    use super::*;

    /// Run by `crate::tests::on_the_gc_heap`.
    pub(crate) fn equal_texts_are_one_object() {
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

    /// The interner does not keep strings alive: the ones nothing else
    /// reaches leave it at a collection; the others keep their identity
    /// (also when the collector moved them).
    pub(crate) fn dead_strings_leave_the_interner() {
        let mut strings = Interner::default();
        let kept = strings.intern("kept");
        make_garbage(&mut strings, 5000);
        assert!(strings.len() >= 5000);
        clobber_stack();
        metatrace::gc::collect();
        clobber_stack();
        metatrace::gc::collect();
        // A stale stack word may keep a string or two.
        assert!(strings.len() <= 10, "{} strings left", strings.len());
        assert!(Gc::ptr_eq(strings.intern("kept"), kept));
        assert_eq!(kept.chars, "kept");
        // A dead text can be interned again, as a new string.
        assert_eq!(strings.intern("garbage 17").chars, "garbage 17");
    }

    #[inline(never)]
    fn make_garbage(strings: &mut Interner, n: usize) {
        for i in 0..n {
            strings.intern_owned(format!("garbage {i}"));
        }
    }

    /// Zeroes the stack below the caller, where the garbage's pointers were.
    #[inline(never)]
    fn clobber_stack() {
        let mut a = [0usize; 4096];
        std::hint::black_box(&mut a);
    }
}
