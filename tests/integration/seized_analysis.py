"""What a seized sottod gives away about who wrote to whom (issue 15; docs/THREAT_MODEL.md
section 2b, "What a seized server holds").

The evidence is a copy of the server's data directory (database, its WAL and SHM, blobs,
keys, configuration: every file) and its log. `analyse` gets it together with what the
test knows and the analyst must reconstruct: each user's identifiers and, for the messages
still waiting at the seizure, their true senders. It reports

- `hits`: every place an identifier of a user (account name, address, identity key and its
  X25519 form, device key, delivery token, the clients' IP address) occurs, in every
  encoding the code uses (raw, hex in both cases, base64 and base64url with and without
  padding): in every column of every row of every table, in every byte of every file (a
  hit inside the database or its WAL is attributed to the b-tree that owns the page), and
  in the log. A hit is allowed only where docs/THREAT_MODEL.md lists it (ALLOWED_COLUMNS,
  ALLOWED_BTREES).
- `links`: joins that tie a waiting message (an `envelopes` row, or an application entry
  of `group_log`) to its sender. Every column of the message's table is joined with every
  column of every table (the message's own table included, and the log read as a table
  `log(ts, level, conn, text)`) on equal values, and every time column with every column
  of times (all its values times of the day, in milliseconds or seconds) on "the latest
  row that names an account, at or before the message's time, within TIME_WINDOW_MS".
  From the rows such a join reaches, a second join goes on to every column of every table
  on their values that do not match by chance (bytes or text of 8 or more; and from a
  join on an integer only when it reached at most HOP_FANOUT_MAX rows), so that a chain
  envelope -> record -> table naming the sender is found too.
  The rows a join reaches name accounts: an accounts row its own, any other row the
  accounts whose identifiers it holds and, for the database's rows, every integer equal
  to an account id. A join names a sender for a message when the rows it joins name
  exactly one account besides the message's recipient; it is a link when it names the
  true sender for at least LINK_MIN_HITS messages and is right for more than half of
  those it names one for, or when the rows an equality join joins hold the true sender's
  identifier bytes for any message (names, keys and tokens do not match by chance).
- `recipients`: the joins that name each envelope's recipient (what the server needs and
  may know), as a check that the joins see what is there.
"""
import base64
import ctypes
import os
import re
import shutil
import sqlite3
import struct

LINK_MIN_HITS = 3
TIME_WINDOW_MS = 2000
HOP_FANOUT_MAX = 3              # rows a first join on an integer may reach to go on

# Where an identifier of account A may be, by docs/THREAT_MODEL.md section 2b: A's own
# accounts row, and A's KeyPackages (an MLS credential names its owner's address and
# identity key). (table, column) -> the column of the row that must be A's account id
# (None: the accounts row itself, whose id is A's).
ALLOWED_COLUMNS = {
    ("accounts", "name"): None,
    ("accounts", "identity_key"): None,
    ("accounts", "device_key"): None,
    ("key_packages", "data"): "account",
}
# The b-trees whose pages (in the database file or its WAL) may hold an identifier: the
# tables above and their indexes.
ALLOWED_BTREES = {"accounts", "sqlite_autoindex_accounts_1", "sqlite_autoindex_accounts_2",
                  "key_packages"}
FREED_KEY_PACKAGE_KINDS = {"name", "address", "identity"}


def text_forms(s):
    b = s.encode()
    return [b, b.hex().encode(), base64.b64encode(b).rstrip(b"="),
            base64.urlsafe_b64encode(b).rstrip(b"=")]


def key_forms(k):
    b64 = base64.b64encode(k)
    url = base64.urlsafe_b64encode(k)
    return [k, b64, b64.rstrip(b"="), url, url.rstrip(b"="), k.hex().encode(),
            k.hex().upper().encode()]


def ed25519_to_x25519(pk):
    """The X25519 form of an Ed25519 public key (libsodium's conversion)."""
    lib = ctypes.CDLL("libsodium.so.23")
    out = ctypes.create_string_buffer(32)
    if lib.crypto_sign_ed25519_pk_to_curve25519(out, pk) != 0:
        return None
    return out.raw


