#!/usr/bin/env python3
"""The client killed mid-send: nothing it stored is lost, nothing arrives twice.

`sotto send` is SIGKILLed at random moments (before, during or after it stores the message,
talks to the server, or records the acknowledgement). Afterwards one more send flushes the
outbox. Every message in the sender's history, and every send that exited 0, must then
reach the recipient exactly once; the recipient gets nothing the sender did not store.
SOTTO_CLIENT_KILLS sets the number of kills (default 15).
"""
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sotto_harness as h  # noqa: E402


def test_sender_killed_mid_send(root, servers):
    srv = h.Server(root)
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    bob = h.User(root, "bob", srv)
    t0 = time.monotonic()
    alice.send(bob, "warm-up")      # the session exists; kills then hit ordinary sends
    alice.send(bob, "warm-up 2")
    span = (time.monotonic() - t0) / 2     # how long one send takes here
    kills = int(os.environ.get("SOTTO_CLIENT_KILLS", "15"))
    completed, killed = [], 0
    for i in range(kills):
        body = "kill-%03d" % i
        p = subprocess.Popen(alice.argv("send", bob.address, body), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(random.uniform(0.0, span))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        if p.wait() == 0:
            completed.append(body)
    alice.send(bob, "final")        # flushes whatever the kills left in the outbox
    received = []

    def final_received():
        received.extend(g["body"] for g in bob.receive(wait=1) if g.get("type") == "text")
        return "final" in received
    h.wait_until(final_received, 30, "bob to receive the final message")
    stored = [x["body"] for x in alice.history(bob.address) if x["direction"] == "out"]
    print("# %d sends: %d killed, %d completed, %d stored by alice, %d received by bob" % (
        kills, killed, len(completed), len(stored), len(received)))
    h.check(killed > 0, "no send was killed: the test proved nothing")
    dups = sorted(set(b for b in received if received.count(b) > 1))
    h.check(not dups, "received twice: %s" % dups)
    missing = sorted(set(stored) - set(received))
    h.check(not missing, "stored by alice, never received: %s" % missing)
    h.check(set(completed) <= set(received), "acknowledged sends lost: %s" %
            sorted(set(completed) - set(received)))
    h.check(set(received) <= set(stored), "received but not in alice's history: %s" %
            sorted(set(received) - set(stored)))
    hist_in = [x["body"] for x in bob.history(alice.address) if x["direction"] == "in"]
    h.check(len(hist_in) == len(set(hist_in)), "bob stored a message twice")


if __name__ == "__main__":
    for b in (h.SOTTOD, h.SOTTO):
        r = subprocess.run([b, "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            print("ok - test_sender_killed_mid_send: skipped: %s is a placeholder" % b)
            sys.exit(0)
    h.run_tests([test_sender_killed_mid_send])
