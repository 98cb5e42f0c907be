//! The warm state (RPython's `warmstate` and `jitcounter`): hotness
//! counters per green key, the compiled loop of each key, per-guard failure
//! counters, and the backoff of keys and guards whose traces abort.
//!
//! Green keys are hashed (with the interpreter's `Tables` and the driver's
//! index) into a process-wide table of [`BUCKETS`] counters ([`Counters`]),
//! as RPython's `JitCounter` does: counting an iteration is a hash, a
//! relaxed load and a store, with no thread-local access — the fast path
//! of `can_enter_jit`, inlined into the glue. Keys that collide share a
//! counter (it only makes one of them hot a little early).
//!
//! A key gets a *cell* of its own in its thread's [`WarmState`], chained
//! from its bucket, once something happened to it: a compiled loop, an
//! aborted trace. Its bucket in [`Counters`] is then marked, and every
//! visit to a marked bucket takes the slow path: the warm state searches
//! the bucket's cells for the exact key (a key with a cell counts in it;
//! other keys of the bucket count in the warm state's own bucket).
//!
//! - A key without a compiled loop is traced when its counter reaches
//!   `threshold`.
//! - A trace from a key that aborts backs it off: the key is traced again
//!   after `threshold << aborts` more iterations, and after
//!   [`MAX_LOOP_ABORTS`] aborts it is blacklisted (never traced again; the
//!   interpreter runs it).
//! - A guard of compiled code that fails `trace_eagerness` times gets a
//!   bridge traced from it. An aborted bridge backs the guard off the same
//!   way (`trace_eagerness << aborts` failures before the next try, given up
//!   after [`MAX_BRIDGE_ABORTS`]).
//! - Every compilation decays all counters by `decay` thousandths, so that
//!   keys that were warm long ago do not add up to a trace.
//! - The warm state holds the traces its VM compiled, and counts their
//!   code memory. When a new trace does not fit under `max_code`, all of them
//!   are retired at once ([`WarmState::retire_all`], LuaJIT's flush of
//!   `maxmcode` in `lj_mcode.c`; PyPy's `memmgr.py` retires the loops not
//!   entered for `loop_longevity` generations): every key goes back to
//!   counting, and the loops still hot are traced again.
//!
//! One warm state per thread and interpreter (`Tables`): a VM is
//! single-threaded, and nothing in it needs a lock. The counters are shared
//! by all threads (relaxed, racy increments: a lost count only delays
//! tracing).

use crate::backend::TraceId;
use crate::jitcode::Tables;
use crate::optimizer::LazyShort;
use crate::params::JitParams;
use crate::quasiimmut::InvalidFlag;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

thread_local! {
    /// One warm state per interpreter (`Tables`) used on this thread.
    static STATES: RefCell<Vec<WarmState>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the warm state of `tables` (created on first use).
pub(crate) fn with_state<R>(tables: &'static Tables, f: impl FnOnce(&mut WarmState) -> R) -> R {
    STATES.with(|s| {
        let mut s = s.borrow_mut();
        let i = match s.iter().position(|w| std::ptr::eq(w.tables, tables)) {
            Some(i) => i,
            None => {
                s.push(WarmState::new(tables));
                s.len() - 1
            }
        };
        f(&mut s[i])
    })
}

/// Counters in the hash table (a power of two). Keys that share a
/// counter count each other's iterations, and which keys share one
/// changes from run to run (a green key may hold an address, and the hash
/// is seeded with the `Tables`' address: both move with ASLR). With 4,096
/// counters, sandmark's hundreds of jump targets made 11 to 14 loops and
/// 75 to 92 bridges in runs of one binary; with 16,384, the same 11 and 89
/// in every run.
pub const BUCKETS: usize = 1 << 14;
/// Aborted traces from one green key before it is blacklisted.
pub const MAX_LOOP_ABORTS: u32 = 4;
/// Aborted bridges from one guard before it is given up on.
pub const MAX_BRIDGE_ABORTS: u32 = 4;

/// What to do at a `can_enter_jit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Go on interpreting.
    Interpret,
    /// Run the compiled loop.
    Enter(TraceId),
    /// Trace from here.
    Trace,
}

