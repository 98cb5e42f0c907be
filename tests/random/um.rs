//! Random Universal Machine programs, a model of the UM to check what
//! they print and that they end, and their shrinking.
//!
//! A program is a prelude, a counted loop whose body is a list of
//! statements (the shrinker removes statements, and the labels stay
//! right because the image is assembled from the list), and an epilogue
//! that outputs the low byte of registers 1 to 4. Registers: r0 holds 0,
//! r5 and r7 are scratch, r6 counts the loop down; statements write r1 to
//! r4 only. Statements:
//! - arithmetic (`cmov`, `add`, `mul`, `div`, `nand`: division by zero
//!   happens), `ortho` of a random value;
//! - index and amend of the three arrays the prelude allocates (16
//!   platters), sometimes of another identifier or offset (failures);
//! - allocation then abandonment (identifiers reused), abandonment of a
//!   prelude array (later accesses fail);
//! - reads and writes of array 0's data platters after the code, and now
//!   and then a write of a register over a platter of the code (the loop
//!   then runs whatever that is: self-modifying code, invalidation);
//! - output of a register's low byte, or of a register as it is (above
//!   255 fails), input.

use super::harness::{Case, ModelOutcome, Target};
use metatrace_testkit::rng::SplitMix as Rng;
use metatrace_testkit::um_asm::UmAsm;
use std::path::PathBuf;

/// Instructions a generated program may execute.
pub const STEP_BUDGET: u64 = 200_000;
/// Platters of data after the code.
const DATA: u32 = 16;
/// The size of the prelude's arrays (identifiers 1 to 3).
const ARRAY: u32 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// Operator 0, 3, 4, 5 or 6 with registers A (1..=4), B, C.
    Arith(u32, u32, u32, u32),
    Ortho(u32, u32),
    /// A := array `id` [offset].
    Index(u32, u32, u32),
    /// array `id` [offset] := B.
    Amend(u32, u32, u32),
    /// Allocates `size` platters into r5 and abandons them.
    Churn(u32),
    Abandon(u32),
    /// A := array 0 [code length + k].
    ReadData(u32, u32),
    /// array 0 [code length + k] := B.
    WriteData(u32, u32),
    /// array 0 [platter k of the program] := B.
    WriteCode(u32, u32),
    /// Output of B's low byte (`true`) or of B.
    Output(u32, bool),
    Input(u32),
}

#[derive(Clone, Debug)]
pub struct UmProgram {
    pub iterations: u32,
    pub init: [u32; 4],
    pub body: Vec<Stmt>,
    pub stdin: Vec<u8>,
}

/// B's low byte in r5 (r7 clobbered): B - (B / 256) * 256.
fn low_byte(p: &mut UmAsm, b: u32) {
    p.ortho(7, 256).div(5, b, 7).mul(5, 5, 7).sub(5, b, 5, 7);
}

impl UmProgram {
    pub fn assemble(&self) -> Vec<u32> {
        let mut p = UmAsm::new();
        p.ortho(7, ARRAY);
        for _ in 0..3 {
            p.alloc(5, 7);
        }
        for (r, &v) in self.init.iter().enumerate() {
            p.ortho(r as u32 + 1, v);
        }
        p.ortho(6, self.iterations);
        p.label("loop");
        for s in &self.body {
            match *s {
                Stmt::Arith(op, a, b, c) => {
                    p.op(op, a, b, c);
                }
                Stmt::Ortho(a, v) => {
                    p.ortho(a, v);
                }
                Stmt::Index(a, id, offset) => {
                    p.ortho(5, id).ortho(7, offset).index(a, 5, 7);
                }
                Stmt::Amend(id, offset, b) => {
                    p.ortho(5, id).ortho(7, offset).amend(5, 7, b);
                }
                Stmt::Churn(size) => {
                    p.ortho(7, size).alloc(5, 7).abandon(5);
                }
                Stmt::Abandon(id) => {
                    p.ortho(5, id).abandon(5);
                }
                Stmt::ReadData(a, k) => {
                    p.ortho_label(7, "data")
                        .ortho(5, k)
                        .add(7, 7, 5)
                        .index(a, 0, 7);
                }
                Stmt::WriteData(k, b) => {
                    p.ortho_label(7, "data")
                        .ortho(5, k)
                        .add(7, 7, 5)
                        .amend(0, 7, b);
                }
                Stmt::WriteCode(k, b) => {
                    p.ortho(7, k).amend(0, 7, b);
                }
                Stmt::Output(b, low) => {
                    if low {
                        low_byte(&mut p, b);
                        p.output(5);
                    } else {
                        p.output(b);
                    }
                }
                Stmt::Input(a) => {
                    p.input(a);
                }
            }
        }
        // r6 -= 1; loop while not 0.
        p.ortho(7, 0).nand(7, 7, 7).add(6, 6, 7);
        p.jump_if(6, "loop", "done", 0, 7, 5);
        p.label("done");
        for b in 1..=4 {
            low_byte(&mut p, b);
            p.output(5);
        }
        p.halt();
        p.label("data");
        for _ in 0..DATA {
            p.word(0);
        }
        p.words()
    }
}

