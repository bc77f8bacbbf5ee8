//! The machine's GPUs as the local engine schedules them: found through NVML (the
//! `nvml-wrapper` crate, which loads `libnvidia-ml` at run time, so a machine without a
//! driver runs as one without GPUs), or a fake set for tests (`--fake-gpus N`). A job asks
//! for `masterConfig.acceleratorConfig.count` devices and sees only those
//! (`CUDA_VISIBLE_DEVICES`, `NVIDIA_VISIBLE_DEVICES`).

use std::collections::{BTreeSet, HashMap};

use crate::domain::Job;

/// One GPU of the machine.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuDevice {
    /// Its NVML index (what `CUDA_VISIBLE_DEVICES` names).
    pub index: u32,
    /// E.g. `NVIDIA GeForce RTX 4090`.
    pub name: String,
    /// Its memory in bytes.
    pub memory_bytes: u64,
}

/// Where the engine learns the machine's GPUs.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum GpuSetting {
    /// Ask NVML.
    #[default]
    Detect,
    /// Pretend the machine has this many (tests of the scheduler on a machine without).
    Fake(u32),
}

/// What the machine has: its GPUs, or why it has none.
#[derive(Debug, Clone, Default)]
pub struct GpuInventory {
    /// The devices, by index.
    pub devices: Vec<GpuDevice>,
    /// Why there are none, when there are none ("no NVIDIA GPU found: …").
    pub none_because: Option<String>,
}

impl GpuInventory {
    /// Finds the GPUs as `setting` says.
    pub fn discover(setting: &GpuSetting) -> GpuInventory {
        match setting {
            GpuSetting::Fake(n) => GpuInventory {
                devices: (0..*n)
                    .map(|index| GpuDevice {
                        index,
                        name: format!("fake GPU {index}"),
                        memory_bytes: 16 << 30,
                    })
                    .collect(),
                none_because: (*n == 0).then(|| "no GPU (--fake-gpus 0)".to_owned()),
            },
            GpuSetting::Detect => match nvml_devices() {
                Ok(devices) if !devices.is_empty() => GpuInventory {
                    devices,
                    none_because: None,
                },
                Ok(_) => GpuInventory {
                    devices: Vec::new(),
                    none_because: Some("no NVIDIA GPU found: the driver reports none".into()),
                },
                Err(e) => GpuInventory {
                    devices: Vec::new(),
                    none_because: Some(format!("no NVIDIA GPU found ({e})")),
                },
            },
        }
    }

    /// "1 GPU (NVIDIA A100)", "2 GPUs (…)" or "0 GPUs (no NVIDIA GPU found …)".
    pub fn describe(&self) -> String {
        let count = self.devices.len();
        let plural = if count == 1 { "GPU" } else { "GPUs" };
        match (&self.none_because, self.devices.first()) {
            (Some(why), _) => format!("{count} {plural} ({why})"),
            (None, Some(first)) => format!("{count} {plural} ({})", first.name),
            (None, None) => format!("{count} {plural}"),
        }
    }
}

fn nvml_devices() -> Result<Vec<GpuDevice>, String> {
    let nvml = nvml_wrapper::Nvml::init().map_err(|e| e.to_string())?;
    let count = nvml.device_count().map_err(|e| e.to_string())?;
    let mut devices = Vec::new();
    for index in 0..count {
        let device = nvml.device_by_index(index).map_err(|e| e.to_string())?;
        devices.push(GpuDevice {
            index,
            name: device.name().unwrap_or_else(|_| format!("GPU {index}")),
            memory_bytes: device.memory_info().map_or(0, |m| m.total),
        });
    }
    Ok(devices)
}

/// One process's use of the GPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessGpu {
    /// Percent of one device (summed over devices).
    pub percent: f64,
    /// Device memory in bytes (summed over devices).
    pub memory_bytes: u64,
}

/// Per-process GPU use, sampled with the CPU and memory.
pub trait GpuUsage: Send {
    /// Each process using a GPU now, by pid.
    fn by_process(&mut self) -> HashMap<i32, ProcessGpu>;
    /// Each device's totals now (utilization in percent of the device, memory in use by
    /// every process on it), by index.
    fn by_device(&mut self) -> HashMap<u32, ProcessGpu>;
}

/// The source `setting` asks for; `None` when the machine has no GPU to sample.
pub fn usage_source(setting: &GpuSetting) -> Option<Box<dyn GpuUsage>> {
    match setting {
        GpuSetting::Fake(0) => None,
        GpuSetting::Fake(_) => Some(Box::new(FakeUsage)),
        GpuSetting::Detect => {
            let nvml = nvml_wrapper::Nvml::init().ok()?;
            (nvml.device_count().ok()? > 0).then(|| {
                Box::new(NvmlUsage {
                    nvml,
                    last_seen: HashMap::new(),
                }) as Box<dyn GpuUsage>
            })
        }
    }
}

/// NVML's compute processes (memory) and process utilization samples (SM %).
struct NvmlUsage {
    nvml: nvml_wrapper::Nvml,
    /// Per device, the newest utilization sample read, so each read takes only newer ones.
    last_seen: HashMap<u32, u64>,
}

