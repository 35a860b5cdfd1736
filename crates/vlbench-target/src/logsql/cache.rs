//! Parsed queries by the raw text clients send.
//!
//! Owns: [`QueryCache`], a bounded map from a query's *form-encoded* text
//! (as it appears in the URL or POST body) to its parse result, with a
//! small per-thread front so a repeated template costs one short compare
//! instead of a lock and a hash. Keys are opaque bytes: the caller decodes
//! on a miss. Must not: decode URLs or render errors.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{parse, ParseError, Query};

/// A cached parse result: a shared query or the error to answer.
pub type Parsed = Result<Arc<Query>, ParseError>;

/// Entries of the per-thread front (load tests use a handful of texts).
const FRONT: usize = 8;

/// Tells caches apart in the per-thread fronts (several targets can run
/// in one process, e.g. in tests).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One front entry: (cache id, raw key, result).
type FrontEntry = (u64, Box<[u8]>, Parsed);

thread_local! {
    /// Recently used entries of any cache on this thread, newest replaced
    /// round-robin; `usize` is the next slot to replace.
    static RECENT: RefCell<(Vec<FrontEntry>, usize)> = const { RefCell::new((Vec::new(), 0)) };
}

/// Parsed queries shared by all requests. Bounded: when full it is cleared
/// (a load test uses a small set of distinct texts, so a smarter eviction
/// would buy nothing).
#[derive(Debug)]
pub struct QueryCache {
    id: u64,
    map: Mutex<HashMap<Box<[u8]>, Parsed>>,
    capacity: usize,
}

impl QueryCache {
    /// A cache holding at most `capacity` texts.
    pub fn new(capacity: usize) -> QueryCache {
        QueryCache {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The parse result for the raw text `key`; on a miss `text` gives the
    /// decoded query to parse. The same key must always decode to the
    /// same text.
    pub fn get<'k, T: AsRef<str>>(
        &self,
        key: &'k [u8],
        text: impl FnOnce(&'k [u8]) -> T,
    ) -> Parsed {
        if let Some(hit) = self.front_get(key) {
            return hit;
        }
        let parsed = self.shared_get(key, text);
        self.front_put(key, &parsed);
        parsed
    }

    fn front_get(&self, key: &[u8]) -> Option<Parsed> {
        RECENT
            .try_with(|r| {
                let r = r.borrow();
                r.0.iter()
                    .find(|(id, k, _)| *id == self.id && **k == *key)
                    .map(|(_, _, p)| p.clone())
            })
            .ok()
            .flatten()
    }

    fn front_put(&self, key: &[u8], parsed: &Parsed) {
        // Fails only while the thread is being torn down: then skip it.
        let _ = RECENT.try_with(|r| {
            let mut r = r.borrow_mut();
            let entry = (self.id, Box::from(key), parsed.clone());
            if r.0.len() < FRONT {
                r.0.push(entry);
            } else {
                let slot = r.1;
                r.0[slot] = entry;
                r.1 = (slot + 1) % FRONT;
            }
        });
    }

    /// The shared map: a std mutex is right here, the critical section is
    /// one hash lookup or insert and never awaits.
    fn shared_get<'k, T: AsRef<str>>(
        &self,
        key: &'k [u8],
        text: impl FnOnce(&'k [u8]) -> T,
    ) -> Parsed {
        if let Some(hit) = self.lock().get(key) {
            return hit.clone();
        }
        let parsed = parse(text(key).as_ref()).map(Arc::new);
        let mut map = self.lock();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key.into(), parsed.clone());
        parsed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<[u8]>, Parsed>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (single insert/clear calls), so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of cached texts (in the shared map).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_by_raw_key_and_keeps_caches_apart() {
        let a = QueryCache::new(2);
        let b = QueryCache::new(2);
        let q1 = a.get(b"k1", |_| "* | limit 1").expect("valid");
        // A hit never calls the decoder.
        let again = a.get(b"k1", |_| -> &str { unreachable!("decoded on a hit") });
        assert!(Arc::ptr_eq(&q1, &again.expect("cached")));
        // Another cache with the same key parses its own text.
        assert!(b.get(b"k1", |_| "* | stats count(").is_err());
        assert!(a.get(b"k1", |_| "unused").is_ok());
        // Full: cleared, then the new key is inserted.
        a.get(b"k2", |_| "error").expect("valid");
        a.get(b"k3", |_| "warn").expect("valid");
        assert_eq!(a.len(), 1);
    }
}
