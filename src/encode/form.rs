//! HTTPHandler's request data: `urlencode(record.__dict__)` with every value through `str()`,
//! the message as its unformatted template and `args` as the repr of the args tuple.

/// Encodes `pairs` as `application/x-www-form-urlencoded`, as `urllib.parse.urlencode` does.
pub fn urlencode(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        quote_plus(k, &mut out);
        out.push('=');
        quote_plus(v, &mut out);
    }
    out
}

/// `urllib.parse.quote_plus`: UTF-8, unreserved characters kept, space as `+`.
fn quote_plus(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}
