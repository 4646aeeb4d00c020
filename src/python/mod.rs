//! Python's own text rules, bounded: literal reprs read as data, the `%` operator, `str()`/`repr()`.
//! Rebuilt from CPython's rules so logtui shows what Python would have printed, without running Python.

mod literal;
mod percent;
mod printable;
mod repr;
#[cfg(test)]
mod tests;

pub use crate::limits::MAX_FORMATTED;
pub use literal::parse_literal;
pub use percent::{percent_format, percent_format_within};
pub(crate) use repr::write_str_repr;
pub use repr::{float_repr, py_ascii, py_repr, py_str};

/// Longest integer (in decimal digits) read or printed. It is CPython's default
/// `sys.int_info.default_max_str_digits` (3.11+): Python itself refuses to write a
/// longer int as text, so no real repr holds one, and it keeps our base conversions cheap.
pub const MAX_INT_DIGITS: usize = 4300;

/// Why [`percent_format_within`] gave no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Python itself would raise (wrong argument count, bad conversion, missing key, …).
    Python,
    /// Python would format it, but it costs more than the record's [`Work`] budget allows.
    Budget,
}

/// A per-record work budget, in units of about one byte scanned or produced. Formatting charges
/// it as it goes and stops, leaving the template as it is, once it runs out; see
/// [`crate::limits::format_work_budget`] for how much a record gets.
#[derive(Debug)]
pub struct Work {
    left: usize,
    exhausted: bool,
}

impl Work {
    pub fn new(units: usize) -> Work {
        Work {
            left: units,
            exhausted: false,
        }
    }

    /// Spends `n` units; `None` (and exhausted from then on) when fewer are left.
    #[inline]
    pub fn charge(&mut self, n: usize) -> Option<()> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Some(())
            }
            None => self.refuse(),
        }
    }

    /// Gives up on a step that is past a ceiling, whatever is left.
    pub fn refuse<T>(&mut self) -> Option<T> {
        self.left = 0;
        self.exhausted = true;
        None
    }

    pub fn exhausted(&self) -> bool {
        self.exhausted
    }
}
