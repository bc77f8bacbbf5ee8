//! The engine's state: jobs and resource samples in SQLite (WAL), with every job also
//! held in memory so that listing and filtering never wait on the disk.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use crate::domain::{Filter, Job, JobState, ResourceSample};

/// A failure of the engine's state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error("the engine's database failed: {0}; check that the data directory is writable")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored job could not be read back.
    #[error("a stored job could not be read ({0}); the database may be from a newer mlconsole")]
    Corrupt(#[from] serde_json::Error),
    /// A job with this id exists already.
    #[error("a job named {0:?} already exists; choose another jobId")]
    Duplicate(String),
    /// No job has this id.
    #[error("there is no job named {0:?}")]
    NotFound(String),
}

/// What the engine knows about a job's processes besides the job itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The supervising wrapper process, once started.
    pub wrapper_pid: Option<i32>,
    /// The job's own process (leader of its process group), once started.
    pub child_pid: Option<i32>,
    /// A cancel was asked for.
    pub cancel_requested: bool,
}

/// A job as stored: the wire object plus its processes.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// Insertion order; newest has the largest.
    pub seq: i64,
    /// The job as the API shows it.
    pub job: Job,
    /// The process running the job, while it runs.
    pub process: ProcessInfo,
}

#[derive(Default)]
struct JobTable {
    /// Ordered by `seq`, ascending.
    records: Vec<Arc<JobRecord>>,
    by_id: HashMap<String, usize>,
}

