#!/usr/bin/env python3
"""Unidentified sending through real sottod and sotto processes (issue 15, client side;
docs/PROTOCOL.md 7.0). After the first message of a conversation, which goes identified,
every send carries the recipient's delivery token and goes SEND_SEALED on an unidentified
connection (the server logs "conn N: unidentified" for each): one per `sotto send` run, and
one kept for all the sends of a `sotto daemon` (docs/CLIENT.md "Unidentified sends"). A rotated token
is refused to its old holders, whose client marks it stale and sends identified once, under
the same message id; a blocked contact's sealed sends are refused the same way. A send made
while the server is down is queued (exit 13) and stored once when it is back. The server's
tables tie no envelope to a sender and its log at the default level names no user."""
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sotto_harness as h  # noqa: E402
import test_daemon as d  # noqa: E402

NAMES = ("ashgrove", "brindle", "corvelle")


def log_text(srv):
    with open(srv.log_path, "rb") as f:
        return f.read()


def unidentified(srv):
    return log_text(srv).count(b": unidentified")


def texts(user):
    got = user.receive()
    print("# %s: %r" % (user.name, got))
    return [m["body"] for m in got if m["type"] == "text"]


def sent(user, peer, text, sealed, srv, rc=0):
    """user sends text to peer; sealed: how many unidentified connections it opens."""
    before = unidentified(srv)
    r = user.run("send", peer.address, text)
    h.check(r.returncode == rc, "send %r: rc %d: %s" % (text, r.returncode,
                                                       r.stderr.decode()))
    if sealed:
        h.wait_until(lambda: unidentified(srv) >= before + sealed, h.scaled(10),
                     "the sealed send of %r" % text)
    h.check(unidentified(srv) == before + sealed,
            "%r: %d unidentified connections, not %d" % (text, unidentified(srv) - before,
                                                         sealed))


def tables_name_no_sender(srv):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.dir, "sottod.db"), uri=True)
    try:
        cols = {t: [r[1] for r in db.execute("PRAGMA table_info(%s)" % t)]
                for t in ("envelopes", "sent")}
        h.check(cols["envelopes"] == ["id", "recipient", "ts", "data", "idem"],
                "envelopes: %r" % cols["envelopes"])
        h.check(cols["sent"] == ["key", "env_id", "created"], "sent: %r" % cols["sent"])
        n = db.execute("SELECT count(*) FROM accounts WHERE delivery IS NOT NULL").fetchone()
        h.check(n[0] == len(NAMES), "%d accounts hold a token verifier" % n[0])
    finally:
        db.close()


def test_sealed_after_first_contact_rotation_and_block(root, servers):
    srv = h.Server(root)
    servers.append(srv)
    a, b, c = [h.User(root, n, srv) for n in NAMES]
    # First contact: identified (a holds no token of b's). b's reply and its delivery
    # receipt carry b's token to a; a's first message carried a's to b.
    sent(a, b, "one", 0, srv)
    got = b.receive()
    h.check([m.get("body") for m in got if m["type"] == "text"] == ["one"], "b got %r (one)" % got)
    sent(b, a, "two", 1, srv)
    h.check(texts(a) == ["two"], "a got two")
    # From now on a's sends to b are sealed.
    sent(a, b, "three", 1, srv)
    h.check(texts(b) == ["three"], "b got three")
    # b rotates: a's copy is refused once, then a sends identified under the same id.
    r = b.run("token", "rotate")
    h.check(r.returncode == 0, "rotate: rc %d: %s" % (r.returncode, r.stderr.decode()))
    sent(a, b, "four", 1, srv)
    got = texts(b)
    h.check(got == ["four"], "b got %r" % got)
    # a learns the new token from b's TOKEN content (and the receipt): sealed again.
    a.receive()
    sent(a, b, "five", 1, srv)
    h.check(texts(b) == ["five"], "b got five")
    # c writes to b (identified), b answers: c holds b's token and sends sealed.
    sent(c, b, "hello", 0, srv)
    h.check(texts(b) == ["hello"], "b got hello")
    sent(b, c, "hi c", 1, srv)
    h.check(texts(c) == ["hi c"], "c got hi c")
    sent(c, b, "sealed", 1, srv)
    h.check(texts(b) == ["sealed"], "b got sealed")
    # b blocks c: the token rotates and c is not given the new one. c's sealed send is
    # refused and it falls back to identified; a gets the new token and stays sealed.
    r = b.run("block", c.address)
    h.check(r.returncode == 0, "block: rc %d: %s" % (r.returncode, r.stderr.decode()))
    r = b.run("send", c.address, "x")
    h.check(r.returncode != 0, "b sent to the contact it blocked")
    c.receive()
    sent(c, b, "after block", 1, srv)
    c.receive()
    sent(c, b, "still identified", 0, srv)
    got = texts(b)
    h.check(got == ["after block", "still identified"], "b got %r" % got)
    a.receive()
    sent(a, b, "six", 1, srv)
    h.check(texts(b) == ["six"], "b got six")
    # Down: queued (13), then sent sealed, and stored once, at the next connect.
    srv.stop()
    r = a.run("send", b.address, "seven")
    h.check(r.returncode == 13, "send while down: rc %d" % r.returncode)
    srv.start()
    before = unidentified(srv)
    a.receive()
    h.check(unidentified(srv) == before + 1, "the queued send went sealed")
    h.check(texts(b) == ["seven"], "b got seven once")
    tables_name_no_sender(srv)
    srv.stop()
    text = log_text(srv)
    for n in NAMES:
        h.check(n.encode() not in text, "the log names %s" % n)


