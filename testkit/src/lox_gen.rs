//! Random Lox programs for differential tests of the Lox VM's heap
//! (tests/lox_random.rs): deterministic from a seed, valid, terminating,
//! and printing what they compute, so that two runs — with another
//! collector plan, under `--gc stress`, or clox itself — can be compared
//! line by line.
//!
//! A program is a sequence of independent parts, each with its own names
//! (a numeric suffix), its classes declared at the top level and its
//! statements in a block or a function. The parts exercise what a
//! collector can get wrong: objects linked into lists and trees, cycles
//! left for garbage, closures capturing variables that are then closed,
//! classes with inheritance, `super`, bound methods and initializers,
//! fields holding closures, strings made by concatenation (interned, so
//! compared by identity), globals overwritten, an instance held in a
//! global whose fields a hot loop updates, and plenty of garbage. A
//! few programs end with a runtime error inside a function (the message
//! and the stack trace must match too).
//!
//! Sizes are small (hundreds to a few thousand allocations) so that a
//! run under `--gc stress`, which collects before every allocation, takes
//! well under a second.

use crate::rng::SplitMix as Rng;
use std::fmt::Write;

/// The words strings are made of (`""` included: concatenating it is
/// interning an existing string).
const WORDS: [&str; 8] = ["", "a", "b", "lox", "foo", "bar", "ab", "gc"];

/// A random Lox program.
pub fn lox_program(seed: u64) -> String {
    let mut g = Gen {
        rng: Rng::new(seed),
        top: String::new(),
        next_id: 0,
    };
    let parts = g.rng.usize_in(3, 9);
    for _ in 0..parts {
        g.part();
    }
    if g.rng.chance(8) {
        g.runtime_error();
    }
    g.top
}

struct Gen {
    rng: Rng,
    /// The program so far.
    top: String,
    next_id: usize,
}

