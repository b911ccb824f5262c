// Package components registers, in daprd's component registries, only the components this
// project runs: Redis state and pub/sub, PostgreSQL state (v2 only), in-memory state and
// pub/sub, the local and Kubernetes secret stores, and two name resolvers: SQLite (self-hosted mode, no
// mDNS: it would multicast off loopback) and Kubernetes (daprd's default in Kubernetes mode on
// the real node: <app-id>-dapr.<namespace>.svc.<domain> through the cluster's DNS). build.sh overlays this file onto
// github.com/dapr/dapr/cmd/daprd/components.
package components

import (
	nrkubernetes "github.com/dapr/components-contrib/nameresolution/kubernetes"
	nrsqlite "github.com/dapr/components-contrib/nameresolution/sqlite"
	pubsubmemory "github.com/dapr/components-contrib/pubsub/in-memory"
	pubsubredis "github.com/dapr/components-contrib/pubsub/redis"
	secretk8s "github.com/dapr/components-contrib/secretstores/kubernetes"
	secretenv "github.com/dapr/components-contrib/secretstores/local/env"
	secretfile "github.com/dapr/components-contrib/secretstores/local/file"
	statememory "github.com/dapr/components-contrib/state/in-memory"
	statepgv2 "github.com/dapr/components-contrib/state/postgresql/v2"
	stateredis "github.com/dapr/components-contrib/state/redis"
	"github.com/dapr/dapr/pkg/components"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
	pubsubLoader "github.com/dapr/dapr/pkg/components/pubsub"
	secretstoresLoader "github.com/dapr/dapr/pkg/components/secretstores"
	stateLoader "github.com/dapr/dapr/pkg/components/state"
)

func init() {
	stateLoader.DefaultRegistry.RegisterComponent(stateredis.NewRedisStateStore, "redis")
	stateLoader.DefaultRegistry.RegisterComponent(statememory.NewInMemoryStateStore, "in-memory")
	// PostgreSQL v2 only: its transactions are atomic (one SQL transaction), which the Task
	// API's strict guarantees rely on. Upstream's default for an unversioned component is v1
	// (a different table layout); here v1 is not built, so a Component must say version: v2
	// (an unversioned or v1 one resolves to v2 too rather than to a missing store).
	stateLoader.DefaultRegistry.RegisterComponentWithVersions("postgresql", components.Versioning{
		Preferred: components.VersionConstructor{Version: "v2", Constructor: statepgv2.NewPostgreSQLStateStore},
		Default:   "v2",
	})
	pubsubLoader.DefaultRegistry.RegisterComponent(pubsubredis.NewRedisStreams, "redis")
	pubsubLoader.DefaultRegistry.RegisterComponent(pubsubmemory.New, "in-memory")
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretfile.NewLocalSecretStore, "local.file")
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretenv.NewEnvSecretStore, "local.env")
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretk8s.NewKubernetesSecretStore, "kubernetes")
	nrLoader.DefaultRegistry.RegisterComponent(nrsqlite.NewResolver, "sqlite")
	nrLoader.DefaultRegistry.RegisterComponent(nrkubernetes.NewResolver, "kubernetes")
}
