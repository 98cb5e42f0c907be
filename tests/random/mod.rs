//! Differential testing with generated programs (see docs/testing.md):
//! generators of terminating programs for the example VMs, each with a model
//! of its language, the runner that compares the VM's modes, and the shrinker.

pub mod bf;
pub mod harness;
pub mod shrink;
pub mod tlr;
pub mod um;
