//! GC options: the values `--gc name=value,...` sets on every VM, beside
//! `--jit` (and with the same syntax and error style as
//! [`crate::params`]).
//!
//! RPython picks its collector when the VM is translated
//! (`--gc=incminimark`) and sizes it from environment variables at run time
//! (`PYPY_GC_NURSERY`, `PYPY_GC_MAX`, rpython/memory/gc/env.py); mmtk-core
//! picks the plan when the heap is created, so here the plan is a run-time
//! choice. Items:
//! - `plan=NAME`: `stickyimmix` (the default), `immix` or `marksweep`;
//! - `heap=SIZE`: a fixed heap of SIZE bytes (`64M`, `1G`, `512K`, or plain
//!   bytes); `heap=MIN:MAX`: a heap that grows and shrinks between MIN and
//!   MAX (mmtk's MemBalancer); default `16M:512M`;
//! - `threads=N`: GC worker threads (default 1: the VMs are single-threaded
//!   and the machines small);
//! - `stress`: collect at every allocation (for tests); `stress=0|1`;
//! - `default`: reset every option.

pub use crate::options::{parse_size, size_name, OptionList};
use std::fmt;

/// A collector plan (mmtk's `PlanSelector`), restricted to the plans that
/// can pin the objects the conservative stack scan finds: the copying
/// plans (SemiSpace, GenCopy, GenImmix) evacuate every live nursery object
/// and cannot honour pinning roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcPlan {
    /// Generational Immix with sticky mark bits: young objects are those
    /// allocated since the last collection, a nursery collection traces
    /// only them (plus what the write barrier remembered). Fast at
    /// allocation (bump pointer into lines) and at collecting short-lived
    /// objects. Needs the write barrier (`GcCell`).
    StickyImmix,
    /// Full-heap mark-region collection with opportunistic defragmentation;
    /// no barrier.
    Immix,
    /// Full-heap mark-sweep over segregated free lists; never moves.
    MarkSweep,
}

impl GcPlan {
    /// All plans, in the order messages list them.
    pub const ALL: [GcPlan; 3] = [GcPlan::StickyImmix, GcPlan::Immix, GcPlan::MarkSweep];

    /// The name used on the command line (`plan=NAME`).
    pub fn name(self) -> &'static str {
        match self {
            GcPlan::StickyImmix => "stickyimmix",
            GcPlan::Immix => "immix",
            GcPlan::MarkSweep => "marksweep",
        }
    }

    /// Parses a plan name as written on the command line.
    pub fn from_name(name: &str) -> Option<GcPlan> {
        GcPlan::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether stores of GC pointers into old objects must be remembered
    /// (the plan collects the young generation alone).
    pub fn is_generational(self) -> bool {
        matches!(self, GcPlan::StickyImmix)
    }
}

impl fmt::Display for GcPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How big the heap may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeapSize {
    /// A fixed heap: a collection when it is full.
    Fixed(usize),
    /// A heap that mmtk's MemBalancer sizes between the two bounds.
    Dynamic(usize, usize),
}

/// The largest heap `heap=` accepts.
pub const MAX_HEAP: usize = 1 << 40;
/// The smallest heap `heap=` accepts. mmtk 0.33 gives each space twice
/// the maximum heap of address space and puts the space's page free list
/// in its first 4 MiB chunk; below 16 MiB a space is left with too few
/// chunks, and a copying collection that needs one more indexes past the
/// free list (a panic inside mmtk, seen at `heap=4M`).
pub const MIN_HEAP: usize = 16 << 20;

/// The maximum heap size handed to mmtk for a requested one: the same, or
/// rounded up to a multiple of 16 MiB up to 512 MiB.
///
/// Why: mmtk 0.33.0 sizes each space at twice the maximum heap and gives
/// it a page free list (`RawMemoryFreeList`) that grows 16 pages at a
/// time; when the list's size is not a multiple of 16 pages, its last
/// growth is clipped by `raise_high_water`, which computes
/// `high_water - limit` with the operands reversed and crashes (docs/gc.md).
/// With these sizes the list is a whole number of blocks (multiples of
/// 16 MiB up to 512 MiB), so the clipping
/// never happens; [`freelist_pages`] replicates mmtk's arithmetic and the
/// unit test checks it. Above 512 MiB no nearby size is aligned; the
/// partial block then covers only the top 30 MiB or less of a space of
/// twice the heap, which a space would have to fill.
pub fn mmtk_max_heap(requested: usize) -> usize {
    const STEP: usize = 16 << 20;
    if requested <= STEP || requested > 512 << 20 {
        requested
    } else {
        requested.div_ceil(STEP) * STEP
    }
}

