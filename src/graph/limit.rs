//! How many requests go to Graph at once: a limit that adapts to 429s. It doubles per round of
//! successes until the first 429, which halves it; then it grows by one per round up to just below
//! where that 429 came; a 429 while probing above the last good level steps back to that level; a 429 at a
//! level, proven or not, steps one down (the tenant's budget shrank, or writes are rate-limited). It acts once per burst: answers to requests sent before a step down are not
//! counted again. Above the good level it probes again only after many rounds of success,
//! so a known budget costs one refused request per probe, not one per round trip. `Retry-After`
//! holds every new request of that kind (reads, writes: Graph throttles writes apart) until it has
//! passed, so that the waiting ones do not rush the tenant together.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Reads and writes wait out `Retry-After` apart: a write budget that ran out does not hold reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read = 0,
    Write = 1,
}

#[derive(Debug)]
struct State {
    limit: usize,
    in_flight: usize,
    /// The highest level that ran without a 429; `None` until the first 429 (slow start).
    good: Option<usize>,
    successes: usize,
    paused_until: [Option<Instant>; 2],
    /// The time requests have held places, summed: over a wall time, the mean in flight.
    held: Duration,
    /// How many times the limit stepped down.
    epoch: u64,
    /// The good level held a whole round of successes.
    confirmed: bool,
}

#[derive(Debug)]
struct Inner {
    max: usize,
    state: Mutex<State>,
    changed: Notify,
}

/// One class's adaptive limit.
#[derive(Clone, Debug)]
pub struct AdaptiveLimit {
    inner: Arc<Inner>,
}

/// How many rounds (a limit's worth of successes) the good level holds before a probe above it: a
/// failed probe costs one refused request and a short pause, so it is tried rarely.
const PROBE_ROUNDS: usize = 16;
/// A first guess; the limit finds the tenant's budget from here.
const START: usize = 8;

/// A request's place under the limit; dropping it frees the place.
#[must_use]
pub struct Permit {
    limit: AdaptiveLimit,
    kind: Kind,
    since: Instant,
    /// The limit's step-downs so far, when it was sent.
    epoch: u64,
    /// How many were in flight, this one included, when it was sent.
    level: usize,
}

