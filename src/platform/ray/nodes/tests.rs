use super::*;

/// A worker of `/nodes/{id}` on a node with GPUs, in the shape of Ray's
/// `dashboard/modules/reporter/reporter_models.py` (`ProcessGPUInfo` merged into the
/// worker by the node module: MB and percent).
#[test]
fn a_workers_gpu_use_is_read_in_the_dashboards_shape_and_summed() {
    let detail: NodeDetail = serde_json::from_value(serde_json::json!({
        "workers": [
            {"pid": 11, "cpuPercent": 50.0, "memoryInfo": {"rss": 1000.0}, "jobId": "02000000",
             "gpuMemoryUsage": 1024, "gpuUtilization": 80, "cmdline": ["ray::Trainer"]},
            {"pid": 12, "cpuPercent": 25.0, "memoryInfo": {"rss": 500.0}, "jobId": "02000000",
             "gpuMemoryUsage": 512, "gpuUtilization": 10},
            {"pid": 13, "cpuPercent": 5.0, "jobId": "02000000"}
        ],
        "gpus": [{"index": 0, "name": "NVIDIA A10G", "uuid": "GPU-1", "utilizationGpu": 90,
                  "memoryUsed": 1536, "memoryTotal": 23028,
                  "processesPids": [{"pid": 11, "gpuMemoryUsage": 1024}, {"pid": 12, "gpuMemoryUsage": 512}]}]
    }))
    .unwrap();
    let mut sum = Sum::default();
    for w in &detail.workers {
        sum.take(w);
    }
    assert_eq!((sum.cpu, sum.rss), (80.0, 1500.0));
    assert_eq!(sum.gpu, Some((90.0, 1536.0)));
    let mut cpu_only = Sum::default();
    cpu_only.take(&detail.workers[2]);
    assert_eq!(cpu_only.gpu, None, "a node without GPUs reports none");
}

/// The GPUs a job's processes use, named by node, and the cluster's GPUs in use, from the
/// node module's `gpus[]` (Ray's `GpuUtilizationInfo`: MB, percent, `processesPids`
/// `null` on an idle device).
#[test]
fn a_jobs_devices_and_the_gpus_in_use_come_from_the_nodes_gpus() {
    let gpus: Vec<NodeGpu> = serde_json::from_value(serde_json::json!([
        {"index": 0, "name": "NVIDIA A10G", "uuid": "GPU-1", "utilizationGpu": 90,
         "memoryUsed": 1536, "memoryTotal": 23028,
         "processesPids": [{"pid": 11, "gpuMemoryUsage": 1024}, {"pid": 12, "gpuMemoryUsage": 512}]},
        {"index": 1, "name": "NVIDIA A10G", "uuid": "GPU-2", "utilizationGpu": 0,
         "memoryUsed": 0, "memoryTotal": 23028, "processesPids": null}
    ]))
    .unwrap();
    let devices = job_devices("3f2a1b4c5d6e", &gpus, &[11, 40]);
    assert_eq!(
        devices,
        vec![("GPU 0 on 3f2a1b4c".to_owned(), 90.0, 1536.0)]
    );
    assert!(job_devices("n", &gpus, &[99]).is_empty());
    let summary: NodeSummary = serde_json::from_value(serde_json::json!({
        "cpu": 10.0, "mem": [100, 50, 50.0, 50], "raylet": {"state": "ALIVE"},
        "gpus": [
            {"index": 0, "utilizationGpu": 90, "memoryUsed": 1536, "memoryTotal": 23028,
             "processesPids": [{"pid": 11}]},
            {"index": 1, "utilizationGpu": 0, "memoryUsed": 0, "memoryTotal": 23028,
             "processesPids": null}
        ]
    }))
    .unwrap();
    assert_eq!(summary.gpus.iter().filter(|g| g.in_use()).count(), 1);
}
