//! The console's copy of the job list, kept in step by the backend's sync.

use std::collections::HashMap;

use crate::domain::Job;

/// Every job the platform has, by id, with a revision that changes with the content.
#[derive(Default)]
pub struct JobList {
    jobs: Vec<Job>,
    index: HashMap<String, usize>,
    revision: u64,
}

impl JobList {
    /// Replaces every job; returns the jobs that finished since the previous list.
    pub fn replace(&mut self, jobs: Vec<Job>) -> Vec<Job> {
        let finished = self.newly_finished(&jobs);
        self.index = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.job_id.clone(), i))
            .collect();
        self.jobs = jobs;
        self.revision += 1;
        finished
    }

    /// Adds or updates `changed`; returns the jobs among them that just finished.
    pub fn upsert(&mut self, changed: Vec<Job>) -> Vec<Job> {
        let finished = self.newly_finished(&changed);
        for job in changed {
            match self.index.get(&job.job_id) {
                Some(&i) => self.jobs[i] = job,
                None => {
                    self.index.insert(job.job_id.clone(), self.jobs.len());
                    self.jobs.push(job);
                }
            }
        }
        self.revision += 1;
        finished
    }

    fn newly_finished(&self, incoming: &[Job]) -> Vec<Job> {
        incoming
            .iter()
            .filter(|j| j.state.is_finished())
            .filter(|j| {
                self.get(&j.job_id)
                    .is_some_and(|old| !old.state.is_finished())
            })
            .cloned()
            .collect()
    }

    /// The job named `id`.
    pub fn get(&self, id: &str) -> Option<&Job> {
        self.index.get(id).map(|&i| &self.jobs[i])
    }

    /// The job at position `i` (positions are stable until the next `replace`).
    pub fn at(&self, i: usize) -> Option<&Job> {
        self.jobs.get(i)
    }

    /// All jobs, in no particular order.
    pub fn all(&self) -> &[Job] {
        &self.jobs
    }

    /// Number of jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
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
        let mut list = JobList::default();
        assert!(
            list.replace(vec![
                job("a", JobState::Running),
                job("b", JobState::Failed)
            ])
            .is_empty()
        );
        let finished = list.upsert(vec![
            job("a", JobState::Succeeded),
            job("c", JobState::Succeeded),
        ]);
        assert_eq!(finished.len(), 1);
        assert_eq!(finished[0].job_id, "a");
        assert_eq!(list.len(), 3);
        assert_eq!(list.get("a").map(|j| j.state), Some(JobState::Succeeded));
    }
}