fn reg(rng: &mut Rng) -> u32 {
    rng.below(7) as u32
}

fn dest(rng: &mut Rng) -> u32 {
    1 + rng.below(4) as u32
}

fn small(rng: &mut Rng) -> u32 {
    match rng.below(4) {
        0 => rng.below(4) as u32,
        1 => rng.below(256) as u32,
        _ => rng.below(1 << 25) as u32,
    }
}

fn stmt(rng: &mut Rng, code_len: u32) -> Stmt {
    let id = |rng: &mut Rng| {
        if rng.chance(3) {
            rng.below(6) as u32
        } else {
            1 + rng.below(3) as u32
        }
    };
    let offset = |rng: &mut Rng| {
        if rng.chance(3) {
            ARRAY + rng.below(3) as u32
        } else {
            rng.below(u64::from(ARRAY)) as u32
        }
    };
    match rng.below(100) {
        0..=34 => {
            let op = rng.pick(&[0, 3, 4, 5, 6, 3, 6]);
            Stmt::Arith(op, dest(rng), reg(rng), reg(rng))
        }
        35..=44 => Stmt::Ortho(dest(rng), small(rng)),
        45..=54 => Stmt::Index(dest(rng), id(rng), offset(rng)),
        55..=64 => Stmt::Amend(id(rng), offset(rng), reg(rng)),
        65..=69 => Stmt::Churn(rng.below(40) as u32),
        70 => Stmt::Abandon(id(rng)),
        71..=76 => Stmt::ReadData(dest(rng), rng.below(u64::from(DATA)) as u32),
        77..=82 => Stmt::WriteData(rng.below(u64::from(DATA)) as u32, reg(rng)),
        83 => Stmt::WriteCode(rng.below(u64::from(code_len)) as u32, reg(rng)),
        84..=95 => Stmt::Output(reg(rng), !rng.chance(5)),
        _ => Stmt::Input(dest(rng)),
    }
}

fn generate_once(rng: &mut Rng) -> UmProgram {
    let n = 1 + rng.below(12) as usize;
    // The body's platters start after the prelude (3 + 3 + 4 + 1); a
    // statement takes about 3: an estimate is enough for WriteCode.
    let code_len = 11 + 3 * n as u32 + 10;
    let body = (0..n).map(|_| stmt(rng, code_len)).collect();
    let stdin_len = rng.below(8) as usize;
    UmProgram {
        iterations: 1 + rng.below(300) as u32,
        init: [small(rng), small(rng), small(rng), small(rng)],
        body,
        stdin: (0..stdin_len).map(|_| rng.below(256) as u8).collect(),
    }
}

