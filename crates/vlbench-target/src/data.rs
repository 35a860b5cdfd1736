//! The generated log data set: streams, rows and their rolling timestamps.
//!
//! Owns: deterministic generation (the shape of the fixtures' `gen_logs.py`:
//! Kubernetes-like streams with `job, namespace, pod, container`; fields
//! `level, node, app, trace_id`; `_msg` holding JSON access logs or plain
//! text with words like `error` and `timeout`), field access by
//! [`Field`], and the time layout.
//!
//! Time layout: each row has a fixed *phase* in `[0, span)`. At query time
//! `now`, a row's timestamp is the latest instant `t <= now` with
//! `t ≡ phase (mod span)`, so the data always covers `(now - span, now]`,
//! oldest to newest in a rotation of the phase order. Rows seem to arrive
//! continuously and a `_time:5m` filter always has data, with no work per
//! request beyond two binary searches.
//! Must not: parse queries or write HTTP.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Namespaces and their apps, as in `gen_logs.py`.
const NAMESPACES: [(&str, &[&str]); 6] = [
    ("default", &["frontend", "backend"]),
    ("kube-system", &["coredns", "kube-proxy"]),
    ("monitoring", &["grafana", "vmagent"]),
    ("payments", &["payments-api", "ledger"]),
    ("checkout", &["checkout-api", "cart"]),
    ("auth", &["auth-api"]),
];
const NODES: [&str; 4] = ["node-a-01", "node-a-02", "node-b-01", "node-b-02"];
const PATHS: [&str; 8] = [
    "/api/v1/orders",
    "/api/v1/users",
    "/api/v1/cart",
    "/api/v1/pay",
    "/healthz",
    "/metrics",
    "/api/v1/login",
    "/api/v2/search",
];
const METHODS: [&str; 6] = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const STATUSES: [(u16, u32); 13] = [
    (200, 70),
    (201, 5),
    (204, 3),
    (301, 1),
    (304, 3),
    (400, 4),
    (401, 2),
    (403, 1),
    (404, 6),
    (429, 1),
    (500, 2),
    (502, 1),
    (503, 1),
];
const UPSTREAMS: [&str; 5] = [
    "payments-api.payments.svc",
    "ledger.payments.svc",
    "auth-api.auth.svc",
    "redis-master.default.svc",
    "kafka-0.kafka.svc",
];
/// Job of the Kubernetes streams.
pub const K8S_JOB: &str = "loki.source.kubernetes.pods";
/// Job of the single small journal stream (so `job:"..."` is selective).
pub const JOURNAL_JOB: &str = "loki.source.journal";

/// Log level of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warn`
    Warn,
    /// `error`
    Error,
}

impl Level {
    /// The `level` field value.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// A field a filter or pipe can name, resolved once at parse time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `_msg` (the default field of filters).
    Msg,
    /// `_time`.
    Time,
    /// `_stream`: `{container="..",job="..",namespace="..",pod=".."}`.
    Stream,
    /// `_stream_id`.
    StreamId,
    /// Stream field `job`.
    Job,
    /// Stream field `namespace`.
    Namespace,
    /// Stream field `pod`.
    Pod,
    /// Stream field `container`.
    Container,
    /// `app`.
    App,
    /// `node`.
    Node,
    /// `level`.
    Level,
    /// `trace_id` (absent on journal rows).
    TraceId,
    /// Any other name: no row has it, so its value is empty.
    Other(Box<str>),
}

impl Field {
    /// Resolves a field name (`""` means `_msg`, as in LogsQL).
    pub fn from_name(name: &str) -> Field {
        match name {
            "" | "_msg" => Field::Msg,
            "_time" => Field::Time,
            "_stream" => Field::Stream,
            "_stream_id" => Field::StreamId,
            "job" => Field::Job,
            "namespace" => Field::Namespace,
            "pod" => Field::Pod,
            "container" => Field::Container,
            "app" => Field::App,
            "node" => Field::Node,
            "level" => Field::Level,
            "trace_id" => Field::TraceId,
            other => Field::Other(other.into()),
        }
    }

    /// The field's name as written in responses.
    pub fn name(&self) -> &str {
        match self {
            Field::Msg => "_msg",
            Field::Time => "_time",
            Field::Stream => "_stream",
            Field::StreamId => "_stream_id",
            Field::Job => "job",
            Field::Namespace => "namespace",
            Field::Pod => "pod",
            Field::Container => "container",
            Field::App => "app",
            Field::Node => "node",
            Field::Level => "level",
            Field::TraceId => "trace_id",
            Field::Other(name) => name,
        }
    }

