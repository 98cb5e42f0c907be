//! `blackhole::resume`: rebuilding a frame stack (from a guard's resume
//! data or the tracer's frames) and running it to the portal's next merge
//! point or return, on hand-built jitcodes.

use metatrace_runtime::blackhole::ResumeFrame;
use metatrace_runtime::blackhole::{self, RunOutcome};
use metatrace_runtime::jitcode::*;
use metatrace_runtime::trace::{FrameSnapshot, GuardInfo, Val};
use metatrace_testkit::insn;

use metatrace_testkit::jitcode::*;

const PORTAL: u16 = 0;
const HELPER: u16 = 1;
const RPORTAL: u16 = 2;

/// jitcode 0, `portal(pc: i64, n: i64) -> (i64, i64)`, driver 0 (greens
/// [pc], reds [n]):
/// `loop { merge_point(pc; n); if n <= 0 { return (pc, n) } n -= 1; pc = helper(pc, n) }`
fn portal() -> Code {
    let mut c = Code::new(
        "portal",
        [3, 0, 0],
        vec![ki(0), ki(1)],
        vec![Kind::Int, Kind::Int],
    );
    let zero = c.ci(0);
    let one = c.ci(1);
    c.push(insn::live(vec![ki(0), ki(1)])); // 0
    c.push(insn::merge_point(0, vec![ki(0), ki(1)])); // 1
    c.push(insn::int_cmp(CmpOp::Gt, IntTy::I64, 1, zero, 2)); // 2
    c.push(insn::live(vec![ki(0), ki(1), ki(2)])); // 3
    c.push(insn::goto_if_not(2, 10)); // 4
    c.push(insn::int_bin(IntBinOp::Sub, IntTy::I64, 1, one, 1)); // 5
    c.push(insn::live(vec![ki(0), ki(1)])); // 6
    c.push(insn::call(
        CallFlavor::Regular,
        HELPER,
        vec![ki(0), ki(1)],
        vec![ki(0)],
    )); // 7
    c.push(Insn::Goto { target: 0 }); // 8
    c.push(Insn::Goto { target: 0 }); // 9 (unreachable)
    c.push(insn::ret(vec![ki(0), ki(1)])); // 10
    c
}

/// jitcode 1, `helper(a, b) = (a + b) & 7`.
fn helper() -> Code {
    let mut c = Code::new("helper", [3, 0, 0], vec![ki(0), ki(1)], vec![Kind::Int]);
    let seven = c.ci(7);
    c.push(insn::int_bin(IntBinOp::Add, IntTy::I64, 0, 1, 2));
    c.push(insn::int_bin(IntBinOp::And, IntTy::I64, 2, seven, 2));
    c.push(insn::ret(vec![ki(2)]));
    c
}

/// jitcode 2, a recursive portal of driver 1 (no greens, reds [n]):
/// `rportal(n) = { merge_point(; n); if n > 0 { n + rportal(n - 1) } else { n } }`.
fn rportal() -> Code {
    let mut c = Code::new("rportal", [4, 0, 0], vec![ki(0)], vec![Kind::Int]);
    let zero = c.ci(0);
    let one = c.ci(1);
    c.push(Insn::Live { regs: vec![ki(0)] }); // 0
    c.push(insn::merge_point(1, vec![ki(0)])); // 1
    c.push(insn::int_cmp(CmpOp::Gt, IntTy::I64, 0, zero, 1)); // 2
    c.push(insn::live(vec![ki(0), ki(1)])); // 3
    c.push(insn::goto_if_not(1, 10)); // 4
    c.push(insn::int_bin(IntBinOp::Sub, IntTy::I64, 0, one, 2)); // 5
    c.push(insn::live(vec![ki(0), ki(2)])); // 6
    c.push(insn::call(
        CallFlavor::Regular,
        RPORTAL,
        vec![ki(2)],
        vec![ki(3)],
    )); // 7
    c.push(insn::int_bin(IntBinOp::Add, IntTy::I64, 3, 0, 0)); // 8
    c.push(insn::ret(vec![ki(0)])); // 9
    c.push(insn::ret(vec![ki(0)])); // 10
    c
}

