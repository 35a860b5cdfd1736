//! Smooth weighted round-robin (S-9) and shares of the global schedule.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use vlbench_workload::{Share, SmoothWrr, MAX_CYCLE};

/// Fixed seed: the same cases on every run.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_0004),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// For every prefix of `owner(i)` (the node of item i), the largest distance
/// between a node's count and its exact share.
fn worst_prefix_deviation(weights: &[u32], n: usize, owner: impl Fn(u64) -> usize) -> f64 {
    let total: u32 = weights.iter().sum();
    let mut counts = vec![0u64; weights.len()];
    let mut worst = 0f64;
    for k in 0..n as u64 {
        counts[owner(k)] += 1;
        for (c, w) in counts.iter().zip(weights) {
            let exact = (k + 1) as f64 * f64::from(*w) / f64::from(total);
            worst = worst.max((*c as f64 - exact).abs());
        }
    }
    worst
}

fn owner(shares: &[Share], i: u64) -> usize {
    shares
        .iter()
        .position(|s| s.contains(i))
        .expect("shares cover every item")
}

fn picks(weights: &[u32], n: usize) -> Vec<Option<usize>> {
    let mut w = SmoothWrr::new(weights);
    (0..n).map(|_| w.next()).collect()
}

#[test]
fn nginx_sequence_for_5_1_1() {
    // The sequence from nginx's description of the algorithm: a a b a c a a.
    let got: Vec<usize> = picks(&[5, 1, 1], 7)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(got, [0, 0, 1, 0, 2, 0, 0]);
}

#[test]
fn ties_go_to_the_lowest_index_and_zero_weights_are_skipped() {
    let got: Vec<usize> = picks(&[1, 0, 1], 4)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(got, [0, 2, 0, 2]);
    assert_eq!(picks(&[], 2), [None, None]);
    assert_eq!(picks(&[0, 0], 2), [None, None]);
}

#[test]
fn share_whole_and_empty() {
    let w = Share::whole();
    assert!((0..10).all(|i| w.contains(i)));
    assert_eq!(w.nth(7), 7);
    assert_eq!(w.count_below(7), 7);
    let e = Share::from_weights(&[3, 0], 1);
    assert!(e.is_empty());
    assert!(!e.contains(0));
    assert_eq!(e.count_below(100), 0);
    assert_eq!(e.nth(0), u64::MAX);
    assert!(Share::from_weights(&[3], 5).is_empty());
    assert!(Share::from_weights(&[], 0).is_empty());
}

