//! Python's own text rules, bounded: literal reprs read as data, the `%` operator, `str()`/`repr()`.
//! Rebuilt from CPython's rules so logtui shows what Python would have printed, without running Python.

mod literal;
mod percent;
mod printable;
mod repr;
#[cfg(test)]
mod tests;

pub use literal::parse_literal;
pub use percent::{MAX_FORMATTED, percent_format};
pub(crate) use repr::write_str_repr;
pub use repr::{float_repr, py_ascii, py_repr, py_str};

/// Longest integer (in decimal digits) read or printed. It is CPython's default
/// `sys.int_info.default_max_str_digits` (3.11+): Python itself refuses to write a
/// longer int as text, so no real repr holds one, and it keeps our base conversions cheap.
pub const MAX_INT_DIGITS: usize = 4300;
