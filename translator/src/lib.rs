//! metatrace-translator: reads an interpreter written in the Rust subset,
//! checks it, and turns every function reachable from a portal into a flow
//! graph. Also the pipeline driver behind `cargo translate` and build.rs.

pub mod build;
pub mod builtins;
pub mod consteval;
pub mod diag;
pub mod gc_types;
pub mod hint_check;
pub mod hints;
pub mod items;
pub mod liveness;
pub mod load;
pub mod lower;
pub mod pipeline;
pub mod privacy;
pub mod subset;
pub mod typeck;

pub use build::Build;
pub use pipeline::{translate_crate_dir, translate_source, TranslateError, Translation};