#[test]
fn shares_follow_the_wrr_pattern() {
    // Pattern of [2, 1] is a b a (reduced from [4, 2]).
    let a = Share::from_weights(&[4, 2], 0);
    let b = Share::from_weights(&[4, 2], 1);
    assert_eq!(
        (0..6).filter(|&i| a.contains(i)).collect::<Vec<_>>(),
        [0, 2, 3, 5]
    );
    assert_eq!(
        (0..6).filter(|&i| b.contains(i)).collect::<Vec<_>>(),
        [1, 4]
    );
    assert!((a.fraction() - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(b.nth(2), 7);
}

#[test]
fn huge_weights_are_scaled_to_a_bounded_cycle() {
    let w = [u32::MAX, u32::MAX - 1, 7];
    let shares: Vec<Share> = (0..3).map(|me| Share::from_weights(&w, me)).collect();
    let n = 3 * MAX_CYCLE;
    let total: u64 = shares.iter().map(|s| s.count_below(n)).sum();
    assert_eq!(total, n);
    assert!(
        !shares[2].is_empty(),
        "a small non-zero weight keeps a share"
    );
    assert!((shares[0].fraction() - 0.5).abs() < 1e-3);
}

fn arb_weights() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(prop_oneof![Just(0u32), 1..20u32, 1..2000u32], 1..6)
}

#[test]
fn nginx_wrr_can_lag_more_than_one_but_shares_do_not() {
    let w = [1, 956, 0, 12, 344];
    let seq = picks(&w, 397);
    assert_eq!(seq.iter().filter(|&&p| p == Some(4)).count(), 103); // exact: 104.01
    let shares: Vec<Share> = (0..w.len()).map(|me| Share::from_weights(&w, me)).collect();
    let dev = worst_prefix_deviation(&w, 1313, |i| owner(&shares, i));
    assert!(dev < 1.0, "{dev}");
}

proptest! {
    #![proptest_config(config(300))]

    /// Nginx's bounds: a node is never a whole item ahead of its share, lags
    /// by less than n − 1 items (n weighted nodes; so within 1 for two), and
    /// one cycle of sum-of-weights picks gives each node exactly its weight.
    #[test]
    fn nginx_wrr_bounds(weights in arb_weights(), n in 1usize..3000) {
        let total: u32 = weights.iter().sum();
        prop_assume!(total > 0);
        let active = weights.iter().filter(|&&w| w > 0).count() as f64;
        let mut counts = vec![0u64; weights.len()];
        for (k, p) in picks(&weights, n).into_iter().enumerate() {
            counts[p.unwrap()] += 1;
            for (c, w) in counts.iter().zip(&weights) {
                let exact = (k + 1) as f64 * f64::from(*w) / f64::from(total);
                prop_assert!((*c as f64) - exact < 1.0, "ahead: count {} exact {}", c, exact);
                prop_assert!(exact - (*c as f64) < (active - 1.0).max(1.0), "behind: count {} exact {}", c, exact);
            }
        }
        let mut cycle = vec![0u32; weights.len()];
        for p in picks(&weights, total as usize) {
            cycle[p.unwrap()] += 1;
        }
        prop_assert_eq!(cycle, weights);
    }

    /// Issue 4: over any prefix of global items each node's share is within
    /// 1 of weight/total.
    #[test]
    fn share_prefixes_are_within_one_of_the_exact_share(weights in arb_weights(), n in 1usize..3000) {
        prop_assume!(weights.iter().any(|&w| w > 0));
        let shares: Vec<Share> = (0..weights.len()).map(|me| Share::from_weights(&weights, me)).collect();
        let dev = worst_prefix_deviation(&weights, n, |i| owner(&shares, i));
        prop_assert!(dev < 1.0, "deviation {}", dev);
    }

    /// Every global item belongs to exactly one node.
    #[test]
    fn shares_partition_the_items(weights in arb_weights(), start in 0u64..1_000_000) {
        prop_assume!(weights.iter().any(|&w| w > 0));
        let shares: Vec<Share> = (0..weights.len()).map(|me| Share::from_weights(&weights, me)).collect();
        for i in start..start + 500 {
            prop_assert_eq!(shares.iter().filter(|s| s.contains(i)).count(), 1, "item {}", i);
        }
        let n = start + 500;
        prop_assert_eq!(shares.iter().map(|s| s.count_below(n)).sum::<u64>(), n);
    }

    /// nth enumerates exactly the contained items, in order, and count_below inverts it.
    #[test]
    fn nth_and_count_below_agree(weights in arb_weights(), me in 0usize..6, parts in 1usize..5, s in 0usize..5) {
        let base = Share::from_weights(&weights, me);
        for share in [base.clone(), base.split(parts, s)] {
            if share.is_empty() {
                continue;
            }
            let owned: Vec<u64> = (0..400).filter(|&i| share.contains(i)).collect();
            for (k, &i) in owned.iter().enumerate() {
                prop_assert_eq!(share.nth(k as u64), i);
                prop_assert_eq!(share.count_below(i), k as u64);
                prop_assert_eq!(share.count_below(i + 1), k as u64 + 1);
            }
        }
    }

    /// Splitting a share among shards partitions it, every parts-th item each.
    #[test]
    fn split_partitions_a_share(weights in arb_weights(), me in 0usize..6, parts in 1usize..7) {
        let share = Share::from_weights(&weights, me);
        let shards: Vec<Share> = (0..parts).map(|s| share.split(parts, s)).collect();
        for i in 0..600u64 {
            let n = shards.iter().filter(|p| p.contains(i)).count();
            prop_assert_eq!(n, usize::from(share.contains(i)), "item {}", i);
        }
        for (s, shard) in shards.iter().enumerate() {
            for k in 0..20u64 {
                prop_assert_eq!(shard.nth(k), share.nth(k * parts as u64 + s as u64));
            }
        }
        prop_assert!(share.split(parts, parts).is_empty());
        prop_assert!(share.split(0, 0).is_empty());
    }
}
