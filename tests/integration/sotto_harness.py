"""Shared by the client's integration tests: real sottod and sotto processes on loopback.

SOTTO_BUILD names the build directory holding sottod and sotto (scripts/run-tests sets it).
Each test prints "ok - name" or "FAIL - name: why", like the C tests.

Timing: a test waits for the condition it needs (wait_until), never for a fixed time.
Every deadline is how long the condition may take on an idle machine, multiplied by
SOTTO_TIME_SCALE (default 1; scripts/test-valgrind sets it for memcheck's slowdown).
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback

BUILD = os.environ.get("SOTTO_BUILD", os.path.abspath("build"))
SOTTOD = os.path.join(BUILD, "sottod")
SOTTO = os.path.join(BUILD, "sotto")

failures = 0

TIME_SCALE = max(1.0, float(os.environ.get("SOTTO_TIME_SCALE", "1") or "1"))


def scaled(seconds):
    """A deadline or timeout of `seconds` on an idle machine, stretched for a slow run."""
    return seconds * TIME_SCALE


def wait_until(cond, timeout, what, interval=0.1):
    """Calls cond() until it returns something true, and returns that; raises if it is
    still false after scaled(timeout) seconds."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" %
                                 (scaled(timeout), what))
        time.sleep(interval)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# Set while a test runs on PostgreSQL (on_postgresql): its servers store there.
_pg_run = False


def pg_schema(verb, name):
    """CREATE or DROP (CASCADE) SCHEMA name in the PostgreSQL database of SOTTO_TEST_PG."""
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", os.environ["SOTTO_TEST_PG"],
                    "-c", "SET client_min_messages = warning",
                    "-c", "%s SCHEMA %s%s" % (verb, name, " CASCADE" if verb == "DROP" else "")],
                   check=True, stdout=subprocess.DEVNULL)


def on_postgresql(fn):
    """fn again, its servers in a PostgreSQL schema each (SOTTO_TEST_PG, which
    scripts/run-tests starts); without SOTTO_TEST_PG it fails."""
    def run(root, servers):
        global _pg_run
        if not os.environ.get("SOTTO_TEST_PG"):
            raise AssertionError("SOTTO_TEST_PG: no PostgreSQL to test")
        _pg_run = True
        try:
            fn(root, servers)
        finally:
            _pg_run = False
    run.__name__ = fn.__name__ + " (postgresql)"
    return run


class Server:
    """A sottod in its own data directory; registration open unless told "invite".
    host: the loopback address it listens on (clients still connect from 127.0.0.1)."""

    host = "127.0.0.1"      # also for a Server made without __init__ (test_multinode)

    def __init__(self, root, name="srv", domain="localhost", conf="", registration="open",
                 host="127.0.0.1"):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.host = host
        self.port = free_port()
        self.pg_db = None
        if _pg_run:
            self.pg_db = re.sub(r"[^a-z0-9_]", "_", "sotto_%s_%s" % (
                os.path.basename(root).lower(), name.lower()))
            pg_schema("CREATE", self.pg_db)
            base = os.environ["SOTTO_TEST_PG"]
            conf += "\nstore = %s%soptions=-csearch_path%%3D%s\n" % (
                base, "&" if "?" in base else "?", self.pg_db)
        self.log_path = os.path.join(root, name + ".log")
        with open(os.path.join(self.dir, "sottod.conf"), "w") as f:
            f.write("listen = %s:%d\n%s" % (host, self.port, conf))
        self.domain = domain
        self.registration = registration
        self.proc = None
        self.log = open(self.log_path, "ab")
        self.start()
        self.address = subprocess.run([SOTTOD, "address", "--data", self.dir], check=True,
                                      stdout=subprocess.PIPE).stdout.decode().strip()

    def start(self):
        self.proc = subprocess.Popen([SOTTOD, "run", "--data", self.dir, "--registration",
                                      self.registration, "--domain", self.domain],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + scaled(15)
        while time.time() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("sottod exited with %d" % self.proc.returncode)
                time.sleep(0.05)
        raise RuntimeError("sottod did not start")

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=scaled(15))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def invite(self):
        """A new one-time invite token (`sottod invite`)."""
        return subprocess.run([SOTTOD, "invite", "--data", self.dir], check=True,
                              stdout=subprocess.PIPE).stdout.decode().strip()

    def files(self):
        return [os.path.join(self.dir, n) for n in os.listdir(self.dir)]

    def account_keys(self, name):
        """(identity key, device key) of an account, from the server's database."""
        return account_keys(os.path.join(self.dir, "sottod.db"), name)


