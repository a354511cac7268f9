// Command kube-apiserver is the upstream API server, built as an ordinary Go module for the integration tier.
package main

import (
	"os"
	_ "time/tzdata" // CronJob timeZone, as the upstream binary embeds it

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
