//! Random Brainfuck programs that terminate, a model of bf to check that
//! they do (and what they print), and their shrinking.
//!
//! The generator tracks the pointer statically: every loop has net pointer
//! movement 0, so the cell under the pointer is known at every point of the
//! source. A loop over cell c leaves c alone in its body (c is *forbidden*:
//! no `+`, `-`, `,` or loop on it; `.` is fine) except for one final run of
//! an odd number of `-` or `+`, so c reaches 0 within 256 iterations whatever
//! its value. Before a loop its cell is usually set (`[-]` and a few `+`).
//! Bodies hold the same statements as the top level: `+`/`-` runs (some
//! mixed), moves to other cells (a window of 2..=8 cells, sometimes 20..=60),
//! `.`, `,` (stdin is 0..=10 random bytes; `,` at EOF leaves the cell),
//! `[-]`-style clears, inner loops at other offsets (nesting up to 3), and
//! comment characters and newlines.
//!
//! Some programs also: walk a counter right past the initial 30000 cells
//! (the tape grows), `<` past cell 0 somewhere (an error, possibly in a
//! loop), or an unbalanced bracket (a parse error). The model runs every
//! program with a step budget, and programs that do not end within it are
//! replaced.

use super::harness::{Case, ModelOutcome, Target};
use metatrace_testkit::rng::SplitMix as Rng;
use std::path::PathBuf;

/// Ops (runs folded as targets/bf/src/parse.rs does) a program may execute.
pub const STEP_BUDGET: u64 = 50_000;

/// Percentages of programs with `<` past cell 0, with an unbalanced bracket,
/// and with a walk that grows the tape.
pub const LEFT_PERCENT: u64 = 5;
pub const UNBALANCED_PERCENT: u64 = 5;
pub const WALK_PERCENT: u64 = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BfProgram {
    pub src: Vec<u8>,
    pub stdin: Vec<u8>,
}

// ---------------------------------------------------------------- model

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Ok,
    LeftOfTape,
    Unbalanced,
}

#[derive(Clone, Copy)]
enum Op {
    Add(u8),
    Right(usize),
    Left(usize),
    Out,
    In,
    Open(usize),
    Close(usize),
}

/// Runs `src` as targets/bf does: returns the output, how it ended and the
/// ops executed; `None` if more than `budget` ops run.
pub fn run_model(src: &[u8], stdin: &[u8], budget: u64) -> Option<(Vec<u8>, End, u64)> {
    let mut ops = Vec::new();
    let mut open = Vec::new();
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        match c {
            b'+' | b'-' => {
                // A run of `+` and `-`: one addition of the count of `+`
                // less the count of `-`, modulo 256.
                let run = src[i..]
                    .iter()
                    .take_while(|&&c| c == b'+' || c == b'-')
                    .count();
                let ups = src[i..i + run].iter().filter(|&&c| c == b'+').count();
                ops.push(Op::Add((2 * ups).wrapping_sub(run) as u8));
                i += run;
                continue;
            }
            b'<' | b'>' => {
                let start = i;
                while i < src.len() && src[i] == c {
                    i += 1;
                }
                ops.push(if c == b'>' {
                    Op::Right(i - start)
                } else {
                    Op::Left(i - start)
                });
                continue;
            }
            b'.' => ops.push(Op::Out),
            b',' => ops.push(Op::In),
            b'[' => {
                open.push(ops.len());
                ops.push(Op::Open(0));
            }
            b']' => {
                let Some(o) = open.pop() else {
                    return Some((Vec::new(), End::Unbalanced, 0));
                };
                ops[o] = Op::Open(ops.len() + 1);
                ops.push(Op::Close(o + 1));
            }
            _ => {}
        }
        i += 1;
    }
    if !open.is_empty() {
        return Some((Vec::new(), End::Unbalanced, 0));
    }
    let mut tape = vec![0u8; 64];
    let mut ptr = 0usize;
    let mut input = stdin.iter();
    let mut out = Vec::new();
    let mut pc = 0;
    let mut steps = 0;
    while pc < ops.len() {
        steps += 1;
        if steps > budget {
            return None;
        }
        match ops[pc] {
            Op::Add(n) => tape[ptr] = tape[ptr].wrapping_add(n),
            Op::Right(n) => {
                ptr += n;
                if ptr >= tape.len() {
                    tape.resize(ptr + 1, 0);
                }
            }
            Op::Left(n) => {
                if n > ptr {
                    return Some((out, End::LeftOfTape, steps));
                }
                ptr -= n;
            }
            Op::Out => out.push(tape[ptr]),
            Op::In => {
                if let Some(&b) = input.next() {
                    tape[ptr] = b;
                }
            }
            Op::Open(after) => {
                if tape[ptr] == 0 {
                    pc = after;
                    continue;
                }
            }
            Op::Close(body) => {
                if tape[ptr] != 0 {
                    pc = body;
                    continue;
                }
            }
        }
        pc += 1;
    }
    Some((out, End::Ok, steps))
}

