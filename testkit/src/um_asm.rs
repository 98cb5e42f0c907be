//! A tiny assembler for Universal Machine images (`targets/um`): one
//! method per operator of `../shared/programs/um/um-spec.txt`, labels
//! resolved at the end, the image as big-endian platters. The test
//! programs of `tests/um.rs` are written with it, and the random UM
//! programs of the differential tests.
//!
//! Branches are built from what the UM has: `Orthography` of the target
//! label into a register, and `Load Program` from array 0 (a jump);
//! [`UmAsm::jump_if`] picks one of two labels with `Conditional Move`.

use std::collections::HashMap;

/// A register, 0 to 7.
pub type Reg = u32;

/// A program being assembled.
#[derive(Debug, Default, Clone)]
pub struct UmAsm {
    words: Vec<u32>,
    labels: HashMap<String, u32>,
    /// (platter, label): an `Orthography` whose value is the label's address.
    fixups: Vec<(usize, String)>,
}

impl UmAsm {
    pub fn new() -> UmAsm {
        UmAsm::default()
    }

    /// The address of the next platter.
    pub fn here(&self) -> u32 {
        self.words.len() as u32
    }

    /// Defines `name` at the next platter.
    pub fn label(&mut self, name: &str) -> &mut Self {
        let here = self.here();
        assert!(
            self.labels.insert(name.to_string(), here).is_none(),
            "label {name} defined twice"
        );
        self
    }

    /// A raw platter (data, or an invalid instruction).
    pub fn word(&mut self, w: u32) -> &mut Self {
        self.words.push(w);
        self
    }

    /// A standard operator: number `op`, registers A, B, C.
    pub fn op(&mut self, op: u32, a: Reg, b: Reg, c: Reg) -> &mut Self {
        assert!(op < 16 && a < 8 && b < 8 && c < 8);
        self.word(op << 28 | a << 6 | b << 3 | c)
    }

    /// #0: A := B unless C is 0.
    pub fn cmov(&mut self, a: Reg, b: Reg, c: Reg) -> &mut Self {
        self.op(0, a, b, c)
    }
    /// #1: A := array B [C].
    pub fn index(&mut self, a: Reg, b: Reg, c: Reg) -> &mut Self {
        self.op(1, a, b, c)
    }
    /// #2: array A [B] := C.
    pub fn amend(&mut self, a: Reg, b: Reg, c: Reg) -> &mut Self {
        self.op(2, a, b, c)
    }
    pub fn add(&mut self, a: Reg, b: Reg, c: Reg) -> &mut Self {
        self.op(3, a, b, c)
    }
    pub fn mul(&mut self, a: Reg, b: Reg, c: Reg) -> &mut Self {
        self.op(4, a, b, c)
    }
    pub fn div(&mut self, a: Reg, b: Reg, c: Reg) -> &mut Self {
        self.op(5, a, b, c)
    }
    pub fn nand(&mut self, a: Reg, b: Reg, c: Reg) -> &mut Self {
        self.op(6, a, b, c)
    }
    pub fn halt(&mut self) -> &mut Self {
        self.op(7, 0, 0, 0)
    }
    /// #8: B := a new array of C zeros.
    pub fn alloc(&mut self, b: Reg, c: Reg) -> &mut Self {
        self.op(8, 0, b, c)
    }
    pub fn abandon(&mut self, c: Reg) -> &mut Self {
        self.op(9, 0, 0, c)
    }
    pub fn output(&mut self, c: Reg) -> &mut Self {
        self.op(10, 0, 0, c)
    }
    pub fn input(&mut self, c: Reg) -> &mut Self {
        self.op(11, 0, 0, c)
    }
    /// #12: array B becomes the program, the finger goes to C.
    pub fn load(&mut self, b: Reg, c: Reg) -> &mut Self {
        self.op(12, 0, b, c)
    }
    /// #13: A := `value` (25 bits).
    pub fn ortho(&mut self, a: Reg, value: u32) -> &mut Self {
        assert!(a < 8 && value < 1 << 25, "ortho r{a} {value}");
        self.word(13 << 28 | a << 25 | value)
    }
    /// #13 of a label's address (resolved by `image`).
    pub fn ortho_label(&mut self, a: Reg, name: &str) -> &mut Self {
        self.fixups.push((self.words.len(), name.to_string()));
        self.ortho(a, 0)
    }

    /// `A := B - C` (B + ~C + 1), with `scratch` clobbered.
    pub fn sub(&mut self, a: Reg, b: Reg, c: Reg, scratch: Reg) -> &mut Self {
        self.nand(scratch, c, c).add(a, b, scratch);
        self.ortho(scratch, 1).add(a, a, scratch)
    }

    /// Jumps to `name` (`zero` holds 0: array 0), with `scratch` clobbered.
    pub fn jump(&mut self, name: &str, zero: Reg, scratch: Reg) -> &mut Self {
        self.ortho_label(scratch, name).load(zero, scratch)
    }

    /// Jumps to `then` if `cond` is not 0, else to `otherwise`; `zero`
    /// holds 0, `s1` and `s2` are clobbered.
    pub fn jump_if(
        &mut self,
        cond: Reg,
        then: &str,
        otherwise: &str,
        zero: Reg,
        s1: Reg,
        s2: Reg,
    ) -> &mut Self {
        self.ortho_label(s1, otherwise).ortho_label(s2, then);
        self.cmov(s1, s2, cond).load(zero, s1)
    }

    /// Outputs the bytes of `text` (through register `r`).
    pub fn print(&mut self, text: &str, r: Reg) -> &mut Self {
        for b in text.bytes() {
            self.ortho(r, u32::from(b)).output(r);
        }
        self
    }

    /// The platters, labels resolved.
    pub fn words(&self) -> Vec<u32> {
        let mut words = self.words.clone();
        for (at, name) in &self.fixups {
            let target = *self
                .labels
                .get(name)
                .unwrap_or_else(|| panic!("undefined label {name}"));
            words[*at] |= target;
        }
        words
    }

    /// The address of label `name`.
    pub fn address(&self, name: &str) -> u32 {
        self.labels[name]
    }

    /// The image file: big-endian platters.
    pub fn image(&self) -> Vec<u8> {
        self.words().iter().flat_map(|w| w.to_be_bytes()).collect()
    }
}
