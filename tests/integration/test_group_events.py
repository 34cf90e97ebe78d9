#!/usr/bin/env python3
"""Membership changes shown to the user (issue 13): three members; an add, a rename, a
timer change, a removal and a leave. Each member's `receive --json` shows exactly the
changes it should see, once and in order, with who made each and whom it names; `history`
shows them in place among the texts; a removed member is told and reads nothing sent
after; a receive killed midway, run again, shows no change twice and loses none from the
history."""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotto_harness import Server, User, check, run_tests  # noqa: E402


def ok(r, what):
    check(r.returncode == 0, "%s: rc %d: %s" % (what, r.returncode, r.stderr.decode()))
    return r.stdout.decode()


def group(user, *args):
    return ok(user.run("group", *args), "%s group %s" % (user.name, " ".join(args)))


def brief(e):
    """(event, actor, subject or members) of a group change."""
    if e["event"] in ("joined",):
        return (e["event"], e["actor"], sorted(e["members"]))
    if e["event"] == "timer":
        return (e["event"], e["actor"], e["expiry"])
    if e["event"] == "you_removed":
        return (e["event"], e["actor"], None)
    return (e["event"], e["actor"], e["subject"])


def events(got, gid):
    out = [brief(e) for e in got if e["type"] == "group"]
    check(all(e["group"] == gid for e in got if e["type"] == "group"), got)
    return out


def test_changes_shown_once_in_order(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice, bob, carol = (User(root, n, srv) for n in ("alice", "bob", "carol"))
    A, B, C = alice.address, bob.address, carol.address
    gid = group(alice, "create", "Crew", B).strip()
    got = bob.receive()
    check(events(got, gid) == [("joined", A, sorted([A, B])), ("renamed", A, "Crew")], got)
    j = [e for e in got if e["type"] == "group"][0]
    # the Welcome does not carry the name: the next change, from the same member, does
    check(j["change"] == "joined" and j["from"] == A and j["group_name"] == "" and
          len(j["id"]) == 32, j)

    group(alice, "add", "Crew", C)
    check(events(bob.receive(), gid) == [("added", A, C)], "bob: add")
    check(events(carol.receive(), gid) == [("joined", A, sorted([A, B, C])),
                                           ("renamed", A, "Crew")], "carol: joined")

    # (an INFO carries the name and the timer its sender knows: Carol reads the new name
    # before she sets the timer, or her change would name the group back)
    group(bob, "rename", gid, "Crew2")
    check(events(carol.receive(), gid) == [("renamed", B, "Crew2")], "carol: rename")
    group(carol, "expire", gid, "1h")
    got = alice.receive()
    check(events(got, gid) == [("renamed", B, "Crew2"), ("timer", C, 3600)], got)
    check([e["group_name"] for e in got if e["type"] == "group"] == ["Crew2", "Crew2"], got)
    check(events(bob.receive(), gid) == [("timer", C, 3600)], "bob: timer")

    group(alice, "send", gid, "before")
    group(alice, "remove", gid, B)
    group(alice, "send", gid, "after bob")
    got = bob.receive()
    check(events(got, gid) == [("you_removed", A, None)], got)
    check([e["body"] for e in got if e["type"] == "text"] == ["before"], got)
    check("after bob" not in json.dumps(got), got)
    check(bob.receive() == [], "removed member reads more")
    got = carol.receive()
    check(events(got, gid) == [("removed", A, B)], got)

    group(carol, "leave", gid)
    got = alice.receive(wait=5)
    check(events(got, gid) == [("left", C, C)], got)
    got = carol.receive(wait=5)
    check(events(got, gid) == [("you_removed", A, None)], got)
    for u in (alice, bob, carol):
        check(u.receive() == [], "%s: shown twice" % u.name)

    # The history has each change once, in place among the texts.
    h = [(m["type"], m.get("event"), m["peer"], m.get("subject"))
         for m in carol.history() if m.get("group") == gid]
    check(h == [("group", "joined", A, None),
                ("group", "renamed", A, "Crew"),
                ("group", "renamed", B, "Crew2"),
                ("text", None, A, None),
                ("group", "removed", A, B),
                ("text", None, A, None),
                ("group", "you_removed", A, None)], h)
    joined = [x for x in carol.history() if x.get("event") == "joined"][0]
    check(sorted(joined["members"]) == sorted([A, B, C]) and
          joined["group_name"] == "Crew2", joined)
    plain = ok(bob.run("history"), "history")
    check("[Crew2] you were added by %s; members:" % A in plain, plain)
    check("[Crew2] %s named the group \"Crew\"" % A in plain, plain)
    check("[Crew2] %s set disappearing messages to 3600 s" % C in plain, plain)
    check("[Crew2] you were removed by %s" % A in plain, plain)
    plain = ok(alice.run("history"), "history")
    check("[Crew2] %s left" % C in plain, plain)
    # The human form of receive.
    group(alice, "add", gid, B)
    out = ok(bob.run("receive"), "receive")
    check("[%s] you were added by %s; members: " % (gid, A) in out or
          "[Crew2] you were added by %s; members: " % A in out, out)


def test_killed_mid_receive_shows_each_change_once(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice, bob = (User(root, n, srv) for n in ("alice", "bob"))
    gid = group(alice, "create", "Many", bob.address).strip()
    bob.receive()
    n = 12
    for i in range(n):
        group(alice, "rename", gid, "name %02d" % i)
    p = subprocess.Popen(bob.argv("receive", "--json"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    printed = []
    for _ in range(n // 3):
        line = p.stdout.readline()
        if not line:
            break
        printed.append(json.loads(line))
    p.send_signal(signal.SIGKILL)
    p.wait()
    check(len(printed) >= 1, "nothing before the kill")
    printed += bob.receive()
    shown = [e["id"] for e in printed if e["type"] == "group"]
    check(len(shown) == len(set(shown)), "a change was shown twice")
    hist = [m for m in bob.history() if m.get("group") == gid and m.get("event") == "renamed"]
    check([m["subject"] for m in hist] == ["Many"] + ["name %02d" % i for i in range(n)],
          [m["subject"] for m in hist])
    check(set(shown) <= set(m["id"] for m in hist), "shown but not stored")
    # in order: what was shown is a subsequence of the history
    order = [m["id"] for m in hist]
    check([i for i in order if i in set(shown)] == shown, "shown out of order")


def test_changes_taken_while_catching_up(root, servers):
    """Alice commits in an epoch Bob's Commit took: her client takes Bob's Commit while
    it catches up (no receive running), and her next receive shows it, once."""
    srv = Server(root)
    servers.append(srv)
    alice, bob, carol, dave = (User(root, n, srv) for n in ("alice", "bob", "carol", "dave"))
    gid = group(alice, "create", "Race", bob.address).strip()
    bob.receive()
    group(bob, "add", gid, carol.address)
    group(alice, "add", gid, dave.address)
    got = alice.receive()
    check(events(got, gid) == [("added", bob.address, carol.address)], got)
    check(alice.receive() == [], "shown twice")
    h = [(m["event"], m["peer"], m["subject"]) for m in alice.history()
         if m["type"] == "group"]
    check(h == [("added", bob.address, carol.address)], h)
    check(events(bob.receive(), gid) == [("added", alice.address, dave.address)], "bob")


if __name__ == "__main__":
    run_tests([
        test_changes_shown_once_in_order,
        test_killed_mid_receive_shows_each_change_once,
        test_changes_taken_while_catching_up,
    ])