pub fn model(p: &BfProgram) -> Option<(Vec<u8>, End, u64)> {
    run_model(&p.src, &p.stdin, STEP_BUDGET)
}

// ---------------------------------------------------------------- generator

struct Gen<'r> {
    rng: &'r mut Rng,
    out: Vec<u8>,
    ptr: usize,
    width: usize,
    forbidden: Vec<bool>,
    max_len: usize,
    /// Emit a `<` past cell 0 somewhere.
    left_error: bool,
    left_emitted: bool,
}

impl Gen<'_> {
    fn full(&self) -> bool {
        self.out.len() >= self.max_len
    }

    fn push_n(&mut self, c: u8, n: usize) {
        self.out.extend(std::iter::repeat_n(c, n));
    }

    fn free(&self) -> bool {
        !self.forbidden[self.ptr]
    }

    fn move_to(&mut self, cell: usize) {
        if cell > self.ptr {
            self.push_n(b'>', cell - self.ptr);
        } else {
            self.push_n(b'<', self.ptr - cell);
        }
        self.ptr = cell;
    }

    fn block(&mut self, depth: usize) {
        let max = [10, 6, 4, 3][depth.min(3)];
        for _ in 0..self.rng.range(1, max) {
            if self.full() {
                break;
            }
            self.statement(depth);
        }
    }

    fn statement(&mut self, depth: usize) {
        let r = self.rng.below(100);
        let free = self.free();
        match r {
            0..=21 if free => self.add_run(),
            22..=41 => {
                let mut cell = self.rng.below(self.width as u64) as usize;
                if cell == self.ptr {
                    cell = (cell + 1) % self.width;
                }
                self.move_to(cell);
            }
            42..=48 => self.out.push(b'.'),
            49..=53 if free => self.out.push(b','),
            54..=58 if free => {
                let clear: &[u8] =
                    self.rng
                        .pick(&[&b"[-]"[..], b"[+]", b"[---]", b"[+++++]", b"[-]"]);
                self.out.extend_from_slice(clear);
            }
            59..=82 if free && depth < 3 => self.counted_loop(depth),
            83..=85 => {
                let noise: &[u8] = self.rng.pick(&[
                    &b" "[..],
                    b"\n",
                    b"x",
                    b"loop ",
                    b"\t",
                    b"><",
                    b"\r\n",
                    b"\xc3\xa9",
                ]);
                self.out.extend_from_slice(noise);
            }
            86..=89 if self.left_error => {
                let n = self.ptr + self.rng.usize_in(1, 3);
                self.push_n(b'<', n);
                self.left_emitted = true;
                // Either this run executes (and the program stops with the
                // error) or its whole loop body is skipped: the code after it
                // may assume the pointer did not move.
            }
            _ if free => self.add_run(),
            _ => self.out.push(b'.'),
        }
    }

    fn add_run(&mut self) {
        let n = match self.rng.below(10) {
            0..=5 => self.rng.usize_in(1, 5),
            6..=8 => self.rng.usize_in(6, 20),
            _ => self.rng.usize_in(20, 70),
        };
        if self.rng.chance(10) {
            for _ in 0..n {
                let c = self.rng.pick(b"+-");
                self.out.push(c);
            }
        } else {
            let c = self.rng.pick(b"+-");
            self.push_n(c, n);
        }
    }

    fn counted_loop(&mut self, depth: usize) {
        let c = self.ptr;
        match self.rng.below(100) {
            0..=64 => {
                if self.rng.chance(60) {
                    self.out.extend_from_slice(b"[-]");
                }
                let v = self.rng.usize_in(1, [20, 6, 3][depth]);
                let sign = self.rng.pick(b"+-");
                self.push_n(sign, v);
            }
            65..=79 if depth == 0 => self.out.push(b','),
            _ => {}
        }
        self.forbidden[c] = true;
        self.out.push(b'[');
        self.block(depth + 1);
        self.move_to(c);
        if self.rng.chance(75) {
            self.out.push(b'-');
        } else {
            let n = self.rng.pick(&[1, 3, 5, 7, 255]);
            let sign = self.rng.pick(b"+-");
            self.push_n(sign, n);
        }
        self.out.push(b']');
        self.forbidden[c] = false;
    }

    /// At the end of the program: moves a counter right by `k` cells per
    /// iteration until it is past the initial 30000 cells (the tape grows).
    fn walk(&mut self) {
        let fresh = self.width; // never touched: 0
        self.move_to(fresh);
        let k = self.rng.usize_in(500, 1500);
        let v = 30000 / k + self.rng.usize_in(1, 3);
        self.push_n(b'+', v);
        self.out.extend_from_slice(b"[[-");
        self.push_n(b'>', k);
        self.out.push(b'+');
        self.push_n(b'<', k);
        self.out.push(b']');
        self.push_n(b'>', k);
        self.out.extend_from_slice(b"-]");
        // Now far right, on a 0 cell: use the new cells a bit.
        let tail: &[u8] = self.rng.pick(&[&b"+++."[..], b">>+.<.", b"", b"-.<<<."]);
        self.out.extend_from_slice(tail);
    }
}

