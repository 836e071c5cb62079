//! The node-local counters of the rate limits.
//!
//! Each node counts the hits of every bucket in the current window in memory
//! and decides at once, without a database round trip. A sync task flushes the
//! hits counted since the last round ([`Limiter::take`]) in one statement that
//! adds them to the shared total and reads every total back
//! ([`Limiter::settle`]). A node's view of a bucket is the global total at the
//! last sync plus its own hits not yet in it, so one node counts exactly and N
//! nodes overshoot by at most what they serve of a bucket in about two sync
//! intervals (see `docs/architecture.md`, "Rate limits for every operation").
//!
//! Only the current window is kept: the first round of a window drops the
//! previous one (its hits no longer limit anything), so memory holds the
//! buckets active in one window.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, TimeZone, Utc};

use super::{Bucket, Decision, Limits, Policy, Standing};
use crate::ids::ClinicId;
use crate::plans::Plan;

/// One bucket's count in one window.
#[derive(Debug, Clone)]
struct Count {
    bucket: Bucket,
    /// The global total read back at the last sync (this node's flushed hits included).
    synced: u64,
    /// Hits of this node taken by a sync still running.
    in_flight: u64,
    /// Hits of this node not yet taken by a sync.
    unsynced: u64,
}

impl Count {
    fn view(&self) -> u64 {
        self.synced + self.in_flight + self.unsynced
    }
}

#[derive(Debug, Default)]
struct State {
    /// The window the counts are of (its start, in seconds since the epoch).
    window: i64,
    /// Counts of that window, by bucket key.
    counts: HashMap<String, Count>,
    /// The clinics' plans, with the window in which each was read.
    plans: HashMap<ClinicId, (Plan, i64)>,
}

/// Hits of one bucket to add to the shared total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// The bucket's key.
    pub key: String,
    /// Hits since the last sync (0: only the total is read back).
    pub hits: u64,
}

/// What one sync round sends: the current window's hits (and the buckets
/// near their limit, to read their totals), and the clinics whose plan is
/// unknown or was read in an earlier window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncBatch {
    /// The start of the current window (rows of earlier windows are expired).
    pub window_start: DateTime<Utc>,
    /// One delta per bucket active in the window on this node.
    pub deltas: Vec<Delta>,
    /// The clinics whose plan to read.
    pub clinics: Vec<ClinicId>,
}

impl SyncBatch {
    /// Whether the round has nothing to send or read.
    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty() && self.clinics.is_empty()
    }
}

/// What the database answered to a round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synced {
    /// The global total of each bucket of the batch that has a row, by key.
    pub totals: Vec<(String, u64)>,
    /// The plans read.
    pub plans: Vec<(ClinicId, Plan)>,
}

/// The node-local limiter, shared by the workers of a node and its sync task.
#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    state: Mutex<State>,
}

