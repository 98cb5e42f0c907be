//! What the `--jit` parameters and the `--gc` options share: a string of
//! `name=value` items separated by commas, applied left to right on top of
//! the current values (on error, the items before the bad one stay
//! applied), flags without `=` (`default` resets everything), a help line
//! per item, a list of the valid items in every error, and a `Display`
//! that parses back. PyPy's `--jit` parameter string is the model
//! (`rpython/rlib/jit.py`, `set_user_param`).

/// One option string's table and how its items are set; the reading of
/// the string, the help and the messages follow from it.
pub trait OptionList: Default {
    /// What an item is called in messages: "JIT parameter", "GC option".
    const WHAT: &'static str;
    /// Every item that takes a value, with a one-line meaning, in
    /// documentation order.
    const ITEMS: &'static [(&'static str, &'static str)];
    /// The items without `=`, with their meaning; `default` (the last)
    /// resets every item.
    const FLAGS: &'static [(&'static str, &'static str)];

    /// The current value of item `name`, as it would be written after
    /// `name=`.
    fn value_of(&self, name: &str) -> Option<String>;
    /// Sets item `name` (one of `ITEMS`) from `value`; the error names the
    /// item and says what was expected.
    fn set(&mut self, name: &str, value: &str) -> Result<(), String>;
    /// Applies the flag `flag` (one of `FLAGS` other than `default`).
    fn set_flag(&mut self, flag: &str);

    /// Parses an options string on top of the defaults.
    fn parse(options: &str) -> Result<Self, String> {
        let mut o = Self::default();
        o.apply(options)?;
        Ok(o)
    }

    /// Applies an options string on top of the current values, left to
    /// right; empty items are ignored.
    fn apply(&mut self, options: &str) -> Result<(), String> {
        let is_item = |name: &str| Self::ITEMS.iter().any(|(n, _)| *n == name);
        for item in options.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some((name, value)) if is_item(name.trim()) => {
                    self.set(name.trim(), value.trim())?
                }
                Some((name, _)) => return Err(Self::unknown(name.trim())),
                None if item == "default" => *self = Self::default(),
                None if Self::FLAGS.iter().any(|(f, _)| *f == item) => self.set_flag(item),
                None if is_item(item) => {
                    return Err(format!(
                        "{} '{item}' needs a value ({item}=VALUE); valid: {}",
                        Self::WHAT,
                        Self::valid_list()
                    ))
                }
                None => return Err(Self::unknown(item)),
            }
        }
        Ok(())
    }

    /// `name=default` for every item, comma-separated (used in messages).
    fn valid_list() -> String {
        let d = Self::default();
        let items: Vec<String> = Self::ITEMS
            .iter()
            .map(|(name, _)| format!("{name}={}", d.value_of(name).unwrap_or_default()))
            .collect();
        items.join(", ")
    }

    /// The error for an item that is not in the table.
    fn unknown(name: &str) -> String {
        let flags: Vec<&str> = Self::FLAGS.iter().map(|(f, _)| *f).collect();
        format!(
            "unknown {} '{name}'; valid: {}, {}",
            Self::WHAT,
            Self::valid_list(),
            flags.join(", ")
        )
    }

    /// A help text: one line per item with its default and meaning, then
    /// the flags.
    fn help() -> String {
        let d = Self::default();
        let mut s = String::new();
        for (name, doc) in Self::ITEMS {
            let item = format!("{name}={}", d.value_of(name).unwrap_or_default());
            s.push_str(&format!("    {item:<26} {doc}\n"));
        }
        for (flag, doc) in Self::FLAGS {
            s.push_str(&format!("    {flag:<26} {doc}\n"));
        }
        s
    }

    /// `name=value,...` for every item: parses back to the same value (what
    /// `Display` prints).
    fn to_options(&self) -> String {
        let items: Vec<String> = Self::ITEMS
            .iter()
            .map(|(name, _)| format!("{name}={}", self.value_of(name).unwrap_or_default()))
            .collect();
        items.join(",")
    }
}

/// `123`, `64K`, `16M`, `2G` (case-insensitive, an optional `B` after the
/// suffix: `16MB`); `None` if malformed or overflowing.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let upper = s.to_ascii_uppercase();
    let digits = upper.strip_suffix('B').unwrap_or(&upper);
    let (digits, shift) = match digits.as_bytes().last()? {
        b'K' => (&digits[..digits.len() - 1], 10),
        b'M' => (&digits[..digits.len() - 1], 20),
        b'G' => (&digits[..digits.len() - 1], 30),
        b'T' => (&digits[..digits.len() - 1], 40),
        _ => (digits, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: usize = digits.parse().ok()?;
    n.checked_mul(1usize << shift)
}

/// The shortest exact spelling of a size (`16M`, `1536K`, `4G`).
pub fn size_name(n: usize) -> String {
    for (shift, suffix) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if n != 0 && n.is_multiple_of(1usize << shift) {
            return format!("{}{suffix}", n >> shift);
        }
    }
    n.to_string()
}
