//! What memory locations hold, as the tracer's heap cache
//! (`metainterp::heapcache`) and the optimizer's heap pass
//! (`optimizer::heap`) know it: one map from [`Loc`] to a value, with
//! scalar fields kept by descr (RPython's `cached_fields`, by descr, in
//! `optimizeopt/heap.py` and `heapcache.py`). A write then tests only
//! the descrs whose bytes it may overlap, not every location known: on
//! a Lox trace of thousands of operations, testing every known location
//! at every write made both caches quadratic.

use crate::alias::Loc;
use crate::jitcode::FieldId;
use crate::trace::Val;
use rustc_hash::FxHashMap as HashMap;

pub struct LocMap<T> {
    /// Scalar fields: descr → base → what the field holds.
    fields: HashMap<FieldId, HashMap<Val, T>>,
    /// Every other kind of location.
    other: HashMap<Loc, T>,
}

impl<T> Default for LocMap<T> {
    fn default() -> Self {
        LocMap {
            fields: HashMap::default(),
            other: HashMap::default(),
        }
    }
}

impl<T: Copy> LocMap<T> {
    pub fn get(&self, loc: &Loc) -> Option<T> {
        match *loc {
            Loc::Field { base, descr } => self.fields.get(&descr)?.get(&base).copied(),
            _ => self.other.get(loc).copied(),
        }
    }

    pub fn insert(&mut self, loc: Loc, v: T) {
        match loc {
            Loc::Field { base, descr } => {
                self.fields.entry(descr).or_default().insert(base, v);
            }
            _ => {
                self.other.insert(loc, v);
            }
        }
    }

    pub fn remove(&mut self, loc: &Loc) {
        match *loc {
            Loc::Field { base, descr } => {
                if let Some(bucket) = self.fields.get_mut(&descr) {
                    bucket.remove(&base);
                }
            }
            _ => {
                self.other.remove(loc);
            }
        }
    }

    /// Forgets everything, keeping the tables' capacity.
    pub fn clear(&mut self) {
        self.fields.values_mut().for_each(HashMap::clear);
        self.other.clear();
    }

    /// Forgets every location `hit` (given the location and what it
    /// holds) says may have changed. `descr_may_be_hit` is asked first
    /// for each field descr: it must be `false` only when `hit` is
    /// `false` for every location of that descr.
    pub fn forget(
        &mut self,
        descr_may_be_hit: impl Fn(FieldId) -> bool,
        mut hit: impl FnMut(&Loc, T) -> bool,
    ) {
        self.other.retain(|loc, held| !hit(loc, *held));
        for (&descr, bucket) in self.fields.iter_mut() {
            if !bucket.is_empty() && descr_may_be_hit(descr) {
                bucket.retain(|&base, held| !hit(&Loc::Field { base, descr }, *held));
            }
        }
    }
}