impl Limiter {
    /// A limiter with no hits counted.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn window_secs(&self) -> i64 {
        i64::try_from(self.limits.window_secs.max(1)).unwrap_or(i64::MAX)
    }

    /// The start of the window `now` is in, in seconds since the epoch.
    fn window_of(&self, now: DateTime<Utc>) -> i64 {
        let w = self.window_secs();
        now.timestamp().div_euclid(w) * w
    }

    /// Moves the state to `now`'s window, dropping an earlier window's counts.
    fn roll(&self, state: &mut State, now: DateTime<Utc>) -> i64 {
        let window = self.window_of(now);
        if state.window != window {
            state.window = window;
            state.counts.clear();
        }
        window
    }

    /// Counts one request against `buckets` at `now`, unless one of them has no
    /// request left in the window: then nothing is counted and the decision
    /// refuses. `buckets` must not be empty.
    pub fn hit(&self, buckets: &[Bucket], now: DateTime<Utc>) -> Decision {
        let mut state = self.state();
        let window = self.roll(&mut state, now);
        let elapsed = now.timestamp() - window;
        let reset_secs = u64::try_from(self.window_secs() - elapsed)
            .unwrap_or(1)
            .max(1);
        let mut standings = Vec::with_capacity(buckets.len());
        let mut policies = Vec::with_capacity(buckets.len());
        for bucket in buckets {
            let plan = match bucket {
                Bucket::Clinic(clinic) => state.plans.get(clinic).map(|(plan, _)| *plan),
                _ => None,
            };
            let quota = self.limits.quota(bucket, plan);
            let used = state.counts.get(&bucket.key()).map_or(0, Count::view);
            policies.push(Policy {
                name: bucket.policy(),
                quota,
                window_secs: self.limits.window_secs,
            });
            standings.push(quota.saturating_sub(used));
        }
        let refused = standings.contains(&0);
        if !refused {
            for (bucket, left) in buckets.iter().zip(standings.iter_mut()) {
                let count = state.counts.entry(bucket.key()).or_insert_with(|| Count {
                    bucket: bucket.clone(),
                    synced: 0,
                    in_flight: 0,
                    unsynced: 0,
                });
                count.unsynced += 1;
                *left -= 1;
            }
        }
        let (name, remaining) = policies
            .iter()
            .zip(&standings)
            .min_by_key(|(_, left)| **left)
            .map_or(("", 0), |(policy, left)| (policy.name, *left));
        Decision {
            policies,
            standing: Standing {
                name,
                remaining,
                reset_secs,
            },
            refused,
        }
    }

    /// Takes the hits counted since the last round, for the sync task to flush:
    /// they stay in this node's view (in flight) until [`Limiter::settle`] or
    /// [`Limiter::give_back`].
    ///
    /// A bucket with no new hits is in the batch only when this node's view of
    /// it has reached half its quota: its total is read back each round from
    /// then on, where another node's hits can decide a refusal; a bucket far
    /// from its limit costs the database nothing until its next hit here.
    pub fn take(&self, now: DateTime<Utc>) -> SyncBatch {
        let mut state = self.state();
        let window = self.roll(&mut state, now);
        let State { counts, plans, .. } = &mut *state;
        let deltas = counts
            .iter_mut()
            .filter(|(_, count)| {
                let plan = match count.bucket {
                    Bucket::Clinic(clinic) => plans.get(&clinic).map(|(plan, _)| *plan),
                    _ => None,
                };
                count.unsynced > 0 || 2 * count.view() >= self.limits.quota(&count.bucket, plan)
            })
            .map(|(key, count)| {
                let hits = std::mem::take(&mut count.unsynced);
                count.in_flight += hits;
                Delta {
                    key: key.clone(),
                    hits,
                }
            })
            .collect();
        let mut clinics: Vec<ClinicId> = state
            .counts
            .values()
            .filter_map(|count| match count.bucket {
                Bucket::Clinic(clinic) => Some(clinic),
                _ => None,
            })
            .filter(|clinic| {
                state
                    .plans
                    .get(clinic)
                    .is_none_or(|(_, read)| *read < window)
            })
            .collect();
        clinics.sort_unstable();
        SyncBatch {
            window_start: Utc.timestamp_opt(window, 0).single().unwrap_or(now),
            deltas,
            clinics,
        }
    }

    /// Records what the database answered to `batch`: the totals replace the
    /// synced counts (they hold this node's flushed hits), the plans are kept.
    pub fn settle(&self, batch: &SyncBatch, synced: Synced) {
        let mut state = self.state();
        let window = batch.window_start.timestamp();
        for (clinic, plan) in synced.plans {
            state.plans.insert(clinic, (plan, window));
        }
        if state.window != window {
            return;
        }
        for delta in &batch.deltas {
            if let Some(count) = state.counts.get_mut(&delta.key) {
                count.in_flight = count.in_flight.saturating_sub(delta.hits);
            }
        }
        for (key, total) in synced.totals {
            if let Some(count) = state.counts.get_mut(&key) {
                count.synced = count.synced.max(total);
            }
        }
    }

    /// Gives a failed round's hits back, to be sent with the next round (the
    /// limiter keeps counting locally while the database is out of reach).
    pub fn give_back(&self, batch: &SyncBatch) {
        let mut state = self.state();
        if state.window != batch.window_start.timestamp() {
            return;
        }
        for delta in &batch.deltas {
            if let Some(count) = state.counts.get_mut(&delta.key) {
                count.in_flight = count.in_flight.saturating_sub(delta.hits);
                count.unsynced += delta.hits;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use uuid::Uuid;

    use super::{Limiter, Synced};
    use crate::ids::ClinicId;
    use crate::plans::Plan;
    use crate::rate_limits::{Bucket, Limits, PlanLimits};

    fn limits() -> Limits {
        Limits {
            window_secs: 60,
            per_credential: 3,
            per_clinic: PlanLimits {
                free: 5,
                pro: 8,
                business: 13,
            },
            per_address: 2,
        }
    }

    /// `secs` after the start of a window (1 800 000 000 is a multiple of 60).
    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn member() -> (Bucket, Bucket, ClinicId) {
        let clinic = ClinicId(Uuid::now_v7());
        (
            Bucket::Credential(Uuid::now_v7()),
            Bucket::Clinic(clinic),
            clinic,
        )
    }

    #[test]
    fn remaining_falls_by_one_then_refuses_without_going_negative() {
        let limiter = Limiter::new(limits());
        let address = [Bucket::Address("203.0.113.9".to_owned())];
        let first = limiter.hit(&address, at(17));
        assert_eq!((first.standing.remaining, first.refused), (1, false));
        assert_eq!(first.standing.reset_secs, 43);
        assert_eq!(first.policies[0].quota, 2);
        assert_eq!(limiter.hit(&address, at(18)).standing.remaining, 0);
        for _ in 0..3 {
            let refused = limiter.hit(&address, at(19));
            assert!(refused.refused);
            assert_eq!(refused.standing.remaining, 0);
        }
    }

    #[test]
    fn the_most_constraining_policy_stands_and_a_refusal_counts_nowhere() {
        let limiter = Limiter::new(limits());
        let (a, clinic, _) = member();
        let b = Bucket::Credential(Uuid::now_v7());
        for left in [2, 1, 0] {
            let d = limiter.hit(&[a.clone(), clinic.clone()], at(1));
            assert_eq!(
                (d.standing.name, d.standing.remaining),
                ("credential", left)
            );
        }
        assert!(limiter.hit(&[a.clone(), clinic.clone()], at(2)).refused);
        // The clinic counted 3 of its 5: another member gets 2, then the clinic refuses.
        let d = limiter.hit(&[b.clone(), clinic.clone()], at(3));
        assert_eq!((d.standing.name, d.standing.remaining), ("clinic", 1));
        assert!(!limiter.hit(&[b.clone(), clinic.clone()], at(3)).refused);
        let refused = limiter.hit(&[b, clinic], at(3));
        assert!(refused.refused);
        assert_eq!(refused.standing.name, "clinic");
    }

    #[test]
    fn a_new_window_starts_from_zero_and_drops_the_old_one() {
        let limiter = Limiter::new(limits());
        let address = [Bucket::Address("198.51.100.1".to_owned())];
        limiter.hit(&address, at(58));
        assert!(!limiter.hit(&address, at(59)).refused);
        assert!(limiter.hit(&address, at(59)).refused);
        let next = limiter.hit(&address, at(60));
        assert!(!next.refused);
        assert_eq!((next.standing.remaining, next.standing.reset_secs), (1, 60));
        let batch = limiter.take(at(61));
        assert_eq!(batch.window_start, at(60));
        assert_eq!(batch.deltas.len(), 1);
        assert_eq!(batch.deltas[0].hits, 1);
    }

    #[test]
    fn the_view_is_the_synced_total_plus_local_hits() {
        let limiter = Limiter::new(limits());
        let (credential, _, _) = member();
        let key = credential.key();
        limiter.hit(std::slice::from_ref(&credential), at(1));
        let batch = limiter.take(at(1));
        assert_eq!(batch.deltas[0].hits, 1);
        // In flight: still in the view.
        assert_eq!(
            limiter
                .hit(std::slice::from_ref(&credential), at(2))
                .standing
                .remaining,
            1
        );
        // Another node counted 1 too: the total holds both flushed hits.
        limiter.settle(
            &batch,
            Synced {
                totals: vec![(key.clone(), 2)],
                plans: vec![],
            },
        );
        // synced 2 + 1 unsynced = 3: the limit.
        assert!(
            limiter
                .hit(std::slice::from_ref(&credential), at(3))
                .refused
        );
        let next = limiter.take(at(4));
        let delta = next.deltas.iter().find(|d| d.key == key).unwrap();
        assert_eq!(delta.hits, 1, "only the hit since the last round");
        let again = limiter.take(at(4));
        assert_eq!(
            again.deltas,
            vec![super::Delta { key, hits: 0 }],
            "at its limit: read back each round without hits"
        );
    }

    #[test]
    fn a_bucket_without_new_hits_is_read_back_only_from_half_its_quota() {
        let limiter = Limiter::new(Limits {
            per_address: 4,
            ..limits()
        });
        let address = [Bucket::Address("192.0.2.9".to_owned())];
        limiter.hit(&address, at(1));
        assert_eq!(limiter.take(at(1)).deltas.len(), 1, "a new hit");
        assert!(limiter.take(at(1)).deltas.is_empty(), "1 of 4: far from it");
        limiter.hit(&address, at(2));
        assert_eq!(limiter.take(at(2)).deltas[0].hits, 1);
        let near = limiter.take(at(2));
        assert_eq!(near.deltas.len(), 1, "2 of 4: read back");
        assert_eq!(near.deltas[0].hits, 0);
    }

    #[test]
    fn a_failed_round_gives_its_hits_back_for_the_next() {
        let limiter = Limiter::new(limits());
        let address = [Bucket::Address("192.0.2.8".to_owned())];
        limiter.hit(&address, at(1));
        let failed = limiter.take(at(1));
        limiter.give_back(&failed);
        assert_eq!(limiter.hit(&address, at(2)).standing.remaining, 0);
        let retried = limiter.take(at(2));
        assert_eq!(retried.deltas[0].hits, 2);
    }

    #[test]
    fn a_clinic_gets_its_plans_limit_once_read_and_is_read_again_each_window() {
        let limiter = Limiter::new(limits());
        let (credential, clinic, id) = member();
        let both = [credential, clinic];
        let d = limiter.hit(&both, at(1));
        assert_eq!(d.policies[1].quota, 5, "unknown: the free plan's");
        let batch = limiter.take(at(1));
        assert_eq!(batch.clinics, vec![id]);
        limiter.settle(
            &batch,
            Synced {
                totals: vec![],
                plans: vec![(id, Plan::Business)],
            },
        );
        assert_eq!(limiter.hit(&both, at(2)).policies[1].quota, 13);
        assert!(limiter.take(at(3)).clinics.is_empty(), "read this window");
        let later = at(3) + Duration::seconds(60);
        limiter.hit(&both, later);
        assert_eq!(limiter.take(later).clinics, vec![id]);
    }
}
