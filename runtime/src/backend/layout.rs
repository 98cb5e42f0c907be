//! Inline access to `Vec<T>` and `String` headers.
//!
//! The layout of `Vec<T>`/`String` is not stable, which is why the descr
//! tables reach them through shims. But it is fixed for one build of one
//! program, and it can be observed: a `String` is inspected directly, and
//! for a `Vec<T>` the table's own `len`/`ptr` shims are run on two probe
//! headers whose words are distinct (valid, aligned, readable pointers):
//! the word each shim returns tells where the field is. When the probe is
//! conclusive (each shim returns one of the first three words, the same
//! one for both probes, the two fields differ), compiled code reads `len`
//! and the data pointer with one load each; otherwise it calls the shim
//! through a trampoline.
//!
//! Setting the environment variable `METATRACE_NO_INLINE_VEC` (to anything)
//! turns this off for the process (every Vec/String access goes through
//! the shims).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::jitcode::{Tables, VecShims};
use crate::trace::Opcode;

/// Byte offsets of the data pointer and the length in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderLayout {
    pub ptr: i32,
    pub len: i32,
    /// The capacity, when known (`Vec`s with in-place push/pop shims,
    /// `String`).
    pub cap: Option<i32>,
}

fn enabled() -> bool {
    static E: OnceLock<bool> = OnceLock::new();
    *E.get_or_init(|| std::env::var_os("METATRACE_NO_INLINE_VEC").is_none())
}

/// The layout of `String`.
pub fn string_layout() -> Option<HeaderLayout> {
    static L: OnceLock<Option<HeaderLayout>> = OnceLock::new();
    if !enabled() {
        return None;
    }
    *L.get_or_init(|| {
        if std::mem::size_of::<String>() != 3 * 8 {
            return None;
        }
        let mut s = String::with_capacity(40);
        s.push_str("abc");
        let words: [usize; 3] = unsafe { std::mem::transmute_copy(&s) };
        let ptr = words.iter().position(|&w| w == s.as_ptr() as usize)?;
        let len = words.iter().position(|&w| w == s.len())?;
        let cap = words.iter().position(|&w| w == s.capacity())?;
        if ptr == len || ptr == cap || len == cap {
            return None;
        }
        Some(HeaderLayout {
            ptr: 8 * ptr as i32,
            len: 8 * len as i32,
            cap: Some(8 * cap as i32),
        })
    })
}

/// Readable zeroed memory the probe headers point into.
fn probe_area() -> usize {
    static A: OnceLock<usize> = OnceLock::new();
    *A.get_or_init(|| {
        // 16 pages, 4096-aligned inside a leaked allocation
        let v: &'static mut [u8] = Box::leak(vec![0u8; 17 * 4096].into_boxed_slice());
        let p = v.as_ptr() as usize;
        (p + 4095) & !4095
    })
}

fn probe(shims: &VecShims) -> Option<HeaderLayout> {
    let area = probe_area();
    let mut found: Option<(usize, usize, Option<usize>)> = None;
    for round in 0..2usize {
        // 8 distinct words: page-aligned addresses into the probe area,
        // valid as pointers (non-null, aligned, readable) and as
        // capacities or lengths.
        let header: [usize; 8] = std::array::from_fn(|k| {
            let page = if round == 0 { 1 + k } else { 8 + (k + 3) % 8 };
            area + 4096 * page
        });
        let h = header.as_ptr() as usize;
        let len = unsafe { (shims.len)(h) };
        let ptr = unsafe { (shims.ptr)(h) };
        let li = header.iter().position(|&w| w == len)?;
        let pi = header.iter().position(|&w| w == ptr)?;
        if li >= 3 || pi >= 3 || li == pi {
            return None;
        }
        // The capacity: inline only if it is the third of the first three
        // words (else the shim is called).
        let ci = shims.slots.and_then(|s| {
            let cap = unsafe { (s.cap)(h) };
            let ci = header.iter().position(|&w| w == cap)?;
            (ci < 3 && ci != li && ci != pi).then_some(ci)
        });
        match found {
            None => found = Some((pi, li, ci)),
            Some(f) if f == (pi, li, ci) => {}
            Some(_) => return None,
        }
    }
    let (pi, li, ci) = found?;
    Some(HeaderLayout {
        ptr: 8 * pi as i32,
        len: 8 * li as i32,
        cap: ci.map(|c| 8 * c as i32),
    })
}

