//! Failed-login throttling, keyed so that an attacker cannot lock the real user out.
//!
//! Two keys, both per client address: the (address, user) pair backs off exponentially after a
//! few failures in a row, and the address alone has a budget of failures that refills over
//! time. A flood from one address then costs no password check at all, while the same user
//! signing in from another address is not slowed. Credentials already verified (cached) never
//! reach the throttle. Each node keeps the counts in memory and every node announces each
//! check's outcome to the others (`cluster::Event::Login`), so a flood spread over the nodes
//! backs off as on one node.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// The limits; [`Limits::default`] is what the server uses.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Failures in a row for one (address, user) before backing off.
    pub free_failures: u32,
    /// Longest wait imposed on one (address, user).
    pub max_backoff: Duration,
    /// Failures one address may have in a burst…
    pub address_burst: f64,
    /// …refilled at this many per second.
    pub address_refill_per_sec: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            free_failures: 5,
            max_backoff: Duration::from_secs(300),
            address_burst: 30.0,
            address_refill_per_sec: 0.5,
        }
    }
}

/// Entries kept at most per map; beyond that, idle ones are dropped first.
const MAX_ENTRIES: usize = 100_000;

struct Streak {
    failures: u32,
    last: Instant,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Throttle {
    limits: Limits,
    pairs: Mutex<HashMap<(Option<IpAddr>, String), Streak>>,
    addresses: Mutex<HashMap<Option<IpAddr>, Bucket>>,
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            pairs: Mutex::new(HashMap::new()),
            addresses: Mutex::new(HashMap::new()),
        }
    }

    /// How long `user` from `addr` must wait before its credentials are checked again;
    /// `None` when they may be checked now.
    pub fn wait(&self, addr: Option<IpAddr>, user: &str) -> Option<Duration> {
        let now = Instant::now();
        if let Ok(mut a) = self.addresses.lock()
            && let Some(b) = a.get_mut(&addr)
        {
            self.refill(b, now);
            if b.tokens < 1.0 {
                let secs = (1.0 - b.tokens) / self.limits.address_refill_per_sec.max(1e-6);
                return Some(Duration::from_secs_f64(secs.clamp(1.0, 3600.0)));
            }
        }
        let p = self.pairs.lock().ok()?;
        let s = p.get(&(addr, user.to_owned()))?;
        if s.failures < self.limits.free_failures {
            return None;
        }
        let wait = Duration::from_secs(1u64 << (s.failures - self.limits.free_failures).min(16))
            .min(self.limits.max_backoff);
        wait.checked_sub(now.duration_since(s.last))
            .filter(|d| !d.is_zero())
    }

    /// Records the outcome of a credential check.
    pub fn record(&self, addr: Option<IpAddr>, user: &str, ok: bool) {
        let now = Instant::now();
        let key = (addr, user.to_owned());
        if ok {
            if let Ok(mut p) = self.pairs.lock() {
                p.remove(&key);
            }
            return;
        }
        if let Ok(mut a) = self.addresses.lock() {
            if a.len() >= MAX_ENTRIES {
                let full = self.limits.address_burst;
                let refill = self.limits.address_refill_per_sec;
                a.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * refill < full);
            }
            let b = a.entry(addr).or_insert(Bucket {
                tokens: self.limits.address_burst,
                at: now,
            });
            self.refill(b, now);
            b.tokens = (b.tokens - 1.0).max(0.0);
        }
        if let Ok(mut p) = self.pairs.lock() {
            if p.len() >= MAX_ENTRIES {
                let keep = self.limits.max_backoff;
                p.retain(|_, s| now.duration_since(s.last) < keep);
            }
            let s = p.entry(key).or_insert(Streak {
                failures: 0,
                last: now,
            });
            s.failures = s.failures.saturating_add(1);
            s.last = now;
            if s.failures == self.limits.free_failures {
                tracing::warn!(
                    user,
                    address = ?addr,
                    "repeated failed logins; backing off"
                );
            }
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let gained = now.duration_since(b.at).as_secs_f64() * self.limits.address_refill_per_sec;
        b.tokens = (b.tokens + gained).min(self.limits.address_burst);
        b.at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn a_flood_from_one_address_does_not_lock_the_user_out_elsewhere() {
        let t = Throttle::new(Limits::default());
        let attacker = ip("10.0.0.66");
        for _ in 0..5 {
            assert!(t.wait(attacker, "alice").is_none());
            t.record(attacker, "alice", false);
        }
        assert!(t.wait(attacker, "alice").is_some(), "backs off");
        assert!(
            t.wait(ip("10.0.0.7"), "alice").is_none(),
            "the owner elsewhere"
        );
        // Many users from one address exhaust the address's budget.
        for i in 0..40 {
            t.record(attacker, &format!("u{i}"), false);
        }
        assert!(t.wait(attacker, "bob").is_some(), "address budget spent");
        assert!(t.wait(ip("10.0.0.7"), "bob").is_none());
        // Success clears the pair's streak.
        let owner = ip("10.0.0.7");
        for _ in 0..3 {
            t.record(owner, "carol", false);
        }
        t.record(owner, "carol", true);
        for _ in 0..4 {
            t.record(owner, "carol", false);
        }
        assert!(t.wait(owner, "carol").is_none());
    }
}
