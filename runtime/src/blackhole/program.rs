//! Jitcodes decoded once per process: every `Tables` is decoded and
//! verified the first time an executor asks for it, and stays decoded (and
//! leaked) for the rest of the process.

use crate::jitcode::{Insn, JitCode, Label, RefConst, Tables};
use std::cell::Cell;
use std::sync::Mutex;

/// All jitcodes of one `Tables`, decoded and verified.
#[derive(Debug)]
pub struct Program {
    pub tables: &'static Tables,
    /// One per `tables.jitcodes`, same indices.
    pub codes: Vec<Code>,
}

impl Program {
    /// The merge point of `driver` in jitcode `portal`: its pc and
    /// arguments (greens, then reds).
    pub fn merge_point(&self, portal: u16, driver: u16) -> Option<(u32, &[crate::jitcode::KReg])> {
        let code = self.codes.get(portal as usize)?;
        code.insns
            .iter()
            .enumerate()
            .find_map(|(pc, insn)| match insn {
                Insn::MergePoint { driver: d, args } if d.0 == driver => {
                    Some((pc as u32, &args[..]))
                }
                _ => None,
            })
    }
}

/// One decoded jitcode, with what an executor needs to set up its frames.
#[derive(Debug)]
pub struct Code {
    pub jitcode: &'static JitCode,
    pub insns: Vec<Insn>,
    /// Registers per kind in a frame: registers, then constants.
    pub frame_size: [usize; 3],
    /// The constants as register values, in pool order.
    pub consts_i: Vec<i64>,
    pub consts_r: Vec<usize>,
    pub consts_f: Vec<u64>,
    /// For each instruction, the index of its switch table (`u32::MAX` for
    /// everything but `Switch`es with many cases).
    switch_at: Vec<u32>,
    switches: Vec<SwitchTable>,
    /// The registers live on entry to each instruction, computed the first
    /// time a guard needs it where the jitcode has no `-live-` marker
    /// (`resume::liveness`), then kept for the process like the rest of
    /// the decoded program: Lox's portal is thousands of instructions,
    /// and computing it per trace was half of its tracing time.
    pub live_in: std::sync::OnceLock<Vec<Vec<crate::jitcode::KReg>>>,
}

#[derive(Debug)]
enum SwitchTable {
    /// Cases `min..min+targets.len()`.
    Dense {
        min: i64,
        targets: Vec<Label>,
        default: Label,
    },
    /// Cases sorted by value, first occurrence of each value kept.
    Sorted {
        cases: Vec<(i64, Label)>,
        default: Label,
    },
}

/// Switches with at most this many cases are searched linearly.
const LINEAR_CASES: usize = 4;

impl Code {
    fn new(jitcode: &'static JitCode, insns: Vec<Insn>) -> Code {
        let n = jitcode.num_regs;
        let consts_i = jitcode.consts_i.to_vec();
        let consts_r: Vec<usize> = jitcode
            .consts_r
            .iter()
            .map(|c| match c {
                RefConst::Null => 0,
                RefConst::Str(s) => s.as_ptr() as usize,
            })
            .collect();
        let consts_f = jitcode.consts_f.to_vec();
        let frame_size = [
            n[0] as usize + consts_i.len(),
            n[1] as usize + consts_r.len(),
            n[2] as usize + consts_f.len(),
        ];
        let mut switch_at = vec![u32::MAX; insns.len()];
        let mut switches = Vec::new();
        for (pc, insn) in insns.iter().enumerate() {
            if let Insn::Switch { cases, default, .. } = insn {
                if cases.len() > LINEAR_CASES {
                    switch_at[pc] = switches.len() as u32;
                    switches.push(SwitchTable::new(cases, *default));
                }
            }
        }
        Code {
            jitcode,
            insns,
            live_in: std::sync::OnceLock::new(),
            frame_size,
            consts_i,
            consts_r,
            consts_f,
            switch_at,
            switches,
        }
    }

