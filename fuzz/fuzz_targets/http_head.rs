//! Fuzzes the HTTP request-head parser against the hand-written one it replaced.
//! The first byte picks the head-size cap, so the size refusals are explored as well as the syntax.
#![no_main]

#[path = "../oracle/http_head.rs"]
mod oracle;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, buf)) = data.split_first() else {
        return;
    };
    let max_head = match pick % 4 {
        0 => 16,
        1 => 200,
        _ => logtui::decode::httpreq::DEFAULT_MAX_HEAD,
    };
    oracle::check(buf, max_head);
});