fn tables() -> &'static Tables {
    use std::sync::OnceLock;
    static T: OnceLock<&'static Tables> = OnceLock::new();
    T.get_or_init(|| {
        make_tables(
            vec![portal(), helper(), rportal()],
            Descrs {
                drivers: vec![
                    DriverDescr {
                        portal: "portal",
                        jitcode: PORTAL,
                        greens: &[Kind::Int],
                        reds: &[Kind::Int],
                        native: None,
                    },
                    DriverDescr {
                        portal: "rportal",
                        jitcode: RPORTAL,
                        greens: &[],
                        reds: &[Kind::Int],
                        native: None,
                    },
                ],
                ..Descrs::default()
            },
        )
    })
}

fn frame(jitcode: u16, pc: u32, regs: &[(KReg, u64)]) -> ResumeFrame {
    ResumeFrame {
        jitcode,
        pc,
        regs: regs.to_vec(),
    }
}

#[test]
fn stops_at_the_portal_merge_point() {
    let t = tables();
    // At the merge point's live marker: stops right away, nothing run.
    let r = blackhole::resume(t, vec![frame(PORTAL, 0, &[(ki(0), 3), (ki(1), 5)])]);
    assert_eq!(r, RunOutcome::MergePoint { args: vec![3, 5] });
    // At the merge point itself: the same.
    let r = blackhole::resume(t, vec![frame(PORTAL, 1, &[(ki(0), 3), (ki(1), 5)])]);
    assert_eq!(r, RunOutcome::MergePoint { args: vec![3, 5] });
    // After it: one iteration, n = 4, pc = (3 + 4) & 7.
    let r = blackhole::resume(t, vec![frame(PORTAL, 2, &[(ki(0), 3), (ki(1), 5)])]);
    assert_eq!(r, RunOutcome::MergePoint { args: vec![7, 4] });
    // Re-executing the guarded branch with its condition register.
    let r = blackhole::resume(
        t,
        vec![frame(PORTAL, 4, &[(ki(0), 6), (ki(1), 9), (ki(2), 1)])],
    );
    assert_eq!(r, RunOutcome::MergePoint { args: vec![6, 8] });
}

#[test]
fn runs_to_the_portal_return() {
    let t = tables();
    let r = blackhole::resume(t, vec![frame(PORTAL, 2, &[(ki(0), 1), (ki(1), 0)])]);
    assert_eq!(r, RunOutcome::Return(vec![1, 0]));
    // The branch taken from the listed condition, not recomputed.
    let r = blackhole::resume(t, vec![frame(PORTAL, 4, &[(ki(0), 2), (ki(1), 9)])]);
    assert_eq!(r, RunOutcome::Return(vec![2, 9]));
}

#[test]
fn inner_frame_returns_into_the_suspended_call() {
    let t = tables();
    // The portal is suspended in its call of helper; helper resumes at its
    // second instruction with i2 = 100 (its arguments not listed: zero).
    let r = blackhole::resume(
        t,
        vec![
            frame(PORTAL, 7, &[(ki(0), 3), (ki(1), 4)]),
            frame(HELPER, 1, &[(ki(2), 100)]),
        ],
    );
    assert_eq!(
        r,
        RunOutcome::MergePoint {
            args: vec![100 & 7, 4]
        }
    );
    // Helper from its start, with unlisted registers zero: (0 + 0) & 7.
    let r = blackhole::resume(
        t,
        vec![
            frame(PORTAL, 7, &[(ki(0), 3), (ki(1), 4)]),
            frame(HELPER, 0, &[]),
        ],
    );
    assert_eq!(r, RunOutcome::MergePoint { args: vec![0, 4] });
    // Helper about to return: its result goes to the call's result
    // register, and the portal continues after the call.
    let r = blackhole::resume(
        t,
        vec![
            frame(PORTAL, 7, &[(ki(0), 3), (ki(1), 0)]),
            frame(HELPER, 2, &[(ki(2), 5)]),
        ],
    );
    assert_eq!(r, RunOutcome::MergePoint { args: vec![5, 0] });
}

