//! metatrace-jitcodegen: the flow-graph IR shared by the front end and the
//! codewriter, and (next) its lowering to jitcodes and generated glue.

pub mod codewriter;
pub mod flowgraph;
pub mod glue;
pub mod types;
