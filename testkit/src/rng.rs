//! The tests' random generators, deterministic and without extra crates.
//!
//! [`Rng`] is xorshift64*; the backend, optimizer and translator tests use
//! it. [`Rng::int`], [`Rng::canon`] and [`Rng::float`] draw the backend
//! tests' "interesting" values; [`Rng::trace_int`] the optimizer tests'
//! (more small numbers). [`SplitMix`] is the generator of the random
//! programs (`tests/random`): its seeds are printed by failing runs and
//! kept in `tests/regressions`, so it keeps its own algorithm.

use metatrace_runtime::jitcode::IntTy;

/// The edge values [`Rng::int`] picks from.
#[rustfmt::skip]
const INT_EDGES: [i64; 19] = [
    0, 1, -1, 2, -2, i64::MIN, i64::MAX, 127, 128, 255, 256, -128, -129, 65535, 65536,
    0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000,
];

/// The edge values [`Rng::trace_int`] picks from.
#[rustfmt::skip]
const TRACE_INT_EDGES: [i64; 16] = [
    0, 1, -1, 2, 7, 8, i64::MIN, i64::MAX, 127, 128, 255, 256, -128, 65535, 0x7fff_ffff,
    0x8000_0000,
];

/// The edge values [`Rng::float`] picks from.
#[rustfmt::skip]
const FLOAT_EDGES: [f64; 29] = [
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, f64::NAN, -f64::NAN, f64::INFINITY,
    f64::NEG_INFINITY, f64::MIN_POSITIVE, 5e-324, f64::MAX, f64::MIN, 9.223372036854776e18,
    -9.223372036854776e18, 1.8446744073709552e19, 4294967295.0, 4294967296.0, 2147483647.5,
    -2147483648.5, 255.9, 256.0, -128.9, 65535.5, 1e300, -1e300,
];

/// xorshift64*.
pub struct Rng(pub u64);

impl Rng {
    /// A generator seeded with `seed` (mixed, never zero). `Rng(state)`
    /// starts from `state` as it is.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// In `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// [`Rng::below`] for indices.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// A "interesting" 64-bit pattern: edge values, small numbers, random
    /// bits.
    pub fn int(&mut self) -> i64 {
        match self.below(6) {
            0 => self.pick(&INT_EDGES),
            1 => self.below(20) as i64 - 10,
            2 => (self.next() as i64) >> self.below(64),
            3 => 1i64
                .wrapping_shl(self.below(64) as u32)
                .wrapping_add(self.below(3) as i64 - 1),
            _ => self.next() as i64,
        }
    }
    /// An "interesting" i64 for traces: edge values, many small numbers,
    /// random bits.
    pub fn trace_int(&mut self) -> i64 {
        match self.below(5) {
            0 => self.pick(&TRACE_INT_EDGES),
            1 | 2 => self.below(12) as i64 - 3,
            3 => (self.next() as i64) >> self.below(64),
            _ => self.next() as i64,
        }
    }
    /// A value canonical for `ty`.
    pub fn canon(&mut self, ty: IntTy) -> i64 {
        metatrace_runtime::executor::wrap(ty, self.int())
    }
    pub fn float(&mut self) -> f64 {
        match self.below(5) {
            0 => self.pick(&FLOAT_EDGES),
            1 => (self.below(2000) as f64 - 1000.0) / 8.0,
            2 => f64::from_bits(self.next()),
            3 => (self.next() as i64 as f64) / (1u64 << self.below(64)) as f64,
            _ => (self.next() as i64 >> self.below(64)) as f64,
        }
    }
}

/// SplitMix64: every generated program is a pure function of its seed, so
/// a seed printed by a failing test reproduces it on any machine, whatever
/// the thread scheduling.
#[derive(Clone, Debug)]
pub struct SplitMix {
    state: u64,
}

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "{lo}..={hi}");
        let span = (hi as i128 - lo as i128 + 1) as u128;
        if span > u64::MAX as u128 {
            return self.next_u64() as i64;
        }
        (lo as i128 + self.below(span as u64) as i128) as i64
    }

    /// Uniform in `lo..=hi`.
    pub fn usize_in(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as i64, hi as i64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The seed of item `index` of a run seeded with `seed`.
pub fn mix(seed: u64, index: u64) -> u64 {
    SplitMix::new(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

/// FNV-1a, to derive a per-target seed from its name.
pub fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)
    })
}