class Person:
    """A user as the analyst knows them: name, address, account id, and 32-byte
    identifiers by kind (identity, identity_x25519, device, token...)."""

    def __init__(self, name, address, account_id, keys):
        self.name = name
        self.address = address
        self.id = account_id
        self.keys = dict(keys)
        x = ed25519_to_x25519(self.keys["identity"])
        if x is not None:
            self.keys["identity_x25519"] = x

    def needles(self):
        """(kind, bytes) for every form of every identifier."""
        out = [("name", f) for f in text_forms(self.name)]
        out += [("address", f) for f in text_forms(self.address)]
        for kind, k in self.keys.items():
            out += [(kind, f) for f in key_forms(k)]
        return out


def seize(data_dir, log_path, dest):
    """Copies what an operator's disk holds (the server stopped or not) to dest/data and
    dest/sottod.log, as it is: the WAL is not checkpointed into the copy."""
    shutil.copytree(data_dir, os.path.join(dest, "data"),
                    ignore=lambda d, names: [n for n in names if n.endswith(".sock")])
    shutil.copyfile(log_path, os.path.join(dest, "sottod.log"))
    return os.path.join(dest, "data"), os.path.join(dest, "sottod.log")


def _occurrences(data, needle):
    i = data.find(needle)
    while i >= 0:
        yield i
        i = data.find(needle, i + 1)


def page_owners(db_path):
    """page number -> the b-tree (table or index) that owns it, from a copy of the database
    opened with its WAL (what the database reads as now)."""
    tmp = db_path + ".owners"
    for suffix in ("", "-wal"):
        if os.path.exists(db_path + suffix):
            shutil.copyfile(db_path + suffix, tmp + suffix)
    db = sqlite3.connect(tmp)
    try:
        owners = {p: n for n, p in db.execute("SELECT name, pageno FROM dbstat")}
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        owners[1] = owners.get(1, "sqlite_schema")
    finally:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(tmp + suffix):
                os.unlink(tmp + suffix)
    return owners, page_size