impl Gen {
    fn id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id
    }

    /// A small number, sometimes not an integer (printed with `%g`).
    fn number(&mut self) -> String {
        match self.rng.below(10) {
            0 => format!("{} / {}", self.rng.range(-9, 9), self.rng.range(1, 7)),
            1 => format!("{}.5", self.rng.range(-20, 20)),
            _ => self.rng.range(-50, 50).to_string(),
        }
    }

    fn word(&mut self) -> &'static str {
        self.rng.pick(&WORDS)
    }

    fn part(&mut self) {
        match self.rng.below(10) {
            0 => self.list(),
            1 => self.tree(),
            2 => self.counters(),
            3 => self.composed_closures(),
            4 => self.strings(),
            5 => self.inheritance(),
            6 => self.garbage(),
            7 => self.cycles(),
            8 => self.global_fields(),
            _ => self.field_closures(),
        }
    }

    /// A linked list built in a loop, summed, sometimes closed into a
    /// ring, walked around it and dropped.
    fn list(&mut self) {
        let n = self.id();
        let len = self.rng.usize_in(1, 60);
        let step = self.number();
        let ring = self.rng.chance(50);
        let t = &mut self.top;
        let _ = writeln!(
            t,
            "class Node{n} {{ init(value, next) {{ this.value = value; this.next = next; }} }}"
        );
        let _ = writeln!(t, "var head{n} = nil;");
        let _ = writeln!(
            t,
            "for (var i = 0; i < {len}; i = i + 1) {{ head{n} = Node{n}(i * {step}, head{n}); }}"
        );
        let _ = writeln!(t, "{{\n  var sum = 0;\n  var p = head{n};\n  while (p != nil) {{ sum = sum + p.value; p = p.next; }}\n  print sum;");
        if ring {
            let _ = writeln!(t, "  var last = head{n};\n  while (last.next != nil) last = last.next;\n  last.next = head{n};");
            let _ = writeln!(t, "  var q = head{n};\n  var around = 0;\n  for (var k = 0; k < {}; k = k + 1) {{ around = around + q.value; q = q.next; }}\n  print around;", 2 * len + 1);
        }
        let _ = writeln!(t, "}}\nhead{n} = nil;");
    }

    /// Complete trees made and counted several times (each is garbage
    /// after its count).
    fn tree(&mut self) {
        let n = self.id();
        let depth = self.rng.usize_in(0, 6);
        let rounds = self.rng.usize_in(1, 3);
        let t = &mut self.top;
        let _ = writeln!(t, "class Tree{n} {{\n  init(d) {{\n    this.d = d;\n    if (d > 0) {{ this.l = Tree{n}(d - 1); this.r = Tree{n}(d - 1); }} else {{ this.l = nil; this.r = nil; }}\n  }}\n  count() {{ if (this.l == nil) return 1; return 1 + this.l.count() + this.r.count(); }}\n}}");
        let _ = writeln!(t, "for (var i = 0; i < {rounds}; i = i + 1) {{ var t = Tree{n}({depth}); print t.count() + t.d; }}");
    }

    /// Counter closures sharing or not sharing their variables.
    fn counters(&mut self) {
        let n = self.id();
        let (a, b) = (self.number(), self.number());
        let (s, u) = (self.number(), self.number());
        let calls = self.rng.usize_in(1, 20);
        let t = &mut self.top;
        let _ = writeln!(t, "fun counter{n}(start, step) {{\n  var c = start;\n  fun inc() {{ c = c + step; return c; }}\n  return inc;\n}}");
        let _ = writeln!(
            t,
            "{{\n  var x = counter{n}({a}, {s});\n  var y = counter{n}({b}, {u});\n  var z = x;"
        );
        let _ = writeln!(
            t,
            "  for (var i = 0; i < {calls}; i = i + 1) {{ x(); if (i / 2 == 1) y(); }}"
        );
        let _ = writeln!(
            t,
            "  print x() + y();\n  print z();\n  print x == z;\n  print x == y;\n}}"
        );
    }

    /// A chain of closures each capturing a loop's fresh variable,
    /// composed and called.
    fn composed_closures(&mut self) {
        let n = self.id();
        let len = self.rng.usize_in(1, 15);
        let k = self.number();
        let x = self.number();
        let t = &mut self.top;
        let _ = writeln!(t, "fun id{n}(x) {{ return x; }}");
        let _ = writeln!(
            t,
            "fun compose{n}(f, g) {{ fun h(x) {{ return f(g(x)); }} return h; }}"
        );
        let _ = writeln!(t, "{{\n  var f = id{n};\n  for (var i = 0; i < {len}; i = i + 1) {{\n    var k = i * {k};\n    fun add(x) {{ return x + k; }}\n    f = compose{n}(f, add);\n  }}\n  print f({x});\n  print f;\n}}");
    }

    /// Strings concatenated in a loop (each intermediate one garbage),
    /// compared with literals: equal exactly when the texts are.
    fn strings(&mut self) {
        let n = self.id();
        let words: Vec<&str> = (0..self.rng.usize_in(1, 10)).map(|_| self.word()).collect();
        let (w1, w2) = (self.word(), self.word());
        let other = if self.rng.chance(50) {
            format!("{w1}{w2}")
        } else {
            format!("{w2}{w1}x")
        };
        let t = &mut self.top;
        let _ = writeln!(t, "class Holder{n} {{}}");
        let _ = writeln!(t, "{{\n  var s = \"\";");
        for w in &words {
            let _ = writeln!(t, "  s = s + \"{w}\";");
        }
        let joined: String = words.concat();
        let _ = writeln!(t, "  print s;\n  print s == \"{joined}\";");
        let _ = writeln!(t, "  var h = Holder{n}();\n  h.text = \"{w1}\" + \"{w2}\";\n  print h.text == \"{other}\";\n  print h.text;");
        let _ = writeln!(t, "  for (var i = 0; i < 30; i = i + 1) {{ var junk = s + \"{w1}\" + \"{w2}\"; h.last = junk; }}\n  print h.last;\n}}");
    }

    /// Initializers, inheritance, `super`, bound methods, printing
    /// instances and classes.
    fn inheritance(&mut self) {
        let n = self.id();
        let (x, y, m) = (self.number(), self.number(), self.number());
        let t = &mut self.top;
        let _ = writeln!(t, "class A{n} {{\n  init(x) {{ this.x = x; }}\n  get() {{ return this.x; }}\n  twice() {{ return this.get() * 2; }}\n}}");
        let _ = writeln!(t, "class B{n} < A{n} {{\n  init(x, y) {{ super.init(x); this.y = y; }}\n  get() {{ return super.get() + this.y; }}\n  scaled(k) {{ var up = super.twice; return up() * k; }}\n}}");
        let _ = writeln!(t, "{{\n  var b = B{n}({x}, {y});\n  print b.twice();\n  var g = b.get;\n  print g();\n  print b.scaled({m});\n  print b;\n  print B{n};\n  print A{n}({x}).twice();\n  print b.init({y}, {x}).get();\n}}");
    }

    /// Many short-lived objects of every kind; a few are kept in a global
    /// list, which is then counted and dropped.
    fn garbage(&mut self) {
        let n = self.id();
        let count = self.rng.usize_in(10, 300);
        let keep_every = self.rng.usize_in(2, 50);
        let t = &mut self.top;
        let _ = writeln!(t, "class Junk{n} {{\n  init(i) {{ this.i = i; this.s = \"j\" + \"unk\"; }}\n  m() {{ return this.i; }}\n}}");
        let _ = writeln!(t, "var kept{n} = nil;");
        let _ = writeln!(t, "fun churn{n}() {{\n  var c = 0;\n  for (var i = 0; i < {count}; i = i + 1) {{\n    var j = Junk{n}(i);\n    var bound = j.m;\n    fun f() {{ return bound() + i; }}\n    j.f = f;\n    c = c + 1;\n    if (c == {keep_every}) {{ c = 0; j.next = kept{n}; kept{n} = j; }}\n  }}\n}}");
        let _ = writeln!(t, "churn{n}();\n{{\n  var total = 0;\n  var p = kept{n};\n  while (p != nil) {{ total = total + p.f(); p = p.next; }}\n  print total;\n}}\nkept{n} = nil;");
    }

    /// Pairs of objects pointing at each other, most dropped at once.
    fn cycles(&mut self) {
        let n = self.id();
        let count = self.rng.usize_in(1, 100);
        let t = &mut self.top;
        let _ = writeln!(
            t,
            "class Pair{n} {{ init(v) {{ this.v = v; this.other = nil; }} }}"
        );
        let _ = writeln!(t, "var last{n} = nil;");
        let _ = writeln!(t, "for (var i = 0; i < {count}; i = i + 1) {{\n  var a = Pair{n}(i);\n  var b = Pair{n}(-i);\n  a.other = b;\n  b.other = a;\n  last{n} = a;\n}}");
        let _ = writeln!(t, "print last{n}.other.other == last{n};\nprint last{n}.other.v + last{n}.v;\nlast{n} = \"replaced\";\nprint last{n};");
    }

    /// An instance held in a global, its field updated in a loop, and a
    /// field added in the middle of it. The global is a constant in
    /// traces; reads of the instance's fields (its shape too) must still
    /// be done at each iteration (they were once folded to their value
    /// when traced).
    fn global_fields(&mut self) {
        let n = self.id();
        let (a, b) = (self.number(), self.number());
        let iterations = self.rng.usize_in(2, 40);
        let add_at = self.rng.below(iterations as u64);
        let t = &mut self.top;
        let _ = writeln!(t, "class G{n} {{ init() {{ this.n = {a}; }} }}");
        let _ = writeln!(t, "var g{n} = G{n}();");
        let _ = writeln!(
            t,
            "for (var i = 0; i < {iterations}; i = i + 1) {{\n  g{n}.n = g{n}.n + {b};\n  if (i == {add_at}) g{n}.m = i;\n}}"
        );
        let _ = writeln!(t, "print g{n}.n;\nprint g{n}.m;");
    }

    /// Fields holding closures, called as methods are (`o.f(x)`).
    fn field_closures(&mut self) {
        let n = self.id();
        let (a, b) = (self.number(), self.number());
        let t = &mut self.top;
        let _ = writeln!(t, "class Box{n} {{}}");
        let _ = writeln!(t, "fun make{n}(k) {{\n  var o = Box{n}();\n  var hidden = k;\n  fun get(x) {{ return hidden + x; }}\n  fun set(v) {{ hidden = v; }}\n  o.get = get;\n  o.set = set;\n  return o;\n}}");
        let _ = writeln!(t, "{{\n  var o = make{n}({a});\n  print o.get({b});\n  o.set({b});\n  print o.get({a});\n  var p = make{n}({b});\n  o.get = p.get;\n  print o.get(1);\n}}");
    }

    /// A runtime error two calls deep, after the program's output.
    fn runtime_error(&mut self) {
        let n = self.id();
        let error = self.rng.pick(&[
            "nil.field",
            "\"text\" + 1",
            "-\"text\"",
            "undefined_global",
            "Err0().missing()",
        ]);
        let t = &mut self.top;
        let _ = writeln!(t, "class Err0 {{}}");
        let _ = writeln!(t, "fun inner{n}() {{ return {error}; }}\nfun outer{n}() {{ return inner{n}(); }}\nouter{n}();\nprint \"not reached\";");
    }
}
