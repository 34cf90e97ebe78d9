#!/usr/bin/env python3
"""Identity of accounts and devices through real sottod and sotto processes (issue 18):
an account reset by the administrator and registered again from a new device (item 9), and
a copied store refused by the server (item 10)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotto_harness import (Server, User, SOTTOD, check, on_postgresql,  # noqa: E402
                           run_tests, scaled, wait_until)


def sottod(srv, *args):
    return subprocess.run([SOTTOD] + list(args) + ["--data", srv.dir], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=scaled(30))


def accounts(srv):
    r = sottod(srv, "accounts", "list", "--json")
    check(r.returncode == 0, r.stderr)
    return {a["name"]: a for a in json.loads(r.stdout)}


class NewDevice(User):
    """A user who runs `sotto init` on a new machine with an invite."""

    def __init__(self, root, name, server, invite, home_name):
        self.name = name
        self.address = "%s@localhost" % name
        self.home = os.path.join(root, home_name)
        self.passfile = os.path.join(root, home_name + ".pass")
        with open(self.passfile, "w") as f:
            f.write("passphrase of the new %s\n" % name)
        os.chmod(self.passfile, 0o600)
        self.init = self.run("init", self.address, "--server", server.address, "--kdf", "min",
                             "--invite", invite)


def talking(root, servers):
    """A server, and alice and bob after alice's first message to bob."""
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    alice.send(bob, "hello")
    check([m["body"] for m in bob.receive()] == ["hello"], "first message")
    return srv, alice, bob


def reset(srv, name):
    r = sottod(srv, "accounts", "reset", name)
    check(r.returncode == 0, r.stderr)
    token = r.stdout.decode().strip()
    check(token and "\n" not in token, r.stdout)
    return token, r.stderr.decode()