/// The size in pages of the page free list mmtk 0.33.0 makes for each
/// space of a heap whose maximum is `max_heap` bytes (Map64, 4 KiB pages,
/// 4 MiB chunks: `Space::estimate_reasonable_contiguous_extent`,
/// `Map64::create_parent_freelist`, `RawMemoryFreeList::size_in_pages`).
pub fn freelist_pages(max_heap: usize) -> usize {
    const PAGE: usize = 4096;
    const CHUNK: usize = 4 << 20;
    let max_heap_pages = max_heap.div_ceil(PAGE);
    let extent = (max_heap_pages * PAGE * 2).max(2 * CHUNK).div_ceil(CHUNK) * CHUNK;
    let pages = extent / PAGE;
    let units = (pages as f64 * (1.0 - 8.0 / 4096.0)) as usize;
    ((units + 1 + 1) << 3).div_ceil(PAGE)
}

/// The GC's options. `GcOptions::default()` holds the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcOptions {
    /// `plan` (default `stickyimmix`).
    pub plan: GcPlan,
    /// `heap` (default `16M:512M`).
    pub heap: HeapSize,
    /// `threads` (default 1): GC worker threads.
    pub threads: usize,
    /// `stress` (default off): collect at every allocation.
    pub stress: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            plan: GcPlan::StickyImmix,
            heap: HeapSize::Dynamic(16 << 20, 512 << 20),
            threads: 1,
            stress: false,
        }
    }
}

/// Every option name with a one-line description, in documentation order.
pub const OPTIONS: &[(&str, &str)] = &[
    ("plan", "stickyimmix | immix | marksweep"),
    (
        "heap",
        "SIZE (fixed) or MIN:MAX (grows between them); K, M, G suffixes",
    ),
    ("threads", "GC worker threads"),
    (
        "stress",
        "collect at every allocation (stress=1; for tests)",
    ),
];

impl OptionList for GcOptions {
    const WHAT: &'static str = "GC option";
    const ITEMS: &'static [(&'static str, &'static str)] = OPTIONS;
    const FLAGS: &'static [(&'static str, &'static str)] = &[
        ("stress", "same as stress=1"),
        ("default", "reset every option to its default"),
    ];

    fn set_flag(&mut self, _stress: &str) {
        self.stress = true;
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let bad =
            |expected: &str| format!("bad value for GC option '{name}': '{value}' ({expected})");
        match name {
            "plan" => {
                self.plan = GcPlan::from_name(value).ok_or_else(|| {
                    let plans: Vec<&str> = GcPlan::ALL.iter().map(|p| p.name()).collect();
                    format!(
                        "bad value for GC option 'plan': '{value}'; valid plans: {}",
                        plans.join(", ")
                    )
                })?
            }
            "heap" => {
                let expected = format!(
                    "expected SIZE or MIN:MAX, sizes like 64M or 1G, within {}..={}",
                    size_name(MIN_HEAP),
                    size_name(MAX_HEAP)
                );
                let size = |s: &str| {
                    parse_size(s)
                        .filter(|n| (MIN_HEAP..=MAX_HEAP).contains(n))
                        .ok_or_else(|| bad(&expected))
                };
                self.heap = match value.split_once(':') {
                    None => HeapSize::Fixed(size(value)?),
                    Some((min, max)) => {
                        let (min, max) = (size(min.trim())?, size(max.trim())?);
                        if min > max {
                            return Err(bad("MIN is larger than MAX"));
                        }
                        HeapSize::Dynamic(min, max)
                    }
                }
            }
            "threads" => {
                self.threads = match value.parse::<usize>() {
                    Ok(n) if (1..=64).contains(&n) => n,
                    _ => return Err(bad("expected an integer in 1..=64")),
                }
            }
            "stress" => {
                self.stress = match value {
                    "1" | "true" | "on" => true,
                    "0" | "false" | "off" => false,
                    _ => return Err(bad("expected 0 or 1")),
                }
            }
            _ => return Err(Self::unknown(name)),
        }
        Ok(())
    }

    /// The current value of an option, as it would be written after `name=`.
    fn value_of(&self, name: &str) -> Option<String> {
        Some(match name {
            "plan" => self.plan.name().to_string(),
            "heap" => match self.heap {
                HeapSize::Fixed(n) => size_name(n),
                HeapSize::Dynamic(min, max) => format!("{}:{}", size_name(min), size_name(max)),
            },
            "threads" => self.threads.to_string(),
            "stress" => (self.stress as u8).to_string(),
            _ => return None,
        })
    }
}

