//! The insert path and retention deletes: one transaction per flush, one prepared insert
//! whose text parameters point into the records (no per-record allocation or copy).

use crate::record::{Record, now_epoch};
use crate::store::db::raw::{Binder, Db, Stmt, StmtId};
use crate::store::db::schema::{self, COLUMNS, NCOLUMNS};
use crate::store::error::StoreError;
use rusqlite::{Connection, Params, params};
use std::ffi::c_int;
use std::path::{Path, PathBuf};

/// The connection the persister owns, with what it needs to write.
pub(crate) struct Writer {
    /// The connection and the inserts prepared on it.
    db: Db,
    ins: StmtId,
    /// Inserts `multi` rows per run (fewer statement runs, cursors kept open across rows).
    ins_multi: Option<StmtId>,
    multi: usize,
    path: PathBuf,
    /// The id the next record gets. Ids are never reused, even when retention empties the
    /// table, because the high-water mark is kept in `meta`.
    next_id: i64,
    /// Reused buffers for the `extra` JSON of each row of one statement run.
    json: Vec<String>,
    /// Where the current age-retention round has got to, and where it ends.
    age_from: i64,
    age_end: i64,
}

/// Rows deleted per retention transaction: small enough that ingestion waits at most tens of ms.
pub(crate) const RETENTION_CHUNK: usize = 5000;
/// Ids one age-retention step looks at.
const RETENTION_WINDOW: i64 = 100_000;
/// Ids one age-retention round sweeps, from the oldest arrival up. Expired records sit at
/// the low end, since ids follow arrival; sweeping past windows with nothing to delete means
/// a record from a sender whose clock runs ahead cannot hold back the records after it.
const RETENTION_SWEEP: i64 = 1_000_000;

/// Bytes of capacity a reused `extra` JSON buffer keeps between flushes.
const MAX_KEPT_JSON: usize = 64 << 10;

/// Parameters per row: the id, then [`COLUMNS`].
const PARAMS: usize = NCOLUMNS + 1;

