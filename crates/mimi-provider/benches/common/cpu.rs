//! CPU time consumed so far, from Linux's `/proc` (in USER_HZ ticks: 10 ms on
//! x86-64 and arm64), shared by the provider benchmarks.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct CpuTimes {
    /// This process: the providers, the sending side and the clients.
    pub process: Duration,
    /// Every core of the machine, busy (not idle, not waiting for I/O).
    pub machine: Duration,
}

const TICK: Duration = Duration::from_millis(10);

impl CpuTimes {
    /// `None` where `/proc` cannot be read (not Linux): the figures are then
    /// left out.
    pub fn now() -> Option<CpuTimes> {
        // /proc/self/stat: `pid (comm) state ...`; utime and stime are
        // fields 14 and 15, i.e. 11 and 12 after the closing parenthesis.
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<u64> = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let process = fields.get(10)? + fields.get(11)?;
        // /proc/stat: `cpu user nice system idle iowait irq softirq steal ...`.
        let all = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = all
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let busy = [0, 1, 2, 5, 6, 7]
            .iter()
            .map(|&i| cpu.get(i).copied().unwrap_or(0))
            .sum::<u64>();
        Some(CpuTimes {
            process: TICK * u32::try_from(process).ok()?,
            machine: TICK * u32::try_from(busy).ok()?,
        })
    }

    /// Cores used between `self` and `after` over `wall`: (process, machine).
    pub fn cores(self, after: CpuTimes, wall: Duration) -> (f64, f64) {
        let per = |a: Duration, b: Duration| a.saturating_sub(b).as_secs_f64() / wall.as_secs_f64();
        (
            per(after.process, self.process),
            per(after.machine, self.machine),
        )
    }
}
