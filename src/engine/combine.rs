//! Opportunistic batching: prediction requests for one version that a worker thread has
//! in hand at the same moment run through the model together, in one run. The first
//! request yields once so that the others already read can join it; there is no timer,
//! so a lone request waits for nothing but that one yield (measured: it costs a lone
//! client no latency, and under load it makes runs of ~10 requests).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::domain::predict::{Batch, Tensor};

/// What a request that joined another's run gets back.
pub enum Answer {
    /// The model's outputs for its instances, or why the run failed.
    Done(Result<Vec<Tensor>, String>),
    /// The run was abandoned before it took this request: the request runs by itself.
    Yours(Batch),
}

/// A request waiting in another request's run.
pub struct Member {
    /// Its instances, to run with the leader's.
    pub batch: Batch,
    reply: oneshot::Sender<Answer>,
}

impl Member {
    /// A member for `batch`, and where its answer arrives.
    pub fn new(batch: Batch) -> (Member, oneshot::Receiver<Answer>) {
        let (reply, answer) = oneshot::channel();
        (Member { batch, reply }, answer)
    }

    /// Hands the member its outputs (or the run's error).
    pub fn answer(self, outputs: Result<Vec<Tensor>, String>) {
        // A member whose client has gone no longer listens; nothing to do then.
        let _ = self.reply.send(Answer::Done(outputs));
    }
}

#[derive(Default)]
struct Lane {
    gathering: bool,
    members: Vec<Member>,
}

/// The lanes requests gather in: one per worker thread (up to the number of lanes), so
/// that each thread runs what it has read and the threads still run side by side.
pub struct Combiner {
    lanes: Box<[Mutex<Lane>]>,
}

/// How a request takes part.
pub enum Joined<'a> {
    /// It leads a run: it gathers the others, runs them with its own batch, and answers.
    Lead(Gathering<'a>, Batch),
    /// It waits in a run that another request leads.
    Member(oneshot::Receiver<Answer>),
}

static NEXT_LANE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_LANE: usize = NEXT_LANE.fetch_add(1, Ordering::Relaxed);
}

fn lock(lane: &Mutex<Lane>) -> MutexGuard<'_, Lane> {
    lane.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Combiner {
    /// A combiner with `lanes` lanes (at least one).
    pub fn new(lanes: usize) -> Combiner {
        Combiner {
            lanes: (0..lanes.max(1)).map(|_| Mutex::default()).collect(),
        }
    }

    /// Joins the run gathering on this thread's lane, or starts one.
    pub fn join(&self, batch: Batch) -> Joined<'_> {
        let lane = &self.lanes[THREAD_LANE.with(|l| *l) % self.lanes.len()];
        let mut state = lock(lane);
        if state.gathering {
            let (member, answer) = Member::new(batch);
            state.members.push(member);
            Joined::Member(answer)
        } else {
            state.gathering = true;
            drop(state);
            Joined::Lead(
                Gathering {
                    lane,
                    open: true,
                    members: Vec::new(),
                },
                batch,
            )
        }
    }
}

/// A run being gathered. Members it has not answered when dropped (the leading request
/// was cancelled, say) get their batch back and run by themselves: none is lost.
pub struct Gathering<'a> {
    lane: &'a Mutex<Lane>,
    open: bool,
    /// The requests that joined, in order; the leader answers each and takes it out.
    pub members: Vec<Member>,
}

impl Gathering<'_> {
    /// Lets the requests this thread has already read join, then closes the run.
    pub async fn gather(&mut self) {
        tokio::task::yield_now().await;
        self.close();
    }

    fn close(&mut self) {
        if self.open {
            self.open = false;
            let mut state = lock(self.lane);
            state.gathering = false;
            self.members = std::mem::take(&mut state.members);
        }
    }
}

impl Drop for Gathering<'_> {
    fn drop(&mut self) {
        self.close();
        for member in self.members.drain(..) {
            let _ = member.reply.send(Answer::Yours(member.batch));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::predict::{Tensor, TensorData};

    fn batch(x: f32) -> Batch {
        Batch {
            first: 0,
            instances: 1,
            inputs: vec![Tensor {
                shape: vec![1, 1],
                data: TensorData::F32(vec![x]),
            }],
        }
    }

    fn first(batch: &Batch) -> TensorData {
        batch.inputs[0].data.clone()
    }

    #[tokio::test]
    async fn a_lead_gathers_the_requests_that_join_it_and_answers_each() {
        let combiner = Combiner::new(1);
        let Joined::Lead(mut lead, own) = combiner.join(batch(1.0)) else {
            panic!("a request leads when no run is gathering")
        };
        let joined: Vec<_> = [2.0, 3.0]
            .map(|x| match combiner.join(batch(x)) {
                Joined::Member(answer) => answer,
                Joined::Lead(..) => panic!("a run is gathering: the request joins it"),
            })
            .into();
        lead.gather().await;
        assert_eq!(first(&own), TensorData::F32(vec![1.0]));
        let members: Vec<_> = lead.members.drain(..).collect();
        assert_eq!(members.len(), 2);
        for (member, answer) in members.into_iter().zip(joined) {
            let x = first(&member.batch);
            member.answer(Ok(vec![Tensor {
                shape: vec![1],
                data: x.clone(),
            }]));
            match answer.await {
                Ok(Answer::Done(Ok(out))) => assert_eq!(out[0].data, x),
                _ => panic!("the member gets its own outputs"),
            }
        }
        // The run has closed: the next request leads a new one.
        assert!(matches!(combiner.join(batch(4.0)), Joined::Lead(..)));
    }

    #[tokio::test]
    async fn a_lead_that_is_dropped_hands_every_member_its_batch_back() {
        let combiner = Combiner::new(1);
        let lead = combiner.join(batch(1.0));
        let Joined::Member(answer) = combiner.join(batch(2.0)) else {
            panic!("the second request joins the first")
        };
        drop(lead);
        match answer.await {
            Ok(Answer::Yours(back)) => assert_eq!(first(&back), TensorData::F32(vec![2.0])),
            _ => panic!("the member gets its batch back to run by itself"),
        }
        // The lane is free again.
        assert!(matches!(combiner.join(batch(3.0)), Joined::Lead(..)));
    }
}
