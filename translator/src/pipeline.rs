//! The pipeline driver: load the crate, find the portals, check and lower
//! every function reachable from them, then clean up and verify the
//! graphs. One entry point for the `cargo translate` binary, build.rs and
//! the tests.

use crate::diag::{at, render, render_warnings, Diagnostic, Diagnostics, SourceMap};
use crate::items::{FnId, ItemTable};
use crate::load::{load_crate_dir, load_source, LoadedCrate};
use crate::{hint_check, lower, subset, typeck};
use metatrace_jitcodegen::flowgraph::{self, DriverInfo, Op, Param, Program, ResidualInfo};
use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

/// A successful translation.
pub struct Translation {
    pub program: Program,
    pub sources: SourceMap,
    /// Wall time of the front end (parse to verified flow graphs).
    pub elapsed: Duration,
    /// What is allowed but surely not meant: a hint on a function traced
    /// code never reaches.
    pub warnings: Vec<Diagnostic>,
}

impl Translation {
    /// rustc-style rendering of the warnings.
    pub fn render_warnings(&self) -> String {
        render_warnings(&self.sources, &self.warnings)
    }
}

/// A rejected input: every diagnostic found, with the sources to render them.
pub struct TranslateError {
    pub sources: SourceMap,
    pub diags: Vec<Diagnostic>,
}

impl TranslateError {
    /// rustc-style rendering of every diagnostic.
    pub fn render(&self) -> String {
        render(&self.sources, &self.diags)
    }

    /// One `line:col: message` per diagnostic (for tests).
    pub fn short(&self) -> Vec<String> {
        self.diags.iter().map(|d| d.to_string()).collect()
    }
}

impl std::fmt::Debug for TranslateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

/// Translate the crate in `dir` (its `src/lib.rs` or `src/main.rs`).
pub fn translate_crate_dir(dir: &Path) -> Result<Translation, TranslateError> {
    let start = Instant::now();
    translate_loaded(load_crate_dir(dir), start)
}

/// Translate a crate made of one in-memory file.
pub fn translate_source(name: &str, text: &str) -> Result<Translation, TranslateError> {
    let start = Instant::now();
    translate_loaded(load_source(name, text), start)
}

fn translate_loaded(
    loaded: Result<LoadedCrate, (SourceMap, Diagnostics)>,
    start: Instant,
) -> Result<Translation, TranslateError> {
    let krate = loaded.map_err(|(sources, diags)| TranslateError {
        sources,
        diags: diags.list,
    })?;
    let (program, diags, warnings) = {
        let items = ItemTable::build(&krate);
        let mut t = Translator {
            items: &items,
            diags: Diagnostics {
                list: items.attr_errors.clone(),
            },
            internal: Vec::new(),
            warnings: Vec::new(),
            program: Program::default(),
        };
        t.run();
        if t.diags.is_empty() {
            t.internal.into_iter().for_each(|d| t.diags.push(d));
        }
        let mut program = t.program;
        program.types = items.types.clone();
        program.gc_types = crate::gc_types::gc_type_requests(&items, &program.graphs);
        (program, t.diags, t.warnings)
    };
    let LoadedCrate { sources, .. } = krate;
    if diags.is_empty() {
        Ok(Translation {
            program,
            sources,
            elapsed: start.elapsed(),
            warnings,
        })
    } else {
        let mut list = diags.list;
        crate::diag::dedup_problems(&mut list);
        Err(TranslateError {
            sources,
            diags: list,
        })
    }
}

/// Type errors that a construct the subset check refused may cause
/// elsewhere in its function (a nested `const`, a label on a block, a
/// function pointer, a range): in a function with subset errors they are
/// not reported, the refused construct is. (Calls of a nested `fn` are
/// silenced by the type checker itself.)
const MAY_FOLLOW_SUBSET_ERRORS: &[&str] = &[
    "cannot find",
    "outside of a loop",
    "functions cannot be used as values",
    "calling a local variable",
    "slicing with a range",
];

struct Translator<'t, 'a> {
    items: &'t ItemTable<'a>,
    diags: Diagnostics,
    /// Flow graphs that do not verify. Reported only when the crate has no
    /// other error: a function that calls one the subset refused (its
    /// signature, say) is lowered without the refused values, and its
    /// graph is then broken by that error, not by a bug of its own.
    internal: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    program: Program,
}

