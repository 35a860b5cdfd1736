//! vlbench-stats: histograms, counting, merge, summaries and the wire form
//! of measurements.
//!
//! # Layout
//! - [`hist`]: the histogram shape (bounds, clamping, exact merge, figures).
//! - [`class`]: [`ErrorClass`], the `Copy` error value of the hot path.
//! - [`query`]: [`Outcome`] (one request) into [`QueryStats`] (+ [`StatusCounts`]).
//! - [`interval`]: [`IntervalStats`] = per-query stats + schedule [`Ledger`].
//! - [`recorder`]: [`Recorder`], the per-shard hot path (no allocation).
//! - [`wire`]: [`IntervalReport`] and the serde of everything above.
//! - [`sparse`], [`sparse_wire`], [`sparse_stats`], [`sparse_acc`], [`dense_acc`]: the same data with only
//!   the recorded buckets (decoded straight from the wire form), for merging
//!   many small reports cheaply (the coordinator).
//! - [`summary`]: [`Summary`], the numbers users read.
//! - [`run`]: [`RunStats`], a whole run's series and totals.
//!
//! No async here, and no I/O but the optional spill file of a run's
//! archived seconds (`archive`). Percentiles always come from merged histograms,
//! never from averaged averages (SPEC B-1).

mod archive;
pub mod class;
pub mod dense_acc;
pub mod hist;
pub mod interval;
pub mod query;
pub mod recorder;
pub mod run;
pub mod sparse;
pub mod sparse_acc;
pub mod sparse_stats;
pub mod sparse_wire;
pub mod summary;
pub mod wire;

pub use class::ErrorClass;
pub use dense_acc::DenseAcc;
pub use hist::{new_histogram, HIST_MAX_US, HIST_SIGFIG};
pub use interval::{IntervalStats, Ledger};
pub use query::{Outcome, QueryStats, StatusCounts};
pub use recorder::Recorder;
pub use run::RunStats;
pub use sparse::SparseHist;
pub use sparse_acc::{HistAcc, SparseAcc, SparseIntervalAcc};
pub use sparse_stats::{SparseIntervalReport, SparseIntervalStats, SparseLedger, SparseQueryStats};
pub use sparse_wire::{decode_sparse, encode_sparse};
pub use summary::Summary;
pub use wire::{decode_histogram, encode_histogram, IntervalReport, WireError};

/// Re-exported so that users name the same histogram type without a direct
/// dependency on hdrhistogram.
pub use hdrhistogram::Histogram;
