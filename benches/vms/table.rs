//! The results table, in plain text aligned for a terminal (and for pasting
//! into a Markdown code block).

/// One line of the table.
pub struct Row {
    pub bench: String,
    pub config: String,
    pub cells: Cells,
}

pub enum Cells {
    Measured {
        median: f64,
        min: f64,
        /// (max - min) / median, when there were several runs.
        spread: Option<f64>,
        /// median of `--jit off` / this median, when `--jit off` has a median.
        speedup: Option<f64>,
    },
    /// Instead of numbers: why there are none (`n/a ...`, `skipped ...`).
    Text(String),
}

const HEADERS: [&str; 6] = [
    "benchmark",
    "configuration",
    "median s",
    "min s",
    "spread",
    "speedup vs off",
];

pub fn render(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(cells_of).collect();
    let mut widths = HEADERS.map(str::len);
    for row in &cells {
        if row.len() == HEADERS.len() {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.len());
            }
        } else {
            widths[0] = widths[0].max(row[0].len());
            widths[1] = widths[1].max(row[1].len());
        }
    }
    let line = |row: &[String]| {
        let mut s = format!(
            "{:<w0$}  {:<w1$}",
            row[0],
            row[1],
            w0 = widths[0],
            w1 = widths[1]
        );
        if row.len() == HEADERS.len() {
            for (c, w) in row[2..].iter().zip(&widths[2..]) {
                s.push_str(&format!("  {c:>w$}"));
            }
        } else {
            // A text row: the text from the first column of numbers on.
            s.push_str("  ");
            s.push_str(&row[2]);
        }
        s.trim_end().to_string() + "\n"
    };
    let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    let rule = "-".repeat(total) + "\n";
    let mut out = line(&HEADERS.map(String::from));
    let mut previous: Option<&str> = None;
    for (row, c) in rows.iter().zip(&cells) {
        if previous != Some(row.bench.as_str()) {
            out.push_str(&rule);
        }
        // The benchmark's name only on its first line.
        let mut c = c.clone();
        if previous == Some(row.bench.as_str()) {
            c[0].clear();
        }
        out.push_str(&line(&c));
        previous = Some(&row.bench);
    }
    out.push_str(&rule);
    out
}

fn cells_of(row: &Row) -> Vec<String> {
    let mut c = vec![row.bench.clone(), row.config.clone()];
    match &row.cells {
        Cells::Measured {
            median,
            min,
            spread,
            speedup,
        } => {
            c.push(format!("{median:.3}"));
            c.push(format!("{min:.3}"));
            c.push(spread.map_or("-".to_string(), |s| format!("{:.1}%", 100.0 * s)));
            c.push(speedup.map_or("-".to_string(), ratio));
        }
        Cells::Text(text) => c.push(text.clone()),
    }
    c
}

/// A speedup with about three significant digits: `12.3x`, `1.05x`, `0.029x`.
fn ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.1}x")
    } else if r >= 0.1 {
        format!("{r:.2}x")
    } else {
        format!("{r:.3}x")
    }
}
