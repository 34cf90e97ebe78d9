#!/usr/bin/env python3
"""`sotto bridge` under command floods: many SMTP and IMAP connections at once, each
pipelining hundreds of commands, overlong lines and an IMAP literal announced huge and never
sent. The bridge survives, its memory (VmRSS) stays bounded, and once the flood is below its
connection limit (16 per listener: everything on loopback shares it) an honest mail client
sends and reads mail alongside it.
"""
import os
import socket
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sotto_harness as h  # noqa: E402
import bridge_harness as BH  # noqa: E402

RSS_GROWTH_MAX_KIB = 48 * 1024


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def flood(port, payload, n):
    """n connections that each write payload without reading; returns the sockets."""
    socks = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.setblocking(False)
            try:
                s.send(payload)
            except OSError:
                pass
            socks.append(s)
        except OSError:
            pass
    return socks


def wait_until_greeted(port, greeting, timeout=60):
    """Waits until the listener has let go of earlier connections and greets a new one."""
    deadline = time.time() + h.scaled(timeout)
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                if s.recv(64).startswith(greeting):
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def test_command_floods_leave_the_bridge_bounded(root, servers):
    srv = h.Server(root)
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    bob = h.User(root, "bob", srv)
    ba, bb = BH.Bridge(root, alice), BH.Bridge(root, bob)
    try:
        pid = ba.proc.pid
        rss0 = rss_kib(pid)
        smtp_junk = b"EHLO x\r\n" + b"NOOP\r\n" * 500 + b"RSET\r\n" * 500 + \
            b"X" * 200000 + b"\r\n"
        imap_junk = b"".join(b"a%d NOOP\r\n" % i for i in range(500)) + \
            b"b1 LOGIN {1000000000}\r\n" + b"Y" * 100000
        # 1. Far more connections than the listeners take (16 each): the rest are turned
        #    away, and the ones taken are kept busy with junk.
        socks = flood(ba.smtp_port, smtp_junk, 60) + flood(ba.imap_port, imap_junk, 60)
        time.sleep(1.0)
        rss1 = rss_kib(pid)
        h.check(ba.proc.poll() is None, "alice's bridge died under the flood")
        print("# %d flood connections; bridge VmRSS %d -> %d KiB" % (len(socks), rss0, rss1))
        h.check(len(socks) > 20, "the flood did not connect")
        h.check(rss1 - rss0 < RSS_GROWTH_MAX_KIB, "bridge grew by %d KiB" % (rss1 - rss0))
        for s in socks:
            s.close()
        h.check(wait_until_greeted(ba.smtp_port, b"220") and
                wait_until_greeted(ba.imap_port, b"* OK"),
                "the bridge does not accept connections after the flood ended")
        # 2. A flood below the connection limit: the honest client is served meanwhile.
        socks = flood(ba.smtp_port, smtp_junk, 8) + flood(ba.imap_port, imap_junk, 8)
        with smtplib.SMTP("127.0.0.1", ba.smtp_port, timeout=h.scaled(60)) as s:
            s.login(alice.address, ba.password)
            msg = (b"From: alice@localhost\r\nTo: bob@localhost\r\nSubject: during flood\r\n"
                   b"Message-ID: <flood-1@localhost>\r\n\r\nstill here\r\n")
            h.check(s.sendmail(alice.address, [bob.address], msg) == {}, "refused")
        A = ba.imap()
        typ, _ = A.select("INBOX")
        h.check(typ == "OK", "alice's IMAP during the flood: %s" % typ)
        A.logout()
        rss2 = rss_kib(pid)
        for s in socks:
            s.close()
        M = bb.imap()
        h.check(BH.wait_for(M, "INBOX", '(HEADER Message-ID "<flood-1@localhost>")'),
                "the honest mail did not arrive")
        M.logout()
        h.check(rss2 - rss0 < RSS_GROWTH_MAX_KIB, "bridge grew by %d KiB" % (rss2 - rss0))
        h.check(ba.proc.poll() is None, "alice's bridge died")
    finally:
        rc = ba.stop()
        bb.stop()
    h.check(rc == 0, "alice's bridge exited with %r" % rc)


if __name__ == "__main__":
    for b in (h.SOTTOD, h.SOTTO):
        r = subprocess.run([b, "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            print("ok - test_command_floods_leave_the_bridge_bounded: skipped: %s is a "
                  "placeholder" % b)
            sys.exit(0)
    h.run_tests([test_command_floods_leave_the_bridge_bounded])
