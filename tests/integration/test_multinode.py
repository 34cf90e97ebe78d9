#!/usr/bin/env python3
"""Several sottod nodes on one PostgreSQL database with one server identity: a client of
either node gets the same service, and what is sent through one node reaches a recipient
connected to the other (NOTIFY wake-ups, and the re-scan when one is lost)."""
import json
import os
import re
import shutil
import signal
import subprocess
import threading

import sotto_harness as H
from sotto_harness import Server, User, check, on_postgresql, scaled, wait_until

from relay import Relay
from test_groups import group, texts


def second_node(root, first, name):
    """A node beside first: its keys copied (as docs/SERVER.md tells an administrator),
    the same store, a port of its own."""
    node = Server.__new__(Server)
    node.dir = os.path.join(root, name)
    os.makedirs(node.dir, mode=0o700)
    for key in ("server.key", "ticket.key"):
        if os.path.exists(os.path.join(first.dir, key)):
            shutil.copy2(os.path.join(first.dir, key), node.dir)
    node.port = H.free_port()
    with open(os.path.join(first.dir, "sottod.conf")) as f:
        conf = f.read()
    with open(os.path.join(node.dir, "sottod.conf"), "w") as f:
        f.write(re.sub(r"listen = 127\.0\.0\.1:\d+", "listen = 127.0.0.1:%d" % node.port, conf))
    node.pg_db = None               # first's schema: dropped with first
    node.domain, node.registration = first.domain, first.registration
    node.proc = None
    node.log = open(os.path.join(root, name + ".log"), "ab")
    node.start()
    node.address = subprocess.run([H.SOTTOD, "address", "--data", node.dir], check=True,
                                  stdout=subprocess.PIPE).stdout.decode().strip()
    return node


def two_nodes(root, servers):
    n1 = Server(root, "node1", conf="log_level = debug\n")
    servers.append(n1)
    n2 = second_node(root, n1, "node2")
    servers.append(n2)
    return n1, n2


def log_of(root, name):
    with open(os.path.join(root, name + ".log"), "rb") as f:
        return f.read().decode("utf-8", "replace")


def online(root, node_name, user):
    """A receive of user that stays connected, once the node has it as a member."""
    before = log_of(root, node_name).count("%s connected" % user.address)
    p = subprocess.Popen(user.argv("receive", "--json", "--wait", str(int(scaled(60)))),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: log_of(root, node_name).count("%s connected" % user.address) > before,
               15, "%s online on %s" % (user.name, node_name))
    return p


def read_texts(p, want, gid=None):
    got = []
    while len(got) < want:
        line = p.stdout.readline()
        if not line:
            break
        got += texts([json.loads(line)], gid)
    p.wait(timeout=scaled(60))
    return got


@on_postgresql
def test_send_across_nodes(root, servers):
    n1, n2 = two_nodes(root, servers)
    alice = User(root, "alice", n1, server_address=n1.address)
    bob = User(root, "bob", n2, server_address=n2.address)
    # Prekeys uploaded through node 2 are found through node 1: one database.
    p = online(root, "node2", bob)
    alice.send(bob, "across")
    check(read_texts(p, 1) == [(alice.address, "across")], "bob on node 2")
    # It came by the notification, not only by a re-scan or a login.
    check("wake: account" in log_of(root, "node2"), "no wake-up on node 2")
    # And back, to alice online on node 1.
    p = online(root, "node1", alice)
    bob.send(alice, "and back")
    check(read_texts(p, 1) == [(bob.address, "and back")], "alice on node 1")


@on_postgresql
def test_group_across_nodes(root, servers):
    n1, n2 = two_nodes(root, servers)
    alice = User(root, "alice", n1, server_address=n1.address)
    carol = User(root, "carol", n1, server_address=n1.address)
    bob = User(root, "bob", n2, server_address=n2.address)
    # bob (node 2) is online when alice (node 1) makes the group: his Welcome comes.
    p = online(root, "node2", bob)
    gid = group(alice, "create", "Split", bob.address, carol.address).strip()
    line = p.stdout.readline()
    check(line and json.loads(line).get("group") == gid, line)
    p.wait(timeout=scaled(60))
    check(any(e.get("group") == gid for e in carol.receive(wait=int(scaled(15)))), "carol")
    p = online(root, "node2", bob)
    group(carol, "send", gid, "from node 1")
    check(read_texts(p, 1, gid) == [(carol.address, "from node 1")], "bob's group message")
    p = online(root, "node1", carol)
    group(bob, "send", gid, "from node 2")
    check(read_texts(p, 1, gid) == [(bob.address, "from node 2")], "carol's group message")


