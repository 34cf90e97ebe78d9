#!/usr/bin/env python3
"""The cluster of `make run-cluster` (scripts/sotto_cluster.py: etcd, two PostgreSQL under
Patroni with synchronous replication, two sottod nodes, haproxy) under faults, one cluster
shared by the three cases, each under a send loop from alice to bob through haproxy:

- a sottod node SIGKILLed: the clients go on through the other node;
- the PostgreSQL primary's machine killed (Patroni, PostgreSQL and its backends, SIGKILL):
  Patroni promotes the synchronous standby and writes resume within 45 s;
- every process restarted, one at a time.

"Acknowledged" is what the sending CLI reported as sent (`sotto send` exit 0); "shown" is
every text `sotto receive --json` printed, deduplicated by nothing. Each case: 0
acknowledged lost, 0 shown twice."""
import collections
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

import sotto_harness as H
from sotto_harness import User, check, scaled, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts"))
import sotto_cluster  # noqa: E402

# Writes must resume this soon after the primary dies (issue 17): Patroni's TTL (20 s)
# plus a loop or two.
FAILOVER_MAX = 45
NODES = ("node1", "node2")


class Load:
    """alice sends numbered texts to bob in a loop while bob receives in a loop; both
    reconnect through haproxy for every command."""

    def __init__(self, alice, bob, tag):
        self.alice, self.bob, self.tag = alice, bob, tag
        self.acked = []         # (body, time its CLI started, time it reported it sent)
        self.shown = []         # every text body bob's CLI printed
        self.failed = 0
        self.rounds = 0         # receives finished
        self.bad = []           # lines of receive's output that are not JSON
        self.stopping = threading.Event()
        self.sender = threading.Thread(target=self._send)
        self.receiver = threading.Thread(target=self._receive)
        self.receiver_stop = threading.Event()

    def _send(self):
        i = 0
        while not self.stopping.is_set():
            body = "%s-%04d" % (self.tag, i)
            i += 1
            started = time.monotonic()
            try:
                r = self.alice.run("send", self.bob.address, body, timeout=60)
                ok = r.returncode == 0
            except Exception:
                ok = False
            if ok:
                self.acked.append((body, started, time.monotonic()))
            else:
                self.failed += 1

    def _receive(self):
        while not self.receiver_stop.is_set():
            try:
                r = self.bob.run("receive", "--json", "--wait", "1", timeout=60)
            except Exception:
                continue
            for line in r.stdout.decode().splitlines():
                if not line.strip():
                    continue
                try:
                    e = json.loads(line)
                except ValueError:
                    self.bad.append(line)
                    continue
                if e.get("type") == "text":
                    self.shown.append(e["body"])
            self.rounds += 1

    def __enter__(self):
        self.sender.start()
        self.receiver.start()
        return self

    def __exit__(self, *exc):
        """Stops both loops, whatever happened (a failed test leaves none running)."""
        self.stopping.set()
        self.receiver_stop.set()
        self.sender.join()
        self.receiver.join()

    def acked_since(self, t):
        """Sends started after t and acknowledged (one in flight at t may be acknowledged
        after it, having been committed before)."""
        return sum(1 for _, start, _ in self.acked if start > t)

    def wait_acked(self, n, timeout, what):
        have = len(self.acked)
        wait_until(lambda: len(self.acked) >= have + n, timeout, what)

    def finish(self):
        """Stops the loop, sends a last text and receives until it is shown; then checks
        that every acknowledged text was shown, none twice."""
        self.stopping.set()
        self.sender.join(timeout=scaled(120))
        check(not self.sender.is_alive(), "the send loop hung")
        # Not counted with the loop's: retried until acknowledged, it may be shown twice.
        last = "%s.last" % self.tag
        wait_until(lambda: self.alice.run("send", self.bob.address, last).returncode == 0,
                   60, "the last send")
        wait_until(lambda: last in self.shown, 60, "bob to show the last text")
        # Ids are not in sending order across nodes: one more receive, from the mailbox's
        # start, finds whatever sorted after the last text.
        rounds = self.rounds
        wait_until(lambda: self.rounds >= rounds + 2, 60, "one more receive")
        self.receiver_stop.set()
        self.receiver.join(timeout=scaled(120))
        check(not self.receiver.is_alive(), "the receive loop hung")
        check(not self.bad, "receive printed lines that are not JSON: %s" % self.bad[:3])
        shown = collections.Counter(b for b in self.shown if b.startswith(self.tag + "-"))
        dups = sorted(b for b, k in shown.items() if k > 1)
        check(not dups, "shown twice: %s" % dups)
        lost = sorted(set(b for b, _, _ in self.acked) - set(shown))
        check(not lost, "acknowledged and lost: %s" % lost)
        return len(self.acked), self.failed


