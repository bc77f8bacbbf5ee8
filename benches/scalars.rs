//! Scalars benchmark: `cargo bench --bench scalars -- LOGDIR`.
//!
//! Loads every scalar of a log dir (make one with `python3 benches/make_scalar_logdir.py
//! LOGDIR`: 10 runs × 10 tags × 10k steps, written by TensorBoard's own writer) and
//! reports the time, checking every CRC. The peers, run by `benches/compare_scalars.sh`:
//! tensorboard-data-server and TensorBoard's Python EventMultiplexer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a benchmark may stop on a broken assumption; it reuses the tests' fakes

use std::time::Instant;

use mlconsole::tensorboard::LogDir;

fn main() {
    let Some(dir) = std::env::args().skip(1).find(|a| !a.starts_with('-')) else {
        println!("scalars: no log dir given; usage: cargo bench --bench scalars -- LOGDIR");
        return;
    };
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..7 {
        let started = Instant::now();
        let mut logdir = LogDir::new(&dir);
        count = logdir.refresh().unwrap();
        times.push(started.elapsed());
        assert_eq!(logdir.problems().corrupt_records, 0);
    }
    times.sort();
    println!(
        "mlconsole reader: {count} scalars loaded in {:.0} ms median (min {:.0} ms, max {:.0} ms) over {} cold loads, every CRC checked",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        times.len()
    );
}
