//! `requests.jsonl` (and `server_metrics.jsonl`): one `RequestRecord` (or server-metrics scrape)
//! per line, appended as requests finish. Each line is written
//! whole and the buffer is flushed at least once a second, so a killed process leaves the file valid
//! up to its last complete line and loses at most about a second of records. A write failure is
//! remembered and reported at the end; it never stops the measurement.

use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

const FLUSH_EVERY: Duration = Duration::from_secs(1);

pub struct JsonlWriter {
    out: BufWriter<File>,
    error: Option<std::io::Error>,
    flushed: Instant,
}

impl JsonlWriter {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(JsonlWriter {
            out: BufWriter::with_capacity(256 * 1024, File::create(path)?),
            error: None,
            flushed: Instant::now(),
        })
    }

    pub fn write<T: Serialize>(&mut self, rec: &T) {
        if self.error.is_some() {
            return;
        }
        let res = serde_json::to_writer(&mut self.out, rec)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(e) = res {
            self.error = Some(e);
        } else if self.flushed.elapsed() >= FLUSH_EVERY {
            let _ = self.flush();
        }
    }

    /// Flushes buffered lines; returns the first error met, if any.
    pub fn flush(&mut self) -> Result<(), String> {
        self.flushed = Instant::now();
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
        match &self.error {
            Some(e) => Err(e.to_string()),
            None => Ok(()),
        }
    }
}
