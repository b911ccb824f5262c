// Package components registers, in daprd's component registries, only the components this
// project runs: Redis state and pub/sub, in-memory state and pub/sub, the local and
// Kubernetes secret stores, and SQLite name resolution (no mDNS: it would multicast off
// loopback). build.sh overlays this file onto github.com/dapr/dapr/cmd/daprd/components.
package components

import (
	nrsqlite "github.com/dapr/components-contrib/nameresolution/sqlite"
	pubsubmemory "github.com/dapr/components-contrib/pubsub/in-memory"
	pubsubredis "github.com/dapr/components-contrib/pubsub/redis"
	secretk8s "github.com/dapr/components-contrib/secretstores/kubernetes"
	secretenv "github.com/dapr/components-contrib/secretstores/local/env"
	secretfile "github.com/dapr/components-contrib/secretstores/local/file"
	statememory "github.com/dapr/components-contrib/state/in-memory"
	stateredis "github.com/dapr/components-contrib/state/redis"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
	pubsubLoader "github.com/dapr/dapr/pkg/components/pubsub"
	secretstoresLoader "github.com/dapr/dapr/pkg/components/secretstores"
	stateLoader "github.com/dapr/dapr/pkg/components/state"
)

func init() {
	stateLoader.DefaultRegistry.RegisterComponent(stateredis.NewRedisStateStore, "redis")
	stateLoader.DefaultRegistry.RegisterComponent(statememory.NewInMemoryStateStore, "in-memory")
	pubsubLoader.DefaultRegistry.RegisterComponent(pubsubredis.NewRedisStreams, "redis")
	pubsubLoader.DefaultRegistry.RegisterComponent(pubsubmemory.New, "in-memory")
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretfile.NewLocalSecretStore, "local.file")
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretenv.NewEnvSecretStore, "local.env")
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretk8s.NewKubernetesSecretStore, "kubernetes")
	nrLoader.DefaultRegistry.RegisterComponent(nrsqlite.NewResolver, "sqlite")
}