def _where(path, off, owners, page_size):
    """Which b-tree (or which file) a byte at off of path belongs to."""
    base = os.path.basename(path)
    if base == "sottod.db":
        return owners.get(off // page_size + 1, "free page %d" % (off // page_size + 1))
    if base == "sottod.db-wal":
        if off < 32:
            return "WAL header"
        frame = (off - 32) // (24 + page_size)
        start = 32 + frame * (24 + page_size)
        if off < start + 24:
            return "WAL frame header"
        with open(path, "rb") as f:
            f.seek(start)
            page = struct.unpack(">I", f.read(4))[0]
        return owners.get(page, "free page %d" % page)
    return base


def scan_bytes(data_dir, log_path, people, client_ip):
    """Every occurrence of every identifier in every file: [(owner name, kind, where)]."""
    db_path = os.path.join(data_dir, "sottod.db")
    owners, page_size = page_owners(db_path)
    hits = []
    paths = [os.path.join(d, n) for d, _, names in os.walk(data_dir) for n in names]
    paths.append(log_path)
    for path in sorted(paths):
        with open(path, "rb") as f:
            data = f.read()
        for p in people:
            for kind, needle in p.needles():
                for off in _occurrences(data, needle):
                    hits.append((p.name, kind, _where(path, off, owners, page_size)))
        for off in _occurrences(data, client_ip):
            hits.append(("*", "client IP", _where(path, off, owners, page_size)))
    return hits


def bad_byte_hits(hits):
    """The hits outside ALLOWED_BTREES. A free page (the server does not set
    secure_delete) may still hold what a claimed KeyPackage held, its owner's name,
    address and identity key: those kinds are allowed there, nothing else."""
    return sorted(set(h for h in hits if h[2] not in ALLOWED_BTREES and not (
        h[2].startswith("free page") and h[1] in FREED_KEY_PACKAGE_KINDS)))


def load_tables(db_path):
    """{table: (columns, rows)} of the seized database (read from a copy, WAL applied)."""
    tmp = db_path + ".read"
    for suffix in ("", "-wal"):
        if os.path.exists(db_path + suffix):
            shutil.copyfile(db_path + suffix, tmp + suffix)
    db = sqlite3.connect(tmp)
    try:
        names = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        tables = {}
        for t in names:
            cur = db.execute('SELECT * FROM "%s"' % t)
            tables[t] = ([d[0] for d in cur.description], cur.fetchall())
    finally:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(tmp + suffix):
                os.unlink(tmp + suffix)
    return tables


LOG_LINE = re.compile(rb"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z (\w+): (.*)$")
CONN = re.compile(rb"conn (\d+)")


def load_log(log_path):
    """The log as a table: (ts in unix ms, level, conn number or None, text)."""
    import calendar
    rows = []
    with open(log_path, "rb") as f:
        for line in f:
            m = LOG_LINE.match(line.rstrip(b"\n"))
            if not m:
                continue
            secs = calendar.timegm(tuple(int(x) for x in m.groups()[:6]))
            conn = CONN.search(m.group(9))
            rows.append((secs * 1000 + int(m.group(7)), m.group(8).decode(),
                         int(conn.group(1)) if conn else None, m.group(9)))
    return ["ts", "level", "conn", "text"], rows


def check_columns(tables, people):
    """Identifier hits in table cells outside ALLOWED_COLUMNS (or in another account's
    row): [(owner, kind, table.column)]."""
    bad = []
    needles = [(p, kind, n) for p in people for kind, n in p.needles()]
    for t, (cols, rows) in tables.items():
        for row in rows:
            for ci, v in enumerate(row):
                b = _as_bytes(v)
                if b is None:
                    continue
                for p, kind, n in needles:
                    if n not in b:
                        continue
                    rule = ALLOWED_COLUMNS.get((t, cols[ci]), False)
                    if rule is not False:
                        own = row[cols.index("id")] if rule is None else row[cols.index(rule)]
                        if own == p.id:
                            continue
                    bad.append((p.name, kind, "%s.%s" % (t, cols[ci])))
    return sorted(set(bad))


def _as_bytes(v):
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode()
    return None


class _Accounts:
    """Which accounts a row names."""

    def __init__(self, people):
        self.people = people
        self.ids = {p.id: p for p in people}
        self.needles = [(p, n) for p in people for _, n in p.needles()]

    def named(self, table, cols, row, ints):
        """(accounts named, accounts whose identifier bytes the row holds)."""
        by_bytes = set()
        for v in row:
            b = _as_bytes(v)
            if b is not None:
                by_bytes |= {p.id for p, n in self.needles if n in b}
        names = set(by_bytes)
        if table == "accounts":
            names.add(row[cols.index("id")])
        elif ints:
            names |= {v for v in row if isinstance(v, int) and v in self.ids}
        return names, by_bytes


def _time_scale(values, lo, hi):
    """1000 if a column's values are all times of the day in seconds, 1 if in
    milliseconds, else None."""
    vs = [v for v in values if isinstance(v, int)]
    for scale in (1, 1000):
        if vs and all(lo <= v * scale <= hi for v in vs):
            return scale
    return None


def analyse(tables, log, messages, people, t_lo, t_hi):
    """messages: [(table, row index, true sender id, recipient id or None)] of the messages
    waiting at the seizure. t_lo, t_hi: the day in unix ms. Returns (links, recipients):
    links [(join, hits, named, by_bytes)], recipients {join: envelopes whose recipient it
    names}."""
    acc = _Accounts(people)
    all_tables = dict(tables)
    all_tables["log"] = log
    # Per table: the accounts each row names (integers count only in the database).
    named = {t: [acc.named(t, cols, row, t != "log") for row in rows]
             for t, (cols, rows) in all_tables.items()}
    times = {}
    for t, (cols, rows) in all_tables.items():
        for ci, c in enumerate(cols):
            vals = [r[ci] for r in rows if r[ci] is not None]
            scale = _time_scale(vals, t_lo, t_hi)
            if scale is not None:
                times[(t, ci)] = sorted((r[ci] * scale, ri) for ri, r in enumerate(rows)
                                        if r[ci] is not None)
    index = {}
    for t, (cols, rows) in all_tables.items():
        for ci in range(len(cols)):
            ix = {}
            for ri, r in enumerate(rows):
                v = r[ci]
                if v is None or v == b"" or v == "":
                    continue
                ix.setdefault(v, []).append(ri)
            index[(t, ci)] = ix
    results = {}        # join -> [hits, named, by_bytes]
    recipients = {}
    for mt, mri, sender, recipient in messages:
        mcols, mrows = all_tables[mt]
        mrow = mrows[mri]
        for t, (cols, rows) in all_tables.items():
            for ci in range(len(cols)):
                for mci, v in enumerate(mrow):
                    if v is None:
                        continue
                    joined = [ri for ri in index[(t, ci)].get(v, ())
                              if not (t == mt and ri == mri)]
                    key = "%s.%s = %s.%s" % (mt, mcols[mci], t, cols[ci])
                    _score(results, recipients, key, joined, named[t], sender, recipient,
                           not isinstance(v, int))
                    if joined and (_distinct(v) or len(joined) <= HOP_FANOUT_MAX):
                        _second_hop(results, all_tables, index, named, key, t, joined,
                                    (mt, mri), sender, recipient, _distinct(v))
                if (t, ci) in times:
                    for mci in range(len(mcols)):
                        if (mt, mci) not in times or mrow[mci] is None:
                            continue
                        t_msg = next(x for x, ri in times[(mt, mci)] if ri == mri)
                        joined = _latest_before(times[(t, ci)], t_msg, t == mt, mri,
                                                named[t])
                        key = "%s.%s ~ latest %s.%s" % (mt, mcols[mci], t, cols[ci])
                        _score(results, recipients, key, joined, named[t], sender,
                               recipient, False)
    links = [(k, v[0], v[1], v[2]) for k, v in sorted(results.items())
             if v[2] > 0 or (v[0] >= LINK_MIN_HITS and 2 * v[0] > v[1])]
    return links, recipients


def _distinct(v):
    """A value that does not match by chance: bytes or text of 8 or more. (Integers do:
    row ids and counters are small, and times of one second or millisecond are shared.)"""
    return isinstance(v, (bytes, str)) and len(v) >= 8


def _second_hop(results, tables, index, named, key, t, joined, skip, sender, recipient,
                exact):
    """From the rows a first join reached (table t), joins on to every column of every
    table on their distinct values; scored like the first (the rows at the end name the
    accounts). exact: the first join was on a distinct value too, so identifier bytes at
    the end are not chance."""
    cols, rows = tables[t]
    for c1 in range(len(cols)):
        vals = [v for v in {rows[r][c1] for r in joined} if _distinct(v)]
        if not vals:
            continue
        for t2, (cols2, _) in tables.items():
            for c2 in range(len(cols2)):
                ix = index[(t2, c2)]
                reached = {r for v in vals for r in ix.get(v, ())
                           if not (t2 == t and r in joined) and (t2, r) != skip}
                if reached:
                    _score(results, {}, "%s, %s.%s = %s.%s" % (key, t, cols[c1], t2,
                                                              cols2[c2]),
                           sorted(reached), named[t2], sender, recipient, exact)


def _latest_before(series, t0, same, mri, named):
    """The latest row at or before t0, within TIME_WINDOW_MS, that names an account."""
    best = None
    for t, ri in series:
        if t > t0:
            break
        if t0 - t <= TIME_WINDOW_MS and not (same and ri == mri) and named[ri][0]:
            best = ri
    return [best] if best is not None else []


def _score(results, recipients, key, joined, named_rows, sender, recipient, exact):
    """Counts, for join key, whether the rows joined name one account (besides the
    recipient), whether it is the sender, and (exact joins only) whether they hold the
    sender's identifier bytes."""
    if not joined:
        return
    names, by_bytes = set(), set()
    for ri in joined:
        n, b = named_rows[ri]
        names |= n
        by_bytes |= b
    if recipient is not None and recipient in names:
        recipients[key] = recipients.get(key, 0) + 1
    names.discard(recipient)
    if not names:
        return
    r = results.setdefault(key, [0, 0, 0])
    if len(names) == 1:
        r[1] += 1
        if sender in names:
            r[0] += 1
    if exact and sender in by_bytes and by_bytes - {recipient} == {sender}:
        r[2] += 1
