#!/usr/bin/env python3
"""Writes rules/bench/node.rules.yml, the rule pack of `nimify bench --workload node`.

Run once (python3 rules/bench/generate_pack.py CORPUS_DIR); the output is checked in.
CORPUS_DIR is a checkout of github.com/samber/awesome-prometheus-alerts (dist/rules),
here /work/shared/corpus/awesome-prometheus-alerts at a8533189af02. Its alert rules are
CC BY 4.0 (attribution kept in the output's header and in each copied rule's
`source` label); the derived rules below are this project's own.

The pack: the corpus rules (node exporter, kubernetes, Prometheus self-monitoring)
whose metrics the node workload produces and whose windows stay within 15 minutes,
unchanged, plus derived rules of the shapes people add next to them (critical
variants, rates, sum by / avg by aggregations, ratios against an offset, thresholds
on raw gauges). Together with rules/runbook.rules.yml (11 rules) it makes 100.
"""
import sys

import yaml

CORPUS = {
    "host-and-hardware/node-exporter.yml": [
        "HostOutOfMemory", "HostMemoryUnderMemoryPressure", "HostUnusualNetworkThroughputIn",
        "HostUnusualNetworkThroughputOut", "HostDiskIoUtilizationHigh", "HostOutOfDiskSpace",
        "HostOutOfInodes", "HostFilesystemDeviceError", "HostUnusualDiskReadLatency",
        "HostUnusualDiskWriteLatency", "HostHighCpuLoad", "HostCpuStealNoisyNeighbor",
        "HostCpuHighIowait", "HostUnusualDiskIo", "HostSwapIsFillingUp",
        "HostNetworkReceiveErrors", "HostNetworkTransmitErrors", "HostConntrackLimit",
        "HostClockSkew", "HostClockNotSynchronising"],
    "kubernetes/kubestate-exporter.yml": [
        "KubernetesNodeNotReady", "KubernetesNodeMemoryPressure", "KubernetesNodeDiskPressure",
        "KubernetesNodeNetworkUnavailable", "KubernetesContainerOomKiller",
        "KubernetesPodNotHealthy", "KubernetesPodCrashLooping",
        "KubernetesDeploymentReplicasMismatch", "KubernetesDeploymentGenerationMismatch"],
    "prometheus-self-monitoring/embedded-exporter.yml": [
        "PrometheusTargetMissing", "PrometheusAllTargetsMissing",
        "PrometheusTargetMissingWithWarmupTime"],
}

