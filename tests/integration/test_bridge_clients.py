#!/usr/bin/env python3
"""`sotto bridge` with real mail programs: mbsync (isync) syncs bob's INBOX both ways with
a Maildir, neomutt, driven in tmux, opens the mail alice sent and shows its subject and
body on screen, and fetchmail fetches it with the setting docs/MAILCLIENT.md gives.
"""
import os
import shutil
import smtplib
import subprocess
import time

import bridge_harness as BH
from bridge_harness import H
from bridge_harness import check


def setup(root):
    return BH.World(root, names=("alice", "bob"))


def send(w, subject, body, msgid):
    mail = ("From: Alice <alice@localhost>\r\nTo: Bob <bob@localhost>\r\n"
            "Subject: %s\r\nMessage-ID: <%s@localhost>\r\n"
            "Date: Sun, 29 Nov 2026 12:00:00 +0000\r\n\r\n%s\r\n" % (subject, msgid, body))
    with smtplib.SMTP("127.0.0.1", w.b["alice"].smtp_port, timeout=H.scaled(60)) as s:
        s.login("alice@localhost", w.b["alice"].password)
        check(s.sendmail("alice@localhost", ["bob@localhost"], mail.encode()) == {},
              "refused")
    M = w.b["bob"].imap()
    uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<%s@localhost>")' % msgid)
    M.logout()
    check(len(uids) == 1, "bob did not get %s" % msgid)
    return uids[0]


def maildir_files(path):
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            for n in os.listdir(d):
                out[os.path.join(d, n)] = open(os.path.join(d, n), "rb").read()
    return out