def kill_listener(node):
    """pg_terminate_backend on node's LISTEN connection; its notifications are lost."""
    out = subprocess.run(
        ["psql", "-qtA", os.environ["SOTTO_TEST_PG"], "-c",
         "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
         "WHERE application_name = 'sottod wake %d'" % node.proc.pid],
        check=True, stdout=subprocess.PIPE).stdout.decode().strip()
    check(out == "1", "listener of node %d: %s" % (node.proc.pid, out))


@on_postgresql
def test_lost_notification(root, servers):
    n1, n2 = two_nodes(root, servers)
    alice = User(root, "alice", n1, server_address=n1.address)
    bob = User(root, "bob", n2, server_address=n2.address)
    p = online(root, "node2", bob)
    kill_listener(n2)
    alice.send(bob, "while deaf")
    check(read_texts(p, 1) == [(alice.address, "while deaf")], "not recovered")
    check("wake listener: " in log_of(root, "node2"), "the loss went unnoticed")
    wait_until(lambda: log_of(root, "node2").count("wake listener: listening") >= 2, 15,
               "the listener back")
    # Listening again: the next one comes by its notification.
    p = online(root, "node2", bob)
    alice.send(bob, "heard again")
    check(read_texts(p, 1) == [(alice.address, "heard again")], "after the re-listen")


@on_postgresql
def test_node_killed_mid_sends(root, servers):
    """alice reaches the nodes through a relay (standing in for a load balancer: the client
    keeps one address and reconnects to it); node 1 is SIGKILLed in the middle of her sends
    to bob on node 2 and the relay turns to node 2. Every acknowledged send arrives once."""
    n1, n2 = two_nodes(root, servers)
    relay = Relay(n1.port, os.path.join(root, "relay.rec"))
    relay.start()
    via = re.sub(r":\d+$", ":%d" % relay.port, n1.address)
    check(via != n1.address, n1.address)
    alice = User(root, "alice", n1, server_address=via)
    bob = User(root, "bob", n2, server_address=n2.address)
    alice.send(bob, "warm-up")
    completed, bodies = [], ["loop-%03d" % i for i in range(40)]

    def loop():
        for b in bodies:
            if alice.run("send", bob.address, b).returncode == 0:
                completed.append(b)
    t = threading.Thread(target=loop)
    t.start()
    wait_until(lambda: len(completed) >= 10, 60, "sends through node 1")
    relay.target = ("127.0.0.1", n2.port)
    n1.proc.send_signal(signal.SIGKILL)
    n1.proc.wait()
    t.join(timeout=scaled(120))
    check(not t.is_alive(), "the send loop hung")
    alice.send(bob, "final")        # through node 2; flushes anything left in the outbox
    received = []

    def final_received():
        received.extend(e["body"] for e in bob.receive(wait=1) if e.get("type") == "text")
        return "final" in received
    wait_until(final_received, 30, "bob to receive the final message")
    relay.stop()
    dups = sorted(set(b for b in received if received.count(b) > 1))
    check(not dups, "shown twice: %s" % dups)
    lost = sorted(set(completed) - set(received))
    check(not lost, "acknowledged and lost: %s" % lost)
    stored = [x["body"] for x in alice.history(bob.address) if x["direction"] == "out"]
    check(set(stored) <= set(received), "stored by alice, never received: %s" %
          sorted(set(stored) - set(received)))
    hist_in = [x["body"] for x in bob.history(alice.address) if x["direction"] == "in"]
    check(len(hist_in) == len(set(hist_in)), "bob stored a message twice")


if __name__ == "__main__":
    H.run_tests([test_send_across_nodes, test_group_across_nodes, test_lost_notification,
                 test_node_killed_mid_sends])
