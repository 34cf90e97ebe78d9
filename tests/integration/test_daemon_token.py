#!/usr/bin/env python3
"""`sotto daemon`'s token_rotate and block methods (issue 15, docs/CLIENT.md): the same as
`sotto token rotate` and `sotto block`, driven over JSON-RPC. Each registers a new
verifier with the server (its accounts table shows it change). A contact holding the old
token has its sealed send refused once and falls back to an identified send; after
token_rotate it reads the new token and sends sealed again, after block it is given none
and stays identified (its sends open no unidentified connection), and the daemon refuses
to send to it. The daemon's own receipts and answers go sealed too, on the one
unidentified connection it keeps, so bob's sealed sends are counted as at least one
unidentified connection while the daemon may be sending."""
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotto_harness import Server, User, check, run_tests, scaled, wait_until  # noqa: E402
from test_daemon import Rpc, check_clean_log, start_daemon, stop  # noqa: E402


def unidentified(srv):
    with open(srv.log_path, "rb") as f:
        return f.read().count(b": unidentified")


def sent(user, peer, text, sealed, srv):
    """user sends text to peer; sealed: whether it opens an unidentified connection (at
    least one; exactly none if False; unchecked if None, while the daemon, which sends
    receipts sealed, may be opening its own)."""
    before = unidentified(srv)
    r = user.run("send", peer.address, text)
    check(r.returncode == 0, "send %r: rc %d: %s" % (text, r.returncode, r.stderr.decode()))
    if sealed:
        wait_until(lambda: unidentified(srv) > before, scaled(10),
                   "the sealed send of %r" % text)
    elif sealed is not None:
        check(unidentified(srv) == before, "%r went sealed" % text)


def verifier(srv, name):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.dir, "sottod.db"), uri=True)
    try:
        return db.execute("SELECT delivery FROM accounts WHERE name = ?", (name,)).fetchone()[0]
    finally:
        db.close()


def body(rpc):
    return rpc.notification("message", 30)["params"]["body"]


def test_daemon_token_rotate_and_block(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice, bob = User(root, "alice", srv), User(root, "bob", srv)
    pa, path = start_daemon(root, alice, "--no-bridge")
    try:
        a = Rpc(path)
        # First contact identified; alice's answer carries her token to bob. Her daemon
        # sends its receipt and its answer sealed (it holds bob's token from "one"), both
        # on the one unidentified connection it keeps (docs/CLIENT.md "Unidentified
        # sends").
        before = unidentified(srv)
        sent(bob, alice, "one", None, srv)
        check(body(a) == "one", "one")
        check(a.result("send", {"to": bob.address, "body": "two"})["queued"] is False, "two")
        check(unidentified(srv) == before + 1, "alice's receipt and answer: %d unidentified"
              " connections, not 1" % (unidentified(srv) - before))
        bob.receive()
        sent(bob, alice, "three", True, srv)
        check(body(a) == "three", "three")
        # token_rotate: a new verifier; bob's copy is refused once, then he sends
        # identified.
        v1 = verifier(srv, "alice")
        check(a.result("token_rotate") == {"queued": False}, "token_rotate")
        v2 = verifier(srv, "alice")
        check(v1 is not None and v2 is not None and v1 != v2, "the verifier did not change")
        sent(bob, alice, "four", True, srv)
        check(body(a) == "four", "four")
        bob.receive()           # the new token
        sent(bob, alice, "five", True, srv)
        check(body(a) == "five", "five")
        # block: bob's copy is refused and he gets no new one (nor anything else: alice
        # sends the blocked contact no receipts, so the count below is bob's alone).
        e = a.call("block", {})
        check(e.get("error", {}).get("code") == -32602, e)
        check(a.result("block", {"address": bob.address}) == {"queued": False}, "block")
        check(verifier(srv, "alice") not in (None, v1, v2), "block kept the verifier")
        bob.receive()
        sent(bob, alice, "after block", True, srv)
        check(body(a) == "after block", "after block")
        bob.receive()
        sent(bob, alice, "still identified", False, srv)
        check(body(a) == "still identified", "still identified")
        e = a.call("send", {"to": bob.address, "body": "to the blocked"})
        # SOTTO_ERR_UNTRUSTED_IDENTITY: blocking uses a changed key's trust state.
        check(e.get("error", {}).get("code") == -32000 - 26, e)
    finally:
        check(stop(pa) == 0, "exit code")
    check_clean_log(root, alice)


if __name__ == "__main__":
    run_tests([test_daemon_token_rotate_and_block])
