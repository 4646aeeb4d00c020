//! Pure decoders: bytes from a sender in, [`crate::record::Record`]s out, no I/O.
//! Each one is bounded by [`crate::limits::DecodeLimits`] and never runs sender code; `redis` turns
//! one Redis payload into exactly one record.

pub mod form;
pub mod frame;
pub mod httpreq;
pub mod json;
pub mod logrecord;
pub mod pickle;
pub mod redis;

use thiserror::Error;

/// Why a payload was rejected. The message is written for logtui's own log.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DecodeError {
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge { len: u64, max: usize },
    #[error("payload ends in the middle of a value")]
    Truncated,
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
    #[error("payload expands past the {0} limit")]
    TooLarge(&'static str),
    #[error("unsupported pickle opcode 0x{op:02x} at byte {pos}")]
    BadOpcode { op: u8, pos: usize },
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("payload is not a log record: {0}")]
    NotARecord(String),
}

impl DecodeError {
    pub fn malformed(what: &'static str, detail: impl Into<String>) -> DecodeError {
        DecodeError::Malformed {
            what,
            detail: detail.into(),
        }
    }
}
