//! Splitting one global schedule between nodes and shards (S-9).
//!
//! Owns smooth weighted round-robin and the `Share` built from one cycle of
//! it: which global items (arrival indices, closed users) a node runs. The
//! shares of all nodes partition the items, so the fleet's load adds up to
//! the asked load (k6 execution segments are the model). It does not decide
//! weights; the cluster crate does.

/// Smooth weighted round-robin as in nginx (S-9): each pick adds every
/// weight to its node's current weight, picks the highest (ties to the
/// lowest index) and subtracts the total from it. Over any prefix of picks
/// each node's count is within 1 of its exact share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmoothWrr {
    weights: Vec<i64>,
    current: Vec<i64>,
    total: i64,
}

impl SmoothWrr {
    /// A selector over `weights`; zero-weight nodes are never picked.
    pub fn new(weights: &[u32]) -> Self {
        let weights: Vec<i64> = weights.iter().map(|&w| i64::from(w)).collect();
        SmoothWrr {
            current: vec![0; weights.len()],
            total: weights.iter().sum(),
            weights,
        }
    }

    /// The next node, or `None` when there are no nodes or all weights are 0.
    #[allow(clippy::should_implement_trait)] // `Iterator` would suggest it never ends.
    pub fn next(&mut self) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        let mut best: Option<(usize, i64)> = None;
        for (i, (&w, cur)) in self.weights.iter().zip(self.current.iter_mut()).enumerate() {
            if w == 0 {
                continue;
            }
            *cur += w;
            if best.is_none_or(|(_, b)| *cur > b) {
                best = Some((i, *cur));
            }
        }
        let (b, _) = best?;
        self.current[b] -= self.total;
        Some(b)
    }
}

/// Cycles longer than this are approximated by scaling the weights down, so
/// a share's offset table stays small (shares stay exact to 1/MAX_CYCLE).
pub const MAX_CYCLE: u64 = 1 << 16;

/// A node's (or shard's) part of the global items: item `i` is owned when
/// `i % len` is one of `own`. Built from one cycle of [`SmoothWrr`], so every
/// prefix of items is split within 1 of the weights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    /// The period of the pattern (at least 1).
    len: u64,
    /// Owned offsets within one period, ascending.
    own: Vec<u64>,
}

impl Share {
    /// Everything: the share of a single process.
    pub fn whole() -> Share {
        Share {
            len: 1,
            own: vec![0],
        }
    }

    /// Nothing: the share of a zero-weight node.
    pub fn empty() -> Share {
        Share {
            len: 1,
            own: Vec::new(),
        }
    }

    /// Node `me`'s share when the nodes have `weights`. Every node must be
    /// given the same `weights` so the shares partition the items. A zero
    /// weight, or `me` out of range, gives the empty share.
    pub fn from_weights(weights: &[u32], me: usize) -> Share {
        let weights = cycle_weights(weights);
        if weights.get(me).copied().unwrap_or(0) == 0 {
            return Share::empty();
        }
        let len: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut wrr = SmoothWrr::new(&weights);
        let own = (0..len).filter(|_| wrr.next() == Some(me)).collect();
        Share { len, own }
    }

    /// Whether global item `i` is in this share.
    pub fn contains(&self, i: u64) -> bool {
        self.own.binary_search(&(i % self.len)).is_ok()
    }

    /// The `k`-th owned global item (k = 0, 1, ...); `u64::MAX` for an
    /// empty share or when the item would not fit in a u64.
    pub fn nth(&self, k: u64) -> u64 {
        let m = self.own.len() as u64;
        if m == 0 {
            return u64::MAX;
        }
        (k / m)
            .checked_mul(self.len)
            .and_then(|base| base.checked_add(self.own[(k % m) as usize]))
            .unwrap_or(u64::MAX)
    }

    /// How many of the items `0..n` are owned.
    pub fn count_below(&self, n: u64) -> u64 {
        let m = self.own.len() as u64;
        let rem = n % self.len;
        (n / self.len) * m + self.own.partition_point(|&p| p < rem) as u64
    }

    /// Splits this share among `parts` shards: shard `s` gets owned items
    /// number s, s + parts, s + 2·parts, ... The shards partition the share.
    /// `parts == 0` or `s >= parts` gives the empty share.
    pub fn split(&self, parts: usize, s: usize) -> Share {
        let m = self.own.len() as u64;
        let (parts, s) = (parts as u64, s as u64);
        if parts == 0 || s >= parts || m == 0 {
            return Share::empty();
        }
        // The owned sequence repeats every m items; the shard pattern every
        // lcm(m, parts) owned items, i.e. every lcm/m periods.
        let period_items = m / gcd(m, parts) * parts;
        let len = self.len * (period_items / m);
        let own = (s..period_items).step_by(parts as usize).map(|k| self.nth(k)).collect();
        Share { len, own }
    }

    /// The fraction of all items owned (for display and weights).
    pub fn fraction(&self) -> f64 {
        self.own.len() as f64 / self.len as f64
    }

    /// Whether nothing is owned.
    pub fn is_empty(&self) -> bool {
        self.own.is_empty()
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The weights one cycle is built from: divided by their gcd, and scaled
/// down (keeping non-zero weights non-zero) when the sum exceeds MAX_CYCLE.
fn cycle_weights(weights: &[u32]) -> Vec<u32> {
    let reduce = |w: Vec<u64>| -> Vec<u64> {
        let g = w.iter().fold(0, |g, &x| gcd(g, x)).max(1);
        w.into_iter().map(|x| x / g).collect()
    };
    let mut w = reduce(weights.iter().map(|&x| u64::from(x)).collect());
    let sum: u64 = w.iter().sum();
    if sum > MAX_CYCLE {
        let scale = MAX_CYCLE as f64 / sum as f64;
        let scaled = w
            .iter()
            .map(|&x| if x == 0 { 0 } else { ((x as f64 * scale).round() as u64).max(1) })
            .collect();
        w = reduce(scaled);
    }
    // Each weight is at most its original u32 value, so this cannot truncate.
    w.into_iter().map(|x| u32::try_from(x).unwrap_or(u32::MAX)).collect()
}
