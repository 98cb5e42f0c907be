//! The operations of [`Table`] (clox's table.c): open addressing, linear
//! probing, tombstones, a load factor of 3/4, capacities that are powers of
//! two (at least 8). Keys are interned strings, compared by identity and
//! placed by the hash computed when they were interned.
//!
//! Traced code: globals, fields and methods are looked up here. The probe
//! loop is `#[unroll_safe]`: it is short (most lookups hit the first slot),
//! and unrolled in a trace its key and hash are constants, so the tracer
//! records a load and a guard or two per lookup rather than a call.
//! Growing allocates a new entry array, which is rare: it stays native.

use crate::object::{Entry, LoxString, Table, Value};
use metatrace::prelude::*;
use metatrace::Gc;

/// The smallest non-empty capacity.
const MIN_CAPACITY: usize = 8;

impl Table {
    /// An empty table (no entry array until the first insertion).
    pub fn new() -> Table {
        Table {
            entries: Vec::new(),
            count: 0,
        }
    }

    /// The value of `key`, if the table has it.
    // No `Option::map`: traced code has no closures.
    #[allow(clippy::manual_map)]
    pub fn get(&self, key: Gc<LoxString>) -> Option<Value> {
        if self.count == 0 {
            return None;
        }
        let entry = self.entries[find_entry(&self.entries, key)];
        match entry.key {
            Some(_) => Some(entry.value),
            None => None,
        }
    }

    /// Sets `key` to `value`; true if `key` was not in the table before.
    pub fn set(&mut self, key: Gc<LoxString>, value: Value) -> bool {
        // Grow at a load factor of 3/4, counting tombstones.
        if (self.count + 1) * 4 > self.entries.len() * 3 {
            grow(self);
        }
        let index = find_entry(&self.entries, key);
        let old = self.entries[index];
        let is_new = old.key.is_none();
        // A reused tombstone is already counted.
        if is_new && is_empty(old) {
            self.count += 1;
        }
        self.entries[index] = Entry {
            key: Some(key),
            value,
        };
        is_new
    }

    /// Removes `key`, leaving a tombstone; true if it was there.
    pub fn delete(&mut self, key: Gc<LoxString>) -> bool {
        if self.count == 0 {
            return false;
        }
        let index = find_entry(&self.entries, key);
        if self.entries[index].key.is_none() {
            return false;
        }
        self.entries[index] = Entry {
            key: None,
            value: Value::Bool(true),
        };
        true
    }

    /// Copies every entry of `from` into `self` (OP_INHERIT: a subclass
    /// starts with its superclass's methods).
    pub fn add_all(&mut self, from: &Table) {
        for i in 0..from.entries.len() {
            let entry = from.entries[i];
            if let Some(key) = entry.key {
                self.set(key, entry.value);
            }
        }
    }
}

/// An empty slot (as opposed to a tombstone or a live entry).
// No `matches!` in traced code.
#[allow(clippy::match_like_matches_macro)]
fn is_empty(entry: Entry) -> bool {
    match entry {
        Entry {
            key: None,
            value: Value::Nil,
        } => true,
        _ => false,
    }
}

/// The index of `key`'s entry in `entries` (not empty), or of the slot
/// where it would go: the first tombstone on its probe sequence, else the
/// empty slot that ends it.
#[unroll_safe]
fn find_entry(entries: &[Entry], key: Gc<LoxString>) -> usize {
    let mask = entries.len() - 1;
    let mut index = key.hash as usize & mask;
    let mut tombstone = entries.len();
    loop {
        let entry = entries[index];
        match entry.key {
            Some(k) => {
                if Gc::ptr_eq(k, key) {
                    return index;
                }
            }
            None => {
                if is_empty(entry) {
                    if tombstone < entries.len() {
                        return tombstone;
                    }
                    return index;
                }
                if tombstone == entries.len() {
                    tombstone = index;
                }
            }
        }
        index = (index + 1) & mask;
    }
}

/// Doubles the capacity and reinserts the live entries (tombstones go).
#[dont_look_inside]
pub(crate) fn grow(table: &mut Table) {
    let capacity = (table.entries.len() * 2).max(MIN_CAPACITY);
    let empty = Entry {
        key: None,
        value: Value::Nil,
    };
    let old = std::mem::replace(&mut table.entries, vec![empty; capacity]);
    table.count = 0;
    for entry in old {
        if let Some(key) = entry.key {
            let index = find_entry(&table.entries, key);
            table.entries[index] = entry;
            table.count += 1;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn key(s: &str, hash: u32) -> Gc<LoxString> {
        Gc::new(LoxString {
            chars: s.to_string(),
            hash,
        })
    }

    fn num(v: Option<Value>) -> Option<f64> {
        match v {
            Some(Value::Number(n)) => Some(n),
            _ => None,
        }
    }

    /// Run by `crate::tests::on_the_gc_heap`.
    pub(crate) fn set_get_delete_with_collisions() {
        let mut t = Table::new();
        // Every key lands on the same slot: probing and tombstones.
        let keys: Vec<_> = (0..20).map(|i| key(&format!("k{i}"), 7)).collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(t.set(*k, Value::Number(i as f64)));
        }
        assert!(!t.set(keys[3], Value::Number(33.0)));
        assert_eq!(num(t.get(keys[3])), Some(33.0));
        assert!(t.delete(keys[4]));
        assert!(!t.delete(keys[4]));
        assert_eq!(num(t.get(keys[4])), None);
        assert_eq!(num(t.get(keys[19])), Some(19.0));
        // The tombstone is reused.
        assert!(t.set(keys[4], Value::Number(4.0)));
        assert_eq!(num(t.get(keys[4])), Some(4.0));
        let mut copy = Table::new();
        copy.add_all(&t);
        for k in &keys {
            assert_eq!(num(copy.get(*k)), num(t.get(*k)));
        }
        assert_eq!(num(t.get(key("other", 7))), None);
    }
}
