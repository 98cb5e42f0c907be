//! Byte-at-a-time console I/O for the example VMs (`targets/bf`,
//! `targets/um`): output buffered and written out when 64 KiB are pending,
//! before each input and at exit; input read from stdin one byte at a
//! time, when the program asks, so that interactive programs work.
//!
//! The VMs call these from their own `#[dont_look_inside]` helpers (the
//! translator reads only the interpreter's crate): native code, never
//! traced.

use std::io::{Read, Write};

/// Output is written out when this many bytes are pending.
pub const OUTPUT_BUFFER: usize = 1 << 16;

/// The console of one run.
#[derive(Debug, Default)]
pub struct Console {
    /// Output not yet written to stdout.
    out: Vec<u8>,
    /// End of input was reached.
    eof: bool,
    /// The first error writing to stdout, if any (output is dropped after it).
    write_error: Option<String>,
}

impl Console {
    pub fn new() -> Console {
        Console {
            out: Vec::with_capacity(OUTPUT_BUFFER),
            eof: false,
            write_error: None,
        }
    }

    /// Buffers one byte of output.
    pub fn write_byte(&mut self, byte: u8) {
        self.out.push(byte);
        if self.out.len() >= OUTPUT_BUFFER {
            self.flush();
        }
    }

    /// The next byte of input, `None` at its end (and after: stdin is not
    /// read again). Pending output is flushed first, so that prompts appear.
    pub fn read_byte(&mut self) -> Option<u8> {
        self.flush();
        if self.eof {
            return None;
        }
        let mut buf = [0u8; 1];
        let mut stdin = std::io::stdin().lock();
        loop {
            match stdin.read(&mut buf) {
                Ok(1) => return Some(buf[0]),
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        self.eof = true;
        None
    }

    /// Writes the pending output to stdout.
    pub fn flush(&mut self) {
        if self.out.is_empty() {
            return;
        }
        if self.write_error.is_none() {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(&self.out).and_then(|()| stdout.flush()) {
                self.write_error = Some(e.to_string());
            }
        }
        self.out.clear();
    }

    /// At exit: flushes, and the first write error as a message.
    pub fn finish(&mut self) -> Result<(), String> {
        self.flush();
        match self.write_error.take() {
            Some(e) => Err(format!("cannot write output: {e}")),
            None => Ok(()),
        }
    }
}
