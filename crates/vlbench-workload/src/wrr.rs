//! Splitting one global schedule between nodes and shards (S-9).
//!
//! Owns smooth weighted round-robin and the `Share`: which global items
//! (arrival indices, closed users) a node runs. The shares of all nodes
//! partition the items, so the fleet's load adds up to the asked load (k6
//! execution segments are the model). It does not decide weights; the
//! cluster crate does.
//!
//! Why a `Share` is not a cycle of nginx's [`SmoothWrr`]: with four or more
//! weighted nodes nginx's sequence can lag a node's exact share by more than
//! one item (weights `[1, 956, 0, 12, 344]`: node 4 has 103 of the first 397
//! picks, its exact share is 104.01). Shares use Tijdeman's sequence for the
//! chairman assignment problem instead, which stays within 1 − 1/(2n − 2)
//! of every node's exact share over every prefix, and like nginx's repeats
//! after sum-of-weights picks with each node picked its weight times.

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
/// `i % len` is one of `own`. Built from one cycle of a sequence that keeps
/// every prefix of items within 1 of the weights (see the module docs).
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
        let mut seq = Apportion::new(&weights);
        let len = seq.total;
        let own = (0..len).filter(|_| seq.next() == Some(me)).collect();
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
        let own = (s..period_items)
            .step_by(parts as usize)
            .map(|k| self.nth(k))
            .collect();
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

/// Tijdeman's chairman-assignment sequence: at pick t (from 1), among the
/// nodes whose deficit t·wᵢ/W − cᵢ is at least σ = 1/(2n − 2), pick the one
/// whose next item is due first, i.e. the least (cᵢ + 1 − σ)/wᵢ (ties to the
/// lowest index). Then |t·wᵢ/W − cᵢ| ≤ 1 − σ for every node and prefix.
/// Integer arithmetic throughout: every test is multiplied by (2n − 2)·W.
struct Apportion {
    weights: Vec<u64>,
    counts: Vec<u64>,
    total: u64,
    /// 2n − 2 for n non-zero weights.
    two_n_2: i128,
    t: u64,
}

impl Apportion {
    fn new(weights: &[u32]) -> Apportion {
        let weights: Vec<u64> = weights.iter().map(|&w| u64::from(w)).collect();
        let n = weights.iter().filter(|&&w| w > 0).count() as i128;
        Apportion {
            counts: vec![0; weights.len()],
            total: weights.iter().sum(),
            two_n_2: (2 * n - 2).max(0),
            weights,
            t: 0,
        }
    }

    fn next(&mut self) -> Option<usize> {
        self.t += 1;
        let (t, total) = (i128::from(self.t), i128::from(self.total));
        // (index, numerator (2n−2)(cᵢ+1) − 1, weight) of the best so far.
        let mut best: Option<(usize, i128, i128)> = None;
        for (i, (&w, &c)) in self.weights.iter().zip(&self.counts).enumerate() {
            let (w, c) = (i128::from(w), i128::from(c));
            if w == 0 || self.two_n_2 * (t * w - total * c) < total {
                continue;
            }
            let key = self.two_n_2 * (c + 1) - 1;
            if best.is_none_or(|(_, bk, bw)| key * bw < bk * w) {
                best = Some((i, key, w));
            }
        }
        // With one node σ is undefined: it gets every pick.
        let pick = match best {
            Some((i, _, _)) => i,
            None => self.weights.iter().position(|&w| w > 0)?,
        };
        self.counts[pick] += 1;
        Some(pick)
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
            .map(|&x| {
                if x == 0 {
                    0
                } else {
                    ((x as f64 * scale).round() as u64).max(1)
                }
            })
            .collect();
        w = reduce(scaled);
    }
    // Each weight is at most its original u32 value, so this cannot truncate.
    w.into_iter()
        .map(|x| u32::try_from(x).unwrap_or(u32::MAX))
        .collect()
}