class User:
    def __init__(self, root, name, server, server_address=None, domain="localhost"):
        self.name = name
        self.address = "%s@%s" % (name, domain)
        self.home = os.path.join(root, name)
        self.passfile = os.path.join(root, name + ".pass")
        with open(self.passfile, "w") as f:
            f.write("passphrase of %s\n" % name)
        os.chmod(self.passfile, 0o600)
        r = self.run("init", self.address, "--server", server_address or server.address,
                     "--kdf", "min")
        if r.returncode != 0:
            raise RuntimeError("init %s: %s" % (name, r.stderr.decode()))

    def argv(self, *args):
        return [SOTTO, "--home", self.home, "--passphrase-file", self.passfile] + list(args)

    def run(self, *args, stdin=None, timeout=60):
        return subprocess.run(self.argv(*args), input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=scaled(timeout))

    def send(self, to, text):
        r = self.run("send", to if isinstance(to, str) else to.address, text)
        if r.returncode != 0:
            raise RuntimeError("send: rc %d: %s" % (r.returncode, r.stderr.decode()))
        return r.stdout.decode().strip()

    def receive(self, wait=0):
        r = self.run("receive", "--json", "--wait", str(wait))
        if r.returncode != 0:
            raise RuntimeError("receive: rc %d: %s" % (r.returncode, r.stderr.decode()))
        return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]

    def history(self, peer=None):
        args = ["history", "--json"] + ([peer] if peer else [])
        r = self.run(*args)
        if r.returncode != 0:
            raise RuntimeError("history: rc %d: %s" % (r.returncode, r.stderr.decode()))
        return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]

    def store_files(self):
        return [os.path.join(self.home, n) for n in os.listdir(self.home)]


def key_forms(k):
    """The ways a key could be written down: raw, base64 (padded or not, standard or
    url-safe), hex (lower or upper case)."""
    b64 = base64.b64encode(k)
    url = base64.urlsafe_b64encode(k)
    return [k, b64, b64.rstrip(b"="), url, url.rstrip(b"="), k.hex().encode(),
            k.hex().upper().encode()]


def account_keys(db_path, name):
    db = sqlite3.connect(db_path)
    try:
        row = db.execute("SELECT identity_key, device_key FROM accounts WHERE name = ?",
                         (name,)).fetchone()
    finally:
        db.close()
    check(row is not None, "no account %s in the server database" % name)
    return bytes(row[0]), bytes(row[1])


def file_contains(paths, needle):
    """The first file under paths (files, or directories searched whole) holding needle."""
    for p in paths:
        if os.path.isdir(p):
            found = file_contains([os.path.join(d, n) for d, _, names in os.walk(p)
                                   for n in names], needle)
            if found:
                return found
            continue
        try:
            with open(p, "rb") as f:
                if needle in f.read():
                    return p
        except FileNotFoundError:
            pass
    return None


def check(cond, why):
    if not cond:
        raise AssertionError(why)


def run_tests(tests):
    """Runs each test function with a fresh temporary directory."""
    global failures
    for fn in tests:
        # In memory when possible: these tests are about behaviour, not disk speed.
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        root = tempfile.mkdtemp(prefix="sotto-it-", dir=shm)
        servers = []
        try:
            fn(root, servers)
            print("ok - %s" % fn.__name__, flush=True)
        except Exception as e:
            failures += 1
            tb = traceback.extract_tb(e.__traceback__)
            where = "%s:%d" % (os.path.basename(tb[-1].filename), tb[-1].lineno) if tb else "?"
            print("FAIL - %s: %s: %s" % (fn.__name__, where, e), flush=True)
        finally:
            for s in servers:
                s.stop()
                if s.pg_db is not None:
                    pg_schema("DROP", s.pg_db)
            shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if failures else 0)
