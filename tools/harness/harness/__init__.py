"""The development harness: starts real components (etcd, kube-apiserver, a node, Dapr, redis,
PostgreSQL) for the tests, the demo and the benchmarks, on this machine only."""
