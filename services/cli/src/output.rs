//! Where results go: stdout carries the result (text or JSON), stderr the notes around
//! it, so `id=$(shangji submit ...)` captures just the id.

use std::io::{ErrorKind, IsTerminal, Write};

use serde_json::Value;

use crate::error::CliError;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// Writes `text` to stdout, adding a final newline when missing. A reader that went
    /// away (`shangji opportunities | head`) is not an error.
    pub fn text(&self, text: &str) -> Result<(), CliError> {
        let mut stdout = std::io::stdout().lock();
        let result = if text.ends_with('\n') {
            stdout.write_all(text.as_bytes())
        } else {
            writeln!(stdout, "{text}")
        }
        .and_then(|()| stdout.flush());
        match result {
            Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(CliError::Output(e)),
            _ => Ok(()),
        }
    }

    /// Pretty-printed JSON on stdout.
    pub fn json(&self, value: &Value) -> Result<(), CliError> {
        // Serialising a `Value` cannot fail: its map keys are always strings.
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        self.text(&text)
    }

    /// Prints `value` with --json, otherwise `text()`; the text is built only when needed.
    pub fn either(
        &self,
        value: impl FnOnce() -> Value,
        text: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        if self.json {
            self.json(&value())
        } else {
            self.text(&text())
        }
    }

    /// A diagnostic for the person at the terminal, on stderr.
    pub fn note(&self, text: &str) {
        // Nothing sensible is left to do when stderr itself is gone.
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    /// Whether progress lines are worth printing (someone is watching stderr).
    pub fn stderr_is_terminal(&self) -> bool {
        std::io::stderr().is_terminal()
    }
}
