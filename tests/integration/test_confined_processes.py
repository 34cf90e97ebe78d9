#!/usr/bin/env python3
"""The real sottod and `sotto bridge` run confined: the kernel reports a seccomp filter
and no-new-privileges for each process, and the server says so in its log. The filters
themselves are tested in tests/unit/test_confine.c; this shows the binaries apply them.
"""
import os
import pwd
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sotto_harness as H  # noqa: E402
import bridge_harness as BH  # noqa: E402
from sotto_harness import check  # noqa: E402


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


def test_sottod_is_confined(root, servers):
    srv = H.Server(root)
    servers.append(srv)
    st = proc_status(srv.proc.pid)
    check(st.get("Seccomp") == "2", "sottod Seccomp: %r" % st.get("Seccomp"))
    check(st.get("NoNewPrivs") == "1", "sottod NoNewPrivs: %r" % st.get("NoNewPrivs"))
    srv.stop()
    with open(os.path.join(root, "srv.log"), "rb") as f:
        check(b"confined: Landlock ABI" in f.read(), "sottod did not log its confinement")


def test_sandbox_off_is_loud(root, servers):
    """SOTTO_SANDBOX=off (for valgrind) leaves sottod unconfined and says so in its log."""
    os.environ["SOTTO_SANDBOX"] = "off"
    try:
        srv = H.Server(root)
    finally:
        del os.environ["SOTTO_SANDBOX"]
    servers.append(srv)
    check(proc_status(srv.proc.pid).get("Seccomp") == "0", "filter installed anyway")
    srv.stop()
    with open(os.path.join(root, "srv.log"), "rb") as f:
        check(b"NOT confined: SOTTO_SANDBOX=off" in f.read(), "no warning in the log")


def test_bridge_is_confined(root, servers):
    srv = H.Server(root)
    servers.append(srv)
    alice = H.User(root, "alice", srv)
    b = BH.Bridge(root, alice)
    try:
        st = proc_status(b.proc.pid)
        check(st.get("Seccomp") == "2", "bridge Seccomp: %r" % st.get("Seccomp"))
        check(st.get("NoNewPrivs") == "1", "bridge NoNewPrivs: %r" % st.get("NoNewPrivs"))
    finally:
        check(b.stop() == 0, "bridge did not exit cleanly")


def test_sottod_started_as_root_drops_to_its_user(root, servers):
    if os.geteuid() != 0:
        print("ok - skipped: drop from root needs root (running as uid %d)" % os.geteuid())
        return
    nobody = pwd.getpwnam("nobody")
    os.chmod(root, 0o711)
    data = os.path.join(root, "dropped")
    os.mkdir(data, 0o700)
    os.chown(data, nobody.pw_uid, nobody.pw_gid)
    port = H.free_port()
    with open(os.path.join(data, "sottod.conf"), "w") as f:
        f.write("listen = 127.0.0.1:%d\nuser = nobody\n" % port)
    os.chown(os.path.join(data, "sottod.conf"), nobody.pw_uid, nobody.pw_gid)
    log = open(os.path.join(root, "dropped.log"), "ab")
    proc = subprocess.Popen([H.SOTTOD, "run", "--data", data], stdout=log, stderr=log)
    try:
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                check(proc.poll() is None, "sottod exited with %r" % proc.returncode)
                check(time.time() < deadline, "sottod did not start")
                time.sleep(0.05)
        st = proc_status(proc.pid)
        uids = st.get("Uid", "").split()
        check(uids and all(int(u) == nobody.pw_uid for u in uids), "Uid: %r" % uids)
        groups = [int(g) for g in st.get("Groups", "").split()]
        check(all(g == nobody.pw_gid for g in groups), "root's groups kept: %r" % groups)
        check(all(int(g) == nobody.pw_gid for g in st.get("Gid", "").split()),
              "Gid: %r" % st.get("Gid"))
        check(os.stat(os.path.join(data, "server.key")).st_uid == nobody.pw_uid,
              "server key not owned by the dropped user")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    with open(os.path.join(data, "sottod.conf"), "w") as f:
        f.write("listen = 127.0.0.1:%d\nuser = no-such-user-here\n" % port)
    r = subprocess.run([H.SOTTOD, "run", "--data", data], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=15)
    check(r.returncode == 3 and b"cannot switch to user" in r.stderr,
          "unknown user: %d %r" % (r.returncode, r.stderr))


if __name__ == "__main__":
    H.run_tests([test_sottod_is_confined, test_sandbox_off_is_loud, test_bridge_is_confined,
                 test_sottod_started_as_root_drops_to_its_user])
