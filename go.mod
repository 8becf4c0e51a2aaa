module github.com/lansd/lansd

go 1.26.0

require (
	github.com/brutella/dnssd v1.2.14
	github.com/grandcat/zeroconf v1.0.0
	github.com/hashicorp/mdns v1.0.7
	github.com/miekg/dns v1.1.73
	github.com/spf13/pflag v1.1.0
	github.com/stretchr/testify v1.12.1
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/cenkalti/backoff v2.2.1+incompatible // indirect
	github.com/vishvananda/netlink v1.2.1-beta.2 // indirect
	github.com/vishvananda/netns v0.0.0-20200728191858-db3c7e526aae // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