# (name, expr, for, severity): derived rules.
DERIVED = [
    # Critical variants of the corpus rules.
    ("HostOutOfMemoryCritical", "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < .05", "2m", "critical"),
    ("HostOutOfDiskSpaceCritical", 'node_filesystem_avail_bytes{fstype!~"^(fuse.*|tmpfs|cifs|nfs)"} / node_filesystem_size_bytes < .05 and on (instance, device, mountpoint) node_filesystem_readonly == 0', "2m", "critical"),
    ("HostOutOfInodesCritical", "node_filesystem_files_free / node_filesystem_files < .05 and node_filesystem_files > 0", "2m", "critical"),
    ("HostHighCpuLoadCritical", '1 - (avg without (cpu) (rate(node_cpu_seconds_total{mode="idle"}[5m]))) > .95', "5m", "critical"),
    ("HostCpuHighIowaitCritical", 'avg without (cpu) (rate(node_cpu_seconds_total{mode="iowait"}[5m])) > .25', "0m", "critical"),
    ("HostCpuStealCritical", 'avg without (cpu) (rate(node_cpu_seconds_total{mode="steal"}[5m])) * 100 > 25', "0m", "critical"),
    ("HostSwapIsFillingUpCritical", "(1 - (node_memory_SwapFree_bytes / node_memory_SwapTotal_bytes)) * 100 > 95 and node_memory_SwapTotal_bytes > 0", "2m", "critical"),
    ("HostConntrackLimitCritical", "node_nf_conntrack_entries / node_nf_conntrack_entries_limit > 0.95", "1m", "critical"),
    ("HostNetworkReceiveErrorsCritical", "rate(node_network_receive_errs_total[5m]) / rate(node_network_receive_packets_total[5m]) > 0.05", "2m", "critical"),
    ("HostNetworkTransmitErrorsCritical", "rate(node_network_transmit_errs_total[5m]) / rate(node_network_transmit_packets_total[5m]) > 0.05", "2m", "critical"),
    ("HostUnusualDiskIoCritical", "rate(node_disk_io_time_seconds_total[5m]) > .95", "5m", "critical"),
    ("HostDiskReadLatencyCritical", "rate(node_disk_read_time_seconds_total[5m]) / rate(node_disk_reads_completed_total[5m]) > 0.5 and rate(node_disk_reads_completed_total[5m]) > 0", "2m", "critical"),
    ("HostDiskWriteLatencyCritical", "rate(node_disk_write_time_seconds_total[5m]) / rate(node_disk_writes_completed_total[5m]) > 0.5 and rate(node_disk_writes_completed_total[5m]) > 0", "2m", "critical"),
    ("KubernetesPodCrashLoopingCritical", "increase(kube_pod_container_status_restarts_total[5m]) > 20", "0m", "critical"),
    ("KubernetesDeploymentUnavailable", "kube_deployment_status_replicas_available == 0 and kube_deployment_spec_replicas > 0", "2m", "critical"),
    # Thresholds on raw gauges.
    ("HostLoadHigh", "node_load1 > 16", "5m", "warning"),
    ("HostMemoryAvailableBelow1GiB", "node_memory_MemAvailable_bytes < 1073741824", "2m", "warning"),
    ("HostRootFilesystemBelow5GB", 'node_filesystem_avail_bytes{mountpoint="/"} < 5e9', "2m", "warning"),
    ("HostConntrackEntriesHigh", "node_nf_conntrack_entries > 200000", "0m", "warning"),
    ("HostClockMaxErrorHigh", "node_timex_maxerror_seconds >= 16", "0m", "warning"),
    ("HostClockOffsetHigh", "node_timex_offset_seconds > 0.05", "5m", "warning"),
    ("HostClockNotSynced", "node_timex_sync_status == 0", "5m", "warning"),
    ("ContainerMemoryAbove900MB", "container_memory_usage_bytes > 9e8", "0m", "warning"),
    ("KubernetesDeploymentLowAvailability", "kube_deployment_status_replicas_available < 2", "5m", "warning"),
    ("KubernetesContainerLastTerminatedOOM", 'kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1', "0m", "warning"),
    ("KubernetesPodPending", 'kube_pod_status_phase{phase="Pending"} == 1', "5m", "warning"),
    ("KubernetesPodNotRunning", 'kube_pod_status_phase{phase="Running"} == 0', "5m", "warning"),
    ("GPUCountLow", "nvidia_gpu_count < 2", "1m", "warning"),
    ("NodeExporterDown", 'up{job="node-exporter"} == 0', "1m", "warning"),
    ("TargetDown", "up == 0", "5m", "info"),
    # Rates.
    ("HostContextSwitchesHigh", "rate(node_context_switches_total[5m]) > 50000", "5m", "warning"),
    ("HostMajorPageFaultsHigh", "rate(node_vmstat_pgmajfault[5m]) > 1000", "2m", "warning"),
    ("HostNetworkReceiveSaturated", "rate(node_network_receive_bytes_total[5m]) > 1e9", "2m", "warning"),
    ("HostDiskBusy", "rate(node_disk_io_time_seconds_total[1m]) > .9", "2m", "warning"),
    ("HttpServerErrors", 'rate(http_requests_total{status=~"5.."}[5m]) > 1', "2m", "warning"),
    ("KubernetesContainerRestarting", "increase(kube_pod_container_status_restarts_total[15m]) > 5", "0m", "warning"),
    ("PostgresQueriesSlowPerInstance", "rate(pg_stat_statements_seconds_total[5m]) > 5", "5m", "warning"),
    ("TritonModelLoadFailing", "increase(triton_model_load_failures_total[10m]) > 0", "0m", "warning"),
    # sum by / avg by aggregations.
    ("HostNetworkTransmitTotalHigh", "sum by (cluster, instance) (rate(node_network_transmit_bytes_total[5m])) > 2e9", "2m", "warning"),
    ("HostCpuIdleLow", 'avg by (cluster, instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) < 0.2', "5m", "warning"),
    ("HostCpuBusyRatio", 'sum by (cluster, instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])) / count by (cluster, instance) (node_cpu_seconds_total{mode="idle"}) > 0.8', "5m", "warning"),
    ("ClusterLoadHigh", "avg by (cluster) (node_load1) > 8", "10m", "warning"),
    ("HostFilesystemNearlyFull", "max by (cluster, instance) (1 - node_filesystem_avail_bytes / node_filesystem_size_bytes) > 0.9", "5m", "warning"),
    ("PodMemoryNearLimit", "sum by (namespace, pod) (container_memory_usage_bytes) / sum by (namespace, pod) (container_spec_memory_limit_bytes) > 0.9", "5m", "warning"),
    ("NamespaceRestartsHigh", "sum by (cluster, namespace) (increase(kube_pod_container_status_restarts_total[10m])) > 10", "0m", "warning"),
    ("NamespacePodsPending", 'count by (cluster, namespace) (kube_pod_status_phase{phase="Pending"} == 1) > 5', "5m", "warning"),
    ("HandlerErrorRatio", 'sum by (job, handler) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (job, handler) (rate(http_requests_total[5m])) > 0.05', "5m", "warning"),
    ("InstanceErrorRatio", 'sum by (instance) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (instance) (rate(http_requests_total[5m])) > 0.05', "2m", "warning"),
    ("InstanceLatencyP99", "histogram_quantile(0.99, sum by (instance, le) (rate(http_request_duration_seconds_bucket[5m]))) > 2", "5m", "warning"),
    ("ServiceLatencyP50", "histogram_quantile(0.5, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5", "5m", "warning"),
    ("InstanceMeanLatency", "sum by (instance) (rate(http_request_duration_seconds_sum[5m])) / sum by (instance) (rate(http_request_duration_seconds_count[5m])) > 0.5", "5m", "warning"),
    ("CacheMissesHigh", "sum by (job) (rate(nimify_cache_misses_total[5m])) > 10 * sum by (job) (rate(nimify_cache_hits_total[5m]))", "10m", "info"),
    # Ratios against an offset.
    ("HttpTrafficSurge", "sum by (instance) (rate(http_requests_total[5m])) / sum by (instance) (rate(http_requests_total[5m] offset 10m)) > 3", "5m", "info"),
    ("HttpTrafficDrop", "sum by (instance) (rate(http_requests_total[5m])) / sum by (instance) (rate(http_requests_total[5m] offset 10m)) < 0.3", "5m", "warning"),
    ("HostMemoryAvailableHalved", "node_memory_MemAvailable_bytes / node_memory_MemAvailable_bytes offset 10m < 0.5", "5m", "info"),
    ("HostNetworkReceiveSpike", "rate(node_network_receive_bytes_total[5m]) / rate(node_network_receive_bytes_total[5m] offset 10m) > 5", "5m", "info"),
    ("KubernetesContainerRestartsSince10m", "kube_pod_container_status_restarts_total - kube_pod_container_status_restarts_total offset 10m >= 3", "0m", "warning"),
]


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/corpus/awesome-prometheus-alerts"
    groups = []
    for path, names in CORPUS.items():
        with open(f"{corpus}/dist/rules/{path}") as f:
            doc = yaml.safe_load(f)
        by_name = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
        rules = []
        for name in names:
            r = dict(by_name[name])
            r["labels"] = dict(r.get("labels") or {})
            r["labels"]["source"] = "awesome-prometheus-alerts/" + path
            rules.append(r)
        groups.append({"name": "corpus-" + path.split("/")[0], "rules": rules})
    derived = []
    for name, expr, for_, severity in DERIVED:
        derived.append({
            "alert": name, "expr": expr, "for": for_,
            "labels": {"severity": severity, "source": "nimify-bench"},
            "annotations": {"summary": name + " on {{ $labels.instance }}",
                            "description": "VALUE = {{ $value }}\n  LABELS = {{ $labels }}"},
        })
    groups.append({"name": "derived", "rules": derived})
    header = (
        "# Generated by rules/bench/generate_pack.py: the rule pack of\n"
        "# `nimify bench --workload node` (with rules/runbook.rules.yml: 100 rules).\n"
        "# Groups corpus-*: rules copied unchanged from awesome-prometheus-alerts\n"
        "# (github.com/samber/awesome-prometheus-alerts @ a8533189af02, dist/rules),\n"
        "# by Samuel Berthe and contributors, licensed CC BY 4.0\n"
        "# (https://creativecommons.org/licenses/by/4.0/); only a `source` label was added.\n"
        "# Group derived: this project's own rules of the same shapes.\n")
    with open(sys.argv[2] if len(sys.argv) > 2 else "rules/bench/node.rules.yml", "w") as f:
        f.write(header)
        yaml.safe_dump({"groups": groups}, f, sort_keys=False, width=1000, allow_unicode=True)
    print(sum(len(g["rules"]) for g in groups), "rules")


if __name__ == "__main__":
    main()
