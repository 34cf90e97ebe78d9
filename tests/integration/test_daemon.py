#!/usr/bin/env python3
"""`sotto daemon`: JSON-RPC 2.0 over a Unix socket, driven by a python client the way a bot
would: requests and answers, errors, and notifications for messages and receipts."""
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotto_harness import (Server, User, check, free_port, run_tests, scaled,  # noqa: E402
                           wait_until)
import bridge_harness  # noqa: E402


class Rpc:
    def __init__(self, path, hello=True):
        deadline = time.time() + scaled(15)
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.lines = []         # every line as it came off the socket, undecoded
        self.next_id = 1
        self.notes = []
        # One round trip: the daemon has accepted us, so no notification can go out
        # before we are on its list (and message notifications start with a request).
        if hello:
            self.result("contacts")

    def read_line(self, timeout):
        self.s.settimeout(timeout)
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("daemon closed the socket")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines.append(line)
        return json.loads(line)

    def raw(self, text):
        self.s.sendall(text + b"\n")
        return self.wait_response()

    def wait_response(self, timeout=20):
        while True:
            m = self.read_line(scaled(timeout))
            if "id" in m:
                return m
            self.notes.append(m)

    def call(self, method, params=None):
        req = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            req["params"] = params
        self.next_id += 1
        self.s.sendall(json.dumps(req).encode() + b"\n")
        m = self.wait_response()
        check(m.get("id") == req["id"], "answer to another request: %r" % m)
        return m

    def result(self, method, params=None):
        m = self.call(method, params)
        check("result" in m, "%s: %r" % (method, m.get("error")))
        return m["result"]

    def notification(self, method, timeout=10):
        deadline = time.time() + scaled(timeout)
        while True:
            for i, n in enumerate(self.notes):
                if n.get("method") == method:
                    return self.notes.pop(i)
            left = deadline - time.time()
            check(left > 0, "no %s notification" % method)
            try:
                m = self.read_line(left)
            except socket.timeout:
                continue
            self.notes.append(m)


def start_daemon(root, user, *extra):
    """The daemon with its mail bridge on free loopback ports (user.smtp, user.imap)."""
    path = os.path.join(root, user.name + ".sock")
    user.smtp, user.imap = free_port(), free_port()
    p = subprocess.Popen(user.argv("daemon", "--socket", path,
                                   "--smtp", "127.0.0.1:%d" % user.smtp,
                                   "--imap", "127.0.0.1:%d" % user.imap, *extra),
                         stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(root, user.name + ".daemon.log"), "wb"))
    return p, path


def daemon_log(root, user):
    with open(os.path.join(root, user.name + ".daemon.log"), "rb") as f:
        return f.read().decode("utf-8", "replace")


def check_clean_log(root, user):
    log = daemon_log(root, user)
    check("Sanitizer" not in log and "runtime error" not in log, log[-1500:])


def alice_daemon_and_bob(root, servers):
    """A server, alice with a daemon (--no-bridge) and bob with none."""
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    pa, path_a = start_daemon(root, alice, "--no-bridge")
    return srv, alice, bob, pa, path_a


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=scaled(10))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError("daemon ignored SIGTERM")
    return p.returncode


