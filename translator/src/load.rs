//! Reading an interpreter crate: the crate root, then every `mod x;` file,
//! as rustc finds them. The result owns the syn trees that every later
//! phase borrows.

use crate::consteval::str_literal;
use crate::diag::{at, Diagnostic, Diagnostics, FileId, SourceMap};
use std::path::{Path, PathBuf};

/// Index of a module in `LoadedCrate::modules`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModId(pub usize);

pub struct Module {
    /// Path from the crate root, empty for the root itself.
    pub path: Vec<String>,
    pub file: FileId,
    pub parent: Option<ModId>,
    pub items: Vec<syn::Item>,
}

impl Module {
    pub fn path_string(&self) -> String {
        self.path.join("::")
    }
}

pub struct LoadedCrate {
    pub sources: SourceMap,
    pub modules: Vec<Module>,
}

impl LoadedCrate {
    pub fn module(&self, id: ModId) -> &Module {
        &self.modules[id.0]
    }
}

/// Load the crate whose `Cargo.toml` is in `dir`, from `src/lib.rs` or
/// `src/main.rs`.
pub fn load_crate_dir(dir: &Path) -> Result<LoadedCrate, (SourceMap, Diagnostics)> {
    let root = ["src/lib.rs", "src/main.rs"]
        .iter()
        .map(|p| dir.join(p))
        .find(|p| p.is_file());
    match root {
        Some(root) => load_crate_root(&root, dir),
        None => {
            let mut diags = Diagnostics::default();
            diags.push(Diagnostic::global(format!(
                "no crate found in `{}`: expected src/lib.rs or src/main.rs",
                dir.display()
            )));
            Err((SourceMap::default(), diags))
        }
    }
}

/// Load a crate from its root file; file names in diagnostics are shown
/// relative to `base`.
pub fn load_crate_root(root: &Path, base: &Path) -> Result<LoadedCrate, (SourceMap, Diagnostics)> {
    let mut loader = Loader {
        base: base.to_owned(),
        ..Loader::default()
    };
    match std::fs::read_to_string(root) {
        Ok(text) => loader.add_file(root, text, Vec::new(), None, true),
        Err(e) => loader.diags.push(Diagnostic::global(format!(
            "cannot read `{}`: {e}",
            root.display()
        ))),
    }
    loader.finish()
}

/// Load a crate made of one in-memory file (tests and the proc-macros).
pub fn load_source(name: &str, text: &str) -> Result<LoadedCrate, (SourceMap, Diagnostics)> {
    let mut loader = Loader::default();
    loader.add_file(Path::new(name), text.to_owned(), Vec::new(), None, true);
    loader.finish()
}

#[derive(Default)]
struct Loader {
    sources: SourceMap,
    diags: Diagnostics,
    modules: Vec<Module>,
    base: PathBuf,
}

impl Loader {
    fn finish(self) -> Result<LoadedCrate, (SourceMap, Diagnostics)> {
        if self.diags.is_empty() {
            Ok(LoadedCrate {
                sources: self.sources,
                modules: self.modules,
            })
        } else {
            Err((self.sources, self.diags))
        }
    }

    fn add_file(
        &mut self,
        path: &Path,
        text: String,
        mod_path: Vec<String>,
        parent: Option<ModId>,
        owns_dir: bool,
    ) {
        let display = path
            .strip_prefix(&self.base)
            .unwrap_or(path)
            .display()
            .to_string();
        let file = self.sources.add(path, display, text);
        let parsed = syn::parse_file(self.sources.text(file));
        let items = match parsed {
            Ok(f) => f.items,
            Err(e) => {
                for err in e {
                    let d = at(
                        &self.sources,
                        file,
                        err.span(),
                        format!("syntax error: {err}"),
                    );
                    self.diags.push(d);
                }
                return;
            }
        };
        // Directory for `mod x;` children: next to a mod-rs file, or in a
        // folder named after a non-mod-rs file.
        let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        let child_dir = if owns_dir {
            dir
        } else {
            dir.join(path.file_stem().unwrap_or_default())
        };
        self.add_module(file, items, mod_path, parent, child_dir);
    }

    fn add_module(
        &mut self,
        file: FileId,
        items: Vec<syn::Item>,
        mod_path: Vec<String>,
        parent: Option<ModId>,
        child_dir: PathBuf,
    ) {
        let id = ModId(self.modules.len());
        self.modules.push(Module {
            path: mod_path.clone(),
            file,
            parent,
            items: Vec::new(),
        });
        let mut kept = Vec::new();
        for item in items {
            if is_cfg_test(item_attrs(&item)) {
                continue;
            }
            if let syn::Item::Mod(m) = &item {
                let mut sub_path = mod_path.clone();
                sub_path.push(m.ident.to_string());
                match &m.content {
                    Some((_, inner)) => {
                        let inner = inner.clone();
                        let sub_dir = child_dir.join(m.ident.to_string());
                        self.add_module(file, inner, sub_path, Some(id), sub_dir);
                    }
                    None => self.load_mod_file(file, m, sub_path, id, &child_dir),
                }
            }
            kept.push(item);
        }
        self.modules[id.0].items = kept;
    }

    fn load_mod_file(
        &mut self,
        file: FileId,
        m: &syn::ItemMod,
        sub_path: Vec<String>,
        parent: ModId,
        child_dir: &Path,
    ) {
        let name = m.ident.to_string();
        let explicit = path_attr(&m.attrs);
        let candidates: Vec<(PathBuf, bool)> = match explicit {
            Some(p) => vec![(child_dir.join(&p), p.ends_with("mod.rs"))],
            None => vec![
                (child_dir.join(format!("{name}.rs")), false),
                (child_dir.join(&name).join("mod.rs"), true),
            ],
        };
        for (candidate, owns_dir) in &candidates {
            if let Ok(text) = std::fs::read_to_string(candidate) {
                self.add_file(candidate, text, sub_path, Some(parent), *owns_dir);
                return;
            }
        }
        let d = at(
            &self.sources,
            file,
            m.ident.span(),
            format!("file not found for module `{name}`"),
        )
        .with_help(format!(
            "create `{}`",
            candidates[0]
                .0
                .strip_prefix(&self.base)
                .unwrap_or(&candidates[0].0)
                .display()
        ));
        self.diags.push(d);
    }
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| {
        if !a.path().is_ident("path") {
            return None;
        }
        match &a.meta {
            syn::Meta::NameValue(nv) => str_literal(&nv.value),
            _ => None,
        }
    })
}

/// `#[cfg(test)]` items are not part of the interpreter.
pub fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Ident>()
                .map(|i| i == "test")
                .unwrap_or(false)
    })
}

pub fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}