def mbsync_two_way(w):
    if shutil.which("mbsync") is None:
        raise AssertionError("mbsync is not installed (scripts/install-deps: isync)")
    send(w, "For the Maildir", "synced by mbsync", "mbsync-1")
    home = os.path.join(w.root, "mbsync")
    mdir = os.path.join(home, "Mail", "bob")
    os.makedirs(mdir)
    passfile = os.path.join(home, "pass")
    with open(passfile, "w") as f:
        f.write(w.b["bob"].password)
    rc = os.path.join(home, "mbsyncrc")
    with open(rc, "w") as f:
        f.write("""IMAPAccount bob
Host 127.0.0.1
Port %d
User bob@localhost
PassCmd "cat %s"
SSLType None
AuthMechs LOGIN
Timeout %d

IMAPStore bob-remote
Account bob

MaildirStore bob-local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel bob
Far :bob-remote:
Near :bob-local:
Patterns INBOX
Create Both
Sync All
Expunge Both
SyncState *
""" % (w.b["bob"].imap_port, passfile, H.scaled(60), mdir, mdir))

    def mbsync():
        r = subprocess.run(["mbsync", "-c", rc, "bob"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=H.scaled(120),
                           env=dict(os.environ, HOME=home))
        check(r.returncode == 0, "mbsync: %s" % r.stdout.decode()[-600:])

    mbsync()
    inbox = os.path.join(mdir, "INBOX")
    files = maildir_files(inbox)
    mine = [p for p, b in files.items() if b"<mbsync-1@localhost>" in b]
    check(len(mine) == 1, "Maildir has %r" % list(files))
    check(b"synced by mbsync" in files[mine[0]], "body missing")
    M = w.b["bob"].imap()
    M.select("INBOX")
    typ, data = M.uid("SEARCH", None, "ALL")
    check(len(files) == len(data[0].split()), "Maildir %d, IMAP %r" % (len(files), data))
    M.logout()

    # near to far: mark it read and flagged in the Maildir, and add a mail there
    path = mine[0]
    base = os.path.basename(path).split(":2,")[0]
    os.rename(path, os.path.join(inbox, "cur", base + ":2,FS"))
    local = (b"From: bob@localhost\r\nTo: bob@localhost\r\nSubject: written offline\r\n"
             b"Message-ID: <offline-1@localhost>\r\n\r\nfrom the Maildir\r\n")
    with open(os.path.join(inbox, "new", "%d.offline.host" % int(time.time())), "wb") as f:
        f.write(local)
    # far to near: a new mail on the server side
    send(w, "After the first sync", "second", "mbsync-2")
    mbsync()
    M = w.b["bob"].imap()
    M.select("INBOX")
    uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<mbsync-1@localhost>")', timeout=5)
    typ, data = M.uid("FETCH", uids[0], "(FLAGS)")
    check(b"\\Seen" in data[0] and b"\\Flagged" in data[0], "flags not synced: %r" % data)
    uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<offline-1@localhost>")', timeout=5)
    check(len(uids) == 1, "the Maildir's mail did not reach IMAP")
    # mbsync adds its own X-TUID header to what it uploads, to find it again
    up = BH.fetch_raw(M, "INBOX", uids[0])
    up = b"".join(l for l in up.splitlines(True) if not l.startswith(b"X-TUID: "))
    check(up == local, "the uploaded mail differs: %r" % up)
    M.logout()
    files = maildir_files(inbox)
    check(any(b"<mbsync-2@localhost>" in b for b in files.values()), "second mail not synced")

    # a deletion in the Maildir expunges on the server
    victim = [p for p, b in files.items() if b"<offline-1@localhost>" in b][0]
    os.remove(victim)
    mbsync()
    M = w.b["bob"].imap()
    M.select("INBOX")
    typ, data = M.uid("SEARCH", None, '(HEADER Message-ID "<offline-1@localhost>")')
    check(data[0] == b"", "deleted mail still on IMAP: %r" % data)
    M.logout()


def tmux(*args, check_rc=True):
    r = subprocess.run(["tmux", "-L", "sotto-bridge-test"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if check_rc and r.returncode != 0:
        raise AssertionError("tmux %s: %s" % (args[0], r.stderr.decode()))
    return r.stdout.decode("utf-8", "replace")


def screen_wait(text, timeout=30):
    deadline = time.time() + H.scaled(timeout)
    screen = ""
    while time.time() < deadline:
        screen = tmux("capture-pane", "-p", "-t", "mutt")
        if text in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError("%r not on screen:\n%s" % (text, screen[-1500:]))


def neomutt_reads_mail(w):
    if shutil.which("neomutt") is None or shutil.which("tmux") is None:
        raise AssertionError("neomutt or tmux is not installed")
    send(w, "Hello from Alice via Sotto", "The body travelled end to end.", "mutt-1")
    home = os.path.join(w.root, "mutt")
    os.makedirs(home)
    rc = os.path.join(home, "neomuttrc")
    with open(rc, "w") as f:
        f.write("""set folder = "imap://bob%%40localhost@127.0.0.1:%d/"
set spoolfile = "+INBOX"
set imap_user = "bob@localhost"
set imap_pass = "%s"
set ssl_starttls = no
set ssl_force_tls = no
set imap_check_subscribed = no
set mail_check = 2
set timeout = 2
set header_cache = ""
set message_cachedir = ""
set sort = date
set pager_stop = yes
set confirmappend = no
set wait_key = no
set move = no
""" % (w.b["bob"].imap_port, w.b["bob"].password))
    env = dict(os.environ, HOME=home, TERM="xterm-256color", LANG="C.UTF-8")
    tmux("kill-server", check_rc=False)
    try:
        r = subprocess.run(["tmux", "-L", "sotto-bridge-test", "new-session", "-d", "-s",
                            "mutt", "-x", "160", "-y", "45",
                            "neomutt -n -F %s" % rc], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        check(r.returncode == 0, "tmux: %s" % r.stderr.decode())
        screen_wait("Hello from Alice via Sotto")
        # open the newest mail with that subject: search for it, then Enter
        tmux("send-keys", "-t", "mutt", "/", "Hello from Alice", "Enter")
        time.sleep(0.5)
        tmux("send-keys", "-t", "mutt", "Enter")
        screen = screen_wait("The body travelled end to end.")
        check("Subject: Hello from Alice via Sotto" in screen, "subject header: %s" % screen)
        # leave the pager, then quit: neomutt writes the \Seen flag back as it closes
        tmux("send-keys", "-t", "mutt", "q")
        time.sleep(0.3)
        tmux("send-keys", "-t", "mutt", "q")
        deadline = time.time() + H.scaled(20)
        while time.time() < deadline:
            r = subprocess.run(["tmux", "-L", "sotto-bridge-test", "has-session", "-t",
                                "mutt"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode != 0:
                break
            time.sleep(0.2)
        check(r.returncode != 0, "neomutt did not quit")
    finally:
        tmux("kill-server", check_rc=False)
    M = w.b["bob"].imap()
    uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<mutt-1@localhost>")', timeout=5)
    typ, data = M.uid("FETCH", uids[0], "(FLAGS)")
    check(b"\\Seen" in data[0], "neomutt's read did not set \\Seen: %r" % data)
    M.logout()


def neomutt_sends_mail(w):
    """neomutt in batch mode submits through alice's SMTP side, set up as in
    docs/MAILCLIENT.md; bob receives it."""
    home = os.path.join(w.root, "mutt-alice")
    os.makedirs(home)
    rc = os.path.join(home, "neomuttrc")
    pw = w.b["alice"].password
    with open(rc, "w") as f:
        f.write("""set from = "alice@localhost"
set realname = "Alice"
set record = ""
set smtp_url = "smtp://alice%%40localhost@127.0.0.1:%d/"
set smtp_pass = "%s"
set ssl_starttls = no
set ssl_force_tls = no
""" % (w.b["alice"].smtp_port, pw))
    r = subprocess.run(["neomutt", "-n", "-F", rc, "-s", "Batch from neomutt",
                        "bob@localhost"], input=b"Sent by neomutt's SMTP client.\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=H.scaled(60), env=dict(os.environ, HOME=home))
    check(r.returncode == 0, "neomutt: %s" % r.stdout.decode()[-500:])
    M = w.b["bob"].imap()
    uids = BH.wait_for(M, "INBOX", '(SUBJECT "Batch from neomutt")')
    check(len(uids) == 1, "bob: %r" % uids)
    raw = BH.fetch_raw(M, "INBOX", uids[0])
    check(b"Sent by neomutt's SMTP client." in raw and b"From: Alice <alice@localhost>" in raw,
          raw[:400])
    M.logout()


def fetchmail_with_documented_setting(w):
    """Issue 18 item 12: fetchmail, with the one setting docs/MAILCLIENT.md gives
    (sslproto ''), fetches bob's mail from the bridge over IMAP and hands it to its MDA.
    Without it fetchmail 6.4 insists on STARTTLS, which the bridge (no TLS, loopback
    only) answers BAD "STARTTLS is not available"."""
    if shutil.which("fetchmail") is None:
        raise AssertionError("fetchmail is not installed (scripts/install-deps: fetchmail)")
    send(w, "For fetchmail", "fetched by fetchmail", "fetchmail-1")
    home = os.path.join(w.root, "fetchmail")
    os.makedirs(home, mode=0o700)
    out = os.path.join(home, "delivered")
    rc = os.path.join(home, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 protocol IMAP port %d\n'
                '    user "bob@localhost" password "%s"\n'
                "    sslproto ''\n"
                '    keep\n'
                '    mda "cat >> %s"\n' % (w.b["bob"].imap_port, w.b["bob"].password, out))
    os.chmod(rc, 0o600)
    argv = ["fetchmail", "--nodetach", "-v", "-f", rc, "--pidfile",
            os.path.join(home, "pid")]
    env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=H.scaled(60), env=env)
    said = r.stdout.decode(errors="replace")
    check(r.returncode == 0, "fetchmail exited %d: %s" % (r.returncode, said[-800:]))
    check("STARTTLS" not in said, said[-800:])
    got = open(out, "rb").read() if os.path.exists(out) else b""
    check(b"Subject: For fetchmail" in got and b"fetched by fetchmail" in got, got[:500])
    # and what fetchmail's defaults meet: a BAD that says why
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 protocol IMAP port %d user "bob@localhost" password "%s"'
                ' keep mda "cat >> %s"\n' % (w.b["bob"].imap_port, w.b["bob"].password, out))
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=H.scaled(60), env=env)
    said = r.stdout.decode(errors="replace")
    check(r.returncode != 0 and "BAD STARTTLS is not available" in said, said[-800:])


BH.run_checks(setup, [mbsync_two_way, neomutt_reads_mail, neomutt_sends_mail,
                      fetchmail_with_documented_setting, BH.bridges_exit_cleanly])
