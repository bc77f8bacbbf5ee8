//! Writes TensorBoard event files: what a trainer (like `mlconsole sample-train`) uses to
//! record its scalars where TensorBoard and the Scalars tab can read them.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use prost::Message;

use super::proto::{Event, Summary, SummaryValue};
use super::record::frame;

/// An open event file.
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Creates `events.out.tfevents.<time>.<host>.mlconsole` in `dir` (made if missing)
    /// and writes the file-version record TensorBoard expects first.
    pub fn create(dir: &Path) -> io::Result<EventWriter> {
        std::fs::create_dir_all(dir)?;
        let now = wall_time();
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "localhost".into());
        let name = format!(
            "events.out.tfevents.{}.{}.mlconsole",
            now as u64,
            host.trim()
        );
        let path = dir.join(name);
        let mut writer = EventWriter {
            out: BufWriter::new(File::create(&path)?),
            path,
        };
        writer.write(&Event {
            wall_time: now,
            step: 0,
            file_version: Some("brain.Event:2".into()),
            summary: None,
        })?;
        Ok(writer)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `value` for `tag` at `step`, stamped with the current time.
    pub fn add_scalar(&mut self, tag: &str, step: i64, value: f32) -> io::Result<()> {
        self.write(&Event {
            wall_time: wall_time(),
            step,
            file_version: None,
            summary: Some(Summary {
                value: vec![SummaryValue {
                    tag: bytes::Bytes::copy_from_slice(tag.as_bytes()),
                    simple_value: Some(value),
                    ..Default::default()
                }],
            }),
        })
    }

    fn write(&mut self, event: &Event) -> io::Result<()> {
        self.out.write_all(&frame(&event.encode_to_vec()))
    }

    /// Makes everything written so far visible to readers.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn wall_time() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensorboard::LogDir;

    #[test]
    fn written_scalars_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::create(&dir.path().join("train")).unwrap();
        for step in 0..5 {
            writer
                .add_scalar("loss", step, 1.0 / (step + 1) as f32)
                .unwrap();
        }
        writer.flush().unwrap();
        let mut logdir = LogDir::new(dir.path());
        assert_eq!(logdir.refresh().unwrap(), 5);
        let points = &logdir.runs()["train"].tags["loss"];
        assert_eq!(
            points.iter().map(|p| p.step).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(points[3].value, f64::from(0.25f32));
    }
}
