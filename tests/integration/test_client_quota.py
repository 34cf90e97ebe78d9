#!/usr/bin/env python3
"""The sotto command against sottod's storage quota: what the user is told when the
recipient's mailbox on the server is full, that the message stays in the outbox and goes
out once there is room, and that one full mailbox does not hold back messages to anyone
else. There is no quota per sending account any more (issue 15): `account_max` is
accepted and has no effect."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotto_harness import Server, User, check, run_tests  # noqa: E402

EXIT_QUEUED = 13


def test_full_mailbox_is_told_and_the_message_waits(root, servers):
    srv = Server(root, conf="mailbox_max = 2\naccount_max = 3\n")
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    carol = User(root, "carol", srv)
    alice.send(bob, "one")
    alice.send(bob, "two")
    # Bob has not fetched: his mailbox on the server is full.
    r = alice.run("send", bob.address, "three")
    check(r.returncode == EXIT_QUEUED, "full mailbox: rc %d %s" % (r.returncode, r.stderr))
    check(b"bob@localhost" in r.stderr and b"recipient's mailbox on the server is full"
          in r.stderr, r.stderr)
    check(b"waits in the outbox" in r.stderr and b"(1 message queued)" in r.stderr, r.stderr)
    # A message to someone else is not held back behind it.
    alice.send(carol, "to carol")
    # Three of alice's messages wait on the server: account_max = 3 no longer counts them.
    alice.send(carol, "four")
    # Bob fetches: room in his mailbox; her next command sends the queued one.
    check([m["body"] for m in bob.receive()] == ["one", "two"], "bob's first two")
    alice.receive()
    check([m["body"] for m in bob.receive()] == ["three"], "bob's third")
    check([m["body"] for m in carol.receive()] == ["to carol", "four"], "carol's")


if __name__ == "__main__":
    run_tests([test_full_mailbox_is_told_and_the_message_waits])
