#!/usr/bin/env python3
"""The administrator's commands of sottod (issue 17) through the real binaries: invites
with a lifetime, several uses and revocation; the address of the running server; status
and metrics; online backups."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotto_harness import (Server, User, SOTTOD, check, run_tests, scaled,  # noqa: E402
                           wait_until)


def sottod(srv, *args):
    return subprocess.run([SOTTOD] + list(args) + ["--data", srv.dir], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=scaled(30))


def invite(srv, *args):
    r = sottod(srv, "invite", *args)
    check(r.returncode == 0, r.stderr)
    token = r.stdout.decode().strip()
    check(token and "\n" not in token, r.stdout)
    return token, r.stderr.decode()


def invites(srv):
    r = sottod(srv, "invites", "list", "--json")
    check(r.returncode == 0, r.stderr)
    return json.loads(r.stdout)


class Joiner(User):
    """`sotto init` with an invite; keeps the result instead of raising."""

    def __init__(self, root, name, srv, token, home=None):
        self.name = name
        self.address = "%s@localhost" % name
        self.home = os.path.join(root, home or name)
        self.passfile = os.path.join(root, (home or name) + ".pass")
        with open(self.passfile, "w") as f:
            f.write("passphrase of %s\n" % name)
        os.chmod(self.passfile, 0o600)
        self.init = self.run("init", self.address, "--server", srv.address, "--kdf", "min",
                             "--invite", token)


def joined(j):
    return j.init.returncode == 0


def test_invite_uses_expiry_and_list(root, servers):
    srv = Server(root, registration="invite")
    servers.append(srv)
    before = int(time.time())
    token, said = invite(srv, "--uses", "2")
    check("registers 2 accounts, until " in said, said)
    listed = invites(srv)
    check(len(listed) == 1, listed)
    inv = listed[0]
    check(inv["uses_left"] == 2 and inv["state"] == "valid" and inv["name"] is None, inv)
    # Invites expire by default, 7 days after they are made.
    check(before + 7 * 86400 <= inv["expires"] <= int(time.time()) + 7 * 86400, inv)
    check(inv["id"] in said, "the id printed at creation is the listed one")
    # The list never shows the token, nor anything longer than the id of its hash.
    for args in (["invites", "list"], ["invites", "list", "--json"]):
        out = sottod(srv, *args).stdout
        check(token.encode() not in out and token[:8].encode() not in out, out)
    check(joined(Joiner(root, "alice", srv, token)), "first use")
    check(joined(Joiner(root, "bob", srv, token)), "second use")
    third = Joiner(root, "carol", srv, token)
    check(third.init.returncode == 7 and b"already used" in third.init.stderr,
          "rc %d: %s" % (third.init.returncode, third.init.stderr))
    inv = invites(srv)[0]
    check(inv["uses_left"] == 0 and inv["state"] == "used" and inv["last_used"] >= before,
          inv)
    r = sottod(srv, "invites", "list")
    check(r.returncode == 0 and inv["id"].encode() in r.stdout and b" used " in r.stdout,
          r.stdout)


def test_invite_expires(root, servers):
    srv = Server(root, registration="invite")
    servers.append(srv)
    token, said = invite(srv, "--expires", "1s")
    wait_until(lambda: invites(srv)[0]["state"] == "expired", 10, "the invite to expire")
    late = Joiner(root, "alice", srv, token)
    check(late.init.returncode == 7 and b"expired or was revoked" in late.init.stderr,
          "rc %d: %s" % (late.init.returncode, late.init.stderr))
    # --expires never, and bad durations.
    token, said = invite(srv, "--expires", "never")
    check("for ever" in said, said)
    check([i for i in invites(srv) if i["expires"] is None], invites(srv))
    for bad in ("7", "0d", "7y", "3651d", "-1h"):
        r = sottod(srv, "invite", "--expires", bad)
        check(r.returncode == 2 and b"duration" in r.stderr, (bad, r.stderr))
    for bad in ("0", "x", "1000001", "-2"):
        r = sottod(srv, "invite", "--uses", bad)
        check(r.returncode == 2, (bad, r.stderr))
    check(len(invites(srv)) == 2, "a refused command made an invite")
    r = sottod(srv, "invite", "--expires", "30m", "--uses", "3")
    check(r.returncode == 0 and b"registers 3 accounts" in r.stderr, r.stderr)
    inv = [i for i in invites(srv) if i["uses_left"] == 3][0]
    check(inv["expires"] - inv["created"] in (1800, 1801), inv)


def test_invite_revoke_by_id_and_token(root, servers):
    srv = Server(root, registration="invite")
    servers.append(srv)
    by_id, said = invite(srv)
    by_token, _ = invite(srv, "--uses", "5")
    ident = [i for i in invites(srv) if i["uses_left"] == 1][0]["id"]
    r = sottod(srv, "invites", "revoke", ident)
    check(r.returncode == 0, r.stderr)
    r = sottod(srv, "invites", "revoke", by_token)
    check(r.returncode == 0, r.stderr)
    check(sorted(i["state"] for i in invites(srv)) == ["revoked", "revoked"], invites(srv))
    for token, name in ((by_id, "alice"), (by_token, "bob")):
        j = Joiner(root, name, srv, token)
        check(j.init.returncode == 7 and b"expired or was revoked" in j.init.stderr,
              "%s: rc %d: %s" % (name, j.init.returncode, j.init.stderr))
    r = sottod(srv, "invites", "revoke", "0123456789ab")
    check(r.returncode == 2 and b"no invite 0123456789ab" in r.stderr, r.stderr)
    r = sottod(srv, "invites", "revoke", "not-a-token-of-this-server")
    check(r.returncode == 2 and b"no invite" in r.stderr, r.stderr)
    r = sottod(srv, "invites", "revoke")
    check(r.returncode == 2, r.stderr)


def test_reset_invite_has_a_lifetime(root, servers):
    srv = Server(root, registration="invite")
    servers.append(srv)
    token, _ = invite(srv)
    check(joined(Joiner(root, "bob", srv, token)), "bob")
    r = sottod(srv, "accounts", "reset", "bob", "--expires", "1s")
    check(r.returncode == 0 and b"registers only bob, until " in r.stderr, r.stderr)
    reset_token = r.stdout.decode().strip()
    wait_until(lambda: [i for i in invites(srv) if i["name"] == "bob"][0]["state"] ==
               "expired", 10, "the reset's invite to expire")
    late = Joiner(root, "bob2", srv, reset_token)
    check(late.init.returncode != 0, "the expired reset invite registered another name")
    late = Joiner(root, "bob", srv, reset_token, home="bob-late")
    check(late.init.returncode == 7 and b"expired or was revoked" in late.init.stderr,
          late.init.stderr)
    # The name stays reserved; a new reset gives a new invite, good for 7 days.
    r = sottod(srv, "accounts", "reset", "bob")
    check(r.returncode == 0, r.stderr)
    inv = [i for i in invites(srv) if i["name"] == "bob" and i["state"] == "valid"]
    check(len(inv) == 1 and inv[0]["expires"] - inv[0]["created"] in (604800, 604801), inv)
    again = Joiner(root, "bob", srv, r.stdout.decode().strip(), home="bob-new")
    check(joined(again), again.init.stderr)


if __name__ == "__main__":
    run_tests([
        test_invite_uses_expiry_and_list,
        test_invite_expires,
        test_invite_revoke_by_id_and_token,
        test_reset_invite_has_a_lifetime,
    ])
