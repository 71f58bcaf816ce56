"""The stack's state file: a stale in-memory copy never drops daemons another holder recorded."""

from __future__ import annotations

from pathlib import Path

from neuroedge_dev import stack


def _stack(state: Path, *names: str) -> stack.Stack:
    return stack.Stack(
        state_dir=str(state),
        kubeconfig=str(state / "kubeconfig"),
        database_url="postgresql://x",
        redis_url="redis://x",
        processes={
            name: stack.Process(pid=1000 + i, port=2000 + i, log=f"{name}.log")
            for i, name in enumerate(names)
        },
    )


def test_saving_a_stale_copy_keeps_what_others_recorded(tmp_path: Path) -> None:
    services = _stack(tmp_path, "postgres", "redis")
    stack.save(services)
    cluster_holder = stack.load(tmp_path)
    assert cluster_holder is not None
    stack.add_process(cluster_holder, "kube-apiserver", 42, 6443, tmp_path / "apiserver.log")
    stack.add_process(services, "runtime-worker-a", 43, 0, tmp_path / "worker.log")  # stale holder saves
    recorded = stack.load(tmp_path)
    assert recorded is not None
    assert set(recorded.processes) == {"postgres", "redis", "kube-apiserver", "runtime-worker-a"}


def test_forget_removes_only_the_named_process(tmp_path: Path) -> None:
    holder = _stack(tmp_path, "postgres", "redis", "runtime-worker-a")
    stack.save(holder)
    other = stack.load(tmp_path)
    assert other is not None
    stack.add_process(other, "kube-apiserver", 42, 6443, tmp_path / "apiserver.log")
    gone = stack.forget_process(holder, "runtime-worker-a")
    assert gone is not None and gone.pid == 1002
    recorded = stack.load(tmp_path)
    assert recorded is not None
    assert set(recorded.processes) == {"postgres", "redis", "kube-apiserver"}
    assert set(holder.processes) == set(recorded.processes)


def test_env_exports_the_operators_metrics_url_once_it_runs(tmp_path: Path) -> None:
    current = stack.Stack(str(tmp_path), "kubeconfig", "postgresql://db", "redis://r")
    assert "NEUROEDGE_OPERATOR_METRICS_URL" not in current.env()
    current.processes["operator"] = stack.Process(pid=42, port=9123, log="operator.log")
    assert current.env()["NEUROEDGE_OPERATOR_METRICS_URL"] == "http://127.0.0.1:9123/metrics"
