"""A Sotto cluster on loopback, with Debian 12's own tools: one etcd, two PostgreSQL
instances under Patroni (synchronous replication), two sottod nodes on the cluster's primary
and haproxy in front of the nodes. Used by `make run-cluster` (scripts/run-cluster) and by
tests/integration/test_cluster.py, which kills and restarts its processes.

What runs, each a child process of this one, each with its log in DIR/NAME.log:
  etcd      one member; Patroni's store of the leader key and the cluster's state
  pg1, pg2  Patroni, each running its own PostgreSQL (DIR/pg1/data, DIR/pg2/data);
            synchronous_mode: a commit returns once the standby has flushed it, and on a
            failover Patroni promotes only the synchronous standby
  node1, node2  sottod, one server identity (node2 gets node1's server.key and
            ticket.key), both with `store` naming both PostgreSQL instances with
            target_session_attrs=read-write: libpq connects to whichever is the primary
  haproxy   the address clients use; round robin over the nodes, a node found down (TCP
            check every 2 s, 500 ms while in doubt) taken out and its sessions ended, a
            refused connection dispatched to the other node

PostgreSQL refuses to run as root: run as root, Patroni (and so PostgreSQL) runs as the
system user sotto-cluster, created if missing; the other processes run as the caller.
Authentication is `trust` on 127.0.0.1 only: a demonstration and test cluster, not a
production configuration (docs/SERVER.md says what changes there).
"""
import glob
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

PG_USER = "sotto-cluster"
SCOPE = "sotto"
# Patroni's timing (bootstrap.dcs): the leader key lives TTL seconds without renewal (so a
# primary that dies without a word is replaced after at most that), each Patroni acts every
# LOOP_WAIT seconds, and gives up on etcd or PostgreSQL after RETRY_TIMEOUT. Patroni's
# minimum TTL is 20; loop_wait + 2 * retry_timeout must stay under it.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 20, 2, 5
NAMES = ("etcd", "pg1", "pg2", "node1", "node2", "haproxy")


PORT_KEYS = ("haproxy", "node1", "node2", "etcd", "etcd_peer", "pg1", "pg2", "rest1",
             "rest2")


def port_free(port):
    """Nothing listens on port (one in TIME_WAIT is no matter: the servers bind with
    SO_REUSEADDR, so does this)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_ports(base=None):
    """The cluster's ports, consecutive from base in PORT_KEYS' order. Without a base, a
    free block below the kernel's ephemeral range: a port there is never taken meanwhile
    as the local end of someone's outgoing connection (the cluster's own make many while
    it starts)."""
    if base is not None:
        return {k: base + i for i, k in enumerate(PORT_KEYS)}
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.SystemRandom()
    for _ in range(200):
        b = rng.randrange(10000, low - len(PORT_KEYS))
        if all(port_free(b + i) for i in range(len(PORT_KEYS))):
            return free_ports(b)
    raise RuntimeError("no %d free ports in a row below %d" % (len(PORT_KEYS), low))


def pg_bindir():
    dirs = sorted(d for d in glob.glob("/usr/lib/postgresql/*/bin")
                  if os.access(os.path.join(d, "postgres"), os.X_OK))
    if not dirs:
        raise RuntimeError("no PostgreSQL server found: run scripts/install-deps")
    return dirs[-1]


def need(cmd):
    if shutil.which(cmd) is None:
        raise RuntimeError("%s not found: run scripts/install-deps" % cmd)


def http_status(url, timeout=3.0):
    """The HTTP status of a GET of url, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


def http_json(url, timeout=3.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read().decode())
    except (OSError, ValueError):
        return None


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def wait_for(cond, timeout, what, proc=None):
    deadline = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s: exited with %d" % (what, proc.returncode))
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.1)


