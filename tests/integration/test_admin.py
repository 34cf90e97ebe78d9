#!/usr/bin/env python3
"""The administrator's commands of sottod (issue 17) through the real binaries: invites
with a lifetime, several uses and revocation; the address of the running server; status
and metrics; online backups."""
import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotto_harness import (Server, User, SOTTOD, check, free_port,  # noqa: E402
                           run_tests, scaled, wait_until)


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
    check(inv["expires"] - inv["created"] in (1799, 1800), inv)


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
    # An argument that begins with '-' (a token of an older server may) goes after "--".
    r = sottod(srv, "invites", "revoke", "-not-a-token")
    check(r.returncode == 2 and b"goes after --" in r.stderr, r.stderr)
    r = subprocess.run([SOTTOD, "invites", "revoke", "--data", srv.dir, "--", "-not-a-token"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=scaled(30))
    check(r.returncode == 2 and b"no invite with that token" in r.stderr, r.stderr)


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
    check(len(inv) == 1 and inv[0]["expires"] - inv[0]["created"] in (604799, 604800), inv)
    again = Joiner(root, "bob", srv, r.stdout.decode().strip(), home="bob-new")
    check(joined(again), again.init.stderr)


def status(srv):
    """`sottod status --json`: (exit code, the object)."""
    r = sottod(srv, "status", "--json")
    return r.returncode, json.loads(r.stdout)


class PortZero:
    """A sottod told to listen on port 0, so that the kernel chooses; no harness port."""

    def __init__(self, root, extra=(), listen="127.0.0.1:0"):
        self.dir = os.path.join(root, "zero")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        with open(os.path.join(self.dir, "sottod.conf"), "w") as f:
            f.write("listen = %s\n" % listen)
        self.log = open(os.path.join(root, "zero.log"), "ab")
        self.extra = list(extra)
        self.proc = None
        self.pg_db = None       # on SQLite: run_tests drops no PostgreSQL schema for it
        self.start()

    def start(self):
        self.proc = subprocess.Popen([SOTTOD, "run", "--data", self.dir,
                                      "--registration", "open"] + self.extra,
                                     stdout=self.log, stderr=self.log)
        wait_until(lambda: self.proc.poll() is not None or status(self)[0] == 0, 15,
                   "sottod to answer its status")
        check(self.proc.poll() is None, "sottod exited with %s" % self.proc.poll())

    def stop(self, sig=signal.SIGTERM):
        """Its exit status (under ASan, non-zero also for a leak), None if not running."""
        code = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            code = self.proc.wait(timeout=scaled(15))
        self.proc = None
        return code


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def test_address_is_the_bound_one(root, servers):
    srv = PortZero(root)
    servers.append(srv)
    r = sottod(srv, "address")
    check(r.returncode == 0, r.stderr)
    address = r.stdout.decode().strip()
    port = port_of(address)
    check(port != 0 and port != 7770, address)
    check(open(os.path.join(srv.dir, "sottod.address")).read().strip() == address, address)
    socket.create_connection(("127.0.0.1", port), timeout=scaled(5)).close()
    # A client registers with exactly what `sottod address` printed.
    srv.address = address
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    alice.send(bob, "over the chosen port")
    check([m["body"] for m in bob.receive()] == ["over the chosen port"], "delivery")
    # Its status answered (a worker thread, a socket client) before a clean stop.
    check(status(srv)[0] == 0, "status")
    # A clean stop removes the address and the socket: nothing claims a dead server.
    code = srv.stop()
    check(code == 0, "exit status %r" % code)
    check(not os.path.exists(os.path.join(srv.dir, "sottod.address")), "address left")
    check(not os.path.exists(os.path.join(srv.dir, "sottod.sock")), "socket left")
    r = sottod(srv, "address")
    check(address.encode() not in r.stdout and b"no server is running" in r.stderr,
          (r.stdout, r.stderr))
    # After a crash the files stay, but the server does not answer: neither the stale
    # address nor "running" is reported, and a new start replaces the socket.
    srv.start()
    address = sottod(srv, "address").stdout.decode().strip()
    srv.stop(signal.SIGKILL)
    check(os.path.exists(os.path.join(srv.dir, "sottod.address")), "the crash left it")
    r = sottod(srv, "address")
    check(address.encode() not in r.stdout, r.stdout)
    code, st = status(srv)
    check(code == 1 and st["status"] == "not running", st)
    r = sottod(srv, "status")
    check(r.returncode == 1 and b"not running" in r.stdout, r.stdout)
    srv.start()
    check(port_of(sottod(srv, "address").stdout.decode().strip()) != 0, "restarted")


def test_second_server_on_one_directory_refused(root, servers):
    srv = Server(root)
    servers.append(srv)
    r = subprocess.run([SOTTOD, "run", "--data", srv.dir, "--listen",
                        "127.0.0.1:%d" % free_port()], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=scaled(30))
    check(r.returncode == 4 and b"another sottod is running on" in r.stderr, r.stderr)
    # The first one still serves, and still answers its status.
    check(status(srv)[0] == 0, "status after the refused start")
    User(root, "alice", srv)


def test_status_counts_and_exit_codes(root, servers):
    srv = Server(root)
    servers.append(srv)
    code, st = status(srv)
    check(code == 0 and st["status"] == "running" and st["healthy"] is True, st)
    check(st["accounts"] == 0 and st["queue_depth"] == 0 and st["sends"] == 0, st)
    check(st["address"] == srv.address and st["pid"] == srv.proc.pid, st)
    check(re.match(r"^\d+\.\d+\.\d+$", st["version"]), st)
    check(st["database_bytes"] > 0 and st["metrics"] is None, st)
    sock = os.stat(os.path.join(srv.dir, "sottod.sock"))
    check(stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600,
          oct(sock.st_mode))
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    alice.send(bob, "one")
    alice.send(bob, "two")
    code, st = status(srv)
    check(code == 0 and st["accounts"] == 2, st)
    # Bob has not fetched them: both wait (a send's commit is done before its answer).
    check(st["envelopes_waiting"] == 2 and st["queue_depth"] >= 2, st)
    check(st["sends"] == 2, st)
    lat = st["commit_latency_us"]
    check(st["group_commits"] >= 1 and lat["samples"] >= 1 and 0 < lat["p50"] <= lat["p99"]
          <= lat["max"], st)
    check(st["connections_accepted"] >= 4, st)
    bob.receive()
    alice.receive()         # bob's delivery receipt
    code, st = status(srv)
    check(st["envelopes_waiting"] == 0 and st["received"] >= 3, st)
    r = sottod(srv, "status")
    check(r.returncode == 0 and b"running, healthy" in r.stdout and
          b"2 accounts" not in r.stdout and re.search(rb"accounts +2", r.stdout), r.stdout)


def test_status_degraded_near_the_cap(root, servers):
    srv = Server(root)
    servers.append(srv)
    code, st = status(srv)
    check(code == 0, st)
    # A cap one page above what the new database holds: over 90% in use, and it starts.
    page = st["database_max_bytes"] // (2 * 1024 * 1024)   # the default db_max_pages
    pages = st["database_bytes"] // page
    check(pages >= 10, st)
    srv.stop()
    with open(os.path.join(srv.dir, "sottod.conf"), "a") as f:
        f.write("db_max_pages = %d\n" % (pages + 1))
    srv.start()
    code, st = status(srv)
    check(code == 2 and st["healthy"] is False and "db_max_pages" in st["degraded"], st)
    check(st["database_used_percent"] >= 90, st)
    r = sottod(srv, "status")
    check(r.returncode == 2 and b"degraded: database at" in r.stdout, r.stdout)


METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\""
                         r"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\})? (-?[0-9.e+-]+|NaN)$")


