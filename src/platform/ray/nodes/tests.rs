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