class Cluster:
    """ports: the ports (free_ports(BASE)), else a free block;
    registration: sottod's (`invite` for make run-cluster, `open` for the tests);
    node_conf: more lines for both nodes' sottod.conf; parent: where the directory goes."""

    def __init__(self, build, ports=None, registration="invite", domain="localhost",
                 parent=None, timeout_scale=1.0, node_conf=""):
        self.build = os.path.abspath(build)
        self.sottod = os.path.join(self.build, "sottod")
        if not os.access(self.sottod, os.X_OK):
            raise RuntimeError("%s not built: run make" % self.sottod)
        for cmd in ("etcd", "patroni", "haproxy"):
            need(cmd)
        self.bindir = pg_bindir()
        self.registration, self.domain = registration, domain
        self.node_conf = node_conf
        self.scale = timeout_scale
        self.dir = tempfile.mkdtemp(prefix="sotto-cluster.", dir=parent)
        os.chmod(self.dir, 0o755)     # the PostgreSQL user must reach its directories
        self.port = ports or free_ports()
        self.procs = {}
        self.exits = []             # (name, exit status) of each process stopped
        self.logs = {}
        self.pg_uid = self.pg_gid = None
        if os.getuid() == 0:
            try:
                pw = pwd.getpwnam(PG_USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                                "/usr/sbin/nologin", PG_USER], check=True)
                pw = pwd.getpwnam(PG_USER)
            self.pg_uid, self.pg_gid = pw.pw_uid, pw.pw_gid
        # The primary of the two; a host that does not answer is given up after 2 s, a
        # connection whose peer went silent (a machine gone, no RST) after about 10 s.
        self.store = ("postgresql://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres"
                      "?target_session_attrs=read-write&connect_timeout=2"
                      "&keepalives_idle=5&keepalives_interval=2&keepalives_count=3"
                      "&tcp_user_timeout=10000" % (self.port["pg1"], self.port["pg2"]))
        self.address = None
        self.keep_failed = False    # start() failing keeps the directory (its logs)

    # --- configuration ---------------------------------------------------------------

    def _patroni_conf(self, name):
        d = os.path.join(self.dir, name)
        os.makedirs(d, mode=0o700, exist_ok=True)
        if self.pg_uid is not None:
            os.chown(d, self.pg_uid, self.pg_gid)
        rest = self.port["rest" + name[-1]]
        pg = self.port[name]
        conf = {
            "scope": SCOPE,
            "name": name,
            "restapi": {"listen": "127.0.0.1:%d" % rest,
                        "connect_address": "127.0.0.1:%d" % rest},
            "etcd3": {"hosts": ["127.0.0.1:%d" % self.port["etcd"]]},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL, "loop_wait": LOOP_WAIT, "retry_timeout": RETRY_TIMEOUT,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    # etcd away (restarted): the primary stays primary while it can
                    # reach every other member, rather than demoting itself.
                    "failsafe_mode": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {
                            "max_connections": 60, "shared_buffers": "16MB",
                            "wal_level": "replica", "hot_standby": "on",
                            "max_wal_senders": 5, "max_replication_slots": 5,
                            "wal_keep_size": "64MB", "fsync": "on",
                            "synchronous_commit": "on",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, "no-locale"],
            },
            "postgresql": {
                "listen": "127.0.0.1:%d" % pg,
                "connect_address": "127.0.0.1:%d" % pg,
                "data_dir": os.path.join(d, "data"),
                "bin_dir": self.bindir,
                "pgpass": os.path.join(d, "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "cluster"},
                    "replication": {"username": "replicator", "password": "cluster"},
                    "rewind": {"username": "postgres", "password": "cluster"},
                },
                "parameters": {"unix_socket_directories": d},
                "pg_hba": ["local all all trust",
                           "host all all 127.0.0.1/32 trust",
                           "host replication all 127.0.0.1/32 trust"],
                # A node that comes back diverged is made again from the primary.
                "remove_data_directory_on_rewind_failure": True,
                "remove_data_directory_on_diverged_timelines": True,
            },
        }
        path = os.path.join(d, "patroni.yml")
        with open(path, "w") as f:
            json.dump(conf, f, indent=1)     # JSON is YAML
        return path

    def _haproxy_conf(self):
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write("""global
	maxconn 4000
defaults
	mode tcp
	timeout connect 2s
	timeout client 2h
	timeout server 2h
	retries 2
	option redispatch
frontend sotto
	bind 127.0.0.1:%d
	default_backend sottod
backend sottod
	balance roundrobin
	default-server inter 2s fastinter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
	server node1 127.0.0.1:%d check
	server node2 127.0.0.1:%d check
""" % (self.port["haproxy"], self.port["node1"], self.port["node2"]))
        return path

    def _node_conf(self, name):
        d = os.path.join(self.dir, name)
        os.makedirs(d, mode=0o700, exist_ok=True)
        with open(os.path.join(d, "sottod.conf"), "w") as f:
            f.write("listen = 127.0.0.1:%d\nadvertise = 127.0.0.1:%d\nstore = %s\n"
                    "domain = %s\nregistration = %s\n%s" % (
                        self.port[name], self.port["haproxy"], self.store, self.domain,
                        self.registration, self.node_conf))
        return d

    # --- processes -------------------------------------------------------------------

    def _argv(self, name):
        if name == "etcd":
            peer = "http://127.0.0.1:%d" % self.port["etcd_peer"]
            client = "http://127.0.0.1:%d" % self.port["etcd"]
            return ["etcd", "--name", "etcd", "--data-dir", os.path.join(self.dir, "etcd"),
                    "--listen-client-urls", client, "--advertise-client-urls", client,
                    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                    "--initial-cluster", "etcd=" + peer, "--initial-cluster-state", "new",
                    "--enable-v2=true"]
        if name in ("pg1", "pg2"):
            return ["patroni", self._patroni_conf(name)]
        if name in ("node1", "node2"):
            return [self.sottod, "run", "--data", os.path.join(self.dir, name)]
        return ["haproxy", "-db", "-f", self._haproxy_conf()]

    def start_proc(self, name):
        """Starts one process (again) and waits until it serves."""
        log = self.logs.get(name)
        if log is None:
            log = self.logs[name] = open(os.path.join(self.dir, name + ".log"), "ab")
        kw = {}
        if name in ("pg1", "pg2") and self.pg_uid is not None:
            kw = {"user": self.pg_uid, "group": self.pg_gid, "extra_groups": [],
                  "env": dict(os.environ, HOME=os.path.join(self.dir, name))}
        # A session of its own: Ctrl-C reaches this process only, which stops the
        # cluster in order.
        p = subprocess.Popen(self._argv(name), stdout=log, stderr=log,
                             stdin=subprocess.DEVNULL, cwd=self.dir, start_new_session=True,
                             **kw)
        self.procs[name] = p
        t = 60 * self.scale
        if name == "etcd":
            wait_for(lambda: http_status("http://127.0.0.1:%d/health" % self.port["etcd"])
                     == 200, t, "etcd", p)
        elif name in ("pg1", "pg2"):
            # Running: primary, or a replica streaming from it.
            wait_for(lambda: (http_json("http://127.0.0.1:%d/patroni" %
                                        self.port["rest" + name[-1]]) or {})
                     .get("state") == "running", 2 * t, "Patroni " + name, p)
        else:
            wait_for(lambda: listening(self.port[name]), t, name, p)

    def stop_proc(self, name, sig=signal.SIGTERM):
        p = self.procs.pop(name, None)
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=60 * self.scale)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.exits.append((name, p.returncode))

    def restart_proc(self, name):
        self.stop_proc(name)
        self.start_proc(name)

    def postmaster_pid(self, name):
        """The pid of name's running postmaster, or None (a file left by a crash whose pid
        now belongs to another process is not taken)."""
        data = os.path.join(self.dir, name, "data")
        try:
            with open(os.path.join(data, "postmaster.pid")) as f:
                pid = int(f.readline())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return pid if data.encode() in f.read() else None
        except (OSError, ValueError):
            return None

    def crash_pg(self, name):
        """SIGKILL of a whole database machine: Patroni, its PostgreSQL and every backend
        (a postmaster killed alone leaves its backends running for a while)."""
        pids = [self.procs[name].pid]
        pm = self.postmaster_pid(name)
        if pm is not None:
            pids.append(pm)
            for stat in glob.glob("/proc/[0-9]*/stat"):
                try:
                    with open(stat) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == pm:
                    pids.append(int(stat.split("/")[2]))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.procs.pop(name).wait()

    # --- the cluster -----------------------------------------------------------------

    def role(self, name):
        """'primary', 'replica' or None (Patroni's REST API of pg1 or pg2)."""
        st = http_json("http://127.0.0.1:%d/patroni" % self.port["rest" + name[-1]])
        if not st or st.get("state") != "running":
            return None
        return {"master": "primary"}.get(st.get("role"), st.get("role"))

    def primary(self):
        for name in ("pg1", "pg2"):
            if self.role(name) == "primary":
                return name
        return None

    def sync_standby(self):
        """The member Patroni has made the synchronous standby, or None."""
        st = http_json("http://127.0.0.1:%d/cluster" % self.port["rest1"]) or \
            http_json("http://127.0.0.1:%d/cluster" % self.port["rest2"]) or {}
        for m in st.get("members", []):
            if m.get("role") in ("sync_standby", "sync standby") and \
                    m.get("state") in ("running", "streaming"):
                return m.get("name")
        return None

    def wait_replicated(self):
        """Until one primary and the other its synchronous standby."""
        wait_for(lambda: self.primary() is not None and self.sync_standby() is not None
                 and self.sync_standby() != self.primary(), 90 * self.scale,
                 "a primary and its synchronous standby")

    def start(self):
        try:
            self.start_proc("etcd")
            self.start_proc("pg1")
            wait_for(lambda: self.primary() == "pg1", 60 * self.scale, "pg1 primary")
            self.start_proc("pg2")
            self.wait_replicated()
            # node1 first: it creates the server identity and the schema.
            self._node_conf("node1")
            self.start_proc("node1")
            d2 = self._node_conf("node2")
            for key in ("server.key", "ticket.key"):
                shutil.copy2(os.path.join(self.dir, "node1", key), d2)
            self.start_proc("node2")
            self.start_proc("haproxy")
            self.address = subprocess.run(
                [self.sottod, "address", "--data", os.path.join(self.dir, "node1")],
                check=True, stdout=subprocess.PIPE).stdout.decode().strip()
        except BaseException:
            self.stop(keep=self.keep_failed)
            raise
        return self

    def stop(self, keep=False):
        """Stops everything (sottod first, PostgreSQL's primary after its standby is
        gone); removes the directory unless keep."""
        for name in ("haproxy", "node2", "node1"):
            self.stop_proc(name, signal.SIGINT if name.startswith("node") else
                           signal.SIGTERM)
        prim = self.primary()
        for name in sorted(("pg1", "pg2"), key=lambda n: n == prim):
            self.stop_proc(name)
        self.stop_proc("etcd")
        for log in self.logs.values():
            log.close()
        self.logs = {}
        # A Patroni killed with its PostgreSQL left running (not by us) leaves one.
        for name in ("pg1", "pg2"):
            pm = self.postmaster_pid(name)
            if pm is not None:
                try:
                    os.kill(pm, signal.SIGQUIT)
                except ProcessLookupError:
                    pass
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self, name):
        with open(os.path.join(self.dir, name + ".log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def invite(self):
        return subprocess.run([self.sottod, "invite", "--data",
                               os.path.join(self.dir, "node1")],
                              check=True, stdout=subprocess.PIPE).stdout.decode().strip()

    def psql(self, sql):
        """sql on the primary, its output (as text)."""
        prim = self.primary()
        out = subprocess.run(
            [os.path.join(self.bindir, "psql"), "-qtA", "-h", "127.0.0.1", "-p",
             str(self.port[prim]), "-U", "postgres", "-d", "postgres", "-c", sql],
            check=True, stdout=subprocess.PIPE).stdout.decode().strip()
        return out


def port_of(address):
    m = re.search(r":(\d+)", address)
    return int(m.group(1)) if m else None