impl Translator<'_, '_> {
    fn run(&mut self) {
        let portals: Vec<FnId> = (0..self.items.fns.len())
            .map(FnId)
            .filter(|id| self.items.fn_def(*id).hints.driver.is_some())
            .collect();
        if portals.is_empty() {
            self.diags.push(
                Diagnostic::global("no #[jit_driver] function found in the crate")
                    .with_help("mark the interpreter's main loop function with #[jit_driver(greens = [...], reds = [...])]"),
            );
            return;
        }
        let mut queue: VecDeque<FnId> = portals.iter().copied().collect();
        let mut seen: HashSet<FnId> = queue.iter().copied().collect();
        let mut residuals: Vec<FnId> = Vec::new();
        while let Some(id) = queue.pop_front() {
            let (lowered, callees) = self.translate_fn(id);
            for c in callees {
                if self.items.fn_def(c).hints.dont_look_inside {
                    if seen.insert(c) {
                        self.check_residual_hints(c);
                    }
                    continue; // checked as a residual call below
                }
                if seen.insert(c) {
                    queue.push_back(c);
                }
            }
            let Some(lowered) = lowered else { continue };
            for r in lowered.residuals {
                if !residuals.contains(&r) {
                    residuals.push(r);
                }
            }
            self.program.graphs.push(lowered.graph);
        }
        for r in residuals {
            self.check_residual(r);
        }
        self.warn_unreached_hints(&seen);
        for &p in &portals {
            self.record_driver(p);
        }
    }