/// The process-wide hotness counters (see the module doc). A counter's
/// top bit marks a bucket with cells.
pub struct Counters {
    buckets: [AtomicU32; BUCKETS],
}

const MARKED: u32 = 1 << 31;

/// What the counters say about one iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Counted; not hot.
    Counted,
    /// The counter reached the threshold (and was reset).
    Hot,
    /// The bucket has cells: ask the warm state.
    Marked,
}

/// The counters every warm state of the process uses.
pub static COUNTERS: Counters = Counters::new();

impl Counters {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Counters {
        Counters {
            buckets: [const { AtomicU32::new(0) }; BUCKETS],
        }
    }

    /// Counts one iteration of the key whose hash is `h`.
    #[inline(always)]
    pub fn tick(&self, h: usize, threshold: u32) -> Tick {
        let b = &self.buckets[h & (BUCKETS - 1)];
        let c = b.load(Relaxed);
        if c & MARKED != 0 {
            return Tick::Marked;
        }
        let c = c + 1;
        if c < threshold {
            b.store(c, Relaxed);
            Tick::Counted
        } else {
            b.store(0, Relaxed);
            Tick::Hot
        }
    }

    fn mark(&self, h: usize) {
        self.buckets[h & (BUCKETS - 1)].fetch_or(MARKED, Relaxed);
    }

