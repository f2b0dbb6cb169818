package wftest

import "fmt"

// SmallYAML is a valid two-task workflow named name (tenant acme, a required string param, a dependency, retries
// and a timeout); each n gives another graph, by the load task's package digest.
func SmallYAML(name string, n int) string {
	return fmt.Sprintf(`apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: %s, tenant: acme}
spec:
  params:
    date: {type: string, required: true}
  tasks:
    extract:
      package: registry.example.com/etl/extract@sha256:%064x
      params: {date: "{{ params.date }}"}
      retries: 2
    load:
      package: registry.example.com/etl/load@sha256:%064x
      dependsOn: [extract]
      timeout: 10m
`, name, 1, n)
}
