//! A job's recent history, read back from its stream when a person opens the job (as Smarter's
//! own console does: the newest [`MAX_ENTRIES`] entries), storing what the store does not hold.
//!
//! The same record, here: a stored record of the job, or of `logs:global`, with the same
//! `created` (to the bit), logger and message. A record that came by pub/sub is stored with
//! exactly the fields its payload decodes to, so its stream copy finds it; matching is one to
//! one, so a record logged twice stays twice. Bounded: at most [`MAX_ENTRIES`] entries and
//! [`MAX_BYTES`] of payloads are read, in pages of [`PAGE`].

use crate::decode::redis::{CHANNEL_PREFIX, GLOBAL_CHANNEL, decode_message};
use crate::intake::Intake;
use crate::limits::DecodeLimits;
use crate::record::{Record, SourceKind};
use crate::source::redis_backfill::{EntryId, stream_of_channel};
use crate::store::query::{self, Filter};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

/// How far back a job's history goes: what Smarter's console reads.
pub const MAX_ENTRIES: usize = 2000;
/// Payload bytes read at most, whatever the entries' sizes.
pub const MAX_BYTES: usize = 64 << 20;
/// Entries per `XREVRANGE`, as Smarter's console pages them.
pub const PAGE: usize = 500;

/// What identifies a record for this comparison.
fn key(r: &Record) -> (u64, String, String) {
    (r.created.to_bits(), r.logger.clone(), r.message.clone())
}

/// The records of `history` the store does not hold (`stored`), one to one, oldest first.
pub fn missing(history: Vec<Record>, stored: impl IntoIterator<Item = Record>) -> Vec<Record> {
    let mut have: HashMap<(u64, String, String), usize> = HashMap::new();
    for r in stored {
        *have.entry(key(&r)).or_default() += 1;
    }
    history
        .into_iter()
        .filter(|r| match have.get_mut(&key(r)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

/// The newest entries of `stream`, oldest first: `(id, data)` of each entry with a `data` field.
pub async fn read_history<C: redis::aio::ConnectionLike + Send>(
    con: &mut C,
    stream: &str,
) -> redis::RedisResult<Vec<(EntryId, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut end = "+".to_owned();
    while out.len() < MAX_ENTRIES && bytes < MAX_BYTES {
        let count = PAGE.min(MAX_ENTRIES - out.len());
        type RawEntry = (String, Vec<(String, Vec<u8>)>);
        let page: Vec<RawEntry> = redis::cmd("XREVRANGE")
            .arg(stream)
            .arg(&end)
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .query_async(con)
            .await?;
        let n = page.len();
        for (id, fields) in page {
            let Some(id) = EntryId::parse(&id) else {
                continue;
            };
            end = format!("({id}");
            if let Some((_, data)) = fields.into_iter().find(|(f, _)| f == "data") {
                bytes += data.len();
                out.push((id, data));
            }
        }
        if n < count {
            break;
        }
    }
    out.reverse();
    Ok(out)
}

/// Reads `job`'s stream on `con` and stores, through `intake`, the entries the store at `db`
/// does not hold. Returns how many were stored.
pub async fn backfill_job<C: redis::aio::ConnectionLike + Send>(
    con: &mut C,
    job: &str,
    db: &Path,
    intake: &Intake,
    limits: &DecodeLimits,
) -> Result<usize, String> {
    let channel = format!("{CHANNEL_PREFIX}{job}");
    let entries = read_history(con, &stream_of_channel(&channel))
        .await
        .map_err(|e| e.to_string())?;
    let history: Vec<Record> = entries
        .iter()
        .map(|(_, data)| decode_message(&channel, data, data.len(), limits).record)
        .collect();
    let (Some(lo), Some(hi)) = (
        history.iter().map(|r| r.created).reduce(f64::min),
        history.iter().map(|r| r.created).reduce(f64::max),
    ) else {
        return Ok(0);
    };
    let new = not_stored(db.to_path_buf(), Some(job.to_owned()), history, lo, hi).await?;
    let n = new.len();
    store_recovered(intake, new, None).await;
    Ok(n)
}

/// The records of `history` the store at `db` does not hold, compared with what it has created
/// in `lo..=hi` (of `job` only, when given), read on a blocking thread.
pub async fn not_stored(
    db: std::path::PathBuf,
    job: Option<String>,
    history: Vec<Record>,
    lo: f64,
    hi: f64,
) -> Result<Vec<Record>, String> {
    let stored = tokio::task::spawn_blocking(move || stored_between(&db, job.as_deref(), lo, hi))
        .await
        .map_err(|e| e.to_string())??;
    Ok(missing(history, stored))
}

/// Stores records recovered from streams (counted as received and recovered), then `note`,
/// the record saying how the recovery went, if any.
pub async fn store_recovered(intake: &Intake, records: Vec<Record>, note: Option<Record>) {
    let stats = &intake.stats;
    stats
        .redis
        .recovered
        .fetch_add(records.len() as u64, Relaxed);
    stats.add_received(SourceKind::Redis, records.len() as u64);
    for chunk in records.chunks(crate::intake::MAX_BATCH_RECORDS) {
        intake.submit(chunk.to_vec()).await;
    }
    if let Some(note) = note {
        stats.add_received(SourceKind::Internal, 1);
        intake.submit(vec![note]).await;
    }
}

/// The Redis records created in `lo..=hi`: of `job` and the job-less ones of `logs:global`,
/// or all of them when no job is given.
fn stored_between(db: &Path, job: Option<&str>, lo: f64, hi: f64) -> Result<Vec<Record>, String> {
    let conn = crate::store::open_read_only(db).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let span = Filter {
        sources: vec![SourceKind::Redis],
        since: Some(lo),
        // `until` is exclusive; the newest entry's own time must be in.
        until: Some(hi + 1e-6),
        ..Filter::default()
    };
    let Some(job) = job else {
        query::for_each(&conn, &span, |_, r| out.push(r)).map_err(|e| e.to_string())?;
        return Ok(out);
    };
    let of_job = Filter {
        jobs: vec![job.to_owned()],
        ..span.clone()
    };
    query::for_each(&conn, &of_job, |_, r| out.push(r)).map_err(|e| e.to_string())?;
    let global = Filter {
        origins: vec![GLOBAL_CHANNEL.to_owned()],
        ..span
    };
    query::for_each(&conn, &global, |_, r| {
        if r.job.is_none() {
            out.push(r);
        }
    })
    .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: f64, msg: &str) -> Record {
        let mut r = Record::new(SourceKind::Redis, "logs:job_1");
        r.created = t;
        r.logger = "app".into();
        r.message = msg.into();
        r
    }

    #[test]
    fn only_what_the_store_lacks_and_one_to_one() {
        let history = vec![rec(1.0, "a"), rec(2.0, "b"), rec(2.0, "b"), rec(3.0, "c")];
        let stored = vec![rec(1.0, "a"), rec(2.0, "b"), rec(3.0, "other")];
        let got: Vec<(f64, String)> = missing(history, stored)
            .into_iter()
            .map(|r| (r.created, r.message))
            .collect();
        assert_eq!(got, [(2.0, "b".to_string()), (3.0, "c".to_string())]);
    }
}