    /// Where `Switch` instruction `pc` (with these `cases` and `default`)
    /// jumps on `value`: the first case equal to `value`, else `default`.
    #[inline]
    pub fn switch_target(
        &self,
        pc: usize,
        cases: &[(i64, Label)],
        default: Label,
        value: i64,
    ) -> Label {
        match self.switch_at.get(pc) {
            Some(&t) if t != u32::MAX => match &self.switches[t as usize] {
                SwitchTable::Dense {
                    min,
                    targets,
                    default,
                } => {
                    let i = (value as i128 - *min as i128) as u128;
                    if i < targets.len() as u128 {
                        targets[i as usize]
                    } else {
                        *default
                    }
                }
                SwitchTable::Sorted { cases, default } => {
                    match cases.binary_search_by_key(&value, |c| c.0) {
                        Ok(i) => cases[i].1,
                        Err(_) => *default,
                    }
                }
            },
            _ => {
                for &(v, l) in cases {
                    if v == value {
                        return l;
                    }
                }
                default
            }
        }
    }
}

impl SwitchTable {
    fn new(cases: &[(i64, Label)], default: Label) -> SwitchTable {
        let min = cases.iter().map(|c| c.0).min().unwrap_or(0);
        let max = cases.iter().map(|c| c.0).max().unwrap_or(0);
        let span = max as i128 - min as i128 + 1;
        if span <= 2 * cases.len() as i128 + 16 {
            let mut targets = vec![default; span as usize];
            // Backwards, so that the first of duplicate cases wins.
            for &(v, l) in cases.iter().rev() {
                targets[(v as i128 - min as i128) as usize] = l;
            }
            SwitchTable::Dense {
                min,
                targets,
                default,
            }
        } else {
            let mut sorted: Vec<(i64, Label)> = Vec::with_capacity(cases.len());
            for &c in cases {
                if !sorted.iter().any(|s| s.0 == c.0) {
                    sorted.push(c);
                }
            }
            sorted.sort_by_key(|c| c.0);
            SwitchTable::Sorted {
                cases: sorted,
                default,
            }
        }
    }
}

static CACHE: Mutex<Vec<(usize, &'static Program)>> = Mutex::new(Vec::new());

thread_local! {
    /// The last program looked up by this thread, to skip the lock.
    static LAST: Cell<(usize, Option<&'static Program>)> = const { Cell::new((0, None)) };
}

/// The decoded jitcodes of `tables`: decoded and verified on the first
/// call for these tables (per process, thread-safe), then cached.
///
/// Panics if a jitcode does not decode or does not verify: the executors
/// rely on verified code (registers, labels and descrs in range).
pub fn program(tables: &'static Tables) -> &'static Program {
    try_program(tables)
        .unwrap_or_else(|errors| panic!("metatrace: invalid jitcodes:\n  {}", errors.join("\n  ")))
}

/// [`program`], or what is wrong with the jitcodes (then nothing is
/// cached). A VM checks its jitcodes with this when it starts: the check
/// decodes them, and the decoded program is what the executors use, so
/// they are decoded once per process.
pub fn try_program(tables: &'static Tables) -> Result<&'static Program, Vec<String>> {
    let key = tables as *const Tables as usize;
    if let (k, Some(p)) = LAST.with(|c| c.get()) {
        if k == key {
            return Ok(p);
        }
    }
    let p = {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        match cache.iter().find(|e| e.0 == key) {
            Some(e) => e.1,
            None => {
                let p: &'static Program = Box::leak(Box::new(build(tables)?));
                cache.push((key, p));
                p
            }
        }
    };
    LAST.with(|c| c.set((key, Some(p))));
    Ok(p)
}

fn build(tables: &'static Tables) -> Result<Program, Vec<String>> {
    let (decoded, errors) = tables.decode_and_verify();
    if !errors.is_empty() {
        return Err(errors);
    }
    let codes = tables.jitcodes.iter().zip(decoded);
    let codes = codes.map(|(jc, insns)| Code::new(jc, insns)).collect();
    Ok(Program { tables, codes })
}
