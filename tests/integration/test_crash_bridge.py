#!/usr/bin/env python3
"""`sotto bridge` SIGKILLed in the middle of SMTP DATA, or right around its reply to the
final dot, then restarted. A mail the bridge answered 250 must reach the recipient exactly
once; a mail cut off before its final dot must never arrive; one killed between the dot
and the reply may arrive at most once. SOTTO_BRIDGE_KILLS sets the number of kills
(default 6).
"""
import os
import random
import select
import signal
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sotto_harness as h  # noqa: E402
import bridge_harness as BH  # noqa: E402


def mail(i, size):
    line = b"crash test line of text, long enough to fill the body quickly......\r\n"
    body = line * (size // len(line))
    return (b"From: alice@localhost\r\nTo: bob@localhost\r\n"
            b"Subject: crash %d\r\nMessage-ID: <crash-%d@localhost>\r\n\r\n" % (i, i) + body)


def reply_after_kill(sock):
    """Whatever reply the bridge got out before it died."""
    got = b""
    while True:
        r, _, _ = select.select([sock], [], [], 0.5)
        if not r:
            return got
        try:
            d = sock.recv(4096)
        except OSError:
            return got
        if not d:
            return got
        got += d


def test_bridge_killed_mid_data(root, servers):
    srv = h.Server(root)
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    bob = h.User(root, "bob", srv)
    ba, bb = BH.Bridge(root, alice), BH.Bridge(root, bob)
    kills = int(os.environ.get("SOTTO_BRIDGE_KILLS", "6"))
    outcome = {}
    try:
        for i in range(kills):
            data = mail(i, 256 * 1024)
            s = smtplib.SMTP("127.0.0.1", ba.smtp_port, timeout=h.scaled(60))
            s.login(alice.address, ba.password)
            h.check(s.mail(alice.address)[0] == 250, "MAIL")
            h.check(s.rcpt(bob.address)[0] == 250, "RCPT")
            s.putcmd("data")
            h.check(s.getreply()[0] == 354, "DATA")
            if i % 2 == 0:
                # cut off in the body
                s.sock.sendall(data[:random.randint(100, len(data) - 100)])
                time.sleep(0.05)
                kind = "cut"
            else:
                s.sock.sendall(data + b"\r\n.\r\n")
                time.sleep(random.uniform(0.0, 0.02))
                kind = "dot"
            ba.proc.send_signal(signal.SIGKILL)
            ba.proc.wait()
            reply = reply_after_kill(s.sock)
            s.sock.close()
            if kind == "dot" and reply.startswith(b"250"):
                kind = "acked"
            outcome[i] = kind
            ba.proc = None
            ba.start()
        # One ordinary mail after the last restart: once it is in, everything earlier that
        # is going to arrive has arrived (the bridge sends in order).
        with smtplib.SMTP("127.0.0.1", ba.smtp_port, timeout=h.scaled(60)) as s:
            s.login(alice.address, ba.password)
            h.check(s.sendmail(alice.address, [bob.address], mail(999, 1024)) == {}, "last")
        M = bb.imap()
        h.check(BH.wait_for(M, "INBOX", '(HEADER Message-ID "<crash-999@localhost>")'),
                "the last mail never arrived")
        counts = {}
        for i in outcome:
            M.select("INBOX")
            typ, d = M.uid("SEARCH", None, '(HEADER Message-ID "<crash-%d@localhost>")' % i)
            counts[i] = len(d[0].split()) if typ == "OK" and d[0] else 0
        M.logout()
    finally:
        ba.stop()
        bb.stop()
    print("# %s" % ", ".join("%d:%s->%d" % (i, outcome[i], counts[i]) for i in sorted(outcome)))
    h.check(any(k == "cut" for k in outcome.values()), "no kill in the body")
    for i, kind in outcome.items():
        if kind == "cut":
            h.check(counts[i] == 0, "mail %d cut off in DATA arrived %d times" % (i, counts[i]))
        elif kind == "acked":
            h.check(counts[i] == 1, "mail %d answered 250 arrived %d times" % (i, counts[i]))
        else:
            h.check(counts[i] <= 1, "mail %d arrived %d times" % (i, counts[i]))


if __name__ == "__main__":
    for b in (h.SOTTOD, h.SOTTO):
        r = subprocess.run([b, "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            print("ok - test_bridge_killed_mid_data: skipped: %s is a placeholder" % b)
            sys.exit(0)
    h.run_tests([test_bridge_killed_mid_data])
