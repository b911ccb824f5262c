// CoreDNS with only the plugins the real node's cluster DNS needs: kubernetes (Services and
// pods of the cluster.local zone), cache, errors, log, health and ready. No `forward`: the
// cluster's DNS answers for the cluster only, so no name is ever sent to the host's resolver.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	// The order CoreDNS's plugin.cfg gives these plugins (the order they handle a query in).
	dnsserver.Directives = []string{"ready", "health", "errors", "log", "cache", "kubernetes"}
}

func main() {
	coremain.Run()
}
