// Command daprd is Dapr's own sidecar entry point. build.sh compiles it with an overlay that
// puts components/registry.go in place of daprd's "no build tag" file, so the binary holds
// only the components this project uses instead of all of components-contrib.
package main

import "github.com/dapr/dapr/cmd/daprd/app"

func main() {
	app.Run()
}
