#!/usr/bin/env python3
"""qmp.py: a minimal QMP client for tests/qemu/run-qemu.sh (standard library only).

Usage: qmp.py SOCKET CMD [CMD...]
  CMD is a JSON object ({"execute": ..., "arguments": ...}), or one of
    wait-migrate[:TIMEOUT]  poll query-migrate until completed/failed/cancelled
    sleep:SECONDS
    wait-serial:TIMEOUT:FILE:TEXT  wait until FILE contains TEXT
Prints one line per reply ("-> {json}"); exits 1 at the first error reply,
on a failed migration, or when QEMU goes away.
"""
import json
import socket
import sys
import time


class QMP:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(100):
            try:
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        self.f = self.s.makefile("rwb")
        self.read()  # greeting
        self.cmd({"execute": "qmp_capabilities"})

    def read(self):
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("QMP connection closed")
            msg = json.loads(line)
            if "event" in msg:
                print("   event %s %s" % (msg["event"], json.dumps(msg.get("data", {}))), flush=True)
                continue
            return msg

    def cmd(self, c):
        self.f.write(json.dumps(c).encode() + b"\n")
        self.f.flush()
        return self.read()


def main():
    q = QMP(sys.argv[1])
    rc = 0
    t0 = time.monotonic()
    for arg in sys.argv[2:]:
        if arg.startswith("sleep:"):
            time.sleep(float(arg.split(":", 1)[1]))
            continue
        if arg.startswith("wait-serial:"):
            _, tmo, path, text = arg.split(":", 3)
            limit = time.monotonic() + float(tmo)
            while time.monotonic() < limit:
                try:
                    if text in open(path, errors="replace").read():
                        break
                except FileNotFoundError:
                    pass
                time.sleep(0.05)
            else:
                print("%7.3f timeout waiting for %r in %s" % (time.monotonic() - t0, text, path), flush=True)
                rc = 1
            continue
        if arg.startswith("wait-migrate"):
            limit = time.monotonic() + float(arg.split(":", 1)[1] if ":" in arg else 120)
            last = None
            while time.monotonic() < limit:
                r = q.cmd({"execute": "query-migrate"})["return"]
                st = r.get("status")
                if st != last:
                    print("%7.3f migrate status %s" % (time.monotonic() - t0, st), flush=True)
                    last = st
                if st in ("completed", "failed", "cancelled"):
                    print("%7.3f -> %s" % (time.monotonic() - t0, json.dumps(r)), flush=True)
                    if st != "completed":
                        rc = 1
                    break
                time.sleep(0.1)
            else:
                rc = 1
            continue
        r = q.cmd(json.loads(arg))
        print("%7.3f %s -> %s" % (time.monotonic() - t0, json.loads(arg).get("execute"), json.dumps(r)), flush=True)
        if "error" in r:
            sys.exit(1)   # later steps depend on this one
    sys.exit(rc)


if __name__ == "__main__":
    try:
        main()
    except (OSError, EOFError) as e:
        print("qmp.py: %s" % e, flush=True)
        sys.exit(1)
