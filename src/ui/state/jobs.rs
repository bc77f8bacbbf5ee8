//! The console's copy of every connection's job list, kept in step by the backend's
//! syncs. Each row remembers its connection; ids are unique per connection only.

use std::collections::HashMap;

use crate::domain::{ConnectionId, Job, JobKey};

/// Every job of every connection, with a revision that changes with the content.
#[derive(Default)]
pub struct JobList {
    jobs: Vec<Job>,
    /// The connection of each row of `jobs`.
    owners: Vec<ConnectionId>,
    /// Row of each job id, per connection.
    index: HashMap<ConnectionId, HashMap<String, usize>>,
    revision: u64,
}

impl JobList {
    /// Replaces every job of `connection`; returns those that finished since its
    /// previous list.
    pub fn replace(&mut self, connection: &ConnectionId, jobs: Vec<Job>) -> Vec<Job> {
        let finished = self.newly_finished(connection, &jobs);
        if self.index.contains_key(connection) {
            let mut keep = self.owners.iter().map(|o| o != connection);
            self.jobs.retain(|_| keep.next().unwrap_or(true));
            self.owners.retain(|o| o != connection);
        }
        self.owners
            .extend(std::iter::repeat_n(connection.clone(), jobs.len()));
        self.jobs.extend(jobs);
        self.reindex();
        self.revision += 1;
        finished
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (i, (job, owner)) in self.jobs.iter().zip(&self.owners).enumerate() {
            self.index
                .entry(owner.clone())
                .or_default()
                .insert(job.job_id.clone(), i);
        }
    }

    /// Adds or updates `changed` jobs of `connection`; returns those that just finished.
    pub fn upsert(&mut self, connection: &ConnectionId, changed: Vec<Job>) -> Vec<Job> {
        let finished = self.newly_finished(connection, &changed);
        let index = self.index.entry(connection.clone()).or_default();
        for job in changed {
            match index.get(&job.job_id) {
                Some(&i) => self.jobs[i] = job,
                None => {
                    index.insert(job.job_id.clone(), self.jobs.len());
                    self.owners.push(connection.clone());
                    self.jobs.push(job);
                }
            }
        }
        self.revision += 1;
        finished
    }

    fn newly_finished(&self, connection: &ConnectionId, incoming: &[Job]) -> Vec<Job> {
        incoming
            .iter()
            .filter(|j| j.state.is_finished())
            .filter(|j| {
                self.get(connection, &j.job_id)
                    .is_some_and(|old| !old.state.is_finished())
            })
            .cloned()
            .collect()
    }

    /// The job `id` of `connection`.
    pub fn get(&self, connection: &ConnectionId, id: &str) -> Option<&Job> {
        let i = *self.index.get(connection)?.get(id)?;
        self.jobs.get(i)
    }

    /// The job a key names.
    pub fn find(&self, key: &JobKey) -> Option<&Job> {
        self.get(&key.connection, &key.job_id)
    }

    /// The job at position `i` (positions are stable until the next `replace`).
    pub fn at(&self, i: usize) -> Option<&Job> {
        self.jobs.get(i)
    }

    /// The connection of the job at position `i`.
    pub fn owner(&self, i: usize) -> Option<&ConnectionId> {
        self.owners.get(i)
    }

    /// The key of the job at position `i`.
    pub fn key_at(&self, i: usize) -> Option<JobKey> {
        Some(JobKey::new(self.owners.get(i)?, &self.jobs.get(i)?.job_id))
    }

    /// Position of the job a key names.
    pub fn position(&self, key: &JobKey) -> Option<usize> {
        self.index.get(&key.connection)?.get(&key.job_id).copied()
    }

    /// All jobs, in no particular order (see [`JobList::owner`] for their connections).
    pub fn all(&self) -> &[Job] {
        &self.jobs
    }

    /// Number of jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Number of jobs of one connection.
    pub fn count_of(&self, connection: &ConnectionId) -> usize {
        self.index.get(connection).map_or(0, HashMap::len)
    }

    /// True when there are no jobs.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Changes whenever the content does.
    pub fn revision(&self) -> u64 {
        self.revision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::JobState;

    fn job(id: &str, state: JobState) -> Job {
        Job {
            job_id: id.into(),
            state,
            ..Default::default()
        }
    }

    #[test]
    fn upserts_report_jobs_that_just_finished() {
        let local = ConnectionId::local();
        let mut list = JobList::default();
        assert!(
            list.replace(
                &local,
                vec![job("a", JobState::Running), job("b", JobState::Failed)]
            )
            .is_empty()
        );
        let finished = list.upsert(
            &local,
            vec![job("a", JobState::Succeeded), job("c", JobState::Succeeded)],
        );
        assert_eq!(finished.len(), 1);
        assert_eq!(finished[0].job_id, "a");
        assert_eq!(list.len(), 3);
        assert_eq!(
            list.get(&local, "a").map(|j| j.state),
            Some(JobState::Succeeded)
        );
    }

    #[test]
    fn connections_keep_their_own_jobs_with_the_same_ids() {
        let (a, b) = (ConnectionId::new("a"), ConnectionId::new("b"));
        let mut list = JobList::default();
        list.replace(
            &a,
            vec![job("train", JobState::Running), job("x", JobState::Queued)],
        );
        list.replace(&b, vec![job("train", JobState::Failed)]);
        assert_eq!(list.len(), 3);
        assert_eq!(
            list.get(&a, "train").map(|j| j.state),
            Some(JobState::Running)
        );
        assert_eq!(
            list.get(&b, "train").map(|j| j.state),
            Some(JobState::Failed)
        );
        // Replacing one connection's jobs leaves the other's.
        list.replace(&a, vec![job("y", JobState::Succeeded)]);
        assert_eq!(list.len(), 2);
        assert_eq!(list.count_of(&a), 1);
        assert!(list.get(&a, "train").is_none());
        let pos = list.position(&JobKey::new(&b, "train")).unwrap();
        assert_eq!(list.owner(pos), Some(&b));
        assert_eq!(list.key_at(pos), Some(JobKey::new(&b, "train")));
        list.replace(&b, Vec::new());
        assert_eq!(list.len(), 1);
    }
}
