//! Samples the CPU and memory (and GPU use, on a machine with GPUs) of every running
//! job's whole process tree once a second.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sysinfo::{Pid, Process, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};

use super::Engine;
use super::gpus::{self, ProcessGpu};
use super::store::DeviceSample;
use crate::domain::ResourceSample;

/// Time between samples.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Samples running jobs until the engine stops. Costs nothing while no job runs.
pub async fn run(engine: Arc<Engine>) {
    let mut system = match System::new() {
        Ok(system) => Some(system),
        Err(e) => {
            tracing::error!("resource sampling is off: cannot read process information: {e}");
            return;
        }
    };
    let mut gpu = gpus::usage_source(&engine.config().gpus);
    let mut ticker = tokio::time::interval(SAMPLE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let roots = engine.running_processes();
        if roots.is_empty() {
            continue;
        }
        let Some(mut sys) = system.take() else {
            return;
        };
        let mut source = gpu.take();
        let holders = engine.gpu_holders();
        let joined = tokio::task::spawn_blocking(move || {
            let usage = source.as_mut().map(|s| s.by_process());
            let samples = sample_trees(&mut sys, &roots, usage.as_ref());
            let devices = match source.as_mut() {
                Some(source) if !holders.is_empty() => {
                    // The jobs' time: a reader asking for samples after its last one
                    // gets each device sample once.
                    let time = samples.first().map_or_else(Utc::now, |(_, s)| s.time);
                    device_samples(&holders, &source.by_device(), time)
                }
                _ => Vec::new(),
            };
            (sys, source, samples, devices)
        })
        .await;
        let Ok((sys, source, samples, devices)) = joined else {
            return;
        };
        system = Some(sys);
        gpu = source;
        if let Err(e) = engine.store().add_samples(&samples) {
            tracing::error!("cannot save resource samples: {e}");
        }
        if let Err(e) = engine.store().add_device_samples(&devices) {
            tracing::error!("cannot save GPU samples: {e}");
        }
    }
}

/// Each held device's totals, recorded for the job holding it.
fn device_samples(
    holders: &[(String, Vec<u32>)],
    by_device: &HashMap<u32, ProcessGpu>,
    time: chrono::DateTime<Utc>,
) -> Vec<DeviceSample> {
    holders
        .iter()
        .flat_map(|(job, devices)| {
            devices.iter().map(move |&device| {
                let used = by_device.get(&device).copied().unwrap_or_default();
                DeviceSample {
                    job_id: job.clone(),
                    device,
                    time,
                    percent: used.percent,
                    memory_bytes: used.memory_bytes,
                }
            })
        })
        .collect()
}

/// Whether `process` has ended and waits for its parent to reap it.
fn exited(process: &Process) -> bool {
    matches!(
        process.status(),
        ProcessStatus::Zombie | ProcessStatus::Dead
    )
}

/// Whether the kernel is taking `pid`'s process down (`PF_EXITING`: set from the
/// moment it starts to exit, while its memory already reads as 0, until it is reaped).
#[cfg(target_os = "linux")]
fn exiting(pid: Pid) -> bool {
    const PF_EXITING: u64 = 0x4;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The name (in parentheses) may hold spaces and parentheses: fields follow the last `)`;
    // the flags are the seventh after it.
    stat.rsplit_once(')')
        .and_then(|(_, fields)| fields.split_whitespace().nth(6))
        .and_then(|flags| flags.parse::<u64>().ok())
        .is_some_and(|flags| flags & PF_EXITING != 0)
}

/// Elsewhere an exiting process shows as a zombie soon enough.
#[cfg(not(target_os = "linux"))]
fn exiting(_pid: Pid) -> bool {
    false
}

