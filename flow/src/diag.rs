//! Flowgraph diagnostics: what is wrong, where (file:line:col) and how to fix it.

use std::fmt;

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based line and column.
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The block the error is about, when there is one (the editor selects it).
    pub block: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.col, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// A place in a flowgraph file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Loc {
    pub file: String,
    pub line: usize,
    pub col: usize,
}

impl Loc {
    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            line: self.line.max(1),
            col: self.col.max(1),
            message: message.into(),
            hint: None,
            block: None,
        }
    }

    /// The same place moved right by `chars` characters (inside a scalar).
    pub fn shifted(&self, chars: usize) -> Loc {
        Loc {
            file: self.file.clone(),
            line: self.line,
            col: self.col + chars,
        }
    }
}

impl Diagnostic {
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
    pub fn block(mut self, id: impl Into<String>) -> Self {
        self.block = Some(id.into());
        self
    }
}

/// Every diagnostic of a failed load, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