def scrape(url):
    """The samples of one scrape, checked against the text exposition format."""
    with urllib.request.urlopen(url, timeout=scaled(10)) as resp:
        check(resp.status == 200, resp.status)
        check(resp.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
              resp.headers["Content-Type"])
        text = resp.read().decode()
    check(text.endswith("\n"), "the exposition ends with a newline")
    typed, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            check(kind in ("counter", "gauge", "summary"), line)
            check(name not in typed, "TYPE twice for " + name)
            typed[name] = kind
            continue
        m = METRIC_LINE.match(line)
        check(m, "not a sample line: %r" % line)
        name = m.group(1)
        base = re.sub(r"_(sum|count)$", "", name)
        check(name in typed or (base in typed and typed[base] == "summary"),
              "sample before its TYPE: " + line)
        if typed.get(name) == "counter":
            check(name.endswith("_total"), "counter without _total: " + name)
        samples[name + (m.group(2) or "")] = float(m.group(4))
    return samples


def test_metrics_endpoint(root, servers):
    port = free_port()
    srv = Server(root, conf="metrics_listen = 127.0.0.1:%d\n" % port)
    servers.append(srv)
    url = "http://127.0.0.1:%d/metrics" % port
    before = scrape(url)
    check(before["sottod_sends_total"] == 0 and before["sottod_healthy"] == 1, before)
    check(before['sottod_info{version="%s"}' % status(srv)[1]["version"]] == 1, before)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    for i in range(3):
        alice.send(bob, "m%d" % i)
    after = scrape(url)
    check(after["sottod_sends_total"] == 3 and after["sottod_accounts"] == 2, after)
    check(after["sottod_envelopes_waiting"] == 3, after)
    check(after["sottod_group_commit_seconds_count"] > before[
        "sottod_group_commit_seconds_count"], after)
    check(0 < after['sottod_group_commit_seconds{quantile="0.5"}'] <=
          after['sottod_group_commit_seconds{quantile="0.99"}'], after)
    check(after["sottod_connections_accepted_total"] >
          before["sottod_connections_accepted_total"], after)
    bob.receive()
    alice.receive()         # bob's delivery receipt
    last = scrape(url)
    check(last["sottod_received_total"] >= 4 and last["sottod_envelopes_waiting"] == 0, last)
    check(status(srv)[1]["metrics"] == "127.0.0.1:%d" % port, status(srv))
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=scaled(10))
        check(False, "/ answered 200")
    except urllib.error.HTTPError as e:
        check(e.code == 404, e.code)
    # A scraper that connects and never asks does not keep the server from stopping.
    idle = socket.create_connection(("127.0.0.1", port), timeout=scaled(5))
    scrape(url)             # accepted after the idle one
    srv.proc.send_signal(signal.SIGTERM)
    code = srv.proc.wait(timeout=scaled(15))
    srv.proc = None
    idle.close()
    check(code == 0, "exit status %r" % code)
    # Only loopback addresses; refused at start with the configuration's exit code.
    r = subprocess.run([SOTTOD, "run", "--data", os.path.join(root, "other"),
                        "--metrics", "0.0.0.0:9100"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=scaled(30))
    check(r.returncode == 3, r.stderr)


def test_backup_under_load_restores_every_acknowledged_message(root, servers):
    srv = Server(root)
    servers.append(srv)
    bob = User(root, "bob", srv)
    senders = [User(root, "alice", srv), User(root, "carol", srv)]
    acked = []                      # (when the send was acknowledged, its text)
    stop = threading.Event()

    def send_loop(u):
        i = 0
        while not stop.is_set():
            text = "%s %d" % (u.name, i)
            i += 1
            if u.run("send", bob.address, text).returncode == 0:
                acked.append((time.monotonic(), text))

    threads = [threading.Thread(target=send_loop, args=(u,)) for u in senders]
    for t in threads:
        t.start()
    dest = os.path.join(root, "backup")
    try:
        wait_until(lambda: len(acked) >= 10, 120, "sends before the backup")
        started = time.monotonic()
        before = {text for when, text in list(acked) if when <= started}
        r = sottod(srv, "backup", dest)
        n_at_end = len(acked)
        # The load goes on after it: sends were acknowledged while it ran or just after.
        wait_until(lambda: len(acked) >= n_at_end + 4, 120, "sends after the backup")
    finally:
        stop.set()
        for t in threads:
            t.join()
    check(r.returncode == 0 and b"backed up" in r.stderr, r.stderr)
    check(sorted(os.listdir(dest)) == ["server.key", "sottod.conf", "sottod.db",
                                       "ticket.key"], os.listdir(dest))
    check(all(os.stat(os.path.join(dest, f)).st_mode & 0o077 == 0 for f in os.listdir(dest)),
          "a backup file is readable by others")
    r2 = sottod(srv, "backup", dest)
    check(r2.returncode == 2 and b"not empty" in r2.stderr, r2.stderr)
    # Restore: the server stops, a server starts on the copy (same key, same port).
    address = srv.address
    srv.stop()
    srv.dir = dest
    srv.start()
    check(sottod(srv, "address").stdout.decode().strip() == address, "the restored address")
    got = set()
    for _ in range(20):
        batch = [m["body"] for m in bob.receive() if m["type"] == "text"]
        if not batch:
            break
        got.update(batch)
    missing = before - got
    check(not missing, "acknowledged before the backup, missing after the restore: %s of "
          "%d: %s" % (len(missing), len(before), sorted(missing)[:5]))
    check(len(before) >= 10, before)


def test_ipv6_listen(root, servers):
    srv = PortZero(root, listen="[::1]:0")
    servers.append(srv)
    srv.address = sottod(srv, "address").stdout.decode().strip()
    check(re.match(r"^sotto://[A-Za-z0-9_-]+@\[::1\]:[1-9][0-9]*$", srv.address), srv.address)
    socket.create_connection(("::1", port_of(srv.address)), timeout=scaled(5)).close()
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    alice.send(bob, "over IPv6")
    check([m["body"] for m in bob.receive()] == ["over IPv6"], "delivery over ::1")


def test_data_directory_of_another_domain_refused(root, servers):
    srv = Server(root, domain="a.example")
    servers.append(srv)
    User(root, "alice", srv, domain="a.example")
    srv.stop()
    r = subprocess.run([SOTTOD, "run", "--data", srv.dir, "--domain", "b.example"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=scaled(30))
    check(r.returncode == 3 and b"holds the server of a.example, not of b.example" in
          r.stderr and b"--domain a.example" in r.stderr, r.stderr)
    check(not os.path.exists(os.path.join(srv.dir, "sottod.sock")), "socket left behind")
    srv.start()             # its own domain still works
    check(status(srv)[1]["domain"] == "a.example", status(srv))
    srv.stop()
    # A database made before the domain was recorded takes the domain it is started with.
    db = sqlite3.connect(os.path.join(srv.dir, "sottod.db"))
    db.execute("DELETE FROM meta WHERE k = 'domain'")
    db.commit()
    db.close()
    srv.start()
    srv.stop()
    r = subprocess.run([SOTTOD, "run", "--data", srv.dir, "--domain", "c.example"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=scaled(30))
    check(r.returncode == 3 and b"not of c.example" in r.stderr, r.stderr)


if __name__ == "__main__":
    run_tests([
        test_invite_uses_expiry_and_list,
        test_invite_expires,
        test_invite_revoke_by_id_and_token,
        test_reset_invite_has_a_lifetime,
        test_address_is_the_bound_one,
        test_second_server_on_one_directory_refused,
        test_status_counts_and_exit_codes,
        test_status_degraded_near_the_cap,
        test_metrics_endpoint,
        test_backup_under_load_restores_every_acknowledged_message,
        test_ipv6_listen,
        test_data_directory_of_another_domain_refused,
    ])
