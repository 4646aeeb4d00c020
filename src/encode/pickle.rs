//! A protocol-1 pickle writer producing the same opcodes CPython's `pickle.dumps(d, 1)` does
//! for a LogRecord dict: BINUNICODE strings, BININT1/2/BININT, text LONGs, `I01` bools, BINFLOAT.

use crate::value::Value;

/// Writes `SocketHandler`'s frame for a record dict: 4-byte big-endian length, then the pickle.
pub fn frame(dict: &[(&str, Value)], extra: &[(String, Value)]) -> Vec<u8> {
    let mut w = Writer {
        out: vec![0, 0, 0, 0],
        memo: 0,
    };
    w.out.push(b'}');
    w.put();
    let pairs = dict
        .iter()
        .map(|(k, v)| (*k, v))
        .chain(extra.iter().map(|(k, v)| (k.as_str(), v)));
    w.setitems(pairs);
    w.out.push(b'.');
    let len = (w.out.len() - 4) as u32;
    w.out[..4].copy_from_slice(&len.to_be_bytes());
    w.out
}

struct Writer {
    out: Vec<u8>,
    memo: u32,
}

/// CPython batches SETITEMS/APPENDS in groups of this many.
const BATCHSIZE: usize = 1000;

impl Writer {
    /// Memoizes the object just written, as the pickler does for every str and container.
    fn put(&mut self) {
        if self.memo < 256 {
            self.out.push(b'q');
            self.out.push(self.memo as u8);
        } else {
            self.out.push(b'r');
            self.out.extend_from_slice(&self.memo.to_le_bytes());
        }
        self.memo += 1;
    }

    fn setitems<'a>(&mut self, pairs: impl Iterator<Item = (&'a str, &'a Value)>) {
        let pairs: Vec<_> = pairs.collect();
        for chunk in pairs.chunks(BATCHSIZE) {
            if chunk.len() > 1 {
                self.out.push(b'(');
            }
            for (k, v) in chunk {
                self.str(k);
                self.value(v);
            }
            self.out.push(if chunk.len() > 1 { b'u' } else { b's' });
        }
    }

    fn str(&mut self, s: &str) {
        self.out.push(b'X');
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
        self.put();
    }

    /// Values nest only as deep as the decoder allowed (≤ MAX_DEPTH), so recursion is bounded.
    fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.out.push(b'N'),
            Value::Bool(b) => self
                .out
                .extend_from_slice(if *b { b"I01\n" } else { b"I00\n" }),
            Value::Int(i) => self.int(*i),
            Value::BigInt(d) => {
                self.out.push(b'L');
                self.out.extend_from_slice(d.as_bytes());
                self.out.extend_from_slice(b"L\n");
            }
            Value::Float(f) => {
                self.out.push(b'G');
                self.out.extend_from_slice(&f.to_be_bytes());
            }
            Value::Str(s) => self.str(s),
            Value::List(items) => {
                self.out.push(b']');
                self.put();
                for chunk in items.chunks(BATCHSIZE) {
                    if chunk.len() > 1 {
                        self.out.push(b'(');
                    }
                    for item in chunk {
                        self.value(item);
                    }
                    self.out.push(if chunk.len() > 1 { b'e' } else { b'a' });
                }
            }
            Value::Map(pairs) => {
                self.out.push(b'}');
                self.put();
                self.setitems(pairs.iter().map(|(k, v)| (k.as_str(), v)));
            }
        }
    }

    fn int(&mut self, i: i64) {
        match i {
            0..=0xff => {
                self.out.push(b'K');
                self.out.push(i as u8);
            }
            0x100..=0xffff => {
                self.out.push(b'M');
                self.out.extend_from_slice(&(i as u16).to_le_bytes());
            }
            _ if i32::try_from(i).is_ok() => {
                self.out.push(b'J');
                self.out.extend_from_slice(&(i as i32).to_le_bytes());
            }
            _ => {
                self.out.push(b'L');
                self.out.extend_from_slice(i.to_string().as_bytes());
                self.out.extend_from_slice(b"L\n");
            }
        }
    }
}
