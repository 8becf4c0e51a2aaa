#!/usr/bin/python3
"""python-zeroconf peer for lansd's interop tests (interop/pyzc_test.go).

Run only inside a network namespace made by the test (the Go test starts it
through lantest's guard). Every line it prints on stdout is one JSON object.

  pyzc.py register --name NAME --type _timezone._tcp.local. --port 8080 \
      [--txt key=value ...] [--addr IP ...] [--server HOST.local.] [--rename]
      prints {"event": "registered", "name": FULLNAME, ...} once the service
      is registered (python-zeroconf probes first); then reads standard input:
        TXT key=value ...   replace the TXT record, print {"event": "updated"}
        QUIT                unregister (goodbye), print {"event": "unregistered"}, exit 0
      SIGTERM unregisters the same way.

  pyzc.py browse --type _timezone._tcp.local.
      prints {"event": "ready"} once browsing, then per instance
      {"event": "add"|"update", "name", "port", "server", "addrs", "txt"} and
      {"event": "remove", "name"}. txt is an object: value strings, true for
      a boolean attribute. Runs until SIGTERM.
"""

import argparse
import json
import signal
import socket
import sys
import threading

from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

_out_lock = threading.Lock()


def emit(**fields):
    """Print one JSON line, whole, even from several threads."""
    line = json.dumps(fields, sort_keys=True)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def parse_txt(items):
    """key=value / key strings -> python-zeroconf properties (bytes -> bytes|None)."""
    props = {}
    for item in items:
        key, sep, value = item.partition("=")
        props[key.encode()] = value.encode() if sep else None
    return props


def txt_json(props):
    """python-zeroconf properties -> a JSON object like lansd browse --json."""
    out = {}
    for key, value in (props or {}).items():
        k = key.decode("utf-8", "backslashreplace")
        out[k] = True if value is None else value.decode("utf-8", "backslashreplace")
    return out


class Stop(Exception):
    """Raised by the SIGTERM handler to leave the main loop."""


def on_sigterm(signum, frame):
    raise Stop()


def register(args):
    zc = Zeroconf(ip_version=IPVersion.All)
    server = args.server or socket.gethostname() + ".local."
    info = ServiceInfo(
        args.type,
        args.name + "." + args.type,
        port=args.port,
        properties=parse_txt(args.txt),
        server=server,
        parsed_addresses=args.addr,
    )
    registered = False
    try:
        zc.register_service(info, allow_name_change=args.rename)
        registered = True
        emit(event="registered", name=info.name, port=info.port, server=info.server,
             txt=txt_json(info.properties))
        for line in sys.stdin:
            fields = line.split()
            if not fields:
                continue
            if fields[0] == "TXT":
                info = ServiceInfo(
                    args.type, info.name, port=args.port, properties=parse_txt(fields[1:]),
                    server=server, parsed_addresses=args.addr,
                )
                zc.update_service(info)
                emit(event="updated", name=info.name, txt=txt_json(info.properties))
            elif fields[0] == "QUIT":
                break
        else:
            signal.pause()  # standard input closed: run until SIGTERM
    except Stop:
        pass
    except Exception as exc:  # reported to the test, which asserts on it
        emit(event="error", error=type(exc).__name__ + ": " + str(exc))
        zc.close()
        return 1
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if registered:
        zc.unregister_service(info)
        emit(event="unregistered", name=info.name)
    zc.close()
    return 0


def browse(args):
    zc = Zeroconf(ip_version=IPVersion.All)

    def on_change(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Removed:
            emit(event="remove", name=name)
            return
        event = "add" if state_change is ServiceStateChange.Added else "update"
        info = zeroconf.get_service_info(service_type, name, timeout=3000)
        if info is None:
            emit(event=event + "-unresolved", name=name)
            return
        emit(event=event, name=name, port=info.port, server=info.server,
             addrs=sorted(info.parsed_scoped_addresses()), txt=txt_json(info.properties))

    try:
        ServiceBrowser(zc, args.type, handlers=[on_change])
        emit(event="ready")
        while True:
            signal.pause()
    except Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    zc.close()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("register")
    r.add_argument("--name", required=True)
    r.add_argument("--type", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--txt", action="append", default=[])
    r.add_argument("--addr", action="append", default=[])
    r.add_argument("--server")
    r.add_argument("--rename", action="store_true", help="allow python-zeroconf to pick a new name on conflict")
    b = sub.add_parser("browse")
    b.add_argument("--type", required=True)
    args = p.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    return register(args) if args.mode == "register" else browse(args)


if __name__ == "__main__":
    sys.exit(main())
