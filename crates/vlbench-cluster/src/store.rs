//! The coordinator's embedded file store: task records and final merged
//! results as JSON files under `--data DIR`, written atomically (a temporary
//! file in the same directory, synced, then renamed), so a crash never leaves
//! a half-written record.
//!
//! Layout: `DIR/tasks/{task_id}.json` (a [`TaskRecord`]),
//! `DIR/results/{task_id}.json` (the final cluster report),
//! `DIR/plans/{task_id}.json` (an unfinished task's plan, with the target's
//! secret: mode 0600, removed when the task ends) and
//! `DIR/reports/{task_id}.jsonl` (every accepted result report, appended
//! before it is acknowledged, replayed when a running task is resumed).
//! Must not: hold state in memory (the actors do) or know about HTTP.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::TaskRecord;

/// Why the store could not read or write a file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory could not be created, written or read.
    #[error("coordinator data directory: {path}: {source}; check that --data points to a writable directory")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A stored file is not valid JSON of the expected shape.
    #[error("coordinator data directory: {path} is not a valid record: {source}; move the file away to start without it")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A task id that cannot be a file name.
    #[error("task id {0:?} cannot be stored: ids are made of letters, digits, '-' and '_'")]
    BadId(String),
}

/// Task records and results on disk.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) a store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let dir = dir.into();
        for sub in ["tasks", "results", "plans", "reports"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).map_err(|source| StoreError::Io { path, source })?;
        }
        Ok(Store { dir })
    }

    /// The store's directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Writes (replaces) a task record.
    pub fn save_task(&self, task: &TaskRecord) -> Result<(), StoreError> {
        let path = self.file("tasks", &task.task_id)?;
        write_json(&path, task)
    }

    /// Writes (replaces) the final results of a task.
    pub fn save_result(&self, task_id: &str, result: &serde_json::Value) -> Result<(), StoreError> {
        let path = self.file("results", task_id)?;
        write_json(&path, result)
    }

    /// Reads the final results of a task, if stored.
    pub fn load_result(&self, task_id: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let path = self.file("results", task_id)?;
        if !path.exists() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// Writes (replaces) an unfinished task's plan, readable by the owner only.
    pub fn save_plan<T: Serialize>(&self, task_id: &str, plan: &T) -> Result<(), StoreError> {
        let path = self.file("plans", task_id)?;
        write_json(&path, plan)?;
        restrict(&path)
    }

    /// Reads an unfinished task's plan, if stored.
    pub fn load_plan<T: DeserializeOwned>(&self, task_id: &str) -> Result<Option<T>, StoreError> {
        let path = self.file("plans", task_id)?;
        if !path.exists() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// Removes a finished task's plan (it holds the target's secret).
    pub fn remove_plan(&self, task_id: &str) -> Result<(), StoreError> {
        let path = self.file("plans", task_id)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(StoreError::Io { path, source: e })
            }
            _ => Ok(()),
        }
    }

    /// Appends one accepted report to the task's log (one JSON line). The
    /// write reaches the OS before the report is acknowledged, so a killed
    /// coordinator loses none.
    pub fn append_report<T: Serialize>(&self, task_id: &str, report: &T) -> Result<(), StoreError> {
        let line = serde_json::to_vec(report).map_err(|e| StoreError::Io {
            path: self.log(task_id).unwrap_or_else(|_| self.dir.clone()),
            source: std::io::Error::other(e),
        })?;
        self.append_line(task_id, &line)
    }

    /// Appends one line of JSON text, as received, to the task's report
    /// log (`line` must not hold a newline; one is added).
    pub fn append_line(&self, task_id: &str, line: &[u8]) -> Result<(), StoreError> {
        let path = self.log(task_id)?;
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        // One write: a concurrent reader never sees half a line.
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.push(b'\n');
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        file.write_all(&buf).map_err(io)
    }

    /// Every report logged for a task, in order; a torn last line (a crash
    /// mid-write) is skipped.
    pub fn load_reports<T: DeserializeOwned>(&self, task_id: &str) -> Result<Vec<T>, StoreError> {
        let path = self.log(task_id)?;
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    fn log(&self, task_id: &str) -> Result<PathBuf, StoreError> {
        self.file("reports", task_id)
            .map(|p| p.with_extension("jsonl"))
    }

    /// Reads every stored task record, in file name order.
    pub fn load_tasks(&self) -> Result<Vec<TaskRecord>, StoreError> {
        let dir = self.dir.join("tasks");
        let entries = fs::read_dir(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths.iter().map(|p| read_json(p)).collect()
    }

    fn file(&self, sub: &str, id: &str) -> Result<PathBuf, StoreError> {
        let ok = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(StoreError::BadId(id.to_string()));
        }
        Ok(self.dir.join(sub).join(format!("{id}.json")))
    }
}

