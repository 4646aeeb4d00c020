//! Records per level over time for a filter, from the block index alone: each block's level
//! counts spread over its time span, so a histogram of millions of records reads no record.
//!
//! The index narrows blocks by every condition it knows (level, source, logger, origin, job,
//! time, words), but counts every record of a block it keeps; for a filter narrower than the
//! index can see, the histogram is an upper bound, and says so (`exact`).

use super::filter::{Filter, block_clause};
use crate::store::error::{self, StoreError, on};
use crate::store::index::format::{self as index, level_band};
use rusqlite::{Connection, params_from_iter};

/// Counts per level band (below INFO, INFO, WARNING, ERROR, CRITICAL) in equal time buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// The time span covered, epoch seconds.
    pub start: f64,
    pub end: f64,
    pub buckets: Vec<[u64; 5]>,
    /// False when the filter has conditions the index cannot apply per record (text, regex,
    /// GLOBs inside a block): the counts then include the other records of matching blocks.
    pub exact: bool,
}

/// The most buckets a histogram has: wider than any terminal.
pub const MAX_BUCKETS: usize = 1024;

/// The histogram of `f` over the store in `buckets` buckets; None when the store has no
/// usable index or nothing matches.
pub fn histogram(
    conn: &Connection,
    f: &Filter,
    buckets: usize,
) -> Result<Option<Histogram>, StoreError> {
    let store = error::conn_path(conn);
    if !index::attach(conn, &store)? {
        return Ok(None);
    }
    let n = buckets.clamp(1, MAX_BUCKETS);
    let w = block_clause(f);
    let sql = format!(
        "SELECT min_created, max_created, lv_debug, lv_info, lv_warning, lv_error, lv_critical
         FROM idx.blocks{}",
        w.sql
    );
    let mut blocks: Vec<(f64, f64, [u64; 5])> = Vec::new();
    let read = conn.prepare(&sql).and_then(|mut st| {
        let mut rows = st.query(params_from_iter(w.params))?;
        while let Some(r) = rows.next()? {
            let mut lv = [0u64; 5];
            for (i, c) in lv.iter_mut().enumerate() {
                *c = u64::try_from(r.get::<_, i64>(2 + i)?).unwrap_or(0);
            }
            blocks.push((r.get(0)?, r.get(1)?, lv));
        }
        Ok(())
    });
    if let Err(e) = read {
        // An index from an older build (no level counts) or a foreign file: no histogram.
        tracing::debug!(error = %on(conn, "read block levels")(e), "no histogram");
        return Ok(None);
    }
    // Blocks with no usable time (a NaN `created` makes a block span everything) are left out.
    blocks.retain(|(a, b, _)| a.is_finite() && b.is_finite() && a <= b);
    let start = blocks.iter().map(|b| b.0).fold(f64::INFINITY, f64::min);
    let end = blocks.iter().map(|b| b.1).fold(f64::NEG_INFINITY, f64::max);
    if blocks.is_empty() {
        return Ok(None);
    }
    let floor = f.min_level.map_or(0, level_band);
    let mut out = vec![[0u64; 5]; n];
    let span = (end - start).max(f64::MIN_POSITIVE);
    let slot = |t: f64| (((t - start) / span * n as f64) as usize).min(n - 1);
    for (a, b, lv) in blocks {
        let (first, last) = (slot(a), slot(b));
        let width = (last - first + 1) as u64;
        for (band, &count) in lv.iter().enumerate().skip(floor) {
            // Spread evenly over the buckets the block spans; the remainder goes to the first.
            let (each, rest) = (count / width, count % width);
            for (k, bucket) in out[first..=last].iter_mut().enumerate() {
                bucket[band] += each + u64::from(k == 0) * rest;
            }
        }
    }
    let exact = f.search.is_none()
        && f.regex.is_none()
        && f.exclude.is_empty()
        && f.logger.is_none()
        && f.logger_trees.is_empty()
        && f.origins.is_empty()
        && f.jobs.is_empty()
        && f.job_globs.is_empty()
        && f.since.is_none()
        && f.until.is_none()
        && f.after_id.is_none()
        && f.before_id.is_none()
        && f.sources.is_empty();
    Ok(Some(Histogram {
        start,
        end,
        buckets: out,
        exact,
    }))
}