def test_reset_account_new_device_key_change(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    alice.send(bob, "before the loss")
    check([m["body"] for m in bob.receive()] == ["before the loss"], "first message")
    bob.send(alice, "hi alice")
    alice.receive()
    # Bob's device is lost with a message still waiting for it on the server.
    alice.send(bob, "never read by the old device")
    # (with alice's delivery receipt for "hi alice")
    check(accounts(srv)["bob"]["envelopes"] == 2, accounts(srv))
    token, said = reset(srv, "bob")
    check("2 undelivered envelopes dropped" in said, said)
    check(accounts(srv)["bob"]["registered"] is False, accounts(srv))
    # Until bob registers again, a send to him fails (nothing is stored for nobody).
    r = alice.run("send", bob.address, "into the void")
    check(r.returncode != 0, "send to a reset account exited 0")
    # The reserved name takes only its own invite, which registers no other name.
    other = NewDevice(root, "mallory", srv, token, "mallory")
    check(other.init.returncode != 0, "a reset's invite registered another name")
    thief = NewDevice(root, "bob", srv, "not-the-token", "bob-thief")
    check(thief.init.returncode != 0, "a reserved name was registered without its invite")
    thief = NewDevice(root, "bob", srv, "", "bob-thief2")
    check(thief.init.returncode != 0, "a reserved name was registered without an invite")
    bob2 = NewDevice(root, "bob", srv, token, "bob-new")
    check(bob2.init.returncode == 0, bob2.init.stderr)
    check(accounts(srv)["bob"]["registered"] is True, accounts(srv))
    # Alice still has the old session: the server refuses what it sealed, her client
    # notices the new key, starts a new session and sends the message again.
    r = alice.run("send", bob.address, "after the reset")
    check(r.returncode == 0, "rc %d: %s" % (r.returncode, r.stderr))
    check(b"identity key of bob@localhost changed" in r.stderr, r.stderr)
    got = bob2.receive()
    check([m["body"] for m in got] == ["after the reset"], got)
    c = [c for c in json.loads(alice.run("contacts", "--json").stdout)
         if c["address"] == bob.address]
    check(len(c) == 1 and c[0]["trust"] == "changed", c)
    # Bob's new device answers in the session alice started.
    bob2.send(alice, "new device here")
    check(["new device here"] == [m["body"] for m in alice.receive()
                                  if m["type"] == "text"], "reply")


def test_reset_queued_message_sent_again_in_new_session(root, servers):
    srv, alice, bob = talking(root, servers)
    # Alice writes while the server is down: queued in the old session.
    srv.stop()
    r = alice.run("send", bob.address, "queued for the old device")
    check(r.returncode == 13, "rc %d: %s" % (r.returncode, r.stderr))
    token, _ = reset(srv, "bob")
    srv.start()
    bob2 = NewDevice(root, "bob", srv, token, "bob-new")
    check(bob2.init.returncode == 0, bob2.init.stderr)
    # Both the queued message and the new one reach the new device, in order.
    r = alice.run("send", bob.address, "and a new one")
    check(r.returncode == 0, "rc %d: %s" % (r.returncode, r.stderr))
    got = [m["body"] for m in bob2.receive() if m["type"] == "text"]
    check(got == ["queued for the old device", "and a new one"], got)


def test_reset_verified_contact_needs_trust(root, servers):
    srv, alice, bob = talking(root, servers)
    number = json.loads(alice.run("verify", "--json", bob.address).stdout)["safety_number"]
    r = alice.run("verify", "--confirm", number, bob.address)
    check(r.returncode == 0, r.stderr)
    token, _ = reset(srv, "bob")
    bob2 = NewDevice(root, "bob", srv, token, "bob-new")
    check(bob2.init.returncode == 0, bob2.init.stderr)
    # A verified key that changed blocks sending until alice accepts the new one.
    r = alice.run("send", bob.address, "blocked")
    check(r.returncode == 8, "rc %d: %s" % (r.returncode, r.stderr))
    check(bob2.receive() == [], "a message reached bob before alice trusted his new key")
    r = alice.run("trust", bob.address)
    check(r.returncode == 0, r.stderr)
    alice.send(bob, "after trust")
    check([m["body"] for m in bob2.receive()] == ["after trust"], "after trust")


def test_reset_ends_old_device_connection(root, servers):
    srv, alice, bob = talking(root, servers)
    # The lost device stays online: its daemon holds a connection.
    errs = os.path.join(root, "old-daemon.err")
    old = subprocess.Popen(bob.argv("daemon", "--socket", os.path.join(root, "old.sock"),
                                    "--no-bridge"),
                           stdout=subprocess.DEVNULL, stderr=open(errs, "wb"))
    try:
        wait_until(lambda: b"serving" in open(errs, "rb").read(), 30, "the old daemon")
        check(b"cannot reach" not in open(errs, "rb").read(), open(errs, "rb").read())
        token, _ = reset(srv, "bob")
        srv.proc.send_signal(signal.SIGHUP)
        # The reload closes its connection; reconnecting, it hears that the account is
        # gone, and stops.
        try:
            rc = old.wait(timeout=scaled(30))
        except subprocess.TimeoutExpired:
            rc = None       # still connected: the reload did not end its connection
    finally:
        if old.poll() is None:
            old.kill()
            old.wait()
    said = open(errs, "rb").read()
    check(rc == 4 and b"no longer has this device's account" in said,
          "rc %r: %s" % (rc, said))
    log = open(os.path.join(root, "srv.log"), "rb").read()
    check(b"account reset by the administrator" in log, "server log")
    bob2 = NewDevice(root, "bob", srv, token, "bob-new")
    check(bob2.init.returncode == 0, bob2.init.stderr)
    alice.send(bob, "only for the new device")
    check([m["body"] for m in bob2.receive()] == ["only for the new device"], "new")
    r = bob.run("receive")
    check(r.returncode == 4, "the old device: rc %d: %s" % (r.returncode, r.stderr))


def test_accounts_delete_and_list(root, servers):
    srv = Server(root)
    servers.append(srv)
    User(root, "alice", srv)
    carol = User(root, "carol", srv)
    got = accounts(srv)
    check(sorted(got) == ["alice", "carol"], got)
    check(got["alice"]["prekeys"] == 100, got)
    r = sottod(srv, "accounts", "delete", "carol")
    check(r.returncode == 0, r.stderr)
    check(sorted(accounts(srv)) == ["alice"], accounts(srv))
    r = sottod(srv, "accounts", "delete", "carol")
    check(r.returncode == 2 and b"no account carol@localhost" in r.stderr, r.stderr)
    r = sottod(srv, "accounts", "reset", "carol@localhost")
    check(r.returncode == 2, r.stderr)
    r = sottod(srv, "accounts", "list")
    check(r.returncode == 0 and b"alice" in r.stdout, r.stdout)
    # A deleted name is free for anyone (open registration here).
    carol2 = NewDevice(root, "carol", srv, "", "carol-new")
    check(carol2.init.returncode == 0, carol2.init.stderr)
    r = carol.run("receive")
    check(r.returncode == 4 and b"no longer has this device's account" in r.stderr,
          "the deleted device: rc %d: %s" % (r.returncode, r.stderr))


def copy_store(user, root, name):
    dst = os.path.join(root, name)
    shutil.copytree(user.home, dst)
    return dst


def as_home(user, home):
    """The same user and passphrase, another home directory (a copy of the store)."""
    other = object.__new__(User)
    other.__dict__.update(user.__dict__)
    other.home = home
    return other


def test_copied_store_is_refused(root, servers):
    srv, alice, bob = talking(root, servers)
    copy = as_home(bob, copy_store(bob, root, "bob-copy"))
    # The original goes on being used: two logins since the copy was made.
    bob.send(alice, "from the original")
    alice.send(bob, "to bob")
    check([m["body"] for m in bob.receive()] == ["to bob"], "original receives")
    # The copy comes back: refused, with what happened and what to do.
    for args in (("receive",), ("send", alice.address, "from the copy")):
        r = copy.run(*args)
        check(r.returncode == 7, "%s: rc %d: %s" % (args[0], r.returncode, r.stderr))
        check(b"copied to another machine or restored from a backup" in r.stderr, r.stderr)
    check([m["body"] for m in alice.receive() if m["type"] == "text"] ==
          ["from the original"], "the copy's message reached alice")
    # The original keeps working, both ways.
    alice.send(bob, "still here")
    got = bob.receive()
    check([m.get("body") for m in got if m["type"] == "text"] == ["still here"], got)
    bob.send(alice, "me too")
    check("me too" in [m["body"] for m in alice.receive()], "original sends")
    # The copy resumed with the ticket it carries: resumption does not bypass the check.
    log = open(os.path.join(root, "srv.log"), "rb").read().decode()
    refused = re.findall(r"conn (\d+): refused a copy", log)
    check(len(refused) == 2, log)
    check(all("conn %s: account connected (resumed)" % c in log for c in refused), log)


def test_copied_store_daemon_stops(root, servers):
    srv, alice, bob = talking(root, servers)
    copy = as_home(bob, copy_store(bob, root, "bob-copy"))
    alice.send(bob, "one")
    bob.receive()
    bob.receive()
    # A daemon on the copy would reconnect for ever, taking the pushes from the real
    # device each time: it stops, says why, and exits 7.
    sock = os.path.join(root, "copy.sock")
    p = subprocess.run(copy.argv("daemon", "--socket", sock, "--no-bridge"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=scaled(30))
    check(p.returncode == 7, "rc %d: %s" % (p.returncode, p.stderr))
    check(b"copied to another machine or restored from a backup" in p.stderr, p.stderr)
    alice.send(bob, "two")
    check([m["body"] for m in bob.receive()] == ["two"], "the original after the daemon")


def test_crash_before_storing_generation_does_not_lock_out(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    alice.send(bob, "one")
    bob.receive()
    # A login whose new generation never reached the store (a crash after the server
    # issued it): the store as it was before that login.
    saved = copy_store(bob, root, "bob-before")
    check(bob.receive() == [], "nothing waits")
    shutil.rmtree(bob.home)
    shutil.copytree(saved, bob.home)
    # The server still takes the generation the store holds, and the ones after it.
    alice.send(bob, "two")
    r = bob.run("receive", "--json")
    check(r.returncode == 0, "locked out: rc %d: %s" % (r.returncode, r.stderr))
    check([json.loads(l)["body"] for l in r.stdout.decode().splitlines()] == ["two"],
          r.stdout)
    for i in range(3):
        alice.send(bob, "more %d" % i)
        check([m["body"] for m in bob.receive()] == ["more %d" % i], "more")


if __name__ == "__main__":
    run_tests([test_reset_account_new_device_key_change,
               test_reset_queued_message_sent_again_in_new_session,
               test_reset_verified_contact_needs_trust,
               test_reset_ends_old_device_connection,
               test_accounts_delete_and_list,
               on_postgresql(test_reset_account_new_device_key_change),
               on_postgresql(test_accounts_delete_and_list),
               test_copied_store_is_refused,
               on_postgresql(test_copied_store_is_refused),
               test_copied_store_daemon_stops,
               test_crash_before_storing_generation_does_not_lock_out])
