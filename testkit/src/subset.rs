//! Sources in the Rust subset that the translator tests share.

/// A minimal portal that calls `f(n)`, so that `f` is reachable: a test
/// adds its own `fn f(n: i64) -> i64`.
pub const PORTAL: &str = r#"
#[jit_driver(greens = [pc], reds = [n])]
fn portal(n: i64) -> i64 {
    let mut pc: usize = 0;
    let mut n = n;
    while pc < 10 {
        jit_merge_point!();
        n = f(n);
        pc += 1;
    }
    n
}
"#;
