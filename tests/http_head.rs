//! The httparse-based request-head parser, held to the hand-written one it replaced, on stable:
//! the fuzz seeds replayed, then a fixed-seed randomized loop over heads built from real parts.

#[path = "../fuzz/oracle/http_head.rs"]
mod oracle;

use logtui::decode::DecodeError;
use logtui::decode::httpreq::{self, DEFAULT_MAX_HEAD, MAX_HEADERS};

/// The fuzz target's cap choice, so a seed means the same thing here and under `cargo fuzz`.
fn max_head_for(pick: u8) -> usize {
    match pick % 4 {
        0 => 16,
        1 => 200,
        _ => DEFAULT_MAX_HEAD,
    }
}

#[test]
fn fuzz_seeds_agree_with_the_old_parser() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/http_head");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("the fuzz seed corpus is in the repository") {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seed-")
        {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let Some((&pick, buf)) = data.split_first() else {
            continue;
        };
        oracle::check(buf, max_head_for(pick));
        // Every prefix of a seed is a head still arriving: the two must agree there too.
        for cut in 0..buf.len() {
            oracle::check(&buf[..cut], max_head_for(pick));
        }
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} seeds in {}", dir.display());
}

/// xorshift64*: a fixed seed makes every run try the same inputs, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Mostly one of the first `good` items (real parts), otherwise any of them.
    fn pick<'a>(&mut self, items: &[&'a [u8]], good: usize) -> &'a [u8] {
        if self.below(8) == 0 {
            items[self.below(items.len())]
        } else {
            items[self.below(good)]
        }
    }
}

const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"PUT",
    b"G(T",
    b"",
    b"M\xc3\xa9",
    b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
];
const TARGETS: &[&[u8]] = &[
    b"/log",
    b"/log?name=a&msg=b",
    b"/l\xf6g",
    b"/\xc3\xa9",
    b"",
    b"/a\x7fb",
    b"/a\tb",
    b"http://h/x?y#z",
];
const SPACES: &[&[u8]] = &[b" ", b"  ", b"\t", b""];
const VERSIONS: &[&[u8]] = &[
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/2.0",
    b"HTTP/1.1 ",
    b"http/1.1",
    b"HTTP/1",
];
const ENDS: &[&[u8]] = &[b"\r\n", b"\n", b"\r", b"\r\r\n", b"\n\r"];
const NAMES: &[&[u8]] = &[
    b"Host",
    b"Content-Length",
    b"content-length",
    b"CONTENT-LENGTH",
    b"Transfer-Encoding",
    b"Connection",
    b"Expect",
    b"Content-Type",
    b"Authorization",
    b"X-Any",
    b"Bad name",
    b"",
    b" Folded",
    b"\tTab",
    b"N\xc3\xa9",
    b"Name ",
];
const VALUES: &[&[u8]] = &[
    b"x",
    b" 5",
    b"5, 5",
    b"5,6",
    b"-1",
    b"99999999999999999999",
    b"0",
    b"chunked",
    b"gzip, chunked",
    b" Chunked ",
    b"close",
    b"keep-alive, Close",
    b"keep-alive",
    b"100-continue",
    b"application/json; charset=utf-8",
    b"Basic dXNlcjpww6Q6c3M=",
    b"a\x00b",
    b"a\x7fb",
    b"caf\xe9",
    b"\xc3\xa9",
    b"\t v \t",
    b"",
    b"a\rb",
];
const LEADS: &[&[u8]] = &[b"", b"\r\n", b"\n\n", b"\r\r\n", b"\r"];

/// A head assembled from real and broken parts, sometimes with a few bytes flipped.
fn random_head(rng: &mut Rng) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(rng.pick(LEADS, 2));
    h.extend_from_slice(rng.pick(METHODS, 3));
    h.extend_from_slice(rng.pick(SPACES, 1));
    h.extend_from_slice(rng.pick(TARGETS, 4));
    h.extend_from_slice(rng.pick(SPACES, 1));
    h.extend_from_slice(rng.pick(VERSIONS, 2));
    h.extend_from_slice(rng.pick(ENDS, 2));
    // Now and then more fields than the fixed array holds.
    let fields = if rng.below(20) == 0 {
        MAX_HEADERS + rng.below(4) - 1
    } else {
        rng.below(6)
    };
    for _ in 0..fields {
        h.extend_from_slice(rng.pick(NAMES, 10));
        h.extend_from_slice(if rng.below(12) == 0 { b" :" } else { b":" });
        h.extend_from_slice(rng.pick(VALUES, 16));
        h.extend_from_slice(rng.pick(ENDS, 2));
    }
    h.extend_from_slice(rng.pick(ENDS, 2));
    if rng.below(4) == 0 {
        h.extend_from_slice(b"BODY");
    }
    if rng.below(4) == 0 && !h.is_empty() {
        let at = rng.below(h.len());
        h[at] = rng.next() as u8;
    }
    h
}

#[test]
fn random_heads_agree_with_the_old_parser() {
    let mut rng = Rng(0x1065_7475_6920_6874);
    let mut outcomes = [0usize; 4];
    for i in 0..20_000 {
        let head = random_head(&mut rng);
        let max_head = max_head_for(rng.next() as u8);
        oracle::check(&head, max_head);
        if i % 50 == 0 {
            for cut in 0..head.len() {
                oracle::check(&head[..cut], max_head);
            }
        }
        outcomes[match httpreq::parse_head(&head, max_head) {
            Ok(Some(_)) => 0,
            Ok(None) => 1,
            Err(DecodeError::Malformed { .. }) => 2,
            Err(_) => 3,
        }] += 1;
    }
    // The generator must reach every kind of answer, or the loop proves little.
    assert!(
        outcomes.iter().all(|&n| n > 500),
        "accepted, incomplete, malformed, too large: {outcomes:?}"
    );
}

#[test]
fn more_fields_than_the_array_holds_is_a_head_too_large() {
    let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..MAX_HEADERS {
        raw.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    let mut full = raw.clone();
    full.extend_from_slice(b"\r\n");
    assert!(
        httpreq::parse_head(&full, DEFAULT_MAX_HEAD)
            .unwrap()
            .is_some()
    );
    raw.extend_from_slice(b"X-one-more: v\r\n\r\n");
    assert!(matches!(
        httpreq::parse_head(&raw, DEFAULT_MAX_HEAD),
        Err(DecodeError::TooLarge(_))
    ));
}
