//! CPU time and resident memory of another process, read from
//! `/proc/PID/stat` and `/proc/PID/status` (Linux), and the series of
//! samples the harness prints.
//!
//! Owns only reading and arithmetic; it never signals the process.

use std::time::Duration;

/// One reading of a process.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    /// user + system CPU time so far.
    pub cpu: Duration,
    /// Resident set size now, KiB (VmRSS).
    pub rss_kib: u64,
    /// Peak resident set size, KiB (VmHWM).
    pub hwm_kib: u64,
}

/// Why a process could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// The files are missing (the process exited) or unreadable.
    #[error("cannot read /proc/{pid}/{file}: {source}; is process {pid} still running?")]
    Io {
        /// The process.
        pid: u32,
        /// `stat` or `status`.
        file: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The contents are not what Linux writes.
    #[error("cannot parse /proc/{pid}/{file}: {what}")]
    Parse {
        /// The process.
        pid: u32,
        /// `stat` or `status`.
        file: &'static str,
        /// What is missing.
        what: &'static str,
    },
}

/// Clock ticks per second of `utime`/`stime` (USER_HZ, 100 on every Linux
/// architecture the kernel exposes to user space).
const TICKS_PER_SEC: u64 = 100;

/// Reads CPU time and memory of `pid`.
pub fn read(pid: u32) -> Result<Reading, ProcError> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|source| ProcError::Io {
            pid,
            file: "stat",
            source,
        })?;
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|source| ProcError::Io {
            pid,
            file: "status",
            source,
        })?;
    let ticks = cpu_ticks(&stat).ok_or(ProcError::Parse {
        pid,
        file: "stat",
        what: "utime/stime fields",
    })?;
    let kib = |key| {
        status_kib(&status, key).ok_or(ProcError::Parse {
            pid,
            file: "status",
            what: "VmRSS/VmHWM lines",
        })
    };
    Ok(Reading {
        cpu: Duration::from_millis(ticks * 1000 / TICKS_PER_SEC),
        rss_kib: kib("VmRSS:")?,
        hwm_kib: kib("VmHWM:")?,
    })
}

/// utime + stime from the text of `/proc/PID/stat` (fields 14 and 15; the
/// command name in field 2 may contain spaces, so count after its `)`).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// CPU use between two readings `wall` apart, in % of one core.
pub fn cpu_percent(before: &Reading, after: &Reading, wall: Duration) -> f64 {
    let used = after.cpu.saturating_sub(before.cpu);
    if wall.is_zero() {
        return 0.0;
    }
    100.0 * used.as_secs_f64() / wall.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_name_with_spaces() {
        let stat = "1234 (vlbench (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 99 1000 200";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn status_lines() {
        let status = "Name:\tvlbench\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(10240));
        assert_eq!(status_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_this_process() {
        let r = read(std::process::id()).expect("own /proc entry");
        assert!(r.rss_kib > 0 && r.hwm_kib >= r.rss_kib);
    }

    #[test]
    fn percent_of_one_core() {
        let a = Reading {
            cpu: Duration::from_millis(100),
            rss_kib: 1,
            hwm_kib: 1,
        };
        let b = Reading {
            cpu: Duration::from_millis(150),
            ..a
        };
        let p = cpu_percent(&a, &b, Duration::from_secs(1));
        assert!((p - 5.0).abs() < 1e-9, "{p}");
        assert_eq!(cpu_percent(&a, &b, Duration::ZERO), 0.0);
    }
}