impl Writer {
    /// Takes over `conn` and prepares the inserts.
    pub fn new(conn: Connection, path: &Path, multi: usize) -> Result<Writer, StoreError> {
        let rows = |k: usize| {
            let tuples: Vec<String> = (0..k)
                .map(|r| {
                    let p: Vec<String> = (1..=PARAMS)
                        .map(|i| format!("?{}", r * PARAMS + i))
                        .collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            format!(
                "INSERT INTO records (id, {COLUMNS}) VALUES {}",
                tuples.join(", ")
            )
        };
        let err = |op: &'static str| move |e| StoreError::sqlite(path, op, e);
        let next_id = schema::next_id(&conn).map_err(err("read the next record id"))?;
        let mut db = Db::new(conn);
        let ins = db.prepare(&rows(1)).map_err(err("prepare insert"))?;
        let ins_multi = match multi > 1 {
            true => Some(db.prepare(&rows(multi)).map_err(err("prepare insert"))?),
            false => None,
        };
        Ok(Writer {
            db,
            ins,
            ins_multi,
            multi,
            path: path.to_path_buf(),
            next_id,
            json: vec![String::new(); multi.max(1)],
            age_from: 0,
            age_end: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for reads done on the writer thread.
    pub fn conn(&self) -> &Connection {
        self.db.conn()
    }

    /// Inserts every record, and writes `state` to `source_state`, in one transaction, and
    /// fills in the row ids. On error nothing is committed and the ids are meaningless.
    pub fn write(
        &mut self,
        batch: &mut [(i64, Record)],
        state: &[(String, String)],
    ) -> Result<(), StoreError> {
        let n = batch.len();
        let first = self.next_id;
        for (k, (id, r)) in batch.iter_mut().enumerate() {
            *id = first + k as i64;
            // SQLite stores NaN as NULL; a record must never fail its row for a bad clock.
            // Fixed here, so the index summarises the time that is stored.
            if !r.created.is_finite() {
                r.created = now_epoch();
            }
        }
        self.db
            .conn()
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| StoreError::sqlite(&self.path, "begin write transaction", e))?;
        let mut result = Ok(());
        let multi = self.multi.max(1);
        for chunk in batch.chunks(multi) {
            let r = match (self.ins_multi, chunk.len() == multi) {
                (Some(m), true) => insert_rows(self.db.stmt(m), chunk, &mut self.json),
                _ => chunk.iter().try_for_each(|row| {
                    let st = self.db.stmt(self.ins);
                    insert_rows(st, std::slice::from_ref(row), &mut self.json)
                }),
            };
            if let Err(e) = r {
                result = Err(StoreError::sqlite(
                    &self.path,
                    format!("insert {} records (batch of {n})", chunk.len()),
                    e,
                ));
                break;
            }
        }
        let next = first + n as i64;
        if result.is_ok() && !state.is_empty() {
            result = self
                .db
                .conn()
                .prepare_cached(schema::PUT_STATE)
                .and_then(|mut st| {
                    state
                        .iter()
                        .try_for_each(|(k, v)| st.execute([k, v]).map(drop))
                })
                .map_err(|e| {
                    StoreError::sqlite(
                        &self.path,
                        format!("write the source state of {n} records"),
                        e,
                    )
                });
        }
        if result.is_ok() {
            result = self
                .db
                .conn()
                .prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES ('next_id', ?1)")
                .and_then(|mut st| st.execute([next]))
                .and_then(|_| self.db.conn().execute_batch("COMMIT"))
                .map_err(|e| StoreError::sqlite(&self.path, format!("commit {n} records"), e));
        }
        match &result {
            Ok(()) => self.next_id = next,
            Err(_) => {
                if !self.db.conn().is_autocommit() {
                    let _ = self.db.conn().execute_batch("ROLLBACK");
                }
                // Someone else may have written rows: start after whatever is there now.
                if let Ok(id) = schema::next_id(self.db.conn()) {
                    self.next_id = id.max(self.next_id);
                }
            }
        }
        // A run of records with huge `extra` must not leave each buffer holding that much.
        for b in &mut self.json {
            if b.capacity() > MAX_KEPT_JSON {
                *b = String::new();
            }
        }
        result
    }

    /// Starts an age-retention round at the oldest stored record.
    pub fn start_age_round(&mut self) -> Result<(), StoreError> {
        self.age_from = self.first_id()?;
        self.age_end = self.age_from.saturating_add(RETENTION_SWEEP);
        Ok(())
    }

    /// One step of the round: deletes up to [`RETENTION_CHUNK`] records created before
    /// `cutoff` (epoch seconds) among the next [`RETENTION_WINDOW`] ids. Returns how many
    /// went and whether the round goes on.
    pub fn delete_older_than(&mut self, cutoff: f64) -> Result<(usize, bool), StoreError> {
        let (lo, hi) = (
            self.age_from,
            self.age_from.saturating_add(RETENTION_WINDOW),
        );
        let n = self.delete_chunk(
            "delete old records",
            "DELETE FROM records WHERE id IN
               (SELECT id FROM records WHERE id >= ?3 AND id < ?4 AND created < ?1
                ORDER BY id LIMIT ?2)",
            params![cutoff, RETENTION_CHUNK as i64, lo, hi],
        )?;
        if n >= RETENTION_CHUNK {
            return Ok((n, true));
        }
        self.age_from = hi;
        Ok((n, hi < self.age_end && hi < self.next_id))
    }

    /// Deletes up to [`RETENTION_CHUNK`] of the oldest records beyond the newest `keep`
    /// rows (counted as rows, so gaps left by age retention do not shrink the cap).
    /// Returns how many went.
    pub fn delete_beyond(&mut self, keep: u64) -> Result<usize, StoreError> {
        self.delete_chunk(
            "delete records beyond the row cap",
            "DELETE FROM records WHERE id IN
               (SELECT id FROM records
                WHERE id <= (SELECT id FROM records ORDER BY id DESC LIMIT 1 OFFSET ?1)
                ORDER BY id LIMIT ?2)",
            params![
                i64::try_from(keep).unwrap_or(i64::MAX),
                RETENTION_CHUNK as i64
            ],
        )
    }

    fn delete_chunk(&mut self, op: &str, sql: &str, p: impl Params) -> Result<usize, StoreError> {
        self.db
            .conn()
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(p))
            .map_err(|e| StoreError::sqlite(&self.path, op, e))
    }

    /// The lowest id still stored (the next id when the table is empty): every id below
    /// it is gone for good.
    pub fn first_id(&self) -> Result<i64, StoreError> {
        self.db
            .conn()
            .query_row(
                "SELECT coalesce(min(id), ?1) FROM records",
                [self.next_id],
                |r| r.get(0),
            )
            .map_err(|e| StoreError::sqlite(&self.path, "read the lowest record id", e))
    }
}

/// Inserts `rows` (with their ids already set) with one run of `st`, which takes exactly
/// that many rows. `json` holds one reusable buffer per row for its `extra` JSON.
fn insert_rows(
    mut st: Stmt<'_>,
    rows: &[(i64, Record)],
    json: &mut [String],
) -> rusqlite::Result<()> {
    // Rendered before binding, so the bound text is borrowed unchanged while the run lasts.
    for ((_, r), buf) in rows.iter().zip(json.iter_mut()) {
        buf.clear();
        if !r.extra.is_empty() {
            crate::value::write_json_map(&r.extra, buf);
        }
    }
    let json = &*json;
    st.run(|b| {
        for (k, ((id, r), buf)) in rows.iter().zip(json).enumerate() {
            bind_one(b, (k * PARAMS) as c_int, *id, r, buf)?;
        }
        Ok(())
    })
}

/// Binds one record at parameters `base + 1 ..= base + PARAMS`.
fn bind_one<'d>(
    ins: &mut Binder<'_, 'd>,
    base: c_int,
    id: i64,
    r: &'d Record,
    json: &'d str,
) -> rusqlite::Result<()> {
    ins.bind_i64(base + 1, id)?;
    let base = base + 1;
    ins.bind_f64(base + 1, r.created)?;
    ins.bind_i64(base + 2, i64::from(r.level))?;
    ins.bind_str(base + 3, &r.levelname)?;
    ins.bind_str(base + 4, &r.logger)?;
    ins.bind_str(base + 5, &r.message)?;
    ins.bind_str(base + 6, r.source.as_str())?;
    ins.bind_str(base + 7, &r.origin)?;
    ins.bind_opt_str(base + 8, r.job.as_deref())?;
    ins.bind_opt_str(base + 9, r.host.as_deref())?;
    ins.bind_opt_i64(base + 10, r.process)?;
    ins.bind_opt_str(base + 11, r.process_name.as_deref())?;
    ins.bind_opt_i64(base + 12, r.thread)?;
    ins.bind_opt_str(base + 13, r.thread_name.as_deref())?;
    ins.bind_opt_str(base + 14, r.task_name.as_deref())?;
    ins.bind_opt_str(base + 15, r.pathname.as_deref())?;
    ins.bind_opt_str(base + 16, r.filename.as_deref())?;
    ins.bind_opt_str(base + 17, r.module.as_deref())?;
    ins.bind_opt_i64(base + 18, r.lineno)?;
    ins.bind_opt_str(base + 19, r.func.as_deref())?;
    ins.bind_opt_str(base + 20, r.exc_text.as_deref())?;
    ins.bind_opt_str(base + 21, r.stack_info.as_deref())?;
    match r.extra.is_empty() {
        true => ins.bind_null(base + 22),
        false => ins.bind_str(base + 22, json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SourceKind;
    use crate::store::db::schema::Tuning;
    use crate::value::Value;

    #[test]
    fn huge_extra_json_is_not_kept_between_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = schema::open_writer(&path, &Tuning::default()).unwrap();
        let mut w = Writer::new(conn, &path, 4).unwrap();
        let mut batch: Vec<(i64, Record)> = (0..4)
            .map(|_| {
                let mut r = Record::new(SourceKind::Tcp, "peer");
                r.extra = vec![("blob".into(), Value::Str("x".repeat(1 << 20)))];
                (0, r)
            })
            .collect();
        w.write(&mut batch, &[]).unwrap();
        assert!(w.json.iter().all(|b| b.capacity() <= MAX_KEPT_JSON));
        let n: i64 = w
            .conn()
            .query_row("SELECT sum(length(extra)) FROM records", [], |r| r.get(0))
            .unwrap();
        assert!(n > 4 << 20, "the extra JSON was stored whole");
    }
}