fn generate_once(rng: &mut Rng) -> BfProgram {
    let width = if rng.chance(95) {
        rng.usize_in(2, 8)
    } else {
        rng.usize_in(20, 60)
    };
    let max_len = match rng.below(100) {
        0..=39 => 40,
        40..=79 => 120,
        _ => 250,
    };
    let kind = rng.below(100);
    let left_error = kind < LEFT_PERCENT;
    let unbalanced = (LEFT_PERCENT..LEFT_PERCENT + UNBALANCED_PERCENT).contains(&kind);
    let walk = !left_error && rng.chance(WALK_PERCENT);
    let mut g = Gen {
        rng,
        out: Vec::new(),
        ptr: 0,
        width,
        forbidden: vec![false; width],
        max_len,
        left_error,
        left_emitted: false,
    };
    loop {
        g.block(0);
        if g.full() || g.rng.chance(30) {
            break;
        }
    }
    if g.left_error && !g.left_emitted {
        let n = g.ptr + g.rng.usize_in(1, 3);
        g.push_n(b'<', n);
    }
    if walk {
        g.walk();
    }
    let mut src = g.out;
    if unbalanced {
        let brackets: Vec<usize> = (0..src.len())
            .filter(|&i| matches!(src[i], b'[' | b']'))
            .collect();
        match rng.below(3) {
            0 if !brackets.is_empty() => {
                src.remove(rng.pick(&brackets));
            }
            1 => {
                let at = rng.usize_in(0, src.len());
                src.insert(at, b'[');
            }
            _ => {
                let at = rng.usize_in(0, src.len());
                src.insert(at, b']');
            }
        }
    }
    let stdin_len = if rng.chance(30) {
        0
    } else {
        rng.usize_in(1, 10)
    };
    let small = rng.chance(50);
    let stdin = (0..stdin_len)
        .map(|_| {
            if small {
                rng.below(20) as u8
            } else {
                rng.below(256) as u8
            }
        })
        .collect();
    BfProgram { src, stdin }
}

// ---------------------------------------------------------------- target

pub struct Bf;

impl Target for Bf {
    type Program = BfProgram;
    const NAME: &'static str = "bf";
    const EXT: &'static str = "b";
    const ERRORS: &'static [(&'static str, &'static str)] = &[
        ("moved left of cell 0", "'<' left of cell 0"),
        ("unmatched '['", "unmatched '['"),
        ("unmatched ']'", "unmatched ']'"),
        ("tape's limit", "tape limit"),
    ];

    fn vm(&self) -> PathBuf {
        metatrace_testkit::vms::vms().bf.clone()
    }

    /// A program the model sees terminate within the step budget.
    fn generate(&self, rng: &mut Rng) -> BfProgram {
        loop {
            let p = generate_once(rng);
            if model(&p).is_some() {
                return p;
            }
        }
    }

    fn case(&self, p: &BfProgram) -> Case {
        Case {
            source: p.src.clone(),
            args: Vec::new(),
            stdin: p.stdin.clone(),
        }
    }

    fn model(&self, p: &BfProgram) -> Option<ModelOutcome> {
        let (stdout, end, _) = model(p)?;
        Some(ModelOutcome {
            stdout,
            ok: end == End::Ok,
        })
    }

    fn lists(&self, p: &BfProgram) -> Vec<usize> {
        vec![p.src.len(), p.stdin.len()]
    }

    fn remove(&self, p: &BfProgram, list: usize, a: usize, b: usize) -> Option<BfProgram> {
        let mut q = p.clone();
        if list == 0 {
            q.src.drain(a..b);
        } else {
            q.stdin.drain(a..b);
        }
        Some(q)
    }

    fn simplifications(&self, p: &BfProgram) -> Vec<BfProgram> {
        // Input bytes towards 0.
        let mut out = Vec::new();
        for (i, &b) in p.stdin.iter().enumerate() {
            for smaller in [0, 1, b / 2] {
                if smaller < b {
                    let mut q = p.clone();
                    q.stdin[i] = smaller;
                    out.push(q);
                }
            }
        }
        out
    }

    fn size(&self, p: &BfProgram) -> String {
        format!(
            "{} source bytes, {} input bytes",
            p.src.len(),
            p.stdin.len()
        )
    }

    fn describe(&self, p: &BfProgram) -> String {
        format!(
            "----- program -----\n{}\n----- stdin: {:?} -----",
            String::from_utf8_lossy(&p.src),
            p.stdin
        )
    }

    fn files(&self, p: &BfProgram) -> Vec<(&'static str, Vec<u8>)> {
        let mut files = vec![("b", p.src.clone())];
        if !p.stdin.is_empty() {
            files.push(("in", p.stdin.clone()));
        }
        files
    }

    fn probe(&self) -> BfProgram {
        BfProgram {
            src: b"+.".to_vec(),
            stdin: Vec::new(),
        }
    }
}
