//! A JSON-lines target: each record as the line `logtui query --format jsonl` prints, appended to
//! a file (created if missing) or written to stdout for `-`.

use super::{SinkError, Target};
use crate::record::Record;
use crate::term::escape_json_line;
use std::io::Write;

pub struct JsonlTarget {
    path: String,
    out: Option<Box<dyn Write + Send>>,
}

impl JsonlTarget {
    pub fn new(path: &str) -> JsonlTarget {
        JsonlTarget {
            path: path.trim().to_owned(),
            out: None,
        }
    }
}

impl Target for JsonlTarget {
    fn describe(&self) -> String {
        format!("jsonl {}", self.path)
    }

    fn is_connected(&self) -> bool {
        self.out.is_some()
    }

    fn connect(&mut self) -> Result<(), SinkError> {
        if self.path == "-" {
            self.out = Some(Box::new(std::io::stdout()));
            return Ok(());
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| SinkError::Connect {
                target: self.path.clone(),
                why: e.to_string(),
            })?;
        self.out = Some(Box::new(std::io::BufWriter::new(f)));
        Ok(())
    }

    fn send(&mut self, batch: &[(i64, Record)]) -> Result<(), SinkError> {
        let fail = |e: std::io::Error| SinkError::Send {
            target: self.path.clone(),
            why: e.to_string(),
        };
        let Some(out) = self.out.as_mut() else {
            return Err(fail(std::io::Error::other("not open")));
        };
        // One write per batch: stdout is locked per write, so `--echo`'s lines never land
        // inside these.
        let mut text = String::new();
        for (id, r) in batch {
            // Escaped as --echo escapes: no raw terminal controls reach a terminal or a file.
            text.push_str(&escape_json_line(&r.to_json_line(*id)));
            text.push('\n');
        }
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(fail)
    }

    fn disconnect(&mut self) {
        self.out = None;
    }
}
