//! Debug helper: print the flow graphs of a crate dir or a single file.
fn main() {
    let path = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: tr <crate-dir|file.rs>"),
    );
    let result = if path.is_dir() {
        metatrace_translator::translate_crate_dir(&path)
    } else {
        let text = std::fs::read_to_string(&path).expect("readable file");
        metatrace_translator::translate_source(&path.display().to_string(), &text)
    };
    match result {
        Ok(t) => {
            for g in &t.program.graphs {
                println!(
                    "{}",
                    metatrace_jitcodegen::flowgraph::print_graph(g, &t.program.types)
                );
            }
            eprintln!("ok: {} graphs in {:?}", t.program.graphs.len(), t.elapsed);
        }
        Err(e) => eprintln!("{}", e.render()),
    }
}