    /// Every field rows can have, in the order of `field_names` answers.
    pub const ALL: [Field; 12] = [
        Field::Msg,
        Field::Stream,
        Field::StreamId,
        Field::Time,
        Field::App,
        Field::Container,
        Field::Job,
        Field::Level,
        Field::Namespace,
        Field::Node,
        Field::Pod,
        Field::TraceId,
    ];
}

/// One log stream (a unique set of stream fields).
#[derive(Debug)]
pub struct Stream {
    /// `job` stream field.
    pub job: &'static str,
    /// `namespace` stream field.
    pub namespace: &'static str,
    /// `pod` stream field.
    pub pod: Box<str>,
    /// `container` stream field.
    pub container: &'static str,
    /// `app` field.
    pub app: &'static str,
    /// `node` field.
    pub node: &'static str,
    /// `_stream` value.
    pub label: Box<str>,
    /// `_stream_id` value (48 hex digits).
    pub id: Box<str>,
    /// The fields this stream fixes in a `/query` row, pre-rendered as
    /// JSON (see `http::render::stream_json`): what follows `_time`'s value
    /// up to `_msg`'s, and what follows `_msg` up to `level`'s value.
    pub json: [Box<[u8]>; 2],
}

/// One log row. `phase` places it in time (see the module docs).
#[derive(Debug)]
pub struct Row {
    /// Position in `[0, span)` nanoseconds; rows are sorted by it.
    pub phase: i64,
    /// Index into [`Dataset::streams`].
    pub stream: u16,
    /// `level` field.
    pub level: Level,
    /// `_msg` field.
    pub msg: Box<str>,
    /// `trace_id` as 32 lowercase hex digits; `None` on journal rows.
    pub trace_id: Option<[u8; 32]>,
}

/// The rows of one tenant.
#[derive(Debug)]
pub struct Dataset {
    /// All streams of the tenant.
    pub streams: Vec<Stream>,
    /// Rows sorted by `phase`.
    pub rows: Vec<Row>,
    /// The span in nanoseconds (the period of the rolling layout).
    pub span: i64,
}

/// A range of rows in time order at one `now`: positions `start..end` of
/// the time-ordered sequence (see [`Dataset::window`]).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// First position (oldest row in range).
    pub start: usize,
    /// One past the last position.
    pub end: usize,
    split: usize,
    r: i64,
    now: i64,
}

impl Dataset {
    /// Generates `rows` rows over `span_ns` with a fixed seed.
    pub fn generate(rows: u32, span_ns: i64, seed: u64) -> Dataset {
        let mut rng = SmallRng::seed_from_u64(seed);
        let streams = build_streams(&mut rng);
        let span = span_ns.max(1);
        let mut out: Vec<Row> = (0..rows)
            .map(|_| make_row(&mut rng, &streams, span))
            .collect();
        out.sort_by_key(|r| r.phase);
        Dataset {
            streams,
            rows: out,
            span,
        }
    }

    /// An empty data set (a tenant without data).
    pub fn empty(span_ns: i64) -> Dataset {
        Dataset {
            streams: Vec::new(),
            rows: Vec::new(),
            span: span_ns.max(1),
        }
    }

    /// The stream of a row.
    pub fn stream_of(&self, row: &Row) -> &Stream {
        &self.streams[usize::from(row.stream)]
    }

    /// The value of `field` in `row`, `None` when the row lacks it. `_time`
    /// has no string value here (it depends on `now`); filters handle it.
    pub fn field<'a>(&'a self, row: &'a Row, field: &Field) -> Option<&'a str> {
        let s = self.stream_of(row);
        Some(match field {
            Field::Msg => &row.msg,
            Field::Stream => &s.label,
            Field::StreamId => &s.id,
            Field::Job => s.job,
            Field::Namespace => s.namespace,
            Field::Pod => &s.pod,
            Field::Container => s.container,
            Field::App => s.app,
            Field::Node => s.node,
            Field::Level => row.level.as_str(),
            // Generated from ASCII hex digits only, so this never fails.
            Field::TraceId => row
                .trace_id
                .as_ref()
                .and_then(|t| std::str::from_utf8(t).ok())?,
            Field::Time | Field::Other(_) => return None,
        })
    }

