#!/usr/bin/env python3
"""The sotto command through real sottod processes: offline delivery, a client killed
mid-receive, key changes, wrong passphrase, disappearing messages, exit codes, and what the
server's files and the loopback traffic reveal."""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotto_harness import (Server, User, SOTTO, check, file_contains, free_port,  # noqa: E402
                           run_tests, scaled)


def test_offline_recipient_and_order(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    ids = [alice.send(bob, "offline %d" % i) for i in range(3)]
    got = bob.receive()
    check([m["body"] for m in got] == ["offline 0", "offline 1", "offline 2"], got)
    check([m["id"] for m in got] == ids, "ids differ")
    check(all(m["from"] == alice.address and m["type"] == "text" for m in got), got)
    check("new contact" in got[0]["warnings"][0], got[0])
    check(got[1]["warnings"] == [], got[1])
    check(bob.receive() == [], "delivered twice")
    # Standard input, with lines and non-ASCII text kept as they are.
    text = "from stdin\nline two: caf\u00e9"
    r = alice.run("send", bob.address, "-", stdin=text.encode())
    check(r.returncode == 0, r.stderr)
    got2 = bob.receive()
    check([m["body"] for m in got2] == [text], got2)
    # Escape sequences from a peer never reach the terminal raw.
    alice.run("send", bob.address, "-", stdin=b"\x1b[2J\x1b]0;owned\x07 hi")
    r = bob.run("receive")
    check(b"\x1b" not in r.stdout and b"\x07" not in r.stdout and b"hi" in r.stdout, r.stdout)
    r = bob.run("history")
    check(b"\x1b" not in r.stdout and b"?[2J" in r.stdout, r.stdout)
    r = alice.run("send", bob.address, "-", stdin=b"x" * (70 * 1024))
    check(r.returncode == 10, "too large: rc %d" % r.returncode)
    # Alice hears the delivery receipt, and her history shows it.
    rc = [m for m in alice.receive() if m["type"] == "receipt"]
    check(len(rc) >= 1, rc)
    check(set(ids) <= set(i for m in rc for i in m["ids"]), rc)
    check(all("delivered" in h["flags"] for h in alice.history(bob.address)), "not delivered")


def test_server_down_outbox_and_exit_codes(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    alice.send(bob, "first")
    srv.stop()
    r = alice.run("send", bob.address, "while down")
    check(r.returncode == 13, "send with the server down: rc %d" % r.returncode)
    check(b"outbox" in r.stderr, r.stderr)
    srv.start()
    # Any connecting command sends the outbox; bob sees each message once.
    check(alice.receive() == [], "unexpected")
    got = bob.receive()
    check([m["body"] for m in got] == ["first", "while down"], got)
    # Distinct exit codes for distinct errors.
    check(alice.run("send", "Not An Address", "x").returncode == 10, "malformed address")
    check(alice.run("send", "nobody@localhost", "x").returncode == 9, "unknown user")
    check(alice.run("verify", "nobody@localhost").returncode == 9, "unknown contact")
    check(alice.run("expire", bob.address, "soon").returncode == 2, "bad duration")
    check(alice.run("frobnicate").returncode == 2, "unknown command")
    r = subprocess.run([SOTTO, "--home", os.path.join(root, "nobody"), "--passphrase-file",
                        alice.passfile, "contacts"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 4, "no account: rc %d" % r.returncode)
    check(b"no account here" in r.stderr, r.stderr)
    r = subprocess.run([SOTTO, "--home", os.path.join(root, "nobody"), "--passphrase-file",
                        alice.passfile, "bridge", "--show-password"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 4 and b"no account here" in r.stderr,
          "bridge, no account: rc %d %s" % (r.returncode, r.stderr))
    for cmd in ["init", "send", "receive", "contacts", "verify", "trust", "expire", "history",
                "daemon"]:
        r = subprocess.run([SOTTO, cmd, "--help"], stdout=subprocess.PIPE)
        check(r.returncode == 0 and b"usage:" in r.stdout, "%s --help" % cmd)


def test_wrong_passphrase(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    wrong = os.path.join(root, "wrong.pass")
    with open(wrong, "w") as f:
        f.write("not it\n")
    os.chmod(wrong, 0o600)
    r = subprocess.run([SOTTO, "--home", alice.home, "--passphrase-file", wrong, "contacts"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 3, "rc %d" % r.returncode)
    check(b"wrong passphrase" in r.stderr, r.stderr)
    r = subprocess.run([SOTTO, "--home", alice.home, "--passphrase-file", wrong, "bridge",
                        "--show-password"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 3 and b"wrong passphrase" in r.stderr,
          "bridge, wrong passphrase: rc %d %s" % (r.returncode, r.stderr))
    env = dict(os.environ, SOTTO_PASSPHRASE="passphrase of alice")
    r = subprocess.run([SOTTO, "--home", alice.home, "contacts"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, "SOTTO_PASSPHRASE: rc %d %s" % (r.returncode, r.stderr))
    check(alice.run("init", alice.address, "--server", srv.address).returncode == 5, "init twice")
    # A damaged store is refused with its own exit code, not taken for a wrong passphrase.
    db = os.path.join(alice.home, "store.db")
    data = bytearray(open(db, "rb").read())
    for i in range(4096, len(data), 97):
        data[i] ^= 0x55
    open(db, "wb").write(data)
    r = alice.run("contacts")
    check(r.returncode == 11, "corrupt store: rc %d %s" % (r.returncode, r.stderr))


def test_killed_mid_receive(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    n = 60
    for i in range(n):
        alice.send(bob, "bulk %03d" % i)
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
    ids = [m["id"] for m in printed]
    check(len(ids) == len(set(ids)), "a message was shown twice")
    hist = [h for h in bob.history(alice.address) if h["direction"] == "in"]
    bodies = sorted(h["body"] for h in hist)
    check(bodies == ["bulk %03d" % i for i in range(n)], "stored: %d of %d" % (len(bodies), n))
    check(len(set(h["id"] for h in hist)) == n, "stored twice")
    # Whatever was printed was stored; nothing stored is missing from the output either
    # except what the kill cut between storing and printing.
    check(set(ids) <= set(h["id"] for h in hist), "printed but not stored")
    check(not any("missing" in w for m in printed for w in m["warnings"]), "gap reported")


def remove_account(srv, name):
    """What an administrator's reset looks like: the account and its keys gone."""
    srv.stop()
    db = sqlite3.connect(os.path.join(srv.dir, "sottod.db"))
    (aid,) = db.execute("SELECT id FROM accounts WHERE name = ?", (name,)).fetchone()
    for t, col in [("prekeys", "account"), ("signed_prekeys", "account"),
                   ("envelopes", "recipient"), ("accounts", "id")]:
        db.execute("DELETE FROM %s WHERE %s = ?" % (t, col), (aid,))
    db.commit()
    db.close()
    srv.start()


def test_key_change(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    carol = User(root, "carol", srv)
    bob.send(alice, "hello from bob")
    carol.send(alice, "hello from carol")
    alice.receive()
    r = alice.run("verify", "--json", bob.address)
    sn_a = json.loads(r.stdout)["safety_number"]
    r = bob.run("verify", "--json", alice.address)
    check(json.loads(r.stdout)["safety_number"] == sn_a, "safety numbers differ")
    check(alice.run("verify", "--confirm", sn_a, bob.address).returncode == 0, "confirm")
    # Bob and Carol reinstall: new keys under the same names.
    remove_account(srv, "bob")
    remove_account(srv, "carol")
    shutil.rmtree(bob.home)
    shutil.rmtree(carol.home)
    bob = User(root, "bob", srv)
    carol = User(root, "carol", srv)
    bob.send(alice, "new bob here")
    carol.send(alice, "new carol here")
    got = {m["from"]: m for m in alice.receive()}
    mb, mc = got[bob.address], got["carol@localhost"]
    check(mb["body"] == "new bob here", mb)
    check(any("sending refused" in w for w in mb["warnings"]), mb["warnings"])
    check(any("changed" in w for w in mc["warnings"]), mc["warnings"])
    check(not any("refused" in w for w in mc["warnings"]), mc["warnings"])
    r = alice.run("send", bob.address, "refused")
    check(r.returncode == 8, "send to a changed verified key: rc %d" % r.returncode)
    check(("--home %s --passphrase-file %s trust %s" % (alice.home, alice.passfile,
                                                       bob.address)).encode() in r.stderr,
          r.stderr)
    check(alice.run("send", carol.address, "tofu goes on").returncode == 0, "unverified")
    r = alice.run("contacts")
    check(b"KEY CHANGED" in r.stdout, r.stdout)
    r = alice.run("verify", "--json", bob.address)
    check(json.loads(r.stdout)["safety_number"] != sn_a, "same safety number")
    check(alice.run("trust", bob.address).returncode == 0, "trust")
    check(alice.run("send", bob.address, "welcome back").returncode == 0, "after trust")
    got = bob.receive()
    check([m["body"] for m in got] == ["welcome back"], got)


def test_disappearing_messages(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    alice.send(bob, "before the timer")
    bob.receive()
    # The timer must outlast a slow run (sanitizers, a loaded machine): the "still there
    # before the deadline" checks only count while the deadline is really ahead.
    timer = 5
    r = bob.run("expire", alice.address, "%ds" % timer)
    check(r.returncode == 0, r.stderr)
    got = alice.receive()
    check(any(m["type"] == "timer" and m["body"] == timer for m in got), got)
    marker = "EPHEMERAL-%d" % os.getpid()
    sent = time.monotonic()
    alice.send(bob, marker)
    got = bob.receive()
    if time.monotonic() - sent < timer - 1:
        check(got[0]["body"] == marker and "expires_at" in got[0], got)
    hist = alice.history()
    if time.monotonic() - sent < timer - 1:
        check(any(h["body"] == marker for h in hist), "alice lost it early")
    time.sleep(max(0.0, sent + timer + 1.5 - time.monotonic()))
    for u in (alice, bob):
        hist = u.history()
        check(not any(h["body"] == marker for h in hist), "%s still has it" % u.name)
        check(any(h["body"] == "before the timer" for h in hist), "older message gone")
        check(file_contains(u.store_files(), marker.encode()) is None, "plaintext in store")


class Proxy(threading.Thread):
    """A TCP relay in front of the server that keeps every byte it relays."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.target = port
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.captured = bytearray()
        self.lock = threading.Lock()

    def pump(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                with self.lock:
                    self.captured += d
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def run(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self.pump, args=(c, s), daemon=True).start()
            threading.Thread(target=self.pump, args=(s, c), daemon=True).start()


def test_server_sees_ciphertext_only(root, servers):
    srv = Server(root)
    servers.append(srv)
    proxy = Proxy(srv.port)
    proxy.start()
    via = srv.address.rsplit(":", 1)[0] + ":%d" % proxy.port
    alice = User(root, "alice", srv, server_address=via)
    bob = User(root, "bob", srv, server_address=via)
    marker = "PLAINTEXT-MARKER-%d" % os.getpid()
    for i in range(3):
        alice.send(bob, "%s %d" % (marker, i))
    srv.stop()          # the envelopes sit in the database, undelivered
    db = sqlite3.connect(os.path.join(srv.dir, "sottod.db"))
    envs = [bytes(r[0]) for r in db.execute("SELECT data FROM envelopes")]
    db.close()
    check(len(envs) == 3, "envelopes stored: %d" % len(envs))
    for e in envs:
        check(b"alice" not in e, "sender name in a sealed envelope")
    f = file_contains(srv.files(), marker.encode())
    check(f is None, "%r found in %s" % (marker, f))
    # The address is in Alice's own MLS KeyPackages (their credential names the account
    # that owns them, for whoever adds her to a group; docs/THREAT_MODEL.md), and nowhere
    # else: not beside the envelopes it sent.
    f = file_contains(srv.files(), alice.address.encode())
    if f is not None:
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.dir, "sottod.db"), uri=True)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for t in tables:
            for row in db.execute("SELECT * FROM %s" % t):
                if t != "key_packages":
                    check(not any(alice.address.encode() in (c if isinstance(c, bytes) else
                                  str(c).encode()) for c in row), "address in table %s" % t)
        db.close()
    srv.start()
    got = bob.receive()
    check(len(got) == 3 and got[0]["body"] == marker + " 0", got)
    with proxy.lock:
        cap = bytes(proxy.captured)
    check(len(cap) > 1000, "captured %d bytes" % len(cap))
    for needle in (marker.encode(), alice.address.encode(), b"alice"):
        check(needle not in cap, "%r on the wire" % needle)


def prekey_count(srv, name):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.dir, "sottod.db"), uri=True)
    (n,) = db.execute("SELECT count(*) FROM prekeys WHERE account = "
                      "(SELECT id FROM accounts WHERE name = ?)", (name,)).fetchone()
    db.close()
    return n


def test_prekeys_replenished(root, servers):
    srv = Server(root, conf="prekey_low = 99\n")
    servers.append(srv)
    alice = User(root, "alice", srv)
    check(prekey_count(srv, "alice") == 100, "uploaded at init: %d" % prekey_count(srv, "alice"))
    for name in ("bob", "carol"):
        User(root, name, srv).send(alice, "hi from " + name)
    check(prekey_count(srv, "alice") == 98, "after two fetches")
    got = alice.receive()
    check(sorted(m["body"] for m in got) == ["hi from bob", "hi from carol"], got)
    check(prekey_count(srv, "alice") == 198, "refilled: %d" % prekey_count(srv, "alice"))


def alice_alone(root, servers):
    srv = Server(root)
    servers.append(srv)
    return srv, User(root, "alice", srv)


def alice_and_bob(root, servers):
    srv, alice = alice_alone(root, servers)
    return srv, alice, User(root, "bob", srv)


def bare(root, name):
    """A home with a passphrase file and no account yet: (home, passfile)."""
    home = os.path.join(root, name)
    passfile = os.path.join(root, name + ".pass")
    with open(passfile, "w") as f:
        f.write("passphrase of %s\n" % name)
    os.chmod(passfile, 0o600)
    return home, passfile


def sotto(home, passfile, *args, stdin=None, env=None):
    argv = [SOTTO, "--home", home] + (["--passphrase-file", passfile] if passfile else [])
    return subprocess.run(argv + list(args), input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=scaled(60))


def fails_with(r, rc, *texts):
    """r exited with rc and its stderr says each of texts (and no bare errno text)."""
    err = r.stderr.decode()
    check(r.returncode == rc, "rc %d, not %d: %s" % (r.returncode, rc, err))
    for t in texts:
        check(t in err, "%r not in %r" % (t, err))
    for vague in ("input/output error", "size over limit", "malformed input", ": not found",
                  "not authorised"):
        check(vague not in err, "vague %r in %r" % (vague, err))


def test_error_unknown_user(root, servers):
    srv, alice = alice_alone(root, servers)
    fails_with(alice.run("send", "nobody@localhost", "x"), 9, "no such user on that server",
               "check the spelling")
    fails_with(alice.run("verify", "nobody@localhost"), 9, "no such user on that server")


def test_error_other_domain(root, servers):
    srv, alice = alice_alone(root, servers)
    fails_with(alice.run("send", "bob@elsewhere.example", "x"), 9,
               "on a domain this server does not serve")
    home, pf = bare(root, "zed")
    fails_with(sotto(home, pf, "init", "zed@elsewhere.example", "--server", srv.address,
                     "--kdf", "min"), 7, "does not serve the domain")


def test_error_invite_missing_unknown_used(root, servers):
    srv = Server(root, registration="invite")
    servers.append(srv)
    home, pf = bare(root, "carol")
    fails_with(sotto(home, pf, "init", "carol@localhost", "--server", srv.address, "--kdf",
                     "min"), 7, "registers by invite only", "--invite TOKEN")
    fails_with(sotto(home, pf, "init", "carol@localhost", "--server", srv.address, "--kdf",
                     "min", "--invite", "AAAAAAAAAAAAAAAAAAAAAAAA"), 7, "no such invite")
    token = srv.invite()
    r = sotto(home, pf, "init", "carol@localhost", "--server", srv.address, "--kdf", "min",
              "--invite", token)
    check(r.returncode == 0, r.stderr)
    home2, pf2 = bare(root, "dave")
    fails_with(sotto(home2, pf2, "init", "dave@localhost", "--server", srv.address, "--kdf",
                     "min", "--invite", token), 7, "invite was already used",
               "ask the server's operator for a new one")


class NotSotto(threading.Thread):
    """A port that answers like an SSH server: a banner, then it closes."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
            c.close()


def test_error_not_sotto_and_unreachable(root, servers):
    srv = Server(root)
    servers.append(srv)
    key_part = srv.address.rsplit(":", 1)[0]
    ns = NotSotto()
    ns.start()
    home, pf = bare(root, "erin")
    fails_with(sotto(home, pf, "init", "erin@localhost", "--server",
                     "%s:%d" % (key_part.rsplit("@", 1)[0] + "@127.0.0.1", ns.port),
                     "--kdf", "min"), 6, "does not speak the Sotto protocol", "check the port")
    ns.sock.close()
    dead = free_port()
    fails_with(sotto(home, pf, "init", "erin@localhost", "--server",
                     key_part.rsplit("@", 1)[0] + "@127.0.0.1:%d" % dead, "--kdf", "min"), 6,
               "cannot reach the server (connection refused", "check that sottod runs")
    # A registered account whose server went away: receive says so; a send is queued.
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    alice.send(bob, "first")
    srv.stop()
    fails_with(alice.run("receive"), 6, "cannot reach the server (connection refused",
               "check that sottod runs")
    fails_with(alice.run("send", bob.address, "later"), 13,
               "cannot reach the server (connection refused", "outbox")


def test_error_message_too_large(root, servers):
    srv, alice, bob = alice_and_bob(root, servers)
    fails_with(alice.run("send", bob.address, "-", stdin=b"x" * (60 * 1024 + 1)), 10,
               "message larger than the server accepts", "61440 bytes (60 KiB)")
    fails_with(alice.run("send", bob.address, "y" * (60 * 1024 + 1)), 10, "61440 bytes")
    r = alice.run("send", bob.address, "-", stdin=b"z" * (60 * 1024))
    check(r.returncode == 0, "60 KiB exactly: %s" % r.stderr)
    check(len(bob.receive()[0]["body"]) == 60 * 1024, "not delivered whole")
    check(b"61440 bytes" in alice.run("send", "--help").stdout, "limit not in --help")
    # A server with a lower max_envelope refuses the sealed message: the same words.
    small = Server(root, name="small", conf="max_envelope = 16384\n")
    servers.append(small)
    carol = User(root, "carol", small)
    dave = User(root, "dave", small)
    fails_with(carol.run("send", dave.address, "-", stdin=b"w" * (30 * 1024)), 10,
               "message larger than the server accepts")
    check(carol.run("send", dave.address, "short").returncode == 0, "short after a refusal")
    check([m["body"] for m in dave.receive()] == ["short"], "refused one delivered")


def test_error_bad_address_and_case(root, servers):
    srv, alice = alice_alone(root, servers)
    fails_with(alice.run("send", "Not An Address", "x"), 10, "not a valid address",
               "name@domain")
    fails_with(alice.run("send", "bob@@localhost", "x"), 10, "not a valid address")
    home, pf = bare(root, "eve")
    fails_with(sotto(home, pf, "init", "eve+tag@localhost", "--server", srv.address, "--kdf",
                     "min"), 10, "not a valid address")
    check(not os.path.exists(home), "a store was made for an address that is not one")
    # Both parts of an address are case-insensitive: Dave@LocalHost is dave@localhost.
    home, pf = bare(root, "dave")
    r = sotto(home, pf, "init", "Dave@LocalHost", "--server", srv.address, "--kdf", "min")
    check(r.returncode == 0, r.stderr)
    check(b"registered dave@localhost" in r.stdout, r.stdout)
    # The same name in another spelling is the same name: taken.
    home2, pf2 = bare(root, "dave2")
    fails_with(sotto(home2, pf2, "init", "DAVE@localhost", "--server", srv.address, "--kdf",
                     "min"), 7, "the name dave@localhost is taken on that server")
    check(alice.send("Dave@LocalHost", "hi dave") != "", "send")
    got = json.loads(sotto(home, pf, "receive", "--json").stdout.splitlines()[0])
    check(got["from"] == alice.address and got["body"] == "hi dave", got)
    check(alice.send("DAVE@localhost", "again") != "", "send upper-case name")
    check([c["address"] for c in json.loads(alice.run("contacts", "--json").stdout)] ==
          ["dave@localhost"], "one contact")
    check(alice.run("history", "Dave@LOCALHOST").stdout.count(b"dave@localhost") == 2,
          "history by any spelling")


def test_hints_keep_options_and_sotto_home(root, servers):
    srv, alice, bob = alice_and_bob(root, servers)
    given = "--home %s --passphrase-file %s" % (alice.home, alice.passfile)
    r = alice.run("verify", "--no-qr", bob.address)
    check(r.returncode == 0, r.stderr)
    hint = [l for l in r.stdout.decode().splitlines() if "verify --confirm" in l]
    check(len(hint) == 1 and given in hint[0], r.stdout)
    # The hint runs as printed (a shell copy-paste).
    r = subprocess.run(hint[0].strip().replace("sotto ", SOTTO + " ", 1), shell=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 0 and b"is verified" in r.stdout, r.stderr)
    r = sotto(os.path.join(root, "nobody"), alice.passfile, "contacts")
    check(r.returncode == 4 and ("--home %s" % os.path.join(root, "nobody")).encode()
          in r.stderr, r.stderr)
    # A home with a space is quoted in hints.
    spaced = os.path.join(root, "with space")
    r = sotto(spaced, None, "receive")
    check(r.returncode == 4 and ("--home '%s' init" % spaced).encode() in r.stderr, r.stderr)
    # SOTTO_HOME stands for --home; --home wins over it.
    env = dict(os.environ, SOTTO_HOME=alice.home)
    r = subprocess.run([SOTTO, "--passphrase-file", alice.passfile, "contacts", "--json"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 0 and bob.address.encode() in r.stdout, r.stderr)
    r = subprocess.run([SOTTO, "--home", bob.home, "--passphrase-file", bob.passfile,
                        "contacts", "--json"], env=env, stdout=subprocess.PIPE)
    check(r.returncode == 0 and json.loads(r.stdout) == [], r.stdout)


def test_no_passphrase_prompt_without_account(root, servers):
    empty = os.path.join(root, "empty")
    os.makedirs(empty, mode=0o700)
    env = {k: v for k, v in os.environ.items() if k != "SOTTO_PASSPHRASE"}
    for cmd in (["receive"], ["contacts"], ["send", "bob@localhost", "-"],
                ["verify", "bob@localhost"], ["bridge", "--show-password"],
                ["daemon", "--socket", os.path.join(root, "sock")]):
        # No controlling terminal and no passphrase source: asking would fail (rc 3).
        r = subprocess.run([SOTTO, "--home", empty] + cmd, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           start_new_session=True, timeout=scaled(30))
        check(r.returncode == 4, "%s: rc %d %s" % (cmd, r.returncode, r.stderr))
        check(b"no account here" in r.stderr and b"init" in r.stderr, r.stderr)
        check(b"assphrase" not in r.stderr, r.stderr)


def test_terminal_controls_neutralised(root, servers):
    srv, alice, bob = alice_and_bob(root, servers)
    evil = ("a\x9b2Jb \u009b31mc \u202eexe.txt \u2066d\u2069 \u200fe\x07\x1bf\x7fg"
            "\ttab\nline2").encode() + b" raw\x9b[2J h\xc2"
    r = alice.run("send", bob.address, "-", stdin=evil)
    check(r.returncode == 0, r.stderr)
    bad = [b"\x9b", b"\xc2\x9b", "\u202e".encode(), "\u2066".encode(), "\u2069".encode(),
           "\u200f".encode(), b"\x07", b"\x1b", b"\x7f"]
    r = bob.run("receive")
    out = r.stdout
    check(r.returncode == 0 and b"exe.txt" in out and b"\ttab" in out, out)
    check(not any(x in out for x in bad), out)
    check(b"\n    line2" in out, out)
    r = bob.run("history")
    check(not any(x in r.stdout for x in bad) and b"line2" in r.stdout, r.stdout)
    # JSON escapes rather than strips: a program still gets the characters.
    r = bob.run("history", "--json")
    check(not any(x in r.stdout for x in bad), r.stdout)
    check(b"\\u202e" in r.stdout and b"\\u009b" in r.stdout, r.stdout)
    body = json.loads(r.stdout.splitlines()[0])["body"]
    check("\u202eexe.txt" in body and "\u2066d\u2069" in body and "\u009b31m" in body, body)
    check("raw\ufffd[2J" in body, body)


def test_verify_before_any_message(root, servers):
    srv, alice, bob = alice_and_bob(root, servers)
    ra = alice.run("verify", "--json", bob.address)
    rb = bob.run("verify", "--json", alice.address)
    check(ra.returncode == 0 and rb.returncode == 0, (ra.stderr, rb.stderr))
    sn = json.loads(ra.stdout)["safety_number"]
    check(json.loads(rb.stdout)["safety_number"] == sn, "numbers differ")
    check(alice.run("verify", "--confirm", sn, bob.address).returncode == 0, "confirm")
    # Messages flow as usual afterwards, both ways, on the key that was compared.
    alice.send(bob, "after verify")
    check([m["body"] for m in bob.receive()] == ["after verify"], "not received")
    bob.send(alice, "reply")
    check([m["body"] for m in alice.receive() if m["type"] == "text"] == ["reply"], "reply")
    check(json.loads(alice.run("verify", "--json", bob.address).stdout)["verified"], "lost")


def test_verify_confirm_binds_the_number_shown(root, servers):
    srv, alice, bob = alice_and_bob(root, servers)
    bob.send(alice, "hello")
    alice.receive()
    shown = json.loads(alice.run("verify", "--json", bob.address).stdout)["safety_number"]
    # Bob's key changes (a reinstall) after Alice read the number, before she confirms.
    remove_account(srv, "bob")
    shutil.rmtree(bob.home)
    bob = User(root, "bob", srv)
    bob.send(alice, "new key")
    alice.receive()
    r = alice.run("verify", "--confirm", shown, bob.address)
    check(r.returncode == 10, "confirmed a key that was not compared: rc %d" % r.returncode)
    check(b"not the safety number of the contact's current key" in r.stderr, r.stderr)
    v = json.loads(alice.run("verify", "--json", bob.address).stdout)
    check(not v["verified"] and v["safety_number"] != shown, v)
    # A typo is refused the same way; the number of the current key is taken.
    typo = ("1" if v["safety_number"][0] != "1" else "2") + v["safety_number"][1:]
    check(alice.run("verify", "--confirm", typo, bob.address).returncode == 10, "typo")
    check(alice.run("verify", "--confirm", "123", bob.address).returncode == 10, "short")
    r = alice.run("verify", "--confirm", v["safety_number"].replace(" ", ""), bob.address)
    check(r.returncode == 0, r.stderr)
    check(json.loads(alice.run("verify", "--json", bob.address).stdout)["verified"], "mark")
    # The old form, without the number, is a usage error rather than a silent mark.
    check(alice.run("verify", "--confirm", bob.address).returncode == 2, "old form")


def test_history_marks_a_message_the_recipient_could_not_read(root, servers):
    """Bob's sessions are lost; he cannot read Alice's next message and tells her so (a
    decryption-failure receipt). Alice's history marks that message, and only that one,
    unreadable, in JSON and in text."""
    srv, alice, bob = alice_and_bob(root, servers)
    alice.send(bob, "one")
    bob.receive()
    bob.send(alice, "two")
    alice.receive()
    bob.receive()       # the delivery receipt for "two", while bob can still read it
    db = sqlite3.connect(os.path.join(bob.home, "store.db"))
    db.execute("DELETE FROM sessions")
    db.commit()
    db.close()
    lost = alice.send(bob, "lost")
    bob.receive()
    notes = alice.receive()
    check(any("could not read your message" in w for m in notes for w in m["warnings"]),
          notes)
    h = {m["body"]: m["flags"] for m in alice.history(bob.address)}
    check("unreadable" in h["lost"] and "unreadable" not in h["one"], h)
    check([m["id"] for m in alice.history(bob.address) if "unreadable" in m["flags"]] ==
          [lost], h)
    r = alice.run("history", bob.address)
    line = [l for l in r.stdout.decode().splitlines() if "lost" in l]
    check(len(line) == 1 and "unreadable" in line[0], r.stdout)

def test_send_secret_by_editor_not_argv(root, servers):
    srv, alice, bob = alice_and_bob(root, servers)
    seen = os.path.join(root, "parent-cmdline")
    editor = os.path.join(root, "editor.sh")
    with open(editor, "w") as f:
        f.write("#!/bin/sh\n"
                "tr '\\0' ' ' < /proc/$PPID/cmdline > %s\n"
                "for last; do :; done\n"
                "printf 'the secret is 42\\n' > \"$last\"\n" % seen)
    os.chmod(editor, 0o700)
    env = dict(os.environ, EDITOR=editor + " --flag-for-the-shell")
    env.pop("VISUAL", None)
    r = subprocess.run(alice.argv("send", bob.address), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=scaled(60))
    check(r.returncode == 0, r.stderr)
    check([m["body"] for m in bob.receive()] == ["the secret is 42"], "editor text")
    check(b"secret" not in open(seen, "rb").read(), "secret in sotto's command line")
    check(not any(n.startswith("compose-") for n in os.listdir(alice.home)), "draft left")
    # An editor that fails sends nothing.
    env["EDITOR"] = "false"
    r = subprocess.run(alice.argv("send", bob.address), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=scaled(60))
    check(r.returncode != 0 and b"nothing sent" in r.stderr, r.stderr)
    check(bob.receive() == [], "sent after a failed editor")
    h = subprocess.run([SOTTO, "send", "--help"], stdout=subprocess.PIPE).stdout
    check(b"/proc/PID/cmdline" in h and b"$EDITOR" in h, h)


def test_contacts_show_pq_and_require_pq(root, servers):
    """Sessions between two sotto clients are post-quantum, in `contacts --json` ("pq")
    and in the listing (no CLASSICAL mark); --require-pq is a stored setting."""
    srv = Server(root)
    servers.append(srv)
    alice = User(root, "alice", srv)
    bob = User(root, "bob", srv)
    check(alice.send(bob, "hello pq") != "", "send")
    check([m["body"] for m in bob.receive()] == ["hello pq"], "received")
    for u, peer in ((alice, bob), (bob, alice)):
        got = json.loads(u.run("contacts", "--json").stdout)
        check([(c["address"], c["session"], c["pq"]) for c in got] ==
              [(peer.address, True, True)], got)
        out = u.run("contacts").stdout
        check(peer.address.encode() in out and b"CLASSICAL" not in out, out)
    check(alice.run("contacts", "--require-pq", "on").returncode == 0, "require on")
    check(alice.run("contacts", "--require-pq", "maybe").returncode != 0, "bad value")
    check(alice.send(bob, "still pq") != "", "a PQ session is allowed")
    check(alice.run("contacts", "--require-pq", "off").returncode == 0, "require off")


if __name__ == "__main__":
    run_tests([
        test_offline_recipient_and_order,
        test_server_down_outbox_and_exit_codes,
        test_wrong_passphrase,
        test_killed_mid_receive,
        test_key_change,
        test_disappearing_messages,
        test_server_sees_ciphertext_only,
        test_prekeys_replenished,
        test_error_unknown_user,
        test_error_other_domain,
        test_error_invite_missing_unknown_used,
        test_error_not_sotto_and_unreachable,
        test_error_message_too_large,
        test_error_bad_address_and_case,
        test_hints_keep_options_and_sotto_home,
        test_no_passphrase_prompt_without_account,
        test_terminal_controls_neutralised,
        test_verify_before_any_message,
        test_verify_confirm_binds_the_number_shown,
        test_history_marks_a_message_the_recipient_could_not_read,
        test_send_secret_by_editor_not_argv,
        test_contacts_show_pq_and_require_pq,
    ])
