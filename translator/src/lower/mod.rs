//! Lowering: typed function bodies to flow graphs.