    /// The rows with timestamps in `[lo, hi]` at `now`, in time order.
    pub fn window(&self, now: i64, lo: i64, hi: i64) -> Window {
        let r = now.rem_euclid(self.span);
        let split = self.rows.partition_point(|row| row.phase <= r);
        let mut w = Window {
            start: 0,
            end: self.rows.len(),
            split,
            r,
            now,
        };
        let n = self.rows.len();
        // Every timestamp is in (now - span, now]: open bounds need no
        // search (the common case: no `start`, `end` = now).
        if lo > now.saturating_sub(self.span) {
            w.start = partition(n, |k| self.time_at(&w, k) < lo);
        }
        if hi < now {
            w.end = partition(n, |k| self.time_at(&w, k) <= hi).max(w.start);
        }
        w
    }

    /// Index into `rows` of time-ordered position `k`.
    pub fn index_at(&self, w: &Window, k: usize) -> usize {
        let n = self.rows.len();
        let i = w.split + k;
        if i >= n {
            i - n
        } else {
            i
        }
    }

    /// Timestamp of time-ordered position `k` of `w`.
    pub fn time_at(&self, w: &Window, k: usize) -> i64 {
        let i = self.index_at(w, k);
        self.time_of(w.now, w.r, i)
    }

    fn time_of(&self, now: i64, r: i64, i: usize) -> i64 {
        let phase = self.rows[i].phase;
        if phase <= r {
            now - (r - phase)
        } else {
            now - (r - phase + self.span)
        }
    }

    /// Timestamp of row index `i` at `now`.
    pub fn row_time(&self, now: i64, i: usize) -> i64 {
        self.time_of(now, now.rem_euclid(self.span), i)
    }
}

/// First `k` in `0..n` for which `pred` is false (pred is monotone).
fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn build_streams(rng: &mut SmallRng) -> Vec<Stream> {
    let mut streams = Vec::new();
    for (ns, apps) in NAMESPACES {
        for &app in apps {
            for _ in 0..rng.random_range(2..=4) {
                let suffix = format!("{:08x}", rng.random::<u32>());
                let pod = format!("{app}-{}-{}", &suffix[..5], &suffix[5..]);
                let sidecar = matches!(ns, "payments" | "checkout" | "auth");
                let node = NODES[rng.random_range(0..NODES.len())];
                for container in [app, "istio-proxy"]
                    .into_iter()
                    .take(if sidecar { 2 } else { 1 })
                {
                    streams.push(new_stream(
                        rng,
                        K8S_JOB,
                        ns,
                        pod.clone(),
                        container,
                        app,
                        node,
                    ));
                }
            }
        }
    }
    streams.push(new_stream(
        rng,
        JOURNAL_JOB,
        "host",
        "none".into(),
        "systemd",
        "systemd",
        NODES[0],
    ));
    streams
}

fn new_stream(
    rng: &mut SmallRng,
    job: &'static str,
    namespace: &'static str,
    pod: String,
    container: &'static str,
    app: &'static str,
    node: &'static str,
) -> Stream {
    let label = format!(
        "{{container=\"{container}\",job=\"{job}\",namespace=\"{namespace}\",pod=\"{pod}\"}}"
    );
    let id = format!("0000000000000000{:032x}", rng.random::<u128>());
    let mut s = Stream {
        job,
        namespace,
        pod: pod.into(),
        container,
        app,
        node,
        label: label.into(),
        id: id.into(),
        json: Default::default(),
    };
    s.json = crate::http::stream_json(&s);
    s
}

fn make_row(rng: &mut SmallRng, streams: &[Stream], span: i64) -> Row {
    let stream = rng.random_range(0..streams.len());
    // Microsecond phases, like the fixtures' timestamps.
    let phase = rng.random_range(0..span) / 1000 * 1000;
    // At most a few dozen streams exist, so the index fits in u16.
    let stream_id = u16::try_from(stream).unwrap_or(0);
    let s = &streams[stream];
    if s.job == JOURNAL_JOB {
        let msg = format!(
            "Started Session {} of user root.",
            rng.random_range(1..=9999)
        );
        return Row {
            phase,
            stream: stream_id,
            level: Level::Info,
            msg: msg.into(),
            trace_id: None,
        };
    }
    let (level, msg) = if rng.random_bool(0.6) {
        access_log(rng)
    } else {
        plain_message(rng, s.namespace)
    };
    let mut trace = [0u8; 32];
    let hex = format!("{:032x}", rng.random::<u128>());
    trace.copy_from_slice(hex.as_bytes());
    Row {
        phase,
        stream: stream_id,
        level,
        msg: msg.into(),
        trace_id: Some(trace),
    }
}

