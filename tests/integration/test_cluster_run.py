#!/usr/bin/env python3
"""`make run-cluster` (scripts/run-cluster) as a person uses it: it prints the address and
the next command, that command registers an account through haproxy, and SIGINT (Ctrl-C)
stops every process of the cluster and removes its directory. The cluster's behaviour
under faults is test_cluster.py's."""
import os
import re
import signal
import subprocess
import sys
import time

import sotto_harness as H
from sotto_harness import check, scaled

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts")
SCRIPT = os.path.join(SCRIPTS, "run-cluster")
sys.path.insert(0, SCRIPTS)
import sotto_cluster  # noqa: E402


def processes_in(path):
    """Pids of processes whose command line names path."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if path.encode() in f.read():
                        pids.append(int(d))
            except OSError:
                pass
    return pids


def test_run_cluster(root, servers):
    ports = sotto_cluster.free_ports()
    base = ports["haproxy"]
    proc = subprocess.Popen([SCRIPT, H.BUILD],
                            env=dict(os.environ, SOTTO_CLUSTER_PORT=str(base)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = []
    try:
        deadline = time.monotonic() + scaled(120)
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line:
                break
            out.append(line)
            if "--server" in line:
                break
        text = "".join(out)
        m = re.search(r"(\S+/sotto) init (\S+) --server '([^']+)' --invite (\S+)", text)
        check(m, "no next command in:\n" + text)
        address = m.group(3)
        check(address.endswith("@127.0.0.1:%d" % base), "not haproxy's address: " + address)
        d = re.search(r"logs and data in (/\S+)\)", text)
        check(d and os.path.isdir(d.group(1)), "no directory in:\n" + text)
        cdir = d.group(1)
        # Its next command, as printed (a home of its own).
        passfile = os.path.join(root, "pass")
        with open(passfile, "w") as f:
            f.write("passphrase\n")
        r = subprocess.run([m.group(1), "--home", os.path.join(root, "alice"),
                            "--passphrase-file", passfile, "init", m.group(2), "--server",
                            address, "--invite", m.group(4), "--kdf", "min"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=scaled(60))
        check(r.returncode == 0, "init: %s" % r.stderr.decode())
        check(len(processes_in(cdir)) >= 6, "the cluster's processes: %s" % processes_in(cdir))
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=scaled(90))
        check(rc == 0, "run-cluster exited %d" % rc)
        check(not os.path.exists(cdir), "%s left behind" % cdir)
        left = processes_in(cdir)
        check(not left, "processes left running: %s" % left)
        check(all(sotto_cluster.port_free(p) for p in ports.values()), "a port still held")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    H.run_tests([test_run_cluster])