class Shared:
    cluster = None
    alice = bob = None
    root = None


def setup():
    # The users' homes outlive each test's own directory: one for the whole run.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    root = Shared.root = tempfile.mkdtemp(prefix="sotto-it-cluster-", dir=shm)
    c = sotto_cluster.Cluster(H.BUILD, registration="open", node_conf="log_level = debug\n",
                              parent=shm,
                              timeout_scale=H.TIME_SCALE)
    Shared.cluster = c.start()
    Shared.alice = User(root, "alice", None, server_address=c.address)
    Shared.bob = User(root, "bob", None, server_address=c.address)
    Shared.alice.send(Shared.bob, "warm-up")
    wait_until(lambda: any(e.get("body") == "warm-up" for e in Shared.bob.receive(wait=1)),
               30, "the warm-up text")


def served(node, user):
    """When node last logged a connection of user (its log's timestamp), or None."""
    last = None
    for line in Shared.cluster.log(node).splitlines():
        if (" %s connected" % user.address) in line:
            last = line.split(" ", 1)[0]
    return last


def test_cluster_up(root, servers):
    """make run-cluster's cluster: a primary with a synchronous standby, both nodes on it,
    haproxy the advertised address, and a text across it."""
    setup()
    c = Shared.cluster
    check(c.primary() == "pg1" and c.sync_standby() == "pg2",
          "primary %s, sync standby %s" % (c.primary(), c.sync_standby()))
    check(c.address.endswith(":%d" % c.port["haproxy"]), c.address)
    check(c.psql("SHOW synchronous_standby_names").strip('"') == "pg2",
          "synchronous_standby_names: %s" % c.psql("SHOW synchronous_standby_names"))
    check(c.psql("SELECT count(*) FROM accounts") == "2", "the accounts on the primary")


def test_sottod_node_killed(root, servers):
    """The node bob is connected to SIGKILLed in the middle of the loop, while alice's
    sends go through both nodes (haproxy's round robin): haproxy sends every connection
    to the other node, bob's receive among them."""
    c = Shared.cluster
    alice, bob = Shared.alice, Shared.bob
    with Load(alice, bob, "node") as load:
        wait_until(lambda: served("node1", alice) and served("node2", alice) and
                   len(load.acked) >= 10 and (served("node1", bob) or served("node2", bob)),
                   60, "alice's sends through both nodes, bob online")
        victim = max(("node1", "node2"), key=lambda n: served(n, bob) or "")
        other = "node2" if victim == "node1" else "node1"
        bob_before = served(other, bob)
        c.procs[victim].send_signal(signal.SIGKILL)
        c.procs.pop(victim).wait()
        killed = time.monotonic()
        wait_until(lambda: load.acked_since(killed) >= 10, 60, "sends through %s alone" % other)
        wait_until(lambda: served(other, bob) != bob_before, 60,
                   "bob to reconnect to %s" % other)
        n, failed = load.finish()
    c.start_proc(victim)
    print("# %s killed: %d acknowledged, %d failed sends" % (victim, n, failed))