/// The layout of the Vec reached through these shims, if it can be read
/// inline.
pub fn vec_layout(shims: &VecShims) -> Option<HeaderLayout> {
    type Cache = Mutex<HashMap<(usize, usize), Option<HeaderLayout>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    if !enabled() {
        return None;
    }
    let key = (shims.len as usize, shims.ptr as usize);
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(l) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return *l;
    }
    let l = probe(shims);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, l);
    l
}

/// The words of an empty Vec's header (`Vec::with_capacity(0)`, which
/// allocates nothing), observed as the layout is: the shim writes one
/// over two scratch areas filled with different words, and it is
/// conclusive when it wrote the same first three words over both and
/// nothing after them. `VecInit` of length 0 (`Vec::new()`, and the
/// empty Vec left where one was dropped) is then three stores.
pub fn empty_vec_header(shims: &VecShims) -> Option<[u64; 3]> {
    type Cache = Mutex<HashMap<usize, Option<[u64; 3]>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    if !enabled() {
        return None;
    }
    let slots = shims.slots?;
    let key = slots.with_capacity as usize;
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(h) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return *h;
    }
    let written = |fill: u64| {
        let mut scratch = [fill; 8];
        // SAFETY: 64 bytes of writable memory, more than a Vec header;
        // an empty Vec owns nothing, so leaving it there leaks nothing.
        unsafe { (slots.with_capacity)(scratch.as_mut_ptr() as usize, 0) };
        scratch
    };
    let (a, b) = (
        written(0x5a5a_5a5a_5a5a_5a5a),
        written(0xa5a5_a5a5_a5a5_a5a5),
    );
    let conclusive = a[..3] == b[..3]
        && a[3..].iter().all(|&w| w == 0x5a5a_5a5a_5a5a_5a5a)
        && b[3..].iter().all(|&w| w == 0xa5a5_a5a5_a5a5_a5a5);
    // (Words that fit a store's 32-bit immediate: a dangling pointer is
    // the items' alignment, the length and capacity 0.)
    let small = a[..3].iter().all(|&w| w < 1 << 31);
    let header = (conclusive && small).then(|| [a[0], a[1], a[2]]);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, header);
    header
}

/// The header `op`, a `VecInit`, writes, when it is three stores: an empty
/// Vec whose header words are known ([`empty_vec_header`]).
pub fn vec_init_header(tables: &Tables, op: &crate::trace::TraceOp) -> Option<[u64; 3]> {
    let (Opcode::VecInit(d), Some(crate::trace::Val::Int(0))) = (&op.opcode, op.args.get(1)) else {
        return None;
    };
    empty_vec_header(&tables.arrays.get(d.index())?.vec?)
}

/// Does `op`, a `VecInit`, compile to stores rather than a call?
pub fn inline_vec_init(tables: &Tables, op: &crate::trace::TraceOp) -> bool {
    vec_init_header(tables, op).is_some()
}

/// The inline layout for a Vec/String operation, if it has one.
pub fn op_layout(tables: &Tables, op: &Opcode) -> Option<HeaderLayout> {
    match op {
        Opcode::VecLen(d) | Opcode::VecPtr(d) | Opcode::VecSetLen(d) => {
            let shims = tables.arrays.get((*d).index())?.vec?;
            vec_layout(&shims)
        }
        Opcode::VecCap(d) => {
            let shims = tables.arrays.get((*d).index())?.vec?;
            vec_layout(&shims).filter(|l| l.cap.is_some())
        }
        Opcode::StringPtr | Opcode::StringLen => string_layout(),
        _ => None,
    }
}

/// Does this operation compile to inline code rather than a call?
pub fn inline_op(tables: &Tables, op: &Opcode) -> bool {
    match op {
        // (The tag of an `Option` of a non-null pointer is `word != 0`.)
        Opcode::EnumTag(d) => tables.enums.get(d.index()).is_some_and(|e| e.null_pointer),
        _ => op_layout(tables, op).is_some(),
    }
}