    fn decay(&self, keep: u64) {
        for b in &self.buckets {
            let c = b.load(Relaxed);
            let n = ((c & !MARKED) as u64 * keep / 1000) as u32;
            b.store((c & MARKED) | n, Relaxed);
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Bucket {
    count: u32,
    /// Index + 1 of the first cell chained from this bucket (0: none).
    cells: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellState {
    Counting,
    Compiled(TraceId),
    /// Blacklisted: never traced again.
    DontTrace,
}

struct KeyCell {
    driver: u16,
    greens: Box<[u64]>,
    /// Index + 1 of the next cell of the bucket (0: none).
    next: u32,
    state: CellState,
    /// With `Compiled`: the compiled trace's invalid flag, when it depends
    /// on quasi-immutable fields (`quasiimmut.rs`). Once raised, the trace
    /// is not entered again and the key counts towards a new trace.
    invalid: Option<InvalidFlag>,
    count: u32,
    aborts: u32,
    /// A loop traced from here with the calls it makes inlined was too
    /// long: it is traced again ending in the callees' function traces
    /// (RPython retraces a too-long trace with its biggest inlined
    /// function not inlined).
    calls_not_inlined: bool,
    /// Its compiled trace was traced from `jit_function_entry!()`.
    function_trace: bool,
    /// It was traced again for a preamble that recorded the rare path
    /// ([`WarmState::retrace`]); once is all.
    retraced: bool,
}

impl KeyCell {
    /// The compiled trace to enter, unless there is none or it was
    /// invalidated.
    fn valid_trace(&self) -> Option<TraceId> {
        match self.state {
            CellState::Compiled(id) if !self.invalidated() => Some(id),
            _ => None,
        }
    }

    fn invalidated(&self) -> bool {
        self.invalid.is_some_and(|f| f.load(Relaxed))
    }

    /// The compiled trace is dropped: count towards a new one, as a new
    /// key.
    fn count_again(&mut self) {
        self.state = CellState::Counting;
        self.invalid = None;
        self.count = 0;
    }
}

#[derive(Default)]
struct GuardCell {
    failures: u32,
    aborts: u32,
    given_up: bool,
    /// The exit of a trace cut for being too long: the rest of a hot path,
    /// bridged at its first failure rather than after `trace_eagerness`.
    cut_exit: bool,
}

/// What an abort did to a key or guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// Retried after this many more iterations / failures.
    Retry(u64),
    /// Never traced again.
    Blacklisted,
}

pub struct WarmState {
    pub tables: &'static Tables,
    /// [`COUNTERS`], except in tests.
    counters: &'static Counters,
    /// The generation of the process-wide parameters `params` was read
    /// at; `None`: fixed parameters (tests), never reread.
    generation: Option<u32>,
    pub params: JitParams,
    buckets: Box<[Bucket]>,
    cells: Vec<KeyCell>,
    guards: HashMap<(TraceId, u32), GuardCell>,
    /// Peeled loops that bridges may enter directly: by preamble, the
    /// peeled loop and its short preamble.
    short_entries: HashMap<TraceId, (TraceId, Rc<LazyShort>)>,
    /// Every trace compiled for this VM and not retired, with the GC
    /// objects pinned for its code.
    live: Vec<(TraceId, Box<[usize]>)>,
    /// Bytes of code memory `live` holds.
    code_in_use: usize,
}

/// The hash of a green key of `driver` of `tables` (FxHash-style, then
/// folded).
#[inline(always)]
pub fn hash(tables: &'static Tables, driver: u16, greens: &[u64]) -> usize {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let seed = (tables as *const Tables as u64) ^ ((driver as u64) << 48);
    let mut h = seed.wrapping_mul(K);
    for &g in greens {
        h = (h.rotate_left(5) ^ g).wrapping_mul(K);
    }
    (h ^ (h >> 29) ^ (h >> 47)) as usize
}

fn scaled(base: u32, aborts: u32) -> u64 {
    (base as u64) << aborts.min(32)
}

impl WarmState {
    pub fn new(tables: &'static Tables) -> WarmState {
        let generation = super::config::params_generation();
        WarmState::with_params(tables, &COUNTERS, super::config::params(), Some(generation))
    }

    /// A warm state on `counters` with fixed parameters (not following
    /// `config::set_params`) when `generation` is `None`.
    pub fn with_params(
        tables: &'static Tables,
        counters: &'static Counters,
        params: JitParams,
        generation: Option<u32>,
    ) -> WarmState {
        WarmState {
            tables,
            counters,
            generation,
            params,
            buckets: vec![Bucket::default(); BUCKETS].into_boxed_slice(),
            cells: Vec::new(),
            guards: HashMap::new(),
            short_entries: HashMap::new(),
            live: Vec::new(),
            code_in_use: 0,
        }
    }

    /// Rereads the parameters if they changed since.
    #[inline]
    fn refresh(&mut self) {
        if let Some(old) = self.generation {
            let g = super::config::params_generation();
            if g != old {
                self.generation = Some(g);
                self.params = super::config::params();
            }
        }
    }

    fn find(&self, bucket: usize, driver: u16, greens: &[u64]) -> Option<usize> {
        let mut c = self.buckets[bucket].cells;
        while c != 0 {
            let cell = &self.cells[c as usize - 1];
            if cell.driver == driver && *cell.greens == *greens {
                return Some(c as usize - 1);
            }
            c = cell.next;
        }
        None
    }

    fn cell(&mut self, driver: u16, greens: &[u64]) -> &mut KeyCell {
        let h = hash(self.tables, driver, greens);
        let b = h & (BUCKETS - 1);
        let i = match self.find(b, driver, greens) {
            Some(i) => i,
            None => {
                self.cells.push(KeyCell {
                    driver,
                    greens: greens.into(),
                    next: self.buckets[b].cells,
                    state: CellState::Counting,
                    invalid: None,
                    count: 0,
                    aborts: 0,
                    calls_not_inlined: false,
                    function_trace: false,
                    retraced: false,
                });
                self.buckets[b].cells = self.cells.len() as u32;
                self.counters.mark(h);
                self.cells.len() - 1
            }
        };
        &mut self.cells[i]
    }

    /// One iteration reached `can_enter_jit` with these greens: count it
    /// and decide. (The driver inlines the first step, [`Counters::tick`],
    /// and calls [`WarmState::decide`] only when that is not enough.)
    pub fn tick(&mut self, driver: u16, greens: &[u64]) -> Action {
        self.refresh();
        let h = hash(self.tables, driver, greens);
        match self.counters.tick(h, self.params.threshold.max(1)) {
            Tick::Counted => Action::Interpret,
            t => self.decide(driver, h, greens, t, false),
        }
    }

    /// The slow path of [`WarmState::tick`], after the counters said
    /// `tick` (`Hot` or `Marked`) for the key whose hash is `h`.
    pub fn decide(
        &mut self,
        driver: u16,
        h: usize,
        greens: &[u64],
        tick: Tick,
        function_entry: bool,
    ) -> Action {
        self.refresh();
        let threshold = if function_entry {
            self.params.function_threshold.max(1)
        } else {
            self.params.threshold.max(1)
        };
        if tick != Tick::Marked {
            return Action::Trace;
        }
        let b = h & (BUCKETS - 1);
        if self.buckets[b].cells != 0 {
            if let Some(i) = self.find(b, driver, greens) {
                let c = &mut self.cells[i];
                if c.invalidated() {
                    c.count_again();
                }
                return match c.state {
                    CellState::Compiled(id) => Action::Enter(id),
                    CellState::DontTrace => Action::Interpret,
                    CellState::Counting => {
                        c.count = c.count.saturating_add(1);
                        if c.count as u64 >= scaled(threshold, c.aborts) {
                            c.count = 0;
                            Action::Trace
                        } else {
                            Action::Interpret
                        }
                    }
                };
            }
        }
        // A key without a cell in a marked bucket (marked for another key,
        // possibly by another thread).
        let bucket = &mut self.buckets[b];
        bucket.count += 1;
        if bucket.count >= threshold {
            bucket.count = 0;
            Action::Trace
        } else {
            Action::Interpret
        }
    }

    /// The compiled loop of a green key, if any.
    pub fn compiled(&self, driver: u16, greens: &[u64]) -> Option<TraceId> {
        let b = hash(self.tables, driver, greens) & (BUCKETS - 1);
        if self.buckets[b].cells == 0 {
            return None;
        }
        self.cells[self.find(b, driver, greens)?].valid_trace()
    }

    /// Does a loop traced from this key (or a bridge of its trace)
    /// inline the functions it calls? Not after a too-long trace (see
    /// [`WarmState::stop_inlining`]), nor in the world of function traces
    /// (whose bridges end in the callees' function traces).
    pub fn inlines_calls(&self, driver: u16, greens: &[u64]) -> bool {
        let b = hash(self.tables, driver, greens) & (BUCKETS - 1);
        match self.find(b, driver, greens) {
            Some(i) => !self.cells[i].calls_not_inlined && !self.cells[i].function_trace,
            None => true,
        }
    }

    /// The trace compiled for this key was traced from a function's
    /// entry.
    pub fn set_function_trace(&mut self, driver: u16, greens: &[u64]) {
        self.cell(driver, greens).function_trace = true;
    }

    /// A loop traced from this key with its calls inlined was too long:
    /// trace it again soon (after `threshold` more iterations, no abort
    /// counted) ending in the callees' function traces instead. `false`
    /// when that was done already.
    pub fn stop_inlining(&mut self, driver: u16, greens: &[u64]) -> bool {
        let c = self.cell(driver, greens);
        if c.calls_not_inlined {
            return false;
        }
        c.calls_not_inlined = true;
        c.count = 0;
        true
    }

    /// May this key be traced (it is not blacklisted)?
    pub fn may_trace(&self, driver: u16, greens: &[u64]) -> bool {
        let b = hash(self.tables, driver, greens) & (BUCKETS - 1);
        match self.find(b, driver, greens) {
            Some(i) => {
                let c = &self.cells[i];
                c.state == CellState::Counting
                    || (matches!(c.state, CellState::Compiled(_)) && c.invalidated())
            }
            None => true,
        }
    }

    /// A loop (or entry bridge) was compiled for this key.
    /// `invalid`: its invalid flag, if it depends on quasi-immutable
    /// fields.
    pub fn set_compiled(
        &mut self,
        driver: u16,
        greens: &[u64],
        id: TraceId,
        invalid: Option<InvalidFlag>,
    ) {
        let c = self.cell(driver, greens);
        c.state = CellState::Compiled(id);
        c.invalid = invalid;
        self.decay();
    }

    /// A bridge from a guard of `preamble`, the preamble of the loop
    /// compiled for this key, came back to this key's header: the path
    /// the loop's iterations take goes through the preamble's guard
    /// failing, never into the peeled loop, and the loop's values live in
    /// memory. Unless the key was traced again before, it counts as a new
    /// key from now on (the caller traces it at once, from the iteration
    /// that starts now); returns whether it does. (PyPy retraces a loop
    /// whose peeled iteration cannot be entered from a bridge; here the
    /// preamble itself recorded the path that turned out to be the rare
    /// one.)
    pub fn retrace(&mut self, driver: u16, greens: &[u64], preamble: TraceId) -> bool {
        let b = hash(self.tables, driver, greens) & (BUCKETS - 1);
        let Some(i) = self.find(b, driver, greens) else {
            return false;
        };
        let c = &mut self.cells[i];
        if c.retraced || c.state != CellState::Compiled(preamble) || c.invalidated() {
            return false;
        }
        c.retraced = true;
        c.count_again();
        true
    }

    /// A bridge of the loop compiled for this key was invalidated: the
    /// loop, which still jumps into it, is entered no more, and the key
    /// counts towards a new trace (RPython invalidates a loop together
    /// with its bridges: their dependencies are the loop token's).
    pub fn bridge_invalidated(&mut self, driver: u16, greens: &[u64]) {
        let b = hash(self.tables, driver, greens) & (BUCKETS - 1);
        if let Some(i) = self.find(b, driver, greens) {
            let c = &mut self.cells[i];
            if matches!(c.state, CellState::Compiled(_)) {
                c.count_again();
            }
        }
    }

    /// A trace from this key aborted: back it off, or blacklist it.
    pub fn loop_aborted(&mut self, driver: u16, greens: &[u64]) -> Backoff {
        let threshold = self.params.threshold.max(1);
        let c = self.cell(driver, greens);
        c.aborts += 1;
        c.count = 0;
        if c.aborts >= MAX_LOOP_ABORTS {
            c.state = CellState::DontTrace;
            Backoff::Blacklisted
        } else {
            Backoff::Retry(scaled(threshold, c.aborts))
        }
    }

    /// A trace from this key stopped at an inner loop that is traced
    /// first: try again after `threshold` more iterations, without
    /// counting an abort.
    pub fn loop_deferred(&mut self, driver: u16, greens: &[u64]) -> Backoff {
        let threshold = self.params.threshold.max(1);
        let c = self.cell(driver, greens);
        c.count = 0;
        Backoff::Retry(scaled(threshold, c.aborts))
    }

    /// Guard `guard` of compiled trace `trace` failed: should a bridge be
    /// traced from it now?
    pub fn guard_failed(&mut self, trace: TraceId, guard: u32) -> bool {
        self.refresh();
        let eagerness = self.params.trace_eagerness.max(1);
        let g = self.guards.entry((trace, guard)).or_default();
        if g.given_up {
            return false;
        }
        g.failures = g.failures.saturating_add(1);
        let eagerness = if g.cut_exit { 1 } else { eagerness };
        if g.failures as u64 >= scaled(eagerness, g.aborts) {
            g.failures = 0;
            true
        } else {
            false
        }
    }

    /// Guard `guard` of `trace` is where the trace was cut for being too
    /// long: every run of the trace leaves there, so it is bridged at its
    /// first failure (a chain of pieces would otherwise take
    /// `trace_eagerness` failures per piece to compile).
    pub fn set_cut_exit(&mut self, trace: TraceId, guard: u32) {
        self.guards.entry((trace, guard)).or_default().cut_exit = true;
    }

    /// A bridge from this guard stopped at a loop that is traced first:
    /// try again after `trace_eagerness` more failures (scaled by the
    /// aborts counted so far), without counting an abort. The guard is
    /// given up on only for failures that retrying cannot mend.
    pub fn bridge_deferred(&mut self, trace: TraceId, guard: u32) -> Backoff {
        let eagerness = self.params.trace_eagerness.max(1);
        let g = self.guards.entry((trace, guard)).or_default();
        g.failures = 0;
        Backoff::Retry(scaled(eagerness, g.aborts))
    }

    /// A bridge from this guard aborted: back it off, or give up on it.
    pub fn bridge_aborted(&mut self, trace: TraceId, guard: u32) -> Backoff {
        let eagerness = self.params.trace_eagerness.max(1);
        let g = self.guards.entry((trace, guard)).or_default();
        g.aborts += 1;
        g.failures = 0;
        if g.aborts >= MAX_BRIDGE_ABORTS {
            g.given_up = true;
            Backoff::Blacklisted
        } else {
            Backoff::Retry(scaled(eagerness, g.aborts))
        }
    }

    /// A bridge was attached to this guard: it never fails again.
    pub fn bridge_compiled(&mut self, trace: TraceId, guard: u32) {
        self.guards.remove(&(trace, guard));
        self.decay();
    }

    /// Bridges into `preamble` may enter `body` directly with `short`
    /// (if it derives).
    pub fn set_short_entry(&mut self, preamble: TraceId, body: TraceId, short: LazyShort) {
        self.short_entries.insert(preamble, (body, Rc::new(short)));
    }

    /// The peeled loop and short preamble a bridge into `preamble` may
    /// use instead.
    pub fn short_entry(&self, preamble: TraceId) -> Option<(TraceId, Rc<LazyShort>)> {
        self.short_entries.get(&preamble).cloned()
    }

    /// A trace was compiled for this VM, taking `code_bytes` of code
    /// memory, its code embedding the GC objects `pinned`.
    pub fn hold(&mut self, id: TraceId, code_bytes: usize, pinned: Box<[usize]>) {
        self.live.push((id, pinned));
        self.code_in_use += code_bytes;
    }

    /// Keeps `more` GC objects pinned as long as trace `id`, held
    /// already, lives (they are unpinned with its own). False if `id` is
    /// not held.
    pub fn hold_more(&mut self, id: TraceId, more: &[usize]) -> bool {
        match self.live.iter_mut().rev().find(|(i, _)| *i == id) {
            Some((_, pinned)) => {
                let mut all = std::mem::take(pinned).into_vec();
                all.extend_from_slice(more);
                *pinned = all.into_boxed_slice();
                true
            }
            None => false,
        }
    }

    /// Bytes of code memory the next trace may take under `max_code`.
    pub fn code_budget(&mut self) -> usize {
        self.refresh();
        self.params.max_code.saturating_sub(self.code_in_use)
    }

    /// Bytes of code memory this VM's live traces hold.
    pub fn code_in_use(&self) -> usize {
        self.code_in_use
    }

    /// Forgets every trace of this VM and returns them with the objects
    /// pinned for them, for the backend to free and the GC to unpin: compiled keys go back to counting (from zero), guard
    /// counters and short preambles go, a key's aborts and blacklisting
    /// stay. A key's cell is dropped when nothing about it is left to
    /// remember (its bucket stays marked: another thread's warm state may
    /// have cells there; the key counts in the warm state's bucket).
    pub fn retire_all(&mut self) -> Vec<(TraceId, Box<[usize]>)> {
        self.guards.clear();
        self.short_entries.clear();
        self.code_in_use = 0;
        let cells = std::mem::take(&mut self.cells);
        for b in self.buckets.iter_mut() {
            b.cells = 0;
        }
        for mut c in cells {
            if let CellState::Compiled(_) = c.state {
                c.count_again();
            }
            if c.state == CellState::Counting && c.aborts == 0 {
                continue;
            }
            let b = hash(self.tables, c.driver, &c.greens) & (BUCKETS - 1);
            c.next = self.buckets[b].cells;
            self.cells.push(c);
            self.buckets[b].cells = self.cells.len() as u32;
        }
        std::mem::take(&mut self.live)
    }

    /// Decays every counter by `decay` thousandths.
    fn decay(&mut self) {
        let keep = 1000 - self.params.decay.min(1000) as u64;
        if keep == 1000 {
            return;
        }
        let f = |c: &mut u32| *c = (*c as u64 * keep / 1000) as u32;
        for b in self.buckets.iter_mut() {
            f(&mut b.count);
        }
        for c in &mut self.cells {
            f(&mut c.count);
        }
        self.counters.decay(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::OptionList;

    static EMPTY: Tables = Tables::EMPTY;

    /// A warm state with its own counters (tests run in parallel).
    fn state(opts: &str) -> WarmState {
        let counters: &'static Counters = Box::leak(Box::new(Counters::new()));
        WarmState::with_params(&EMPTY, counters, JitParams::parse(opts).unwrap(), None)
    }

    fn ticks_until_trace(w: &mut WarmState, greens: &[u64]) -> u32 {
        for n in 1..100_000 {
            match w.tick(0, greens) {
                Action::Trace => return n,
                Action::Interpret => {}
                Action::Enter(_) => panic!("entered"),
            }
        }
        panic!("never hot");
    }

    #[test]
    fn counts_traces_enters_and_backs_off() {
        let mut w = state("threshold=5,trace_eagerness=3,decay=0");
        assert_eq!(ticks_until_trace(&mut w, &[1, 2]), 5);
        // Another key counts on its own (unless it collides).
        assert_eq!(ticks_until_trace(&mut w, &[7, 2]), 5);
        // Aborts: 10, 20, 40 more, then blacklisted.
        assert_eq!(w.loop_aborted(0, &[1, 2]), Backoff::Retry(10));
        assert_eq!(ticks_until_trace(&mut w, &[1, 2]), 10);
        assert_eq!(w.loop_aborted(0, &[1, 2]), Backoff::Retry(20));
        assert_eq!(ticks_until_trace(&mut w, &[1, 2]), 20);
        assert_eq!(w.loop_aborted(0, &[1, 2]), Backoff::Retry(40));
        assert_eq!(ticks_until_trace(&mut w, &[1, 2]), 40);
        assert_eq!(w.loop_aborted(0, &[1, 2]), Backoff::Blacklisted);
        for _ in 0..1000 {
            assert_eq!(w.tick(0, &[1, 2]), Action::Interpret);
        }
        // Compiled: entered every time.
        w.set_compiled(0, &[7, 2], 42, None);
        assert_eq!(w.tick(0, &[7, 2]), Action::Enter(42));
        assert_eq!(w.compiled(0, &[7, 2]), Some(42));
        assert_eq!(w.compiled(1, &[7, 2]), None);
        assert_eq!(w.compiled(0, &[1, 2]), None);
        // Guards.
        assert!(!w.guard_failed(42, 0));
        assert!(!w.guard_failed(42, 0));
        assert!(w.guard_failed(42, 0));
        assert_eq!(w.bridge_aborted(42, 0), Backoff::Retry(6));
        for _ in 0..5 {
            assert!(!w.guard_failed(42, 0));
        }
        assert!(w.guard_failed(42, 0));
        for _ in 0..3 {
            w.bridge_aborted(42, 0);
        }
        for _ in 0..100 {
            assert!(!w.guard_failed(42, 0));
        }
    }

    #[test]
    fn deferred_bridges_and_cut_exits() {
        let mut w = state("threshold=5,trace_eagerness=3,decay=0");
        // A bridge deferred (it stopped at a loop traced first) backs off
        // as far as the aborts counted so far, and never gives up.
        assert_eq!(w.bridge_aborted(42, 0), Backoff::Retry(6));
        for _ in 0..10 {
            assert_eq!(w.bridge_deferred(42, 0), Backoff::Retry(6));
        }
        for _ in 0..5 {
            assert!(!w.guard_failed(42, 0));
        }
        assert!(w.guard_failed(42, 0));
        // The exit of a cut trace is bridged at its first failure, then
        // backs off as any guard from there.
        w.set_cut_exit(43, 5);
        assert!(w.guard_failed(43, 5));
        assert_eq!(w.bridge_aborted(43, 5), Backoff::Retry(6));
        assert!(!w.guard_failed(43, 5));
        assert!(w.guard_failed(43, 5));
        assert!(!w.guard_failed(43, 4));
    }

    #[test]
    fn colliding_keys_are_told_apart() {
        let mut w = state("threshold=3,decay=0");
        // Find two keys in the same bucket.
        let b0 = hash(&EMPTY, 0, &[0]) & (BUCKETS - 1);
        let other = (1..)
            .find(|&k| hash(&EMPTY, 0, &[k]) & (BUCKETS - 1) == b0)
            .unwrap();
        w.set_compiled(0, &[0], 5, None);
        assert_eq!(w.tick(0, &[0]), Action::Enter(5));
        assert_eq!(w.compiled(0, &[other]), None);
        assert_eq!(ticks_until_trace(&mut w, &[other]), 3);
        w.set_compiled(0, &[other], 6, None);
        assert_eq!(w.tick(0, &[other]), Action::Enter(6));
        assert_eq!(w.tick(0, &[0]), Action::Enter(5));
    }

    #[test]
    fn retiring_sends_compiled_keys_back_to_counting() {
        let mut w = state("threshold=3,trace_eagerness=2,decay=0,max_code=64K");
        w.set_compiled(0, &[1], 7, None);
        w.hold(7, 8192, Box::new([]));
        w.hold(8, 4096, Box::new([0x1000]));
        w.loop_aborted(0, &[2]);
        for _ in 0..4 {
            w.loop_aborted(0, &[3]);
        }
        assert!(!w.guard_failed(7, 0));
        assert_eq!(w.code_budget(), (64 << 10) - 12288);
        let mut gone = w.retire_all();
        gone.sort();
        assert_eq!(
            gone,
            [(7, Box::new([]) as Box<[usize]>), (8, Box::new([0x1000]))]
        );
        assert_eq!((w.code_in_use(), w.code_budget()), (0, 64 << 10));
        assert_eq!(w.compiled(0, &[1]), None);
        assert_eq!(w.tick(0, &[1]), Action::Interpret);
        assert_eq!(w.tick(0, &[1]), Action::Interpret);
        assert_eq!(w.tick(0, &[1]), Action::Trace);
        // The guard counts from zero again (its trace id names nothing).
        assert!(!w.guard_failed(7, 0));
        // An aborted key keeps its backoff, a blacklisted one stays so.
        assert_eq!(ticks_until_trace(&mut w, &[2]), 6);
        assert!(!w.may_trace(0, &[3]));
        assert!(w.retire_all().is_empty());
    }

    #[test]
    fn decay_on_compile() {
        let mut w = state("threshold=100,decay=500");
        for _ in 0..60 {
            w.tick(0, &[3]);
        }
        w.set_compiled(0, &[4], 1, None);
        // 60 -> 30: 70 more to reach 100.
        assert_eq!(ticks_until_trace(&mut w, &[3]), 70);
    }
}
