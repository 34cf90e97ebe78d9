#!/usr/bin/env python3
"""Groups through real sottod and sotto processes (every command a fresh client process,
so each step also restarts the clients): invitations and messages both ways, a member
added later, one removed (told, and reading nothing sent after), one leaving, two members
committing in the same epoch (the later one follows the other's Commit and commits
again), renaming and the disappearing-message timer, a receive killed midway, the JSON
fields, a server restart between steps, and clear errors for bad input."""
import json
import os
import signal
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotto_harness import Server, User, check, on_postgresql, run_tests  # noqa: E402


def ok(r, what):
    check(r.returncode == 0, "%s: rc %d: %s" % (what, r.returncode, r.stderr.decode()))
    return r.stdout.decode()


def group(user, *args):
    return ok(user.run("group", *args), "%s group %s" % (user.name, " ".join(args)))


def texts(events, gid=None):
    return [(e["from"], e["body"]) for e in events
            if e["type"] == "text" and (gid is None or e.get("group") == gid)]


def changes(events, kind):
    return [e for e in events if e["type"] == "group" and e["change"] == kind]


def members(user, name):
    return {m["address"]: m["trust"] for m in json.loads(group(user, "members", name, "--json"))}


def test_create_talk_add_remove_leave(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice, bob, carol, dave = (User(root, n, srv) for n in ("alice", "bob", "carol", "dave"))
    gid = group(alice, "create", "Team", bob.address, carol.address).strip()
    check(len(gid) == 32 and int(gid, 16) >= 0, gid)

    # Each invited member learns of it, with everyone in it and the group's name.
    for u in (bob, carol):
        got = u.receive()
        j = changes(got, "joined")
        check(len(j) == 1 and j[0]["group"] == gid, got)
        check(sorted(j[0]["members"]) == sorted([alice.address, bob.address, carol.address]),
              j)
        info = changes(got, "renamed")
        check(len(info) == 1 and info[0]["group_name"] == "Team" and
              info[0]["from"] == alice.address, got)
    check(members(bob, "Team") == {alice.address: "unknown", bob.address: "self",
                                   carol.address: "unknown"}, members(bob, "Team"))
    listed = json.loads(group(carol, "list", "--json"))
    check(listed == [{"id": gid, "name": "Team", "address": "group+%s@localhost" % gid,
                      "status": "member", "members": 3, "expiry": 0}], listed)

    # Messages both ways; the sender does not get its own back.
    mid = group(bob, "send", "Team", "hello from bob").strip()
    group(alice, "send", gid, "hello from alice")
    got = alice.receive()
    check(texts(got, gid) == [(bob.address, "hello from bob")], got)
    check(got[0]["id"] == mid and got[0]["group_name"] == "Team", got)
    got = carol.receive()
    check(texts(got, gid) == [(bob.address, "hello from bob"),
                              (alice.address, "hello from alice")], got)
    check(carol.receive() == [], "shown twice")
    # Standard input.
    r = carol.run("group", "send", "Team", "-", stdin="from stdin\nline two".encode())
    ok(r, "send -")
    check(texts(bob.receive(), gid) == [(alice.address, "hello from alice"),
                                         (carol.address, "from stdin\nline two")], "bob")
    check(texts(alice.receive(), gid) == [(carol.address, "from stdin\nline two")], "alice")

    # History: the group's id and name on each message, ours included.
    h = [m for m in bob.history() if m.get("group") == gid and m["type"] == "text"]
    check([(m["direction"], m["peer"], m["body"]) for m in h] ==
          [("out", bob.address, "hello from bob"), ("in", alice.address, "hello from alice"),
           ("in", carol.address, "from stdin\nline two")], h)
    check(all(m["group_name"] == "Team" for m in h), h)
    plain = ok(bob.run("history"), "history")
    check("[Team] alice@localhost: hello from alice" in plain, plain)

    # Dave is added later: he reads what comes after, not before.
    group(alice, "add", "Team", dave.address)
    got = dave.receive()
    check(len(changes(got, "joined")) == 1 and texts(got) == [], got)
    got = bob.receive()
    check([e["members"] for e in changes(got, "added")] == [[dave.address]], got)
    group(dave, "send", "Team", "dave here")
    for u in (alice, bob, carol):
        check(texts(u.receive(), gid) == [(dave.address, "dave here")], u.name)

    # The server restarts between steps: nothing is lost.
    srv.restart()
    group(carol, "send", "Team", "after the restart")
    check(texts(dave.receive(), gid) == [(carol.address, "after the restart")], "restart")

    # Carol is removed: she is told, and reads nothing sent after.
    group(alice, "remove", "Team", carol.address)
    group(bob, "send", "Team", "carol is gone")
    got = carol.receive()
    check(len(changes(got, "you_removed")) == 1, got)
    check(texts(got) == [(alice.address, "after the restart")] or texts(got) == [], got)
    check("carol is gone" not in json.dumps(got), got)
    check(carol.receive() == [], "removed member reads more")
    check(json.loads(group(carol, "list", "--json"))[0]["status"] == "removed", "status")
    r = carol.run("group", "send", "Team", "still here?")
    check(r.returncode == 7 and b"no longer a member" in r.stderr, r.stderr)
    got = dave.receive()
    check([e["members"] for e in changes(got, "removed")] == [[carol.address]], got)
    check(texts(got, gid) == [(bob.address, "carol is gone")], got)
    check(set(members(alice, "Team")) == {alice.address, bob.address, dave.address}, "members")

    # Dave leaves: the next member online commits it.
    group(dave, "leave", "Team")
    got = alice.receive(wait=5)
    check(texts(got, gid) == [(bob.address, "carol is gone")], got)
    got = dave.receive(wait=5)
    check(len(changes(got, "you_removed")) == 1, got)
    group(bob, "send", "Team", "two of us")
    check(dave.receive() == [], "left member reads more")
    check(set(members(bob, "Team")) == {alice.address, bob.address}, members(bob, "Team"))
    check(texts(alice.receive(), gid) == [(bob.address, "two of us")], "after leave")


def test_two_commits_in_one_epoch(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice, bob, carol, dave = (User(root, n, srv) for n in ("alice", "bob", "carol", "dave"))
    gid = group(alice, "create", "Race", bob.address).strip()
    bob.receive()
    # Bob adds Carol; Alice, who has not read Bob's Commit, adds Dave in the same epoch:
    # the server refuses hers as stale, her client follows Bob's Commit and commits again.
    group(bob, "add", gid, carol.address)
    group(bob, "send", gid, "welcome carol")
    group(alice, "add", gid, dave.address)
    want = {alice.address, bob.address, carol.address, dave.address}
    check(set(members(alice, gid)) == want, members(alice, gid))
    # Bob's text, which Alice's client read while catching up, is shown to her once.
    check(texts(alice.receive(), gid) == [(bob.address, "welcome carol")], "caught up")
    check(alice.receive() == [], "shown twice")
    check([m["body"] for m in alice.history()
           if m.get("group") == gid and m["type"] == "text"] == ["welcome carol"],
          "history")
    check(set(members(bob, gid)) == set([alice.address, bob.address, carol.address]),
          "bob before reading")
    bob.receive()
    check(set(members(bob, gid)) == want, members(bob, gid))
    check(texts(carol.receive(), gid) == [(bob.address, "welcome carol")], "carol")
    check(texts(dave.receive(), gid) == [], "dave reads what came before him")
    group(dave, "send", gid, "all four")
    for u in (alice, bob, carol):
        check(texts(u.receive(), gid) == [(dave.address, "all four")], u.name)


def test_rename_and_disappearing_timer(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice, bob = (User(root, n, srv) for n in ("alice", "bob"))
    gid = group(alice, "create", "Old", bob.address).strip()
    bob.receive()
    group(alice, "expire", "Old", "1h")
    got = bob.receive()
    check([(e["group_name"], e["expiry"]) for e in changes(got, "timer")] == [("Old", 3600)], got)
    # A rename carries the timer its sender knows (here the one just set).
    group(bob, "rename", gid, "New")
    got = alice.receive()
    check(changes(got, "timer") == [], got)     # the timer it carries is the one set
    info = changes(got, "renamed")
    check(len(info) == 1 and info[0]["group_name"] == "New" and info[0]["expiry"] == 3600 and
          info[0]["from"] == bob.address, got)
    check(json.loads(group(bob, "list", "--json"))[0]["name"] == "New", "renamed")
    check(json.loads(group(alice, "list", "--json"))[0]["expiry"] == 3600, "timer")
    # Texts now disappear an hour after they were sent or received, on both sides.
    group(alice, "send", "New", "gone in an hour")
    got = bob.receive()
    m = [e for e in got if e["type"] == "text"]
    check(len(m) == 1 and m[0]["group_name"] == "New" and
          3500 < m[0]["expires_at"] - m[0]["time"] <= 3700, got)
    for u in (alice, bob):
        h = [x for x in u.history() if x.get("group") == gid and x["type"] == "text"]
        check(len(h) == 1 and 3500 < h[0]["expires_at"] - h[0]["time"] <= 3700, h)
    group(bob, "expire", "New", "off")
    alice.receive()
    group(alice, "send", "New", "kept")
    got = [e for e in bob.receive() if e["type"] == "text"]
    check(len(got) == 1 and "expires_at" not in got[0], got)
    r = alice.run("group", "expire", "New", "soon")
    check(r.returncode == 2, r.returncode)


def test_killed_mid_receive(root, servers):
    """A receive killed while it shows a group's messages: nothing is shown twice, nothing
    the server was told is stored is missing."""
    srv = Server(root)
    servers.append(srv)
    alice, bob = (User(root, n, srv) for n in ("alice", "bob"))
    gid = group(alice, "create", "Bulk", bob.address).strip()
    n = 30
    for i in range(n):
        group(alice, "send", gid, "bulk %03d" % i)
    printed = []
    p = subprocess.Popen(bob.argv("receive", "--json"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    for _ in range(n // 3):
        line = p.stdout.readline()
        if not line:
            break
        printed.append(json.loads(line))
    p.send_signal(signal.SIGKILL)
    p.wait()
    check(len(printed) >= 1, "nothing before the kill")
    printed += bob.receive()
    shown = [m["id"] for m in printed if m["type"] == "text"]
    check(len(shown) == len(set(shown)), "a message was shown twice")
    hist = [h for h in bob.history() if h.get("group") == gid and h["type"] == "text"]
    check(sorted(h["body"] for h in hist) == ["bulk %03d" % i for i in range(n)],
          "stored: %d of %d" % (len(hist), n))
    check(set(shown) <= set(h["id"] for h in hist), "shown but not stored")
    # The group goes on after the kill.
    group(bob, "send", gid, "still here")
    check(texts(alice.receive(), gid) == [(bob.address, "still here")], "after the kill")


def unidentified_conns(srv):
    with open(srv.log_path, "rb") as f:
        return f.read().count(b": unidentified")


def team_of_three(root, servers):
    """A server, alice, bob and carol, and the group "Team" alice made with the two
    (who have read her invitation): (server, users, group id)."""
    srv = Server(root)
    servers.append(srv)
    alice, bob, carol = (User(root, n, srv) for n in ("alice", "bob", "carol"))
    gid = group(alice, "create", "Team", bob.address, carol.address).strip()
    for u in (bob, carol):
        u.receive()
    return srv, (alice, bob, carol), gid


def test_group_sends_are_unidentified(root, servers):
    """Issue 15 for groups: each group text goes out on an unidentified connection of its
    own with the epoch's group token; the server keeps only the verifiers, a new one with
    each Commit, and the log entry names no sender."""
    srv, (alice, bob, carol), gid = team_of_three(root, servers)
    db = sqlite3.connect(os.path.join(srv.dir, "sottod.db"))

    def verifiers():
        return db.execute("SELECT epoch, verifier, prev_verifier FROM groups").fetchone()

    epoch, v, prev = verifiers()
    check(epoch == 1 and len(v) == 32 and len(prev) == 32 and v != prev, (epoch, v, prev))
    before = unidentified_conns(srv)
    group(bob, "send", "Team", "sealed hello")
    check(unidentified_conns(srv) == before + 1, "not one unidentified connection")
    check(texts(alice.receive(), gid) == [(bob.address, "sealed hello")], "alice")
    check(texts(carol.receive(), gid) == [(bob.address, "sealed hello")], "carol")
    # The log's columns: nothing that could name a sender.
    cols = {r[1] for r in db.execute("PRAGMA table_info(group_log)")}
    check(cols == {"grp", "seq", "kind", "epoch", "ts", "cmid", "data"}, cols)
    # Carol removed: a new epoch, a new verifier; the old one kept for late messages.
    group(alice, "remove", "Team", carol.address)
    epoch2, v2, prev2 = verifiers()
    check(epoch2 == 2 and v2 != v and prev2 == v, (epoch2, v2, prev2))
    before = unidentified_conns(srv)
    group(alice, "send", "Team", "without carol")
    check(unidentified_conns(srv) == before + 1, "not one unidentified connection")
    check(texts(bob.receive(), gid) == [(alice.address, "without carol")], "bob")
    check("without carol" not in json.dumps(carol.receive()), "carol reads on")
    db.close()


def server_sql(srv, sql):
    """The rows of sql on srv's database (SQLite, or its PostgreSQL schema), as text
    (bytes hex-encoded by the query itself); srv must be stopped for a write to SQLite."""
    if srv.pg_db is None:
        db = sqlite3.connect(os.path.join(srv.dir, "sottod.db"))
        try:
            rows = db.execute(sql).fetchall()
            db.commit()
        finally:
            db.close()
        return [tuple("" if c is None else str(c) for c in r) for r in rows]
    out = subprocess.run(["psql", "-qtA", "-v", "ON_ERROR_STOP=1",
                          os.environ["SOTTO_TEST_PG"], "-c", "SET search_path TO " + srv.pg_db,
                          "-c", sql], check=True, stdout=subprocess.PIPE).stdout.decode()
    return [tuple(l.split("|")) for l in out.splitlines() if l.strip()]


def clear_verifiers(srv, epoch):
    """Restarts srv with its group's verifiers cleared, as a group's from before schema
    12 (the group at epoch); the SQL that shows the verifier in hex."""
    srv.stop()
    hexv = "hex(verifier)" if srv.pg_db is None else "encode(verifier, 'hex')"
    server_sql(srv, "UPDATE groups SET verifier = NULL, prev_verifier = NULL")
    check(server_sql(srv, "SELECT epoch, %s FROM groups" % hexv) == [(str(epoch), "")],
          "cleared")
    srv.start()
    return hexv


def test_group_from_before_tokens(root, servers):
    """A group made before the server kept group tokens (its verifiers cleared, as a
    pre-schema-12 group's): the first sealed send is refused NO_GROUP_TOKEN, the sender's
    empty Commit registers a verifier, and the text goes sealed, once to every member;
    another member's text, made before she read that Commit, is late (STALE_EPOCH), and
    she follows the Commit and sends it again, sealed, once."""
    srv, (alice, bob, carol), gid = team_of_three(root, servers)
    hexv = clear_verifiers(srv, 1)
    before = unidentified_conns(srv)
    group(bob, "send", "Team", "after the upgrade")
    # The refused send and the one taken go on the one unidentified connection the
    # process keeps (src/client/sealed_conn.c).
    check(unidentified_conns(srv) == before + 1, "not one unidentified connection")
    rows = server_sql(srv, "SELECT epoch, %s FROM groups" % hexv)
    check(len(rows) == 1 and rows[0][0] == "2" and len(rows[0][1]) == 64, rows)
    # Alice has not read bob's Commit: her text is made in the epoch before it, which had
    # no token, and is answered STALE_EPOCH; she follows the Commit and sends it again.
    before = unidentified_conns(srv)
    group(alice, "send", "Team", "and back")
    check(unidentified_conns(srv) == before + 1, "not one unidentified connection")
    got = texts(carol.receive(), gid)
    check(got == [(bob.address, "after the upgrade"), (alice.address, "and back")], got)
    check(texts(bob.receive(), gid) == [(alice.address, "and back")], "bob")
    check(texts(alice.receive(), gid) == [(bob.address, "after the upgrade")], "alice")


def test_group_from_before_tokens_commit_race(root, servers):
    """Another member's Commit takes the epoch of the empty Commit: alice, who has not read
    bob's Commit (one that registered no verifier, as an older client's), is refused
    NO_GROUP_TOKEN, her empty Commit STALE_EPOCH; she follows bob's, is refused again,
    commits, and her text goes sealed, once."""
    srv, (alice, bob, carol), gid = team_of_three(root, servers)
    group(bob, "remove", "Team", carol.address)
    hexv = clear_verifiers(srv, 2)
    before = unidentified_conns(srv)
    group(alice, "send", "Team", "after the race")
    check(unidentified_conns(srv) == before + 1, "not one unidentified connection")
    rows = server_sql(srv, "SELECT epoch, %s FROM groups" % hexv)
    check(len(rows) == 1 and rows[0][0] == "3" and len(rows[0][1]) == 64, rows)
    check(texts(bob.receive(), gid) == [(alice.address, "after the race")], "bob")
    check(texts(alice.receive(), gid) == [], "alice's own text came back")


def test_bad_input(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice, bob, carol = (User(root, n, srv) for n in ("alice", "bob", "carol"))
    gid = group(alice, "create", "Team", bob.address).strip()
    # Unknown group: not found (exit 9) with a hint.
    r = alice.run("group", "send", "Nope", "hi")
    check(r.returncode == 9 and b"no group called Nope" in r.stderr, (r.returncode, r.stderr))
    r = alice.run("group", "members", "Nope")
    check(r.returncode == 9, r.returncode)
    # Unknown user: not found, and the group is as it was.
    r = alice.run("group", "add", "Team", "nobody@localhost")
    check(r.returncode == 9 and b"nobody@localhost" not in r.stdout, (r.returncode, r.stderr))
    check(set(members(alice, "Team")) == {alice.address, bob.address}, "changed")
    # Not an address: invalid (exit 10).
    r = alice.run("group", "add", "Team", "not an address")
    check(r.returncode == 10, (r.returncode, r.stderr))
    # A member already in it.
    r = alice.run("group", "add", "Team", bob.address)
    check(r.returncode != 0, r.returncode)
    # Removing a non-member.
    r = alice.run("group", "remove", "Team", carol.address)
    check(r.returncode == 9, (r.returncode, r.stderr))
    # Carol is no member: she has no such group.
    r = carol.run("group", "send", gid, "let me in")
    check(r.returncode == 9, (r.returncode, r.stderr))
    # Usage errors.
    for args in (["group"], ["group", "frobnicate"], ["group", "send", "Team"],
                 ["group", "create"]):
        r = alice.run(*args)
        check(r.returncode == 2, (args, r.returncode))
    # Two groups with one name: the name is ambiguous, the id is not.
    gid2 = group(alice, "create", "Team").strip()
    r = alice.run("group", "send", "Team", "which?")
    check(r.returncode == 5 and b"several groups" in r.stderr, (r.returncode, r.stderr))
    group(alice, "send", gid2, "to the second")
    group(alice, "send", gid, "to the first")
    got = bob.receive()
    check(texts(got) == [(alice.address, "to the first")], got)


def test_lagging_member_misses_messages_not_the_group(root, servers):
    """group_log_max = 5: carol and dave never read; alice and bob talk on far past it.
    Then carol (--json) and dave (plain) are told they missed messages, once, and read
    nothing after (an MLS member that missed a Commit cannot follow), with no loop."""
    srv = Server(root, conf="group_log_max = 5\n")
    servers.append(srv)
    alice, bob, carol, dave = (User(root, n, srv) for n in ("alice", "bob", "carol", "dave"))
    gid = group(alice, "create", "Team", bob.address, carol.address, dave.address).strip()
    check(len(changes(bob.receive(), "joined")) == 1, "bob joined")
    alice.receive()
    sent = []
    for i in range(6):
        for u, other in ((alice, bob), (bob, alice)):
            text = "%s %d" % (u.name, i)
            group(u, "send", "Team", text)
            sent.append((u.address, text))
            # every message reaches the reading member exactly once
            check(texts(other.receive(), gid) == [(u.address, text)], (other.name, text))
    # The log holds group_log_max entries, not every one carol and dave have not read.
    if srv.pg_db is None:
        db = sqlite3.connect(os.path.join(srv.dir, "sottod.db"))
        check(db.execute("SELECT count(*) FROM group_log").fetchone()[0] == 5, "log size")
        db.close()
    got = carol.receive()
    missed = changes(got, "missed")
    check(len(missed) == 1 and missed[0]["group"] == gid and missed[0]["missed"] >= 7, got)
    check(texts(got) == [], got)                    # nothing after the gap is read
    check(carol.receive() == [], "told twice, or entries after the gap")
    check(json.loads(group(carol, "list", "--json"))[0]["status"] == "missed", "status")
    out = ok(dave.run("receive"), "dave receive")
    check("you missed messages in group " in out and
          "ask a member to add you again" in out, out)
    check(ok(dave.run("receive"), "dave receive") == "", "dave told twice")
    # The members who read go on.
    group(bob, "send", "Team", "still going")
    check(texts(alice.receive(), gid) == [(bob.address, "still going")], "after")


if __name__ == "__main__":
    run_tests([
        test_create_talk_add_remove_leave,
        test_two_commits_in_one_epoch,
        test_rename_and_disappearing_timer,
        test_killed_mid_receive,
        test_group_sends_are_unidentified,
        test_group_from_before_tokens,
        on_postgresql(test_group_from_before_tokens),
        test_group_from_before_tokens_commit_race,
        test_bad_input,
        test_lagging_member_misses_messages_not_the_group,
        on_postgresql(test_lagging_member_misses_messages_not_the_group),
    ])