def test_primary_killed(root, servers):
    """The primary's machine killed: its synchronous standby is promoted, writes resume
    within FAILOVER_MAX seconds, the nodes reconnect to the new primary."""
    c = Shared.cluster
    old = c.primary()
    sync = c.sync_standby()
    check(old is not None and sync is not None and sync != old, "%s %s" % (old, sync))
    with Load(Shared.alice, Shared.bob, "primary") as load:
        load.wait_acked(10, 60, "sends before the kill")
        listening = {n: c.log(n).count("wake listener: listening") for n in NODES}
        c.crash_pg(old)
        killed = time.monotonic()
        wait_until(lambda: load.acked_since(killed) >= 1, FAILOVER_MAX,
                   "writes to resume after the primary died")
        resumed = min(end for _, start, end in load.acked if start > killed) - killed
        # Patroni's REST API may say so a moment after the promotion itself.
        wait_until(lambda: c.primary() is not None, 30, "Patroni to report a primary")
        check(c.primary() == sync, "promoted: %s, synchronous standby was %s" %
              (c.primary(), sync))
        load.wait_acked(10, 60, "sends on the new primary")
        # The old primary comes back as the new one's standby.
        c.start_proc(old)
        c.wait_replicated()
        n, failed = load.finish()
    for node in NODES:
        check("PostgreSQL connection lost and made again" in c.log(node),
              "%s never reconnected" % node)
        # The wake-up listener too, on the new primary (LISTEN fails on a standby).
        check(c.log(node).count("wake listener: listening") > listening[node],
              "%s never listened again" % node)
    print("# primary kill: writes resumed after %.1f s; %d acknowledged, %d failed sends" %
          (resumed, n, failed))


def test_rolling_restart(root, servers):
    """Every process of the cluster restarted, one at a time, under the loop; after each,
    texts are acknowledged again before the next."""
    c = Shared.cluster
    primary = wait_until(c.primary, 30, "Patroni to report the primary")
    replica = "pg2" if primary == "pg1" else "pg1"
    order = ["etcd", replica, primary, "node1", "node2", "haproxy"]
    with Load(Shared.alice, Shared.bob, "rolling") as load:
        load.wait_acked(5, 60, "sends before the restarts")
        pauses = []
        for name in order:
            t = time.monotonic()
            c.restart_proc(name)
            if name.startswith("pg"):
                c.wait_replicated()
            wait_until(lambda: load.acked_since(t) >= 3, 60,
                       "sends after restarting %s" % name)
            ends = [end for _, _, end in load.acked]
            pauses.append("%s %.1f s" % (name, max(
                (b - a for a, b in zip(ends, ends[1:]) if b > t), default=0)))
        n, failed = load.finish()
    # Each node stopped by SIGTERM drained and exited 0 (under ASan: no leak report).
    nodes = [(name, rc) for name, rc in c.exits if name in NODES]
    check(len(nodes) == 2 and all(rc == 0 for _, rc in nodes), "nodes' exits: %s" % nodes)
    for node in NODES:
        check("Sanitizer" not in c.log(node), "%s: a sanitizer report" % node)
    print("# rolling restart: %d acknowledged, %d failed sends; longest gap between "
          "acknowledged sends while restarting each: %s" % (n, failed, ", ".join(pauses)))


def run_shared(tests):
    """The tests in order on one cluster (each needs the one before it to have set it up),
    stopped at the end whatever happened."""
    def wrap(fn):
        def run(root, servers):
            if fn is not tests[0] and Shared.cluster is None:
                raise AssertionError("no cluster: the first test failed")
            fn(Shared.root, servers)
        run.__name__ = fn.__name__
        return run
    try:
        H.run_tests([wrap(t) for t in tests])
    finally:
        if Shared.cluster is not None:
            Shared.cluster.stop()
        if Shared.root is not None:
            shutil.rmtree(Shared.root, ignore_errors=True)


if __name__ == "__main__":
    run_shared([test_cluster_up, test_sottod_node_killed, test_primary_killed,
                test_rolling_restart])