fn access_log(rng: &mut SmallRng) -> (Level, String) {
    let total: u32 = STATUSES.iter().map(|s| s.1).sum();
    let mut pick = rng.random_range(0..total);
    let mut status = 200;
    for (code, w) in STATUSES {
        if pick < w {
            status = code;
            break;
        }
        pick -= w;
    }
    let level = match status {
        500.. => Level::Error,
        400.. => Level::Warn,
        _ => Level::Info,
    };
    let duration = (-rng.random::<f64>().max(1e-12).ln() * 40.0) as u64 + 1;
    let msg = format!(
        "{{\"method\":\"{}\",\"path\":\"{}\",\"status\":{status},\"duration_ms\":{duration},\"bytes\":{},\"remote_addr\":\"10.{}.{}.{}\"}}",
        METHODS[rng.random_range(0..METHODS.len())],
        PATHS[rng.random_range(0..PATHS.len())],
        rng.random_range(100..=50_000),
        rng.random_range(0..=255),
        rng.random_range(0..=255),
        rng.random_range(1..=254),
    );
    (level, msg)
}

fn plain_message(rng: &mut SmallRng, ns: &str) -> (Level, String) {
    let ms = rng.random_range(1..=30_000);
    let n = rng.random_range(1..=5000);
    let id = rng.random_range(100_000..=999_999);
    let up = UPSTREAMS[rng.random_range(0..UPSTREAMS.len())];
    let a = rng.random_range(1..=5);
    match rng.random_range(0..12) {
        0 => (
            Level::Info,
            format!("cache refreshed in {ms}ms, {n} entries"),
        ),
        1 => (
            Level::Info,
            format!("connected to postgres at db-{n}.{ns}.svc:5432"),
        ),
        2 => (Level::Info, format!("processed batch id={id} items={n}")),
        3 => (Level::Debug, format!("gc pause {ms}ms heap={n}MB")),
        4 => (
            Level::Warn,
            format!("slow query took {ms}ms: SELECT * FROM orders WHERE id={id}"),
        ),
        5 => (
            Level::Warn,
            format!("retrying request to upstream {up} attempt={a}"),
        ),
        6 => (
            Level::Error,
            format!("error connecting to {up}: connection refused"),
        ),
        7 => (
            Level::Error,
            format!("request timeout after {ms}ms calling {up}"),
        ),
        8 => (
            Level::Error,
            format!("context deadline exceeded: timeout waiting for {up}"),
        ),
        9 => (
            Level::Error,
            format!("failed to commit transaction id={id}: error=deadlock detected"),
        ),
        10 => (
            Level::Error,
            format!("panic recovered: runtime error: index out of range [{a}] with length {a}"),
        ),
        _ => (
            Level::Warn,
            format!("timeout while reading response body from {up}, will retry"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400 * 1_000_000_000;

    #[test]
    fn deterministic_and_shaped_like_the_fixtures() {
        let a = Dataset::generate(2000, DAY, 42);
        let b = Dataset::generate(2000, DAY, 42);
        assert_eq!(a.rows.len(), 2000);
        assert!(a
            .rows
            .iter()
            .zip(&b.rows)
            .all(|(x, y)| x.msg == y.msg && x.phase == y.phase));
        assert!(a.rows.windows(2).all(|w| w[0].phase <= w[1].phase));
        assert!(a.rows.iter().any(|r| r.msg.contains("\"status\":503")));
        assert!(a.rows.iter().any(|r| r.msg.contains("timeout")));
        assert!(a.streams.iter().any(|s| s.job == JOURNAL_JOB));
        assert!(a.streams.iter().all(|s| s.id.len() == 48));
    }

    #[test]
    fn window_covers_the_span_before_now_in_time_order() {
        let d = Dataset::generate(5000, DAY, 1);
        let now = 1_795_579_804_123_456_789;
        let all = d.window(now, i64::MIN, i64::MAX);
        assert_eq!((all.start, all.end), (0, 5000));
        let times: Vec<i64> = (0..5000).map(|k| d.time_at(&all, k)).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times[0] > now - DAY && times[4999] <= now);
        let lo = now - 3600 * 1_000_000_000;
        let w = d.window(now, lo, now);
        let brute = (0..d.rows.len())
            .filter(|&i| d.row_time(now, i) >= lo)
            .count();
        assert_eq!(w.end - w.start, brute);
        assert!(brute > 0);
    }
}
