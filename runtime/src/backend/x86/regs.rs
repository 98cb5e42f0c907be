//! The x86-64 registers and where a value is (`Loc`): the vocabulary the
//! register allocator and the code generator share (RPython's
//! `backend/x86/regloc.py`, LuaJIT's `lj_target_x86.h`).

pub const RAX: u8 = 0;
pub const RCX: u8 = 1;
pub const RDX: u8 = 2;
pub const RBX: u8 = 3;
#[allow(dead_code)]
pub const RSP: u8 = 4;
pub const RBP: u8 = 5;
pub const RSI: u8 = 6;
pub const RDI: u8 = 7;
pub const R8: u8 = 8;
pub const R9: u8 = 9;
pub const R10: u8 = 10;
pub const R11: u8 = 11;
pub const R12: u8 = 12;
pub const R13: u8 = 13;
pub const R14: u8 = 14;
pub const R15: u8 = 15;

/// The frame pointer of compiled code (the frame buffer).
pub const FP: u8 = R15;
/// Scratch xmm register.
pub const XTMP: u8 = 15;

pub const GPR_CALLEE_SAVED: [u8; 5] = [RBX, RBP, R12, R13, R14];
pub const GPR_CALLER_SAVED: [u8; 5] = [RSI, RDI, R8, R9, R10];
pub const XMM_ALLOCATABLE: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
/// Integer argument registers of the System V calling convention.
pub const ARG_REGS: [u8; 6] = [RDI, RSI, RDX, RCX, R8, R9];

pub fn is_caller_saved_gpr(r: u8) -> bool {
    GPR_CALLER_SAVED.contains(&r)
}

/// Where a value is.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Loc {
    Gpr(u8),
    Xmm(u8),
    Slot(u32),
    /// A constant (its canonical bits).
    Imm(u64),
}

impl Loc {
    pub fn gpr(self) -> Option<u8> {
        match self {
            Loc::Gpr(r) => Some(r),
            _ => None,
        }
    }
    pub fn xmm(self) -> Option<u8> {
        match self {
            Loc::Xmm(r) => Some(r),
            _ => None,
        }
    }
}