/// Runs `words` as the UM does: the output and whether it halted
/// (rather than failed); `None` past the step budget.
pub fn run_model(words: &[u32], stdin: &[u8], budget: u64) -> Option<(Vec<u8>, bool)> {
    let mut arrays: Vec<Option<Vec<u32>>> = vec![Some(words.to_vec())];
    let mut free: Vec<u32> = Vec::new();
    let mut regs = [0u32; 8];
    let mut out = Vec::new();
    let mut input = stdin.iter();
    let mut pc = 0usize;
    for _ in 0..budget {
        let Some(&w) = arrays[0].as_ref().unwrap().get(pc) else {
            return Some((out, false));
        };
        pc += 1;
        let (a, b, c) = (
            (w >> 6 & 7) as usize,
            (w >> 3 & 7) as usize,
            (w & 7) as usize,
        );
        let active = |arrays: &Vec<Option<Vec<u32>>>, id: u32| {
            arrays.get(id as usize).is_some_and(|x| x.is_some())
        };
        match w >> 28 {
            0 => {
                if regs[c] != 0 {
                    regs[a] = regs[b];
                }
            }
            1 => match arrays.get(regs[b] as usize).and_then(|x| x.as_ref()) {
                Some(arr) if (regs[c] as usize) < arr.len() => regs[a] = arr[regs[c] as usize],
                _ => return Some((out, false)),
            },
            2 => match arrays.get_mut(regs[a] as usize).and_then(|x| x.as_mut()) {
                Some(arr) if (regs[b] as usize) < arr.len() => arr[regs[b] as usize] = regs[c],
                _ => return Some((out, false)),
            },
            3 => regs[a] = regs[b].wrapping_add(regs[c]),
            4 => regs[a] = regs[b].wrapping_mul(regs[c]),
            5 => {
                if regs[c] == 0 {
                    return Some((out, false));
                }
                regs[a] = regs[b] / regs[c];
            }
            6 => regs[a] = !(regs[b] & regs[c]),
            7 => return Some((out, true)),
            8 => {
                let new = Some(vec![0; regs[c] as usize]);
                regs[b] = match free.pop() {
                    Some(id) => {
                        arrays[id as usize] = new;
                        id
                    }
                    None => {
                        arrays.push(new);
                        arrays.len() as u32 - 1
                    }
                };
            }
            9 => {
                if regs[c] == 0 || !active(&arrays, regs[c]) {
                    return Some((out, false));
                }
                arrays[regs[c] as usize] = None;
                free.push(regs[c]);
            }
            10 => {
                if regs[c] > 255 {
                    return Some((out, false));
                }
                out.push(regs[c] as u8);
            }
            11 => regs[c] = input.next().map_or(u32::MAX, |&x| u32::from(x)),
            12 => {
                if regs[b] != 0 {
                    if !active(&arrays, regs[b]) {
                        return Some((out, false));
                    }
                    arrays[0] = arrays[regs[b] as usize].clone();
                }
                pc = regs[c] as usize;
            }
            13 => regs[(w >> 25 & 7) as usize] = w & 0x01ff_ffff,
            _ => return Some((out, false)),
        }
    }
    None
}

fn image(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

pub struct Um;

impl Target for Um {
    type Program = UmProgram;
    const NAME: &'static str = "um";
    const EXT: &'static str = "um";
    const ERRORS: &'static [(&'static str, &'static str)] = &[
        ("division by zero", "division by zero"),
        ("is not active", "inactive array"),
        ("is outside array", "offset outside an array"),
        ("abandonment of array 0", "abandoning array 0"),
        ("above 255", "output above 255"),
        ("invalid instruction", "invalid instruction"),
        ("outside array 0", "finger outside array 0"),
    ];

    fn vm(&self) -> PathBuf {
        metatrace_testkit::vms::um().to_path_buf()
    }

    fn generate(&self, rng: &mut Rng) -> UmProgram {
        loop {
            let p = generate_once(rng);
            if self.model(&p).is_some() {
                return p;
            }
        }
    }

    fn case(&self, p: &UmProgram) -> Case {
        Case {
            source: image(&p.assemble()),
            args: Vec::new(),
            stdin: p.stdin.clone(),
        }
    }

    fn model(&self, p: &UmProgram) -> Option<ModelOutcome> {
        let (stdout, ok) = run_model(&p.assemble(), &p.stdin, STEP_BUDGET)?;
        Some(ModelOutcome { stdout, ok })
    }

    fn lists(&self, p: &UmProgram) -> Vec<usize> {
        vec![p.body.len(), p.stdin.len()]
    }

    fn remove(&self, p: &UmProgram, list: usize, a: usize, b: usize) -> Option<UmProgram> {
        let mut q = p.clone();
        if list == 0 {
            q.body.drain(a..b);
        } else {
            q.stdin.drain(a..b);
        }
        Some(q)
    }

    fn simplifications(&self, p: &UmProgram) -> Vec<UmProgram> {
        let mut out = Vec::new();
        for smaller in [1, p.iterations / 2] {
            if smaller < p.iterations {
                let mut q = p.clone();
                q.iterations = smaller;
                out.push(q);
            }
        }
        out
    }

    fn size(&self, p: &UmProgram) -> String {
        format!(
            "{} statements, {} iterations, {} input bytes",
            p.body.len(),
            p.iterations,
            p.stdin.len()
        )
    }

    fn describe(&self, p: &UmProgram) -> String {
        format!("{p:#?}")
    }

    fn files(&self, p: &UmProgram) -> Vec<(&'static str, Vec<u8>)> {
        let mut files = vec![("um", image(&p.assemble()))];
        if !p.stdin.is_empty() {
            files.push(("in", p.stdin.clone()));
        }
        files
    }

    fn probe(&self) -> UmProgram {
        UmProgram {
            iterations: 1,
            init: [0; 4],
            body: Vec::new(),
            stdin: Vec::new(),
        }
    }
}
