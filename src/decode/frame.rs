//! Length-prefixed framing of SocketHandler (TCP) and DatagramHandler (UDP) pickles: `>L` length, then the pickle.
//! Pure check-then-split over bytes, with no I/O, so a partial read is just "need more" and a hostile prefix is refused before any buffering.

use crate::decode::DecodeError;

/// Bytes in the length prefix: `struct.pack(">L", len(pickle))`, an unsigned 32-bit big-endian count
/// that excludes itself (CPython `SocketHandler.makePickle`).
pub const PREFIX: usize = 4;

/// Looks at the start of a TCP stream buffer and says whether one whole frame is there.
///
/// Returns `Ok(Some(total))` with the frame's length *including* the prefix when `buf` holds it all,
/// `Ok(None)` when more bytes are needed. A prefix larger than `max_frame` is an error as soon as the
/// four prefix bytes have arrived, so a 4 GiB claim never makes the caller buffer anything.
/// A zero-length frame is an error too: no pickle is empty, and accepting it would let a sender spin us.
pub fn check(buf: &[u8], max_frame: usize) -> Result<Option<usize>, DecodeError> {
    let Some(prefix) = buf.first_chunk::<PREFIX>() else {
        return Ok(None);
    };
    let len = payload_len(prefix, max_frame)?;
    // `len <= max_frame`, so this cannot overflow for any sane `max_frame`; checked anyway.
    let total = len.checked_add(PREFIX).ok_or(DecodeError::FrameTooLarge {
        len: len as u64,
        max: max_frame,
    })?;
    Ok((buf.len() >= total).then_some(total))
}

/// One frame's payload (prefix removed) and the bytes after it.
pub type Split<'a> = (&'a [u8], &'a [u8]);

/// Splits one complete frame off the front of `buf`: `Ok(Some((payload, rest)))`, or `Ok(None)` when
/// more bytes are needed. The same rules as [`check`] apply.
pub fn split(buf: &[u8], max_frame: usize) -> Result<Option<Split<'_>>, DecodeError> {
    let Some(total) = check(buf, max_frame)? else {
        return Ok(None);
    };
    match (buf.get(PREFIX..total), buf.get(total..)) {
        (Some(payload), Some(rest)) => Ok(Some((payload, rest))),
        _ => Ok(None),
    }
}

/// Returns the pickle inside one UDP datagram. DatagramHandler sends exactly one frame per datagram,
/// prefix included, so the prefix must match the datagram's length exactly.
pub fn datagram_payload(dgram: &[u8], max_frame: usize) -> Result<&[u8], DecodeError> {
    let Some((prefix, payload)) = dgram.split_first_chunk::<PREFIX>() else {
        return Err(DecodeError::Truncated);
    };
    let len = payload_len(prefix, max_frame)?;
    match payload.len().cmp(&len) {
        std::cmp::Ordering::Equal => Ok(payload),
        std::cmp::Ordering::Less => Err(DecodeError::Truncated),
        std::cmp::Ordering::Greater => Err(DecodeError::malformed(
            "datagram",
            format!(
                "prefix says {len} bytes but the datagram carries {}",
                payload.len()
            ),
        )),
    }
}

/// Reads and vets the length prefix.
fn payload_len(prefix: &[u8; PREFIX], max_frame: usize) -> Result<usize, DecodeError> {
    let len = u32::from_be_bytes(*prefix);
    if len == 0 {
        return Err(DecodeError::malformed("frame", "zero-length frame"));
    }
    match usize::try_from(len) {
        Ok(n) if n <= max_frame => Ok(n),
        _ => Err(DecodeError::FrameTooLarge {
            len: u64::from(len),
            max: max_frame,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn check_waits_for_a_whole_frame() {
        let f = framed(b"N.");
        for cut in 0..f.len() {
            assert_eq!(check(&f[..cut], 100), Ok(None), "cut at {cut}");
        }
        assert_eq!(check(&f, 100), Ok(Some(6)));
        let mut two = f.clone();
        two.extend_from_slice(&f);
        assert_eq!(check(&two, 100), Ok(Some(6)));
        assert_eq!(split(&two, 100), Ok(Some((&b"N."[..], &f[..]))));
    }

    #[test]
    fn oversized_prefix_is_refused_from_four_bytes() {
        let huge = [0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            check(&huge, 16 << 20),
            Err(DecodeError::FrameTooLarge {
                len: u64::from(u32::MAX),
                max: 16 << 20
            })
        );
        assert!(matches!(
            check(&framed(&[b'N'; 11]), 10),
            Err(DecodeError::FrameTooLarge { len: 11, max: 10 })
        ));
        assert!(check(&framed(&[b'N'; 10]), 10).is_ok());
    }

    #[test]
    fn zero_length_frames_are_malformed() {
        assert!(matches!(
            check(&[0, 0, 0, 0, 1], 10),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            datagram_payload(&[0, 0, 0, 0], 10),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn datagram_length_must_match() {
        let f = framed(b"N.");
        assert_eq!(datagram_payload(&f, 100), Ok(&b"N."[..]));
        assert_eq!(datagram_payload(&f[..5], 100), Err(DecodeError::Truncated));
        assert_eq!(datagram_payload(&f[..3], 100), Err(DecodeError::Truncated));
        let mut long = f.clone();
        long.push(b'.');
        assert!(matches!(
            datagram_payload(&long, 100),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            datagram_payload(&f, 1),
            Err(DecodeError::FrameTooLarge { len: 2, max: 1 })
        ));
    }
}
