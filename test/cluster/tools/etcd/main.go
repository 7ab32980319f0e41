// Command etcd is a thin consumer of etcd's server module: etcd's own root go.mod carries replace
// directives, so it cannot be built straight from the module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
