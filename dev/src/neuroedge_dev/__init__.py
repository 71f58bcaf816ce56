"""Local development stack: a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok), PostgreSQL with pgvector and Redis, all on loopback.

It exists so that `make up`, the test suite and the benchmarks run the operator and the runtime against real
servers rather than mocks. The stack is driven by `neuroedge dev up|down|status|env`.
"""