    /// A warning for every hint on a function traced code never reaches
    /// from a portal: it does nothing (a misspelt call, a function only
    /// the native code calls), and a user who wrote it meant something.
    fn warn_unreached_hints(&mut self, reached: &HashSet<FnId>) {
        for id in (0..self.items.fns.len()).map(FnId) {
            let f = self.items.fn_def(id);
            let h = &f.hints;
            let hints: Vec<&str> = [
                (h.elidable, "#[elidable]"),
                (h.dont_look_inside, "#[dont_look_inside]"),
                (h.unroll_safe, "#[unroll_safe]"),
                (h.loop_invariant, "#[loop_invariant]"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            if hints.is_empty() || reached.contains(&id) {
                continue;
            }
            let what = hints.join(" and ");
            self.warnings.push(
                at(
                    self.items.sources(),
                    f.file,
                    f.sig.ident.span(),
                    format!(
                        "{what} on `{}`, which traced code never reaches: the hint has no effect",
                        f.name
                    ),
                )
                .with_help(format!(
                    "call `{}` from the interpreter's traced code (the #[jit_driver] function or what it calls), or remove the hint",
                    f.name
                )),
            );
        }
    }

    /// Check and lower one function. Returns the lowered graph (if it
    /// translated) and the functions it calls (followed even when it did
    /// not, so that their errors are reported too).
    fn translate_fn(&mut self, id: FnId) -> (Option<lower::Lowered>, Vec<FnId>) {
        let f = self.items.fn_def(id);
        let sources = self.items.sources();
        let before = self.diags.len();
        subset::check_fn(sources, f.file, f.sig, f.body, &mut self.diags);
        let generic = f
            .sig
            .generics
            .params
            .iter()
            .any(|p| !matches!(p, syn::GenericParam::Lifetime(_)));
        if generic {
            // Its parameter types fail to resolve: the subset checker's
            // "generic functions" error says it better.
            return (None, Vec::new());
        }
        if let Err(errs) = &f.signature {
            // Reported as the subset's errors are; the body is still
            // checked, with what did not resolve as error types.
            for d in errs {
                self.diags.push(d.clone());
            }
        }
        hint_check::check_fn_hints(self.items, id, &mut self.diags);
        let (tc, tc_diags) = typeck::check_fn(self.items, id);
        let mut callees: Vec<FnId> = tc
            .calls
            .values()
            .filter_map(|c| match c {
                typeck::CallRes::Fn(id) => Some(*id),
                _ => None,
            })
            .chain(tc.methods.values().filter_map(|m| match m {
                typeck::MethodRes::Fn(id) => Some(*id),
                _ => None,
            }))
            .collect();
        callees.sort();
        callees.dedup();
        if self.diags.len() > before || !tc_diags.is_empty() {
            // The type checker goes on past the subset's errors, so that
            // one run reports every problem; what it says about a
            // construct the subset check refused would only repeat it.
            let refused: Vec<std::ops::Range<usize>> = self.diags.list[before..]
                .iter()
                .filter(|d| d.file == Some(f.file))
                .map(|d| d.range.clone())
                .collect();
            let refused_lines: Vec<usize> = self.diags.list[before..]
                .iter()
                .filter(|d| d.file == Some(f.file))
                .map(|d| d.line)
                .collect();
            let subset_failed = !refused.is_empty();
            // A type error on the line of a refused construct, or one of
            // the kinds such a construct causes elsewhere, repeats it.
            let overlaps = |d: &Diagnostic| {
                refused.iter().any(|r| {
                    d.range.start < r.end.max(r.start + 1)
                        && r.start < d.range.end.max(d.range.start + 1)
                }) || refused_lines.contains(&d.line)
                    || subset_failed
                        && MAY_FOLLOW_SUBSET_ERRORS
                            .iter()
                            .any(|m| d.message.contains(m))
            };
            tc_diags
                .into_iter()
                .filter(|d| !overlaps(d))
                .for_each(|d| self.diags.push(d));
            return (None, callees);
        }
        let mut lowered = match lower::lower_fn(self.items, id, &tc) {
            Ok(l) => l,
            Err(ds) => {
                ds.into_iter().for_each(|d| self.diags.push(d));
                return (None, callees);
            }
        };
        let g = &mut lowered.graph;
        flowgraph::repair_cross_block_uses(g);
        flowgraph::simplify(g);
        if let Err(errs) = flowgraph::verify(g, &self.items.types) {
            for e in errs {
                self.internal.push(
                    at(
                        sources,
                        f.file,
                        f.sig.ident.span(),
                        format!(
                            "internal error: the flow graph of `{}` does not verify: {e}",
                            f.path
                        ),
                    )
                    .with_help("please report this with the function's source"),
                );
            }
            return (None, callees);
        }
        if f.hints.driver.is_some() {
            hint_check::check_portal_graph(self.items, id, g, &mut self.diags);
        }
        (Some(lowered), callees)
    }

    /// `#[elidable]` on a `#[dont_look_inside]` function would be ignored:
    /// the function is never traced, so its calls are plain residual calls.
    fn check_residual_hints(&mut self, id: FnId) {
        let f = self.items.fn_def(id);
        if f.hints.elidable {
            let attr = f.attrs.iter().find(|a| {
                a.path()
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "elidable")
            });
            let span = attr.map_or(f.sig.ident.span(), |a| syn::spanned::Spanned::span(a));
            let d = at(self.items.sources(), f.file, span, format!("function `{}` is both #[elidable] and #[dont_look_inside]", f.name))
            .with_help("keep one: #[elidable] for a pure function whose body is in the subset (traced, and its calls folded or removed by the optimizer), #[dont_look_inside] for one that stays native (a residual call)");
            self.diags.push(d);
        }
    }

    fn check_residual(&mut self, id: FnId) {
        let f = self.items.fn_def(id);

        match &f.signature {
            Ok((params, ret)) => {
                for p in params {
                    if self.items.types.flatten(&p.ty).is_none() {
                        let d = at(self.items.sources(), f.file, p.span, format!("parameter `{}` of #[dont_look_inside] function `{}` has type `{}`, which cannot be passed from traced code", p.name, f.name, self.items.types.display(&p.ty)))
                            .with_help("pass it by reference");
                        self.diags.push(d);
                    }
                }
                self.program.residuals.push(ResidualInfo {
                    path: f.path.clone(),
                    params: f.flow_params(),
                    ret: ret.clone(),
                });
            }
            Err(errs) => errs.iter().for_each(|d| self.diags.push(d.clone())),
        }
    }

    fn record_driver(&mut self, id: FnId) {
        let f = self.items.fn_def(id);
        let Some(spec) = &f.hints.driver else { return };
        let Some(g) = self.program.graphs.iter().find(|g| g.name == f.path) else {
            return;
        };
        // Types of greens and reds: from the merge point's arguments.
        let mp = g
            .graph
            .node_indices()
            .flat_map(|b| g.block(b).operations.iter())
            .find(|o| matches!(o.op, Op::JitMergePoint { .. }));
        let Some(mp) = mp else { return };
        let tys: Vec<_> = mp.args.iter().map(|a| g.operand_ty(a)).collect();
        let mut it = tys.into_iter();
        // A fat reference (`&[T]`, `&str`) is two operands: the data
        // pointer (typed `&[T]`) and the length.
        let mut take = |names: &[syn::Ident]| -> Vec<Param> {
            names
                .iter()
                .map(|n| {
                    let ty = it.next().unwrap_or(metatrace_jitcodegen::types::Ty::Unit);
                    if matches!(&ty, metatrace_jitcodegen::types::Ty::Ref { to, .. } if to.is_unsized())
                    {
                        it.next();
                    }
                    Param {
                        name: n.to_string(),
                        ty,
                    }
                })
                .collect()
        };
        let greens = take(&spec.greens);
        let reds = take(&spec.reds);
        self.program.drivers.push(DriverInfo {
            portal: f.path.clone(),
            greens,
            reds,
        });
    }
}