def test_daemon_keeps_one_unidentified_connection(root, servers):
    """Two daemons: after the first contact, alice's three sealed sends and bob's sealed
    delivery receipts each take no more than the one unidentified connection their daemon
    keeps (a connection per message would be six); alice's group messages take it too."""
    srv = h.Server(root)
    servers.append(srv)
    a, b = [h.User(root, n, srv) for n in NAMES[:2]]
    pa, path_a = d.start_daemon(root, a, "--no-bridge")
    pb, path_b = d.start_daemon(root, b, "--no-bridge")
    try:
        ra, rb = d.Rpc(path_a), d.Rpc(path_b)
        # First contact, identified; bob's receipt (sealed: alice's token came with it)
        # brings alice bob's token.
        ra.result("send", {"to": b.address, "body": "one"})
        h.check(rb.notification("message")["params"]["body"] == "one", "bob got one")
        ra.notification("receipt")
        h.wait_until(lambda: unidentified(srv) >= 1, h.scaled(10), "bob's sealed receipt")
        before = unidentified(srv)
        ids = [ra.result("send", {"to": b.address, "body": "sealed %d" % i})["id"]
               for i in range(3)]
        got = [rb.notification("message")["params"]["body"] for _ in ids]
        h.check(got == ["sealed 0", "sealed 1", "sealed 2"], "bob got %r" % got)
        receipted = set()
        while not receipted >= set(ids):
            receipted |= set(ra.notification("receipt")["params"]["ids"])
        # alice's daemon opened one for her three sends; bob's still had the one of his
        # first receipt (sent within the idle limit).
        h.check(unidentified(srv) - before == 1, "%d unidentified connections for three sends"
                " and their receipts, not 1" % (unidentified(srv) - before))
        # Group messages go sealed on the same kept connection (docs/PROTOCOL.md 14.6).
        before = unidentified(srv)
        ra.result("group_create", {"name": "Kept", "members": [b.address]})
        for i in range(2):
            ra.result("group_send", {"group": "Kept", "body": "group %d" % i})
        got = [rb.notification("message")["params"]["body"] for _ in range(2)]
        h.check(got == ["group 0", "group 1"], "bob got %r" % got)
        h.check(unidentified(srv) == before, "%d new unidentified connections for the group's"
                " messages, not 0" % (unidentified(srv) - before))
    finally:
        rca, rcb = d.stop(pa), d.stop(pb)
    h.check(rca == 0 and rcb == 0, "daemon exit codes %r %r" % (rca, rcb))
    d.check_clean_log(root, a)
    d.check_clean_log(root, b)


if __name__ == "__main__":
    h.run_tests([test_sealed_after_first_contact_rotation_and_block,
                 test_daemon_keeps_one_unidentified_connection])
