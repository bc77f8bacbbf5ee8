//! Opening the registry: its tables, the models and versions kept in them (rows that
//! cannot be read are skipped and logged), and the versions left CREATING.

use super::*;

impl Registry {
    /// Opens the registry in `db` (the engine's state database), keeping artifacts under
    /// `dir`. Versions left CREATING by an earlier engine are returned for reloading.
    pub fn open(
        db: &Path,
        dir: PathBuf,
        default_max_replicas: u32,
        workers: WorkerSettings,
    ) -> Result<(Registry, Vec<Unfinished>), ModelError> {
        std::fs::create_dir_all(&dir).map_err(|e| ModelError::Storage(e.to_string()))?;
        let conn = Connection::open(db)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let mut models = BTreeMap::new();
        {
            let mut stmt = conn.prepare("SELECT body, default_version FROM models")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })?;
            for (n, row) in rows.enumerate() {
                let read = row.map_err(ModelError::from).and_then(|(body, default)| {
                    Ok((serde_json::from_str::<Model>(&body)?, default))
                });
                let (model, default) = match read {
                    Ok(read) => read,
                    Err(e) => {
                        tracing::error!("skipped an unreadable model row {}: {e}", n + 1);
                        continue;
                    }
                };
                models.insert(
                    model.short_name().to_owned(),
                    ModelEntry {
                        model,
                        default,
                        versions: BTreeMap::new(),
                    },
                );
            }
        }
        let mut creating = Vec::new();
        {
            let mut stmt = conn.prepare("SELECT model, body FROM versions")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            for (n, row) in rows.enumerate() {
                let read = row
                    .map_err(ModelError::from)
                    .and_then(|(model, body)| Ok((model, serde_json::from_str::<Version>(&body)?)));
                let (model, version) = match read {
                    Ok(read) => read,
                    Err(e) => {
                        tracing::error!("skipped an unreadable version row {}: {e}", n + 1);
                        continue;
                    }
                };
                let Some(entry) = models.get_mut(&model) else {
                    continue;
                };
                let short = version.short_name().to_owned();
                let serving = (version.state == VersionState::Ready).then(|| {
                    serving_for(&dir, &workers, &model, &version, default_max_replicas, None)
                });
                if version.state == VersionState::Creating {
                    let copied = artifact(&dir, &model, &short);
                    let source = if copied.is_file() {
                        copied
                    } else {
                        source_of(&version, None)
                            .map(|(path, _)| path)
                            .unwrap_or(copied)
                    };
                    creating.push((model.clone(), short.clone(), source));
                }
                entry
                    .versions
                    .insert(short, VersionEntry { version, serving });
            }
        }
        Ok((
            Registry {
                dir,
                default_max_replicas,
                workers,
                conn: Mutex::new(conn),
                models: RwLock::new(models),
            },
            creating,
        ))
    }
}
