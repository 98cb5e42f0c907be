fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    match metatrace_translator::translate_source("interp.rs", &text) {
        Ok(t) => {
            for g in &t.program.graphs { println!("{}", metatrace_jitcodegen::flowgraph::print_graph(g, &t.program.types)); }
            eprintln!("ok in {:?}", t.elapsed);
        }
        Err(e) => eprintln!("{}", e.render()),
    }
}