def test_daemon_rpc(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    pa, path_a = start_daemon(root, alice)
    pb, path_b = start_daemon(root, bob)
    try:
        a = Rpc(path_a)
        b = Rpc(path_b)
        check(oct(os.stat(path_a).st_mode & 0o777) == "0o600", "socket mode")
        res = a.result("send", {"to": bob.address, "body": "hello over rpc"})
        check(len(res["id"]) == 32, res)
        n = b.notification("message")
        p = n["params"]
        check(n["jsonrpc"] == "2.0" and "id" not in n, n)
        check(p["from"] == alice.address and p["body"] == "hello over rpc", p)
        check(p["id"] == res["id"] and p["type"] == "text", p)
        check(any("new contact" in w for w in p["warnings"]), p)
        b.notification("warning")       # the first-use notice, on its own too
        # Bob's client acknowledged it with a delivery receipt.
        r = a.notification("receipt")
        check(r["params"]["ids"] == [res["id"]] and r["params"]["body"] == "delivered", r)
        # A reply, then Alice marks it read.
        res2 = b.result("send", {"to": alice.address, "body": "hi alice"})
        n = a.notification("message")
        check(n["params"]["body"] == "hi alice", n)
        check(a.result("read", {"address": bob.address, "ids": [res2["id"]]}) is True, "read")
        r = b.notification("receipt")
        check(r["params"]["body"] == "delivered", r)     # automatic, from Alice's client
        r = b.notification("receipt")
        check(r["params"]["body"] == "read" and r["params"]["ids"] == [res2["id"]], r)
        # contacts, verify, history.
        cs = a.result("contacts")
        check([c["address"] for c in cs] == [bob.address] and not cs[0]["verified"], cs)
        va = a.result("verify", {"address": bob.address})
        vb = b.result("verify", {"address": alice.address, "confirm": va["safety_number"]})
        check(va["safety_number"] == vb["safety_number"] and len(va["digits"]) == 60, (va, vb))
        check(vb["verified"] is True and va["verified"] is False, (va, vb))
        h = a.result("history", {"address": bob.address})
        check([(m["direction"], m["body"]) for m in h] ==
              [("out", "hello over rpc"), ("in", "hi alice")], h)
        check("delivered" in h[0]["flags"], h[0])
        h2 = a.result("history", {"after": h[0]["row"], "limit": 5})
        check(len(h2) == 1 and h2[0]["body"] == "hi alice", h2)
        check(a.result("expire", {"address": bob.address, "seconds": 3600}) is True, "expire")
        t = b.notification("timer")
        check(t["params"]["body"] == 3600, t)
        # Errors: JSON-RPC's own codes, and ours (-32000 + sotto_err).
        e = a.call("nope")
        check(e["error"]["code"] == -32601, e)
        e = a.call("send", {"to": bob.address})
        check(e["error"]["code"] == -32602, e)
        e = a.call("send", {"to": "nobody@localhost", "body": "x"})
        check(e["error"]["code"] == -32000 - 33, e)     # SOTTO_ERR_UNKNOWN_USER
        e = a.call("verify", {"address": "Bad Address"})
        check(e["error"]["code"] == -32000 - 40, e)     # SOTTO_ERR_BAD_ADDRESS
        e = a.raw(b"{not json")
        check(e["error"]["code"] == -32700 and e["id"] is None, e)
        e = a.raw(b'{"jsonrpc":"1.0","id":9,"method":"contacts"}')
        check(e["error"]["code"] == -32600 and e["id"] == 9, e)
        # A client that sends an endless line is dropped; the others go on.
        bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bad.connect(path_a)
        try:
            bad.sendall(b"x" * (300 * 1024))
            bad.settimeout(scaled(5))
            check(bad.recv(10) == b"", "oversized line: not closed")
        except (BrokenPipeError, ConnectionResetError):
            pass
        bad.close()
        check(a.result("contacts")[0]["address"] == bob.address, "after a bad client")
        # A second client on the same socket also gets notifications.
        a2 = Rpc(path_a)
        b.result("send", {"to": alice.address, "body": "to both"})
        check(a2.notification("message")["params"]["body"] == "to both", "second client")
        check(a.notification("message")["params"]["body"] == "to both", "first client")
    finally:
        ra = stop(pa)
        rb = stop(pb)
    check(ra == 0 and rb == 0, "daemon exit codes %r %r" % (ra, rb))
    check(not os.path.exists(path_a), "socket left behind")


def test_daemon_survives_server_restart(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    pb, path_b = start_daemon(root, bob)
    try:
        b = Rpc(path_b)
        alice.send(bob, "one")
        check(b.notification("message")["params"]["body"] == "one", "one")
        srv.restart()
        time.sleep(0.2)
        alice.send(bob, "two")
        check(b.notification("message", timeout=20)["params"]["body"] == "two", "two")
    finally:
        stop(pb)




def test_daemon_and_cli_share_a_store(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    alice.send(bob, "start")
    pb, path_b = start_daemon(root, bob)
    try:
        b = Rpc(path_b)
        # Received before any client was connected: not notified, but in the history.
        deadline = time.time() + scaled(10)
        while not any(h["body"] == "start" for h in b.result("history")):
            check(time.time() < deadline, "start not received")
            time.sleep(0.1)
        # Commands that would connect refuse: the server pushes to the newest connection
        # only, so they would take the daemon's messages.
        for args in (("send", alice.address, "x"), ("receive",), ("expire", alice.address, "1h")):
            r = bob.run(*args)
            check(r.returncode == 12 and b"daemon" in r.stderr, "%s: rc %d" % (args[0], r.returncode))
        for i in range(5):
            alice.send(bob, "a%d" % i)
            b.result("send", {"to": alice.address, "body": "rpc %d" % i})
            # Reading the store beside the daemon is fine.
            check(bob.run("history", "--json").returncode == 0, "history beside the daemon")
            check(bob.run("contacts").returncode == 0, "contacts beside the daemon")
        got = []
        while len(got) < 5:
            got.append(b.notification("message", timeout=20)["params"]["body"])
        check(got == ["a%d" % i for i in range(5)], got)
        # A second daemon on the same account is refused too.
        r = subprocess.run(bob.argv("daemon", "--socket", path_b + "2"), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=scaled(20))
        check(r.returncode == 12, "second daemon: rc %d" % r.returncode)
    finally:
        stop(pb)
    bodies = [m["body"] for m in alice.receive() if m["type"] == "text"]
    check(bodies == ["rpc %d" % i for i in range(5)], bodies)
    check(bob.run("send", alice.address, "daemon gone").returncode == 0, "after the daemon")


MAIL = (b"From: Alice <alice@localhost>\r\nTo: bob@localhost\r\n"
        b"Subject: Minutes of the meeting\r\nMessage-ID: <minutes-1@localhost>\r\n"
        b"\r\n" + b"".join(b"%05d all agreed on the plan\r\n" % i for i in range(4000)))


def wait_uids(M, criteria, timeout=30):
    deadline = time.time() + scaled(timeout)
    while True:
        M.select("INBOX")
        typ, data = M.uid("SEARCH", None, criteria)
        uids = data[0].split() if typ == "OK" and data[0] else []
        if uids or time.time() > deadline:
            return uids
        time.sleep(0.2)


def test_daemon_runs_the_bridge(root, servers):
    """alice's mail client submits to her daemon's SMTP; bob reads it over his daemon's
    IMAP. Both daemons keep serving JSON-RPC: bob gets one notification for the mail (not
    one per part) and history shows it as one entry, on both sides."""
    import imaplib
    import smtplib
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    pw = {}
    for u in (alice, bob):
        r = u.run("bridge", "--show-password")
        # made by `sotto init`, not now
        check(r.returncode == 0 and b"made now" not in r.stderr, r.stderr)
        pw[u.name] = r.stdout.decode().strip()
        check(len(pw[u.name]) == 26, pw)
    pa, path_a = start_daemon(root, alice)
    pb, path_b = start_daemon(root, bob)
    try:
        rb = Rpc(path_b)
        deadline = time.time() + scaled(15)
        while True:
            try:
                s = smtplib.SMTP("127.0.0.1", alice.smtp, timeout=scaled(60))
                break
            except OSError:
                check(time.time() < deadline, "alice's bridge: %s" % daemon_log(root, alice))
                time.sleep(0.1)
        with s:
            s.login(alice.address, pw["alice"])
            check(s.sendmail(alice.address, [bob.address], MAIL) == {}, "refused")
        M = imaplib.IMAP4("127.0.0.1", bob.imap)
        M.sock.settimeout(scaled(60))
        M.login(bob.address, pw["bob"])
        uids = wait_uids(M, '(HEADER Message-ID "<minutes-1@localhost>")')
        check(len(uids) == 1, "bob's INBOX: %r %s" % (uids, daemon_log(root, bob)))
        typ, data = M.uid("FETCH", uids[0], "(BODY.PEEK[])")
        check(data[0][1] == MAIL, "bob got %r" % (data[0][1][:200],))
        M.logout()
        # the mail is one notification with its subject, and one history entry
        n = rb.notification("message")
        p = n["params"]
        # (sent in parts, filed whole: one entry with its body)
        check(p["type"] == "mail" and p["subject"] == "Minutes of the meeting" and
              p["size"] == len(MAIL) and p["parts"] == 1 and
              p["body"].encode() == MAIL, {k: str(v)[:80] for k, v in p.items()})
        # the daemon and its bridge unlocked the store once (issue 14)
        for r in (rb, Rpc(path_a)):
            st = r.result("status")
            check(st["unlocks"] == 1 and st["bridge"]["running"], st)
        time.sleep(1)
        rb.result("contacts")   # reads what came meanwhile
        check(not any(x.get("method") == "message" for x in rb.notes), rb.notes)
        h = rb.result("history", {"limit": 1})
        check(len(h) == 1 and h[0]["type"] == "mail" and h[0]["complete"] and
              h[0]["subject"] == "Minutes of the meeting", h)
        # alice's daemon still receives texts: the bridge does not take her pushes
        ra = Rpc(path_a)
        rb.result("send", {"to": alice.address, "body": "got the minutes"})
        n = ra.notification("message")
        check(n["params"]["body"] == "got the minutes", n)
        check(len(ra.result("history")) == 2, ra.result("history"))
    finally:
        ra_rc, rb_rc = stop(pa), stop(pb)
    check(ra_rc == 0 and rb_rc == 0, "daemon exit codes %r %r" % (ra_rc, rb_rc))
    for u in (alice, bob):
        log = daemon_log(root, u)
        check("mail bridge: SMTP on 127.0.0.1:%d" % u.smtp in log, log)
        check("Sanitizer" not in log and "runtime error" not in log, log[-1500:])
    # the command line shows the mail as one entry too
    for u, word in ((alice, b"to bob@localhost: mail: Minutes of the meeting ("),
                    (bob, b"from alice@localhost: mail: Minutes of the meeting (")):
        r = u.run("history")
        lines = [l for l in r.stdout.splitlines() if b"mail:" in l]
        check(r.returncode == 0 and len(lines) == 1 and word in lines[0] and
              b"KiB)" in lines[0], r.stdout)
        hj = u.history()
        check([m["type"] for m in hj].count("mail") == 1, hj)


def test_daemon_bridge_options(root, servers):
    # --no-bridge: nothing listens
    srv, alice, bob, pa, path_a = alice_daemon_and_bob(root, servers)
    try:
        Rpc(path_a)
        for port in (alice.smtp, alice.imap):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                check(False, "port %d is open" % port)
            except OSError:
                pass
        check("mail bridge" not in daemon_log(root, alice), daemon_log(root, alice))
    finally:
        check(stop(pa) == 0, "exit code")
    # a port in use: the daemon says why, and serves JSON-RPC without the bridge
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    path_b = os.path.join(root, "b.sock")
    pb = subprocess.Popen(bob.argv("daemon", "--socket", path_b,
                                   "--smtp", "127.0.0.1:%d" % busy.getsockname()[1],
                                   "--imap", "127.0.0.1:%d" % free_port()),
                          stdout=subprocess.DEVNULL,
                          stderr=open(os.path.join(root, "bob.daemon.log"), "wb"))
    try:
        b = Rpc(path_b)
        st = b.result("status")
        check(st["bridge"]["running"] is False and "SMTP" in st["bridge"]["error"], st)
        check(st["address"] == bob.address and st["outbox"] == 0, st)
        wait_until(lambda: b.result("status")["connected"], 15, "bob's daemon to connect")
        alice.send(bob, "still served")
        n = b.notification("message")
        check(n["params"]["body"] == "still served", n)
        log = daemon_log(root, bob)
        check("SMTP" in log and "not running" in log, log)
    finally:
        busy.close()
        check(stop(pb) == 0, "exit code")
    r = bob.run("daemon", "--socket", os.path.join(root, "b.sock"), "--imap", "0.0.0.0:1",
                "--smtp", "127.0.0.1:%d" % free_port(), timeout=30)
    check(r.returncode == 10 and b"loopback" in r.stderr, (r.returncode, r.stderr))
    r = bob.run("daemon", "--socket", os.path.join(root, "b.sock"), "--smtp", "nonsense")
    check(r.returncode == 2, (r.returncode, r.stderr))
    r = bob.run("daemon", "--help")
    check(r.returncode == 0 and b"--no-bridge" in r.stdout, r.stdout)


def test_daemon_queues_first_message_while_server_down(root, servers):
    """send while the server is down (and no session yet): the answer has the id at once
    and says queued; history shows it pending; the daemon sends it when the server is
    back; bob reads it exactly once."""
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    srv.stop()
    pa, path_a = start_daemon(root, alice, "--no-bridge")
    try:
        a = Rpc(path_a)
        res = a.result("send", {"to": bob.address, "body": "queued via rpc"})
        check(len(res["id"]) == 32 and res["queued"] is True, res)
        # why: nothing listens where the server was
        check(res.get("reason_code") == -32000 - 39 and
              res.get("reason", "").startswith("cannot reach the server"), res)
        h = a.result("history")
        check(len(h) == 1 and h[0]["id"] == res["id"] and "pending" in h[0]["flags"], h)
        check(a.result("status")["outbox"] == 1, "outbox")
        srv.start()
        wait_until(lambda: a.result("status")["outbox"] == 0, 60, "the daemon to send it")
        h = a.result("history")
        check(h[0]["flags"] == [] or "pending" not in h[0]["flags"], h)
    finally:
        check(stop(pa) == 0, "exit code")
    check_clean_log(root, alice)
    got = [(m["id"], m["body"]) for m in bob.receive() if m.get("type") == "text"]
    check(got == [(res["id"], "queued via rpc")], got)
    check([m["body"] for m in bob.history()] == ["queued via rpc"], bob.history())


def test_daemon_subscribe_replays_exactly_once(root, servers):
    """A bot connects, subscribes after the last row it saw, reads a little and drops the
    connection, 100 times, while 1,000 messages stream in: it sees each exactly once, in
    row order, and each notification carries its row."""
    srv, alice, bob, pa, path_a = alice_daemon_and_bob(root, servers)
    pb, path_b = start_daemon(root, bob, "--no-bridge")
    total, cycles = 1000, 100
    errors = []
    # Each cycle lets the stream go on by total/cycles messages, so every reconnect falls
    # inside the stream however fast either side runs.
    go = threading.Semaphore(0)

    def stream():
        try:
            a = Rpc(path_a)
            for i in range(total):
                if i % (total // cycles) == 0:
                    go.acquire()
                a.result("send", {"to": bob.address, "body": "m%04d" % i})
        except Exception as e:     # reported by the main thread
            errors.append(e)

    seen = []
    last = 0

    def read_some(c, want):
        """Up to `want` message notifications, or fewer if none comes for a moment."""
        nonlocal last
        got = 0
        while got < want:
            try:
                m = c.read_line(0.2)
            except (socket.timeout, EOFError):
                return
            if m.get("method") != "message":
                continue
            p = m["params"]
            check(isinstance(p.get("row"), int) and p["row"] > last, (last, p))
            last = p["row"]
            seen.append(p["body"])
            got += 1

    try:
        t = threading.Thread(target=stream)
        t.start()
        rng = random.Random(18)
        for _ in range(cycles):
            go.release()
            c = Rpc(path_b, hello=False)
            res = c.result("subscribe", {"after": last})
            check(isinstance(res["row"], int), res)
            read_some(c, rng.randint(0, 2 * total // cycles))
            c.s.close()
        t.join(scaled(300))
        check(not t.is_alive() and not errors, errors)
        c = Rpc(path_b, hello=False)
        c.result("subscribe", {"after": last})
        deadline = time.time() + scaled(120)
        while len(seen) < total and time.time() < deadline:
            read_some(c, total - len(seen))
        c.s.close()
    finally:
        rcs = (stop(pa), stop(pb))
    check(rcs == (0, 0), "exit codes %r" % (rcs,))
    check_clean_log(root, alice)
    check_clean_log(root, bob)
    check(len(seen) == len(set(seen)), "duplicates: %d of %d" % (len(seen) - len(set(seen)),
                                                                 len(seen)))
    check(seen == ["m%04d" % i for i in range(total)],
          "missing: %r" % sorted(set("m%04d" % i for i in range(total)) - set(seen))[:10])


def tcp_established(pid, port):
    """Whether process pid has an established TCP connection to 127.0.0.1:port."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                col = line.split()
                if col[3] == "01" and int(col[2].split(":")[1], 16) == port and \
                        col[9] in inodes:
                    return True
    return False


def test_daemon_notices_a_standalone_bridge(root, servers):
    """A standalone `sotto bridge` beside a running daemon holds the newest connection, so
    the server pushes to it: the daemon's clients are still notified of what it stores."""
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    pb, path_b = start_daemon(root, bob, "--no-bridge")
    br = None
    try:
        b = Rpc(path_b, hello=False)
        b.result("subscribe", {})
        wait_until(lambda: b.result("status")["connected"], 15, "bob's daemon to connect")
        br = bridge_harness.Bridge(root, bob)
        wait_until(lambda: tcp_established(br.proc.pid, srv.port), 15,
                   "the bridge to connect")
        for i in range(3):
            alice.send(bob, "beside the bridge %d" % i)
            n = b.notification("message", timeout=20)
            check(n["params"]["body"] == "beside the bridge %d" % i and
                  n["params"]["from"] == alice.address and n["params"]["row"] > 0, n)
    finally:
        if br is not None:
            br.stop()
        check(stop(pb) == 0, "exit code")
    check_clean_log(root, bob)


def test_daemon_verify_binds_the_number_shown(root, servers):
    """verify {confirm} takes the safety number the user compared: a key that changed
    between showing and confirming is not marked (SOTTO_ERR_SAFETY_MISMATCH), nor is a
    typo; the old confirm: true is refused as invalid params."""
    from test_client_cli import remove_account
    srv, alice, bob, pa, path_a = alice_daemon_and_bob(root, servers)
    try:
        a = Rpc(path_a)
        bob.send(alice, "hello")
        a.notification("message")
        shown = a.result("verify", {"address": bob.address})["safety_number"]
        e = a.call("verify", {"address": bob.address, "confirm": True})
        check(e["error"]["code"] == -32602, e)
        # Bob reinstalls after Alice read the number, before she confirms.
        remove_account(srv, "bob")
        shutil.rmtree(bob.home)
        bob = User(root, "bob", srv)
        bob.send(alice, "new key")
        check(a.notification("message", 60)["params"]["body"] == "new key", "new key")
        e = a.call("verify", {"address": bob.address, "confirm": shown})
        check(e.get("error", {}).get("code") == -32000 - 47, e)  # SOTTO_ERR_SAFETY_MISMATCH
        v = a.result("verify", {"address": bob.address})
        check(not v["verified"] and v["safety_number"] != shown, v)
        typo = ("1" if v["safety_number"][0] != "1" else "2") + v["safety_number"][1:]
        e = a.call("verify", {"address": bob.address, "confirm": typo})
        check(e.get("error", {}).get("code") == -32000 - 47, e)
        v = a.result("verify", {"address": bob.address, "confirm": v["safety_number"]})
        check(v["verified"] is True, v)
    finally:
        check(stop(pa) == 0, "exit code")
    check_clean_log(root, alice)


def test_daemon_escapes_terminal_controls(root, servers):
    """A peer's C1 and bidi controls reach a client escaped (\\u009b), as `--json` has
    them, not raw: the socket's bytes hold no UTF-8 encoding of them."""
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    evil = "a\u009b2Jb \u202eexe.txt \u2066d\u2069 \u200fe \u0085f"
    pa, path_a = start_daemon(root, alice, "--no-bridge")
    try:
        a = Rpc(path_a)
        r = bob.run("send", alice.address, "-", stdin=evil.encode())
        check(r.returncode == 0, r.stderr)
        n = a.notification("message")
        check(n["params"]["body"] == evil, n)       # the text is all there, escaped
        h = a.result("history", {"address": bob.address})
        check(h[-1]["body"] == evil, h)
    finally:
        check(stop(pa) == 0, "exit code")
    check_clean_log(root, alice)
    raw = b"\n".join(a.lines)
    bad = ["\u009b", "\u0085", "\u202e", "\u2066", "\u2069", "\u200f"]
    check(not any(x.encode() in raw for x in bad), raw)
    check(b"\\u009b" in raw and b"\\u202e" in raw, raw)


def test_daemon_groups(root, servers):
    """The group methods and notifications: create with members, messages both ways with
    the group's id and name, members and groups, a removal and a leave, and errors."""
    srv = Server(root)
    servers.append(srv)
    alice, bob, carol = (User(root, n, srv) for n in ("alice", "bob", "carol"))
    pa, path_a = start_daemon(root, alice, "--no-bridge")
    pb, path_b = start_daemon(root, bob, "--no-bridge")
    try:
        a = Rpc(path_a)
        b = Rpc(path_b)
        res = a.result("group_create", {"name": "Ops", "members": [bob.address, carol.address]})
        gid = res["id"]
        check(len(gid) == 32 and "error" not in res, res)
        n = b.notification("group")["params"]
        check(n["change"] == "joined" and n["group"] == gid, n)
        check(sorted(n["members"]) == sorted([alice.address, bob.address, carol.address]), n)
        n = b.notification("group")["params"]
        check(n["change"] == "renamed" and n["group_name"] == "Ops" and
              n["actor"] == alice.address and "row" in n, n)
        sent = a.result("group_send", {"group": "Ops", "body": "hello ops"})
        m = b.notification("message")["params"]
        check(m["body"] == "hello ops" and m["from"] == alice.address and m["id"] == sent["id"],
              m)
        check(m["group"] == gid and m["group_name"] == "Ops" and "row" in m, m)
        b.result("group_send", {"group": gid, "body": "hi from bob"})
        m = a.notification("message")["params"]
        check(m["body"] == "hi from bob" and m["group"] == gid, m)
        check(b.result("groups") == [{"id": gid, "name": "Ops", "status": "member",
                                      "address": "group+%s@localhost" % gid,
                                      "members": 3, "expiry": 0}], b.result("groups"))
        mem = {x["address"]: x["trust"] for x in a.result("group_members", {"group": "Ops"})}
        check(mem == {alice.address: "self", bob.address: "unknown",
                      carol.address: "unknown"}, mem)
        h = b.result("history")
        check([(x["body"], x.get("group")) for x in h if x["type"] == "text"] ==
              [("hello ops", gid), ("hi from bob", gid)], h)
        check([(x["event"], x["peer"]) for x in h if x["type"] == "group"] ==
              [("joined", alice.address), ("renamed", alice.address)], h)
        check(a.result("group_update", {"group": gid, "name": "Ops2", "seconds": 60}) is True,
              "update")
        n = b.notification("group")["params"]
        check(n["change"] == "renamed" and n["group_name"] == "Ops2" and n["subject"] == "Ops2",
              n)
        n = b.notification("group")["params"]
        check(n["change"] == "timer" and n["expiry"] == 60, n)
        e = a.call("group_update", {"group": gid, "seconds": -1})
        check(e["error"]["code"] == -32602, e)
        # Alice removes Carol: Bob is told; Carol (a CLI user) too, and reads nothing after.
        check(a.result("group_remove", {"group": "Ops2", "members": [carol.address]}) is True,
              "remove")
        n = b.notification("group")["params"]
        check(n["change"] == "removed" and n["members"] == [carol.address] and
              n["actor"] == alice.address, n)
        a.result("group_send", {"group": "Ops2", "body": "without carol"})
        check(b.notification("message")["params"]["body"] == "without carol", "after remove")
        got = carol.receive()
        check([e["change"] for e in got if e["type"] == "group"] ==
              ["joined", "renamed", "renamed", "timer", "you_removed"], got)
        check("without carol" not in json.dumps(got), got)
        # Bob leaves: Alice's daemon commits it, Bob is told.
        check(b.result("group_leave", {"group": "Ops2"}) is True, "leave")
        n = b.notification("group")["params"]
        check(n["change"] == "you_removed" and n["group"] == gid, n)
        n = a.notification("group")["params"]
        check(n["change"] == "left" and n["members"] == [bob.address] and
              n["actor"] == bob.address, n)
        check(b.result("groups")[0]["status"] == "removed", "bob's status")
        # Errors: -32000 + sotto_err.
        e = a.call("group_send", {"group": "Nope", "body": "x"})
        check(e["error"]["code"] == -32000 - 17, e)     # SOTTO_ERR_NOT_FOUND
        e = a.call("group_add", {"group": "Ops2", "members": ["nobody@localhost"]})
        check(e["error"]["code"] == -32000 - 33, e)     # SOTTO_ERR_UNKNOWN_USER
        e = a.call("group_add", {"group": "Ops2"})
        check(e["error"]["code"] == -32602, e)
        e = b.call("group_send", {"group": gid, "body": "still in?"})
        check(e["error"]["code"] == -32000 - 16, e)     # SOTTO_ERR_STATE: not a member
    finally:
        ra = stop(pa)
        rb = stop(pb)
    check(ra == 0 and rb == 0, "daemon exit codes %r %r" % (ra, rb))
    check_clean_log(root, alice)
    check_clean_log(root, bob)


if __name__ == "__main__":
    run_tests([test_daemon_rpc, test_daemon_survives_server_restart,
               test_daemon_and_cli_share_a_store, test_daemon_runs_the_bridge,
               test_daemon_bridge_options, test_daemon_queues_first_message_while_server_down,
               test_daemon_subscribe_replays_exactly_once,
               test_daemon_notices_a_standalone_bridge,
               test_daemon_verify_binds_the_number_shown,
               test_daemon_escapes_terminal_controls, test_daemon_groups])
