#!/usr/bin/python3
"""python-zeroconf peer for lansd's benchmarks (bench/*_test.go).

Run only inside a network namespace made by the benchmark (the Go code
starts it through lantest's guard). Timestamps are time.monotonic_ns(),
CLOCK_MONOTONIC, the clock the Go helpers print.

  pyzc_bench.py browse [--addrs]
      prints "START ts" just before the browser is created, "ADD ts LABEL"
      when an instance of _timezone._tcp is first resolved (SRV, TXT and an
      address) and "REMOVE ts LABEL" when it is removed. Runs until SIGTERM.
      With --addrs, also "ADDRS ts LABEL a,b,..." with the addresses
      resolved (from the cache, or asked for) on each Added and Updated
      state change the browser reports.

  pyzc_bench.py register --name NAME [--count N]
      registers N (default 1) instances NAME (or NAME-i) on ports 9000+i
      with TXT path=/bench and the addresses given by --addr; prints "REG ts" before the first registration
      and "READY ts" when all are registered (probed and announced). SIGTERM
      unregisters them (goodbye), prints "BYE ts" and exits 0.
"""

import argparse
import asyncio
import signal
import socket
import sys
import time

from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

TYPE = "_timezone._tcp.local."


def out(*fields):
    sys.stdout.write(" ".join(str(f) for f in fields) + "\n")
    sys.stdout.flush()


def label(name):
    return name[: -len("." + TYPE)] if name.endswith("." + TYPE) else name


async def browse(args):
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    out("START", time.monotonic_ns())
    aiozc = AsyncZeroconf(ip_version=IPVersion.All)
    seen = set()
    tasks = set()

    async def resolve(name):
        info = AsyncServiceInfo(TYPE, name)
        if await info.async_request(aiozc.zeroconf, 3000) and info.port and info.addresses_by_version(IPVersion.All):
            if name not in seen:
                seen.add(name)
                out("ADD", time.monotonic_ns(), label(name))
            if args.addrs:
                out("ADDRS", time.monotonic_ns(), label(name), ",".join(info.parsed_addresses(IPVersion.All)))

    def on_change(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Removed:
            if name in seen:
                seen.discard(name)
                out("REMOVE", time.monotonic_ns(), label(name))
            return
        if state_change is ServiceStateChange.Added or (args.addrs and state_change is ServiceStateChange.Updated):
            t = asyncio.ensure_future(resolve(name))
            tasks.add(t)
            t.add_done_callback(tasks.discard)

    browser = AsyncServiceBrowser(aiozc.zeroconf, TYPE, handlers=[on_change])
    await stop.wait()
    await browser.async_cancel()
    await aiozc.async_close()
    out("DONE", time.monotonic_ns())


async def register(args):
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    aiozc = AsyncZeroconf(ip_version=IPVersion.All)
    host = socket.gethostname() + ".local."
    names = [args.name] if args.count <= 1 else ["%s-%d" % (args.name, i) for i in range(args.count)]
    out("REG", time.monotonic_ns())
    infos = [
        AsyncServiceInfo(TYPE, n + "." + TYPE, port=9000 + i, properties={b"path": b"/bench"}, server=host,
                         parsed_addresses=args.addr)
        for i, n in enumerate(names)
    ]
    pending = [await aiozc.async_register_service(i) for i in infos]
    await asyncio.gather(*pending)
    out("READY", time.monotonic_ns())
    await stop.wait()
    await aiozc.async_unregister_all_services()
    await aiozc.async_close()
    out("BYE", time.monotonic_ns())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("register")
    r.add_argument("--name", required=True)
    r.add_argument("--count", type=int, default=1)
    r.add_argument("--addr", action="append", default=[])
    b = sub.add_parser("browse")
    b.add_argument("--addrs", action="store_true")
    args = p.parse_args()
    try:
        asyncio.run(browse(args) if args.mode == "browse" else register(args))
    except Exception as exc:  # reported to the benchmark, which fails on it
        out("FATAL", type(exc).__name__ + ": " + str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