/// Refreshes every process and sums CPU and memory (and the GPU use in `gpu`, when the
/// machine has GPUs) over each root's descendants.
pub fn sample_trees(
    sys: &mut System,
    roots: &[(String, i32)],
    gpu: Option<&HashMap<i32, ProcessGpu>>,
) -> Vec<(String, ResourceSample)> {
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_cpu().with_memory(),
    );
    let time = Utc::now();
    let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
    for (pid, process) in sys.processes() {
        if process.thread_kind().is_some() {
            continue; // threads are counted in their process
        }
        if let Some(parent) = process.parent() {
            children.entry(parent).or_default().push(*pid);
        }
    }
    roots
        .iter()
        .filter_map(|(job_id, root)| {
            let root = Pid::from(usize::try_from(*root).ok()?);
            // A job that is exiting or has exited but is not reaped yet holds nothing:
            // a sample of it would read as its memory falling to zero at the end.
            if exited(sys.process(root)?) || exiting(root) {
                return None;
            }
            let (mut cpu, mut memory) = (0.0f64, 0u64);
            let mut on_gpu = ProcessGpu::default();
            let mut stack = vec![root];
            while let Some(pid) = stack.pop() {
                if let Some(p) = sys.process(pid).filter(|p| !exited(p)) {
                    cpu += f64::from(p.cpu_usage());
                    memory += p.memory();
                }
                let used = i32::try_from(pid.as_u32())
                    .ok()
                    .and_then(|pid| gpu?.get(&pid));
                if let Some(used) = used {
                    on_gpu.percent += used.percent;
                    on_gpu.memory_bytes += used.memory_bytes;
                }
                if let Some(kids) = children.get(&pid) {
                    stack.extend(kids);
                }
            }
            let sample = ResourceSample {
                time,
                cpu_percent: cpu,
                memory_bytes: memory,
                // A machine with GPUs reports 0 for a job using none.
                gpu_percent: gpu.map(|_| on_gpu.percent),
                gpu_memory_bytes: gpu.map(|_| on_gpu.memory_bytes),
            };
            Some((job_id.clone(), sample))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_that_exited_but_is_not_reaped_gets_no_sample() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = i32::try_from(child.id()).expect("pid");
        let roots = vec![("done".to_owned(), pid)];
        let mut sys = System::new().expect("process information");
        // Not waited for, so it stays a zombie once it has exited.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            sys.refresh_processes(ProcessesToUpdate::All, true);
            let status = sys.process(Pid::from_u32(child.id())).map(Process::status);
            if status == Some(ProcessStatus::Zombie) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "status {status:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(sample_trees(&mut sys, &roots, None).is_empty());
        child.wait().expect("reap");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_taken_down_reads_as_exiting_whatever_its_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A name with a space and parentheses, as /proc/PID/stat shows it (a link: the
        // name is the one exec was given).
        let odd = dir.path().join("a) (b");
        std::os::unix::fs::symlink("/bin/sleep", &odd).expect("link sleep");
        let mut running = std::process::Command::new(&odd)
            .arg("5")
            .spawn()
            .expect("spawn");
        let mut zombie = std::process::Command::new("true").spawn().expect("spawn");
        let zombie_pid = Pid::from_u32(zombie.id());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(format!("/proc/{zombie_pid}/stat"))
            .is_ok_and(|s| s.contains(") Z "))
        {
            assert!(std::time::Instant::now() < deadline, "true never exited");
            std::thread::sleep(Duration::from_millis(10));
        }
        let running_pid = Pid::from_u32(running.id());
        let name = std::fs::read_to_string(format!("/proc/{running_pid}/stat")).unwrap_or_default();
        let running_exiting = exiting(running_pid);
        let zombie_exiting = exiting(zombie_pid);
        running.kill().expect("kill");
        running.wait().expect("reap");
        zombie.wait().expect("reap");
        assert!(name.contains("(a) (b)"), "{name}");
        assert!(!running_exiting);
        assert!(zombie_exiting);
        assert!(!exiting(zombie_pid), "a reaped process is gone");
    }

    #[test]
    fn a_running_job_is_sampled() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("spawn sleep");
        let roots = vec![(
            "running".to_owned(),
            i32::try_from(child.id()).expect("pid"),
        )];
        let mut sys = System::new().expect("process information");
        let samples = sample_trees(&mut sys, &roots, None);
        child.kill().expect("kill");
        child.wait().expect("reap");
        assert_eq!(samples.len(), 1);
        assert!(samples[0].1.memory_bytes > 0);
    }
}
