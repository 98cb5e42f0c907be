//! Every operator of a kind, in declaration order (the tests loop over
//! them or pick from them).

use metatrace_runtime::jitcode::{CmpOp, FloatBinOp, IntBinOp};

pub const INT_BIN_OPS: [IntBinOp; 10] = [
    IntBinOp::Add,
    IntBinOp::Sub,
    IntBinOp::Mul,
    IntBinOp::Div,
    IntBinOp::Rem,
    IntBinOp::And,
    IntBinOp::Or,
    IntBinOp::Xor,
    IntBinOp::Shl,
    IntBinOp::Shr,
];

pub const CMP_OPS: [CmpOp; 6] = [
    CmpOp::Eq,
    CmpOp::Ne,
    CmpOp::Lt,
    CmpOp::Le,
    CmpOp::Gt,
    CmpOp::Ge,
];

pub const FLOAT_BIN_OPS: [FloatBinOp; 5] = [
    FloatBinOp::Add,
    FloatBinOp::Sub,
    FloatBinOp::Mul,
    FloatBinOp::Div,
    FloatBinOp::Rem,
];
