"""Shared by the bridge's integration tests: real sottod, real `sotto` homes and their
`sotto bridge` processes on loopback, driven by mail clients nobody here wrote.

Each check prints "ok - name" or "FAIL - name: why".
"""
import imaplib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sotto_harness as H  # noqa: E402

failures = 0


class Bridge:
    """`sotto bridge` for one user, on two free loopback ports."""

    def __init__(self, root, user):
        self.user = user
        self.smtp_port = H.free_port()
        self.imap_port = H.free_port()
        self.log_path = os.path.join(root, user.name + ".bridge.log")
        self.proc = None
        self.start()
        r = user.run("bridge", "--show-password")
        if r.returncode != 0:
            raise RuntimeError("show-password: %s" % r.stderr.decode())
        self.password = r.stdout.decode().strip()

    def start(self):
        # free_port() only finds a port that was free a moment ago: any process's outgoing
        # connection may take it before the bridge binds it, so a bridge that cannot
        # listen gets two more tries on new ports.
        for attempt in range(3):
            log_start = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                self.user.argv("bridge", "--smtp", "127.0.0.1:%d" % self.smtp_port,
                               "--imap", "127.0.0.1:%d" % self.imap_port),
                stdout=subprocess.PIPE, stderr=log)
            log.close()
            line = self.proc.stdout.readline().decode()
            if re.search(r"SMTP on 127\.0\.0\.1:%d, IMAP on 127\.0\.0\.1:%d"
                         % (self.smtp_port, self.imap_port), line):
                return
            self.stop()
            with open(self.log_path, "rb") as f:
                f.seek(log_start)
                said = f.read().decode(errors="replace")
            if "cannot listen" not in said or attempt == 2:
                raise RuntimeError("bridge did not start: %r; its log: %r" % (line, said))
            self.smtp_port = H.free_port()
            self.imap_port = H.free_port()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=H.scaled(20))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc is not None else 0
        self.proc = None
        return rc

    def imap(self):
        M = imaplib.IMAP4("127.0.0.1", self.imap_port)
        M.sock.settimeout(H.scaled(60))
        M.login(self.user.address, self.password)
        return M

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def wait_for(M, folder, criteria, timeout=60):
    """UIDs matching a SEARCH in folder, waiting until there is at least one (for at most
    timeout seconds on an idle machine)."""
    deadline = time.time() + H.scaled(timeout)
    while True:
        M.select(folder)
        typ, data = M.uid("SEARCH", None, criteria)
        uids = data[0].split() if typ == "OK" and data[0] else []
        if uids or time.time() > deadline:
            return uids
        time.sleep(0.2)


def fetch_raw(M, folder, uid):
    M.select(folder)
    typ, data = M.uid("FETCH", uid, "(BODY.PEEK[])")
    for item in data:
        if isinstance(item, tuple):
            return item[1]
    raise AssertionError("no body for UID %s: %r" % (uid, data))


class World:
    """One sottod (domain localhost) with alice, bob and carol and their bridges, and a
    second sottod for another domain whose users are outside our Sotto."""

    def __init__(self, root, names=("alice", "bob", "carol")):
        self.root = root
        self.servers = []
        self.bridges = []
        self.srv = H.Server(root, "srv", "localhost")
        self.servers.append(self.srv)
        self.other = H.Server(root, "other", "other.test")
        self.servers.append(self.other)
        self.users = {}
        self.b = {}
        for n in names:
            self.users[n] = H.User(root, n, self.srv)
            self.b[n] = Bridge(root, self.users[n])
            self.bridges.append(self.b[n])

    def close(self):
        for b in self.bridges:
            b.stop()
        for s in self.servers:
            s.stop()


def bridges_exit_cleanly(w):
    """Stops every bridge: each exits 0 and its log holds no sanitizer report."""
    for b in w.bridges:
        rc = b.stop()
        check(rc == 0, "%s's bridge exited with %r" % (b.user.name, rc))
        check("Sanitizer" not in b.log() and "runtime error" not in b.log(),
              "%s's bridge: %s" % (b.user.name, b.log()[-1500:]))


def check(cond, why):
    if not cond:
        raise AssertionError(why)


def run_checks(setup, tests):
    """Builds one world, then runs each test(world) printing ok/FAIL."""
    global failures
    root = tempfile.mkdtemp(prefix="sotto-br-")
    world = None
    try:
        try:
            world = setup(root)
            print("ok - bridge_setup", flush=True)
        except Exception as e:
            failures += 1
            print("FAIL - bridge_setup: %s" % e, flush=True)
            return
        for fn in tests:
            try:
                fn(world)
                print("ok - %s" % fn.__name__, flush=True)
            except Exception as e:
                failures += 1
                tb = traceback.extract_tb(e.__traceback__)
                where = "%s:%d" % (os.path.basename(tb[-1].filename), tb[-1].lineno) \
                    if tb else "?"
                print("FAIL - %s: %s: %s" % (fn.__name__, where, str(e)[:400]), flush=True)
    finally:
        if world is not None:
            world.close()
            if failures:
                for b in world.bridges:
                    sys.stdout.write("     | %s bridge log:\n" % b.user.name)
                    for line in b.log().splitlines()[-15:]:
                        sys.stdout.write("     |   %s\n" % line)
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if failures else 0)
