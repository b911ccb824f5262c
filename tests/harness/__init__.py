"""Starts real components (etcd, kube-apiserver, kwok, daprd, redis) on loopback for tests."""
