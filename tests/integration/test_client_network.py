#!/usr/bin/env python3
"""The client talks to its server and nothing else.

Every `sotto` command of an end-to-end exchange (init, send, receive) runs under
`strace -f -e trace=%network`; each inet/inet6 connect() or sendto()/sendmsg() with an
address must name the server the account was set up with. Nothing leaves for DNS, an
update check, a key server or telemetry.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sotto_harness as h  # noqa: E402

ADDR = re.compile(r"sin6?_port=htons\((\d+)\).*?(?:inet_addr\(\"([^\"]+)\"\)|"
                  r"inet_pton\(AF_INET6?, \"([^\"]+)\")")


def destinations(trace_path):
    """[(call, host, port)] of every inet/inet6 connect/sendto/sendmsg in a strace log."""
    out = []
    with open(trace_path, errors="replace") as f:
        for line in f:
            m = re.search(r"\b(connect|sendto|sendmsg|sendmmsg)\(", line)
            if m is None or ("AF_INET" not in line):
                continue
            a = ADDR.search(line)
            if a is None:
                out.append((m.group(1), "?", line.strip()))
                continue
            out.append((m.group(1), a.group(2) or a.group(3), int(a.group(1))))
    return out


class TracedUser(h.User):
    """A User whose every command runs under strace, appending to one trace file each."""
    traces = []

    def argv(self, *args):
        path = os.path.join(os.path.dirname(self.home), "%s.%d.strace" % (
            self.name, len(TracedUser.traces)))
        TracedUser.traces.append(path)
        # LeakSanitizer cannot work under ptrace; these runs are leak-checked elsewhere.
        asan = os.environ.get("ASAN_OPTIONS", "")
        return ["env", "ASAN_OPTIONS=%s%sdetect_leaks=0" % (asan, ":" if asan else ""),
                "strace", "-f", "-qq", "-e", "trace=%network", "-o", path] + \
            super().argv(*args)


def test_client_connects_only_to_its_server(root, servers):
    srv = h.Server(root)
    servers.append(srv)
    port = srv.port
    alice = TracedUser(root, "alice", srv)
    bob = TracedUser(root, "bob", srv)
    alice.send(bob, "hello")
    got = [g for g in bob.receive() if g.get("type") == "text"]
    h.check(len(got) == 1 and got[0]["body"] == "hello", "bob got %r" % got)
    bob.send(alice, "hi")
    alice.receive()
    seen = []
    for t in TracedUser.traces:
        if os.path.exists(t):
            seen += destinations(t)
    h.check(len(TracedUser.traces) >= 6, "only %d commands traced" % len(TracedUser.traces))
    h.check(any(c == "connect" and p == port for c, _, p in seen),
            "no connect to the server was traced: the trace parsing is broken")
    for call, host, p in seen:
        h.check(host == "127.0.0.1" and p == port,
                "%s to %s:%s, not the server 127.0.0.1:%d" % (call, host, p, port))


if __name__ == "__main__":
    if shutil.which("strace") is None:
        print("FAIL - test_client_connects_only_to_its_server: strace is not installed "
              "(scripts/install-deps)")
        sys.exit(1)
    for b in (h.SOTTOD, h.SOTTO):
        r = subprocess.run([b, "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            print("ok - test_client_connects_only_to_its_server: skipped: %s is a "
                  "placeholder (--help fails)" % b)
            sys.exit(0)
    h.run_tests([test_client_connects_only_to_its_server])