/// `plan=stickyimmix,heap=16M:512M,...`: parses back to the same value.
impl fmt::Display for GcOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_options())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_items() {
        let d = GcOptions::default();
        assert_eq!(GcOptions::parse("").unwrap(), d);
        assert_eq!(
            d.to_string(),
            "plan=stickyimmix,heap=16M:512M,threads=1,stress=0"
        );
        let o = GcOptions::parse("plan=immix, heap=64M ,stress,threads=2").unwrap();
        assert_eq!(o.plan, GcPlan::Immix);
        assert_eq!(o.heap, HeapSize::Fixed(64 << 20));
        assert_eq!((o.threads, o.stress), (2, true));
        assert_eq!(GcOptions::parse(&o.to_string()).unwrap(), o);
        let o = GcOptions::parse("plan=marksweep,heap=16m:1gb,stress=1,stress=0").unwrap();
        assert_eq!(o.heap, HeapSize::Dynamic(16 << 20, 1 << 30));
        assert!(!o.stress);
        assert_eq!(GcOptions::parse("plan=immix,default").unwrap(), d);
    }

    #[test]
    fn errors_name_the_option_and_value() {
        for (opts, needle) in [
            ("plan=semispace", "bad value for GC option 'plan': 'semispace'; valid plans: stickyimmix, immix, marksweep"),
            ("heap=lots", "bad value for GC option 'heap': 'lots'"),
            ("heap=1K", "bad value for GC option 'heap': '1K'"),
            ("heap=8M", "within 16M..=1T"),
            ("heap=4T", "bad value for GC option 'heap': '4T'"),
            ("heap=64M:16M", "MIN is larger than MAX"),
            ("heap=16M:", "bad value for GC option 'heap': '16M:'"),
            ("heap=99999999999999999999", "'heap'"),
            ("threads=0", "bad value for GC option 'threads': '0'"),
            ("stress=maybe", "bad value for GC option 'stress': 'maybe'"),
            ("nursery=1M", "unknown GC option 'nursery'; valid: plan=stickyimmix, heap=16M:512M, threads=1, stress=0, stress, default"),
            ("fast", "unknown GC option 'fast'"),
            ("plan", "GC option 'plan' needs a value"),
        ] {
            let e = GcOptions::parse(opts).unwrap_err();
            assert!(e.contains(needle), "{opts}: {e}");
        }
    }

    /// The heap sizes handed to mmtk never leave a partial last block in
    /// a space's page free list up to 512 MiB (see `mmtk_max_heap`).
    #[test]
    fn heap_sizes_avoid_the_freelist_clipping() {
        let mut n = MIN_HEAP;
        while n <= 512 << 20 {
            let pages = freelist_pages(mmtk_max_heap(n));
            assert!(pages <= 16 || pages % 16 == 0, "heap {n}: {pages} pages");
            assert!(mmtk_max_heap(n) >= n && mmtk_max_heap(n) < n + (16 << 20));
            n += 1 << 20;
        }
        // The case a prototype crashed on: 24 MiB gives a 24-page list.
        assert_eq!(freelist_pages(24 << 20), 24);
        assert_eq!(mmtk_max_heap(24 << 20), 32 << 20);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("3k"), Some(3072));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("M"), None);
        assert_eq!(parse_size("-1M"), None);
        assert_eq!(size_name(1536 << 10), "1536K");
        assert_eq!(size_name(1 << 40), "1T");
        assert_eq!(size_name(100), "100");
    }

    #[test]
    fn help_mentions_every_option() {
        let h = GcOptions::help();
        for (name, _) in OPTIONS {
            assert!(h.contains(name), "{name}");
        }
    }
}