impl GpuUsage for NvmlUsage {
    fn by_process(&mut self) -> HashMap<i32, ProcessGpu> {
        let mut usage: HashMap<i32, ProcessGpu> = HashMap::new();
        let count = self.nvml.device_count().unwrap_or(0);
        for index in 0..count {
            let Ok(device) = self.nvml.device_by_index(index) else {
                continue;
            };
            for process in device.running_compute_processes().unwrap_or_default() {
                let Ok(pid) = i32::try_from(process.pid) else {
                    continue;
                };
                if let nvml_wrapper::enums::device::UsedGpuMemory::Used(bytes) =
                    process.used_gpu_memory
                {
                    usage.entry(pid).or_default().memory_bytes += bytes;
                }
            }
            let since = self.last_seen.get(&index).copied();
            let samples = device.process_utilization_stats(since).unwrap_or_default();
            if let Some(newest) = samples.iter().map(|s| s.timestamp).max() {
                self.last_seen.insert(index, newest);
            }
            for sample in samples {
                if let Ok(pid) = i32::try_from(sample.pid) {
                    usage.entry(pid).or_default().percent += f64::from(sample.sm_util);
                }
            }
        }
        usage
    }

    fn by_device(&mut self) -> HashMap<u32, ProcessGpu> {
        let count = self.nvml.device_count().unwrap_or(0);
        (0..count)
            .filter_map(|index| {
                let device = self.nvml.device_by_index(index).ok()?;
                let percent = device.utilization_rates().map_or(0, |u| u.gpu);
                let memory_bytes = device.memory_info().map_or(0, |m| m.used);
                Some((
                    index,
                    ProcessGpu {
                        percent: f64::from(percent),
                        memory_bytes,
                    },
                ))
            })
            .collect()
    }
}

/// The fake source of `--fake-gpus`: a process whose command line holds
/// `--fake-gpu-mib=N` uses N MiB and 50 % of a device, spread over the devices its
/// `CUDA_VISIBLE_DEVICES` names (how tests give a job's processes GPU use on a machine
/// without one).
struct FakeUsage;

impl FakeUsage {
    /// Each fake GPU process: its pid, its use, and the devices it sees.
    fn processes() -> Vec<(i32, ProcessGpu, Vec<u32>)> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
                let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
                let mib = cmdline
                    .split(|b| *b == 0)
                    .filter_map(|arg| std::str::from_utf8(arg).ok())
                    .find_map(|arg| arg.strip_prefix("--fake-gpu-mib=")?.parse::<u64>().ok())?;
                let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
                let devices = environ
                    .split(|b| *b == 0)
                    .filter_map(|var| std::str::from_utf8(var).ok())
                    .find_map(|var| var.strip_prefix("CUDA_VISIBLE_DEVICES="))
                    .map(devices_in)
                    .unwrap_or_default();
                let used = ProcessGpu {
                    percent: 50.0,
                    memory_bytes: mib << 20,
                };
                Some((pid, used, devices))
            })
            .collect()
    }
}

impl GpuUsage for FakeUsage {
    fn by_process(&mut self) -> HashMap<i32, ProcessGpu> {
        FakeUsage::processes()
            .into_iter()
            .map(|(pid, used, _)| (pid, used))
            .collect()
    }

    fn by_device(&mut self) -> HashMap<u32, ProcessGpu> {
        let mut devices: HashMap<u32, ProcessGpu> = HashMap::new();
        for (_, used, visible) in FakeUsage::processes() {
            let share = visible.len().max(1) as u64;
            for index in visible {
                let device = devices.entry(index).or_default();
                device.percent += used.percent / share as f64;
                device.memory_bytes += used.memory_bytes / share;
            }
        }
        devices
    }
}

/// How many GPUs a job asks for.
pub fn wanted(job: &Job) -> u32 {
    job.accelerators().map_or(0, |a| a.count)
}

/// Which devices are free and which job holds the others.
#[derive(Debug, Default)]
pub struct GpuLedger {
    free: BTreeSet<u32>,
    held: HashMap<String, Vec<u32>>,
}

impl GpuLedger {
    /// Every device of `inventory` free.
    pub fn new(inventory: &GpuInventory) -> GpuLedger {
        GpuLedger {
            free: inventory.devices.iter().map(|d| d.index).collect(),
            held: HashMap::new(),
        }
    }

    /// Devices free now.
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    /// Gives `job` the `count` lowest free devices, if that many are free.
    pub fn take(&mut self, job: &str, count: u32) -> Option<Vec<u32>> {
        let count = count as usize;
        if count == 0 || self.free.len() < count {
            return (count == 0).then(Vec::new);
        }
        let devices: Vec<u32> = self.free.iter().take(count).copied().collect();
        for d in &devices {
            self.free.remove(d);
        }
        self.held.insert(job.to_owned(), devices.clone());
        Some(devices)
    }

    /// Marks `devices` as held by `job` again (a job an earlier engine started).
    pub fn hold(&mut self, job: &str, devices: Vec<u32>) {
        for d in &devices {
            self.free.remove(d);
        }
        self.held.insert(job.to_owned(), devices);
    }

    /// Frees what `job` held.
    pub fn release(&mut self, job: &str) {
        if let Some(devices) = self.held.remove(job) {
            self.free.extend(devices);
        }
    }

    /// The jobs holding devices now, for "waiting for a GPU" messages.
    pub fn holders(&self) -> Vec<(&str, &[u32])> {
        let mut holders: Vec<(&str, &[u32])> = self
            .held
            .iter()
            .filter(|(_, d)| !d.is_empty())
            .map(|(j, d)| (j.as_str(), d.as_slice()))
            .collect();
        holders.sort_unstable();
        holders
    }
}

/// `CUDA_VISIBLE_DEVICES` for `devices` ("" hides every device).
pub fn visible_devices(devices: &[u32]) -> String {
    devices
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The devices a job was given, read back from its environment.
pub fn devices_in(env_value: &str) -> Vec<u32> {
    env_value
        .split(',')
        .filter_map(|d| d.trim().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests;