impl AdaptiveLimit {
    pub fn new(max: usize) -> AdaptiveLimit {
        let max = max.max(1);
        AdaptiveLimit {
            inner: Arc::new(Inner {
                max,
                state: Mutex::new(State {
                    limit: START.min(max),
                    in_flight: 0,
                    good: None,
                    successes: 0,
                    paused_until: [None, None],
                    held: Duration::ZERO,
                    epoch: 0,
                    confirmed: false,
                }),
                changed: Notify::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.state().limit
    }

    /// Waits for a place under the limit (and for any `Retry-After` pause to pass).
    pub async fn acquire(&self, kind: Kind) -> Permit {
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut s = self.state();
                let now = Instant::now();
                match s.paused_until[kind as usize] {
                    Some(until) if until > now => Some(until - now),
                    _ if s.in_flight < s.limit => {
                        s.in_flight += 1;
                        return Permit {
                            limit: self.clone(),
                            kind,
                            since: now,
                            epoch: s.epoch,
                            level: s.in_flight,
                        };
                    }
                    _ => None,
                }
            };
            match wait {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// The time requests have held places, summed.
    pub fn held(&self) -> Duration {
        self.state().held
    }

    fn release(&self, since: Instant) {
        let mut s = self.state();
        s.held += since.elapsed();
        s.in_flight = s.in_flight.saturating_sub(1);
        drop(s);
        self.inner.changed.notify_waiters();
    }

    fn succeeded(&self, level: usize) {
        let mut s = self.state();
        s.successes += 1;
        let round = s.successes >= s.limit;
        match s.good {
            // No 429 yet: double per round of successes while the limit is in use.
            None if round => {
                if level + 1 >= s.limit {
                    s.limit = (s.limit * 2).min(self.inner.max);
                }
                s.successes = 0;
            }
            // Back up to the good level, one per round.
            Some(good) if s.limit < good && round => {
                s.limit += 1;
                s.successes = 0;
            }
            // A probe that held a whole round: that level is good now.
            Some(good) if s.limit > good && round => {
                s.good = Some(s.limit);
                s.confirmed = true;
                s.successes = 0;
            }
            // The good level held a whole round.
            Some(good) if s.limit == good && round && !s.confirmed => {
                s.confirmed = true;
            }
            // At the good level: probe one above it now and then.
            Some(good)
                if s.limit == good
                    && s.successes >= PROBE_ROUNDS * s.limit
                    && s.limit < self.inner.max =>
            {
                s.limit += 1;
                s.successes = 0;
            }
            _ => {}
        }
        drop(s);
        self.inner.changed.notify_waiters();
    }

    fn throttled(&self, kind: Kind, epoch: u64, retry_after: Option<Duration>) {
        let mut s = self.state();
        let now = Instant::now();
        if let Some(wait) = retry_after {
            let until = now + wait;
            let slot = &mut s.paused_until[kind as usize];
            if slot.is_none_or(|p| p < until) {
                *slot = Some(until);
            }
        }
        // A request sent before the last step down says nothing new: the limit acts once per burst.
        if epoch < s.epoch {
            return;
        }
        match s.good {
            // A probe above a good level failed: back to it.
            Some(good) if s.limit > good => s.limit = good,
            // Refused at a level that held a whole round: the budget shrank (or writes are rate
            // limited). Step one down per burst: a single stray 429 costs little, and a lasting
            // squeeze brings the limit down one step per round trip.
            Some(_) if s.confirmed => {
                s.limit = s.limit.saturating_sub(1).max(1);
                s.good = Some(s.limit);
                s.confirmed = false;
            }
            // The first 429: the budget is below this; half is safe, and the way back up stops below it.
            None => {
                s.good = Some(s.limit.saturating_sub(1).max(1));
                s.limit = (s.limit / 2).max(1);
            }
            // One at a level not yet proven: one below is the next guess.
            Some(_) => {
                let good = s.limit.saturating_sub(1).max(1);
                s.good = Some(good);
                s.limit = good;
            }
        }
        s.epoch += 1;
        s.successes = 0;
    }
}

impl Permit {
    /// The request succeeded (or failed for a reason other than load).
    pub fn success(self) {
        self.limit.succeeded(self.level);
    }

    /// The tenant answered 429 (or 503): too much at once.
    pub fn throttled(self, retry_after: Option<Duration>) {
        self.limit.throttled(self.kind, self.epoch, retry_after);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limit.release(self.since);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One round: `n` requests at once, the first `ok` of them answered, the rest refused.
    async fn round(l: &AdaptiveLimit, n: usize, ok: usize, retry_after: Option<Duration>) {
        let permits: Vec<Permit> =
            futures_util::future::join_all((0..n).map(|_| l.acquire(Kind::Read))).await;
        let mut permits = permits.into_iter();
        for p in permits.by_ref().take(ok) {
            p.success();
        }
        for p in permits {
            p.throttled(retry_after);
        }
    }

    #[tokio::test]
    async fn doubles_then_settles_just_below_the_budget() {
        let l = AdaptiveLimit::new(64);
        assert_eq!(l.limit(), START);
        round(&l, START, START, None).await;
        assert_eq!(l.limit(), START * 2);
        // The budget is 12: of 16 at once, 4 are refused (a burst counts once): half of 16.
        round(&l, 16, 12, None).await;
        assert_eq!(l.limit(), 8);
        // Back up one per round; the thirteenth at once is refused: 12 it is.
        while l.limit() <= 12 {
            let n = l.limit();
            round(&l, n, n, None).await;
        }
        round(&l, 13, 12, None).await;
        assert_eq!(l.limit(), 12);
        // No probe above 12 for many rounds; then one, refused, back to 12.
        for _ in 0..PROBE_ROUNDS {
            round(&l, 12, 12, None).await;
        }
        assert_eq!(l.limit(), 13);
        round(&l, 13, 12, None).await;
        assert_eq!(l.limit(), 12);
    }

    #[tokio::test]
    async fn a_429_at_the_good_level_steps_down_and_retry_after_holds_new_requests() {
        let l = AdaptiveLimit::new(64);
        round(&l, START, START - 1, None).await;
        assert_eq!(l.limit(), START / 2);
        // Back up to just below the first 429, and a whole round there proves the level.
        while l.limit() < START - 1 {
            let n = l.limit();
            round(&l, n, n, None).await;
        }
        round(&l, START - 1, START - 1, None).await;
        assert_eq!(l.limit(), START - 1);
        // Refused at the proven level: the budget shrank; one step down, once for the burst.
        let n = l.limit();
        round(&l, n, 1, Some(Duration::from_millis(120))).await;
        assert_eq!(l.limit(), n - 1);
        // Retry-After holds the next read, not writes: a write has its place at once (on the first
        // poll, whatever the machine's speed), a read does not, and gets it once the pause passed.
        use futures_util::FutureExt;
        let t = Instant::now();
        let write = l.acquire(Kind::Write).now_or_never();
        assert!(
            write.is_some(),
            "a write is not held by a read's Retry-After"
        );
        drop(write);
        assert!(
            l.acquire(Kind::Read).now_or_never().is_none(),
            "the read is held"
        );
        l.acquire(Kind::Read).await.success();
        assert!(
            t.elapsed() >= Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn never_more_in_flight_than_the_limit() {
        let l = AdaptiveLimit::new(3);
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let now = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (l, peak, now) = (l.clone(), peak.clone(), now.clone());
                tokio::spawn(async move {
                    let p = l.acquire(Kind::Read).await;
                    let n = now.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    p.success();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert!(peak.load(std::sync::atomic::Ordering::SeqCst) <= 3);
    }
}