#[test]
fn inner_merge_points_do_not_stop_the_run() {
    let t = tables();
    assert_eq!(blackhole::call(t, RPORTAL, &[4]), vec![10]);
    // From after the outermost merge point: the recursive calls pass
    // theirs, the outermost returns.
    let r = blackhole::resume(t, vec![frame(RPORTAL, 2, &[(ki(0), 4)])]);
    assert_eq!(r, RunOutcome::Return(vec![10]));
    // Three frames deep, the innermost before its own merge point.
    let r = blackhole::resume(
        t,
        vec![
            frame(RPORTAL, 7, &[(ki(0), 4), (ki(2), 3)]),
            frame(RPORTAL, 7, &[(ki(0), 3), (ki(2), 2)]),
            frame(RPORTAL, 0, &[(ki(0), 2)]),
        ],
    );
    assert_eq!(r, RunOutcome::Return(vec![10]));
}

#[test]
fn call_still_ignores_merge_points() {
    let t = tables();
    // portal(3, 5): five iterations through the merge point, then return.
    let mut pc = 3i64;
    let mut n = 5i64;
    while n > 0 {
        n -= 1;
        pc = (pc + n) & 7;
    }
    assert_eq!(blackhole::call(t, PORTAL, &[3, 5]), vec![pc as u64, 0]);
}

fn resume_panics(frames: Vec<ResumeFrame>, needle: &str) {
    let t = tables();
    let err = std::panic::catch_unwind(|| blackhole::resume(t, frames)).expect_err("must panic");
    let msg = panic_message(&*err);
    assert!(msg.contains(needle), "{msg:?} does not contain {needle:?}");
}

#[test]
fn frames_that_do_not_fit_are_refused() {
    resume_panics(vec![], "at least one frame");
    resume_panics(vec![frame(9, 0, &[])], "no jitcode 9");
    resume_panics(vec![frame(PORTAL, 11, &[])], "pc 11 out of range");
    // Outer frame not at a call, or at a call of another jitcode.
    resume_panics(
        vec![frame(PORTAL, 5, &[]), frame(HELPER, 0, &[])],
        "not a call of jitcode 1",
    );
    resume_panics(
        vec![frame(PORTAL, 7, &[]), frame(RPORTAL, 0, &[])],
        "not a call of jitcode 2",
    );
    // A constant is not a register.
    resume_panics(vec![frame(PORTAL, 2, &[(ki(3), 1)])], "is not a register");
}

#[test]
fn frames_from_guard_resume_data() {
    let t = tables();
    // A guard in helper, inlined into the portal: fail args are the
    // non-constant values, without duplicates, outermost frame first.
    let info = GuardInfo::new(vec![
        FrameSnapshot {
            jitcode: PORTAL,
            pc: 7,
            regs: vec![(ki(0), Val::Int(3)), (ki(1), Val::Input(0))],
        },
        FrameSnapshot {
            jitcode: HELPER,
            pc: 1,
            regs: vec![
                (ki(0), Val::Int(3)),
                (ki(1), Val::Input(0)),
                (ki(2), Val::Op(4)),
            ],
        },
    ]);
    assert_eq!(info.fail_args, vec![Val::Input(0), Val::Op(4)]);
    let frames = ResumeFrame::from_guard(tables(), &info, &[6, 13]);
    assert_eq!(
        frames,
        vec![
            frame(PORTAL, 7, &[(ki(0), 3), (ki(1), 6)]),
            frame(HELPER, 1, &[(ki(0), 3), (ki(1), 6), (ki(2), 13)]),
        ]
    );
    assert_eq!(
        blackhole::resume(t, frames),
        RunOutcome::MergePoint {
            args: vec![13 & 7, 6]
        }
    );
}