/// Writes `value` as pretty JSON to `path` atomically.
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = path.with_extension("json.tmp");
    let mut file = fs::File::create(&tmp).map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

/// Makes a file readable by its owner only (it holds a secret).
fn restrict(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|source| {
            StoreError::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, StoreError> {
    let bytes = fs::read(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskStatus;
    use crate::protocol::GlobalConfig;

    fn record(id: &str) -> TaskRecord {
        TaskRecord {
            task_id: id.to_string(),
            name: "b".into(),
            status: TaskStatus::Completed,
            submitted_at: chrono::Utc::now(),
            start_time: None,
            end_time: None,
            error_message: None,
            stopped: false,
            replicas: 1,
            duration_secs: 1.0,
            query_names: vec!["q".into()],
            formats: vec![],
            storage_path: None,
            model: "closed".into(),
            config: serde_json::Value::Null,
            thresholds: vec![],
            global_config: GlobalConfig {
                target_url: "http://127.0.0.1:1".into(),
                auth: None,
            },
            node_assignments: Default::default(),
            executions: Default::default(),
            events: Vec::new(),
            live: None,
        }
    }

    #[test]
    fn tasks_and_results_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.save_task(&record("b-2")).unwrap();
        store.save_task(&record("b-1")).unwrap();
        store
            .save_result("b-1", &serde_json::json!({"total": 3}))
            .unwrap();
        let again = Store::open(dir.path()).unwrap();
        let ids: Vec<_> = again
            .load_tasks()
            .unwrap()
            .into_iter()
            .map(|t| t.task_id)
            .collect();
        assert_eq!(ids, ["b-1", "b-2"]);
        assert_eq!(
            again.load_result("b-1").unwrap(),
            Some(serde_json::json!({"total": 3}))
        );
        assert_eq!(again.load_result("b-2").unwrap(), None);
        // No temporary file is left behind.
        assert!(!dir.path().join("tasks/b-1.json.tmp").exists());
    }

    #[test]
    fn plans_and_report_logs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .save_plan("t-1", &serde_json::json!({"token": "s"}))
            .unwrap();
        let plan: Option<serde_json::Value> = store.load_plan("t-1").unwrap();
        assert_eq!(plan, Some(serde_json::json!({"token": "s"})));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("plans/t-1.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.remove_plan("t-1").unwrap();
        store.remove_plan("t-1").unwrap();
        assert_eq!(store.load_plan::<serde_json::Value>("t-1").unwrap(), None);
        store
            .append_report("t-1", &serde_json::json!({"seq": 0}))
            .unwrap();
        store
            .append_report("t-1", &serde_json::json!({"seq": 1}))
            .unwrap();
        // A torn last line is skipped.
        let log = dir.path().join("reports/t-1.jsonl");
        let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"{\"seq\": 2").unwrap();
        let seqs: Vec<serde_json::Value> = store.load_reports("t-1").unwrap();
        assert_eq!(
            seqs,
            [serde_json::json!({"seq": 0}), serde_json::json!({"seq": 1})]
        );
        assert!(store
            .load_reports::<serde_json::Value>("none")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn ids_that_escape_the_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(matches!(
            store.load_result("../x"),
            Err(StoreError::BadId(_))
        ));
    }

    #[test]
    fn a_corrupt_record_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        fs::write(dir.path().join("tasks/x.json"), b"{nope").unwrap();
        let err = store.load_tasks().unwrap_err().to_string();
        assert!(err.contains("x.json"), "{err}");
    }
}