/// Jobs and samples, persistent in SQLite and mirrored in memory.
pub struct Store {
    conn: Mutex<Connection>,
    table: RwLock<JobTable>,
    skipped: Vec<String>,
}

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    CREATE TABLE IF NOT EXISTS jobs (
        seq INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL,
        wrapper_pid INTEGER,
        child_pid INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS samples (
        job_id TEXT NOT NULL,
        time_us INTEGER NOT NULL,
        cpu_percent REAL NOT NULL,
        memory_bytes INTEGER NOT NULL,
        gpu_percent REAL,
        gpu_memory_bytes INTEGER
    );
    CREATE INDEX IF NOT EXISTS samples_by_job ON samples (job_id, time_us);
";

impl Store {
    /// Opens (or creates) the store at `path` and loads every job into memory.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(devices::SCHEMA)?;
        add_gpu_columns(&conn)?;
        let mut table = JobTable::default();
        let mut skipped = Vec::new();
        {
            let mut stmt = conn.prepare(
                "SELECT seq, body, wrapper_pid, child_pid, cancel_requested FROM jobs ORDER BY seq",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<i32>>(2)?,
                    row.get::<_, Option<i32>>(3)?,
                    row.get::<_, bool>(4)?,
                ))
            })?;
            for (n, row) in rows.enumerate() {
                // One unreadable row never keeps the engine from starting: it is left in
                // the database as it is, skipped and reported.
                let read = row.map_err(StoreError::from).and_then(|row| {
                    let job: Job = serde_json::from_str(&row.1)?;
                    Ok((row, job))
                });
                let ((seq, _, wrapper_pid, child_pid, cancel_requested), job) = match read {
                    Ok(read) => read,
                    Err(e) => {
                        let note = format!("job row {}: {e}", n + 1);
                        tracing::error!("skipped an unreadable {note}");
                        skipped.push(note);
                        continue;
                    }
                };
                table.push(Arc::new(JobRecord {
                    seq,
                    job,
                    process: ProcessInfo {
                        wrapper_pid,
                        child_pid,
                        cancel_requested,
                    },
                }));
            }
        }
        Ok(Store {
            conn: Mutex::new(conn),
            table: RwLock::new(table),
            skipped,
        })
    }

    /// Rows that could not be read at open, and why (left in the database untouched).
    pub fn skipped_rows(&self) -> &[String] {
        &self.skipped
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> RwLockReadGuard<'_, JobTable> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, JobTable> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a new job; fails if its id is taken.
    pub fn insert(&self, mut job: Job) -> Result<Arc<JobRecord>, StoreError> {
        let mut table = self.write();
        job.update_time = Some(Utc::now());
        if table.by_id.contains_key(&job.job_id) {
            return Err(StoreError::Duplicate(job.job_id));
        }
        let body = serde_json::to_string(&job)?;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO jobs (job_id, body) VALUES (?1, ?2)",
            params![job.job_id, body],
        )?;
        let record = Arc::new(JobRecord {
            seq: conn.last_insert_rowid(),
            job,
            process: ProcessInfo::default(),
        });
        table.push(record.clone());
        Ok(record)
    }

    /// The job named `id`.
    pub fn get(&self, id: &str) -> Option<Arc<JobRecord>> {
        let table = self.read();
        table.by_id.get(id).map(|&i| table.records[i].clone())
    }

    /// Changes a job with `change` and saves it; returns the new record.
    pub fn update(
        &self,
        id: &str,
        change: impl FnOnce(&mut JobRecord),
    ) -> Result<Arc<JobRecord>, StoreError> {
        self.try_update(id, |record| {
            change(record);
            Ok::<(), StoreError>(())
        })
    }

    /// Changes a job with `change` unless it returns an error; saves and returns the
    /// new record. The change sees and makes the only write at the time.
    pub fn try_update<E: From<StoreError>>(
        &self,
        id: &str,
        change: impl FnOnce(&mut JobRecord) -> Result<(), E>,
    ) -> Result<Arc<JobRecord>, E> {
        let mut table = self.write();
        let index = *table
            .by_id
            .get(id)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        let mut record = JobRecord::clone(&table.records[index]);
        change(&mut record)?;
        record.job.update_time = Some(Utc::now());
        let body = serde_json::to_string(&record.job).map_err(StoreError::from)?;
        let p = &record.process;
        self.conn()
            .execute(
                "UPDATE jobs SET body = ?2, wrapper_pid = ?3, child_pid = ?4, cancel_requested = ?5
                 WHERE seq = ?1",
                params![
                    record.seq,
                    body,
                    p.wrapper_pid,
                    p.child_pid,
                    p.cancel_requested
                ],
            )
            .map_err(StoreError::from)?;
        let record = Arc::new(record);
        table.records[index] = record.clone();
        Ok(record)
    }

    /// Jobs matching `filter`, newest first, at most `page_size`, older than the job whose
    /// `seq` is `before`. Returns the page and, when it is full, the `seq` to continue from.
    pub fn list(
        &self,
        filter: &Filter,
        page_size: usize,
        before: Option<i64>,
    ) -> (Vec<Job>, Option<i64>) {
        let table = self.read();
        let end = match before {
            Some(seq) => table.records.partition_point(|r| r.seq < seq),
            None => table.records.len(),
        };
        let mut jobs = Vec::with_capacity(page_size.min(1024));
        for record in table.records[..end].iter().rev() {
            if !filter.matches(&record.job) {
                continue;
            }
            jobs.push(record.job.clone());
            if jobs.len() == page_size {
                // As Google's APIs do, a full page gives a token without scanning on to
                // prove a next page exists; that page may come back empty.
                return (jobs, Some(record.seq));
            }
        }
        (jobs, None)
    }

    /// Every job in one of `states`, oldest first.
    pub fn in_states(&self, states: &[JobState]) -> Vec<Arc<JobRecord>> {
        self.read()
            .records
            .iter()
            .filter(|r| states.contains(&r.job.state))
            .cloned()
            .collect()
    }

    /// Number of jobs stored.
    pub fn len(&self) -> usize {
        self.read().records.len()
    }

    /// True when no job is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Saves samples of several jobs in one transaction.
    pub fn add_samples(&self, samples: &[(String, ResourceSample)]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO samples (job_id, time_us, cpu_percent, memory_bytes, gpu_percent, gpu_memory_bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (job_id, s) in samples {
                let memory = i64::try_from(s.memory_bytes).unwrap_or(i64::MAX);
                let gpu_memory = s
                    .gpu_memory_bytes
                    .map(|m| i64::try_from(m).unwrap_or(i64::MAX));
                stmt.execute(params![
                    job_id,
                    s.time.timestamp_micros(),
                    s.cpu_percent,
                    memory,
                    s.gpu_percent,
                    gpu_memory
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A job's samples taken after `since` (all when `None`), oldest first.
    pub fn samples(
        &self,
        job_id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<ResourceSample>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT time_us, cpu_percent, memory_bytes, gpu_percent, gpu_memory_bytes FROM samples
             WHERE job_id = ?1 AND time_us > ?2 ORDER BY time_us",
        )?;
        let since_us = since.map_or(i64::MIN, |t| t.timestamp_micros());
        let rows = stmt.query_map(params![job_id, since_us], |row| {
            let time_us: i64 = row.get(0)?;
            let memory: i64 = row.get(2)?;
            let gpu_memory: Option<i64> = row.get(4)?;
            Ok(ResourceSample {
                time: DateTime::from_timestamp_micros(time_us).unwrap_or_default(),
                cpu_percent: row.get(1)?,
                memory_bytes: u64::try_from(memory).unwrap_or(0),
                gpu_percent: row.get(3)?,
                gpu_memory_bytes: gpu_memory.map(|m| u64::try_from(m).unwrap_or(0)),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Adds the GPU columns to a samples table an older engine made without them.
fn add_gpu_columns(conn: &Connection) -> Result<(), StoreError> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('samples')")?;
    let columns: Vec<String> = stmt
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for (column, kind) in [("gpu_percent", "REAL"), ("gpu_memory_bytes", "INTEGER")] {
        if !columns.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE samples ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

impl JobTable {
    fn push(&mut self, record: Arc<JobRecord>) {
        self.by_id
            .insert(record.job.job_id.clone(), self.records.len());
        self.records.push(record);
    }
}

mod devices;

pub use devices::{DeviceSample, device_name};

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, state: JobState) -> Job {
        Job {
            job_id: id.into(),
            state,
            ..Default::default()
        }
    }

    #[test]
    fn jobs_survive_reopen_and_list_newest_first_in_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let store = Store::open(&path).unwrap();
            for i in 0..5 {
                store
                    .insert(job(&format!("j{i}"), JobState::Queued))
                    .unwrap();
            }
            assert!(matches!(
                store.insert(job("j1", JobState::Queued)),
                Err(StoreError::Duplicate(_))
            ));
            store
                .update("j3", |r| {
                    r.job.state = JobState::Failed;
                    r.process.child_pid = Some(42);
                })
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.len(), 5);
        let j3 = store.get("j3").unwrap();
        assert_eq!(j3.job.state, JobState::Failed);
        assert_eq!(j3.process.child_pid, Some(42));

        let all = Filter::parse::<Job>("").unwrap();
        let (page, next) = store.list(&all, 2, None);
        let ids: Vec<_> = page.iter().map(|j| j.job_id.as_str()).collect();
        assert_eq!(ids, ["j4", "j3"]);
        let (page, next) = store.list(&all, 2, next);
        let ids: Vec<_> = page.iter().map(|j| j.job_id.as_str()).collect();
        assert_eq!(ids, ["j2", "j1"]);
        let (page, next) = store.list(&all, 2, next);
        assert_eq!(page.len(), 1);
        assert_eq!(next, None);

        let j3_updated = j3.job.update_time.unwrap();
        assert!(j3_updated > store.get("j4").unwrap().job.update_time.unwrap());
        let changed =
            Filter::parse::<Job>(&format!("updateTime>=\"{}\"", j3_updated.to_rfc3339())).unwrap();
        let (page, _) = store.list(&changed, 10, None);
        assert_eq!(page.len(), 1, "only the job changed since then");

        let queued = Filter::parse::<Job>("state=QUEUED").unwrap();
        let (page, _) = store.list(&queued, 10, None);
        assert_eq!(page.len(), 4);
        // A full page gives a token even when nothing follows; the next page is empty.
        let (page, next) = store.list(&queued, 4, None);
        assert_eq!(page.len(), 4);
        let (page, next) = store.list(&queued, 4, next);
        assert!(page.is_empty());
        assert_eq!(next, None);
    }

    #[test]
    fn samples_come_back_after_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        let t0 = Utc::now();
        let samples: Vec<_> = (0..3)
            .map(|i| {
                let s = ResourceSample {
                    time: t0 + chrono::Duration::seconds(i),
                    cpu_percent: 50.0 * i as f64,
                    memory_bytes: 1000 * i as u64,
                    gpu_percent: (i == 2).then_some(75.0),
                    gpu_memory_bytes: (i == 2).then_some(1 << 30),
                };
                ("a".to_owned(), s)
            })
            .collect();
        store.add_samples(&samples).unwrap();
        assert_eq!(store.samples("a", None).unwrap().len(), 3);
        let later = store.samples("a", Some(t0)).unwrap();
        assert_eq!(later.len(), 2);
        assert_eq!(later[1].memory_bytes, 2000);
        assert_eq!(
            (
                later[0].gpu_percent,
                later[1].gpu_percent,
                later[1].gpu_memory_bytes
            ),
            (None, Some(75.0), Some(1 << 30))
        );
        assert!(store.samples("b", None).unwrap().is_empty());
    }

    #[test]
    fn a_samples_table_without_gpu_columns_gets_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE samples (job_id TEXT NOT NULL, time_us INTEGER NOT NULL,
             cpu_percent REAL NOT NULL, memory_bytes INTEGER NOT NULL);
             INSERT INTO samples VALUES ('a', 1, 10.0, 100);",
        )
        .unwrap();
        drop(old);
        let store = Store::open(&path).unwrap();
        let kept = store.samples("a", None).unwrap();
        assert_eq!((kept.len(), kept[0].gpu_percent), (1, None));
    }
}
