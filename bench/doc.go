// Package bench holds the side-by-side benchmarks of lansd against other
// mDNS / DNS-SD implementations (grandcat/zeroconf, hashicorp/mdns,
// brutella/dnssd and python-zeroconf; Avahi too for rows 7 and 8, hosts whose
// addresses and interfaces change) on a virtual LAN of network namespaces
// (internal/lantest). The benchmarks live in the package's _test.go files;
// bench/run.sh runs them and prints one table per measured row.
//
// Every process that sends multicast (announcer or browser, lansd or peer)
// runs inside a namespace made by lantest and is verified there by its guard
// before it opens a socket.
package bench
