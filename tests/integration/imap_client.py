#!/usr/bin/env python3
"""Drives the IMAP bridge with Python's imaplib (a client nobody here wrote).

usage: imap_client.py PORT USER PASSWORD

Run by tests/unit/test_imap_live.c, which fills INBOX with four messages first:
  1 text/plain "Hello Bob" (UID 1), 2 multipart/mixed with a PDF attachment,
  3 multipart/mixed holding multipart/alternative, 4 \\Seen, "Old news".
Prints "ok - imap_py/NAME" or "FAIL - imap_py/NAME: why" per check, and "INJECT" on a line
of its own when it is idling and wants the C side to deliver a new message to INBOX.
"""
import imaplib
import os
import re
import socket
import sys
import time

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
# stretches every timeout for a slow run (scripts/test-valgrind sets it)
SCALE = max(1.0, float(os.environ.get("SOTTO_TIME_SCALE") or 1))


def check(name, cond, detail=""):
    if cond:
        print("ok - imap_py/%s" % name, flush=True)
    else:
        print("FAIL - imap_py/%s: %s" % (name, str(detail)[:300]), flush=True)


def run(name, fn):
    try:
        fn()
    except Exception as e:  # an exception is a failed check, not a crash
        check(name, False, "%s: %s" % (type(e).__name__, e))


M = imaplib.IMAP4("127.0.0.1", port)
M.sock.settimeout(10 * SCALE)
check("capability", "IMAP4REV1" in M.capabilities and "IDLE" in M.capabilities
      and "AUTH=PLAIN" in M.capabilities, M.capabilities)

try:
    M.login(user, "wrong password")
    check("bad_login_refused", False, "accepted")
except imaplib.IMAP4.error as e:
    check("bad_login_refused", "AUTHENTICATIONFAILED" in str(e), e)

typ, _ = M.login(user, password)
check("login", typ == "OK")


def t_list():
    typ, data = M.list()
    names = b" ".join(data)
    check("list", typ == "OK" and all(n in names for n in
          [b'"INBOX"', b'"Sent"', b'"Drafts"', b'"Trash"']) and b"\\Sent" in names, data)
    typ, data = M.list('""', "Dr*")
    check("list_pattern", typ == "OK" and len(data) == 1 and b"Drafts" in data[0], data)
    typ, data = M.lsub()
    check("lsub", typ == "OK" and len(data) == 4, data)


run("list", t_list)


def t_select():
    typ, data = M.select("INBOX")
    check("select", typ == "OK" and data[0] == b"4", data)
    uv = M.untagged_responses.get("UIDVALIDITY", [None])[0]
    check("select_uidvalidity", uv == b"1000", uv)


run("select", t_select)


def t_fetch():
    typ, data = M.fetch("1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)")
    check("fetch_count", typ == "OK" and len(data) == 4, data)
    first = data[0] if isinstance(data[0], bytes) else data[0][0]
    check("fetch_envelope", b'"Hello Bob"' in first and
          b'("Alice Example" NIL "alice" "example.org")' in first, first)
    check("fetch_uid_flags", b"UID 1 " in first and b"FLAGS ()" in first, first)
    check("fetch_internaldate", b'INTERNALDATE " 1-Jan-2026 12:00:00 +0000"' in first, first)
    typ, data = M.fetch("2", "(BODYSTRUCTURE)")
    bs = data[0]
    check("fetch_bodystructure_mixed", b'"mixed"' in bs and b'"application" "pdf"' in bs
          and b'"attachment" ("filename" "report.pdf")' in bs, bs)
    typ, data = M.fetch("3", "(BODY)")
    check("fetch_body_nested", b'(("text" "plain"' in data[0] and b'"alternative")' in data[0],
          data)
    typ, data = M.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    check("fetch_header_fields", data[0][1] == b"Subject: Hello Bob\r\n\r\n", data)
    typ, data = M.fetch("1", "(BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT FROM TO DATE)])")
    check("fetch_header_fields_not", data[0][1].startswith(b"Message-ID:") and
          b"Subject" not in data[0][1], data)
    typ, data = M.fetch("1", "(BODY.PEEK[TEXT])")
    check("fetch_text", data[0][1] == b"Hi Bob,\r\nsee you soon.\r\n", data)
    typ, data = M.fetch("1", "(BODY.PEEK[]<0.8>)")
    check("fetch_partial", data[0][1] == b"From: Al" and b"BODY[]<0>" in data[0][0], data)
    typ, data = M.fetch("2", "(BODY.PEEK[2])")
    check("fetch_part_attachment", data[0][1] == b"JVBERi0xLjQK", data)
    typ, data = M.fetch("2", "(BODY.PEEK[2.MIME])")
    check("fetch_part_mime", data[0][1].startswith(b"Content-Type: application/pdf"), data)
    typ, data = M.fetch("3", "(BODY.PEEK[1.2])")
    check("fetch_nested_part", data[0][1] == b"<p>Hi</p>", data)
    typ, data = M.fetch("1", "(RFC822.HEADER)")
    check("fetch_rfc822_header", data[0][1].endswith(b"\r\n\r\n") and
          data[0][1].startswith(b"From:"), data)
    typ, data = M.fetch("1", "(FLAGS)")
    check("peek_keeps_unseen", b"\\Seen" not in data[0], data)
    typ, data = M.fetch("1", "(BODY[])")
    check("fetch_body_sets_seen", b"\\Seen" in data[0][0] + data[1] and
          data[0][1].startswith(b"From: Alice"), data)
    typ, data = M.uid("FETCH", "2", "(RFC822.SIZE)")
    check("uid_fetch", typ == "OK" and b"UID 2" in data[0] and b"RFC822.SIZE" in data[0], data)
    typ, data = M.fetch("4", "FAST")
    check("fetch_macro_fast", b"RFC822.SIZE" in data[0] and b"\\Seen" in data[0], data)
    typ, data = M.fetch("4", "FULL")
    check("fetch_macro_full", b"ENVELOPE" in data[0] and b"BODY (" in data[0], data)
    typ, data = M.fetch("4", "(RFC822)")
    check("fetch_rfc822", b"Old news" in data[0][1], data)


run("fetch", t_fetch)


def t_store_search():
    typ, data = M.store("2", "+FLAGS", "(\\Flagged)")
    check("store_add", typ == "OK" and b"\\Flagged" in data[0], data)
    typ, data = M.store("2", "-FLAGS.SILENT", "(\\Flagged)")
    check("store_silent", typ == "OK" and data == [None], data)
    M.store("3", "+FLAGS", "(\\Flagged \\Answered)")
    searches = [
        ("ALL", b"1 2 3 4"), ("SEEN", b"1 4"), ("UNSEEN", b"2 3"), ("FLAGGED", b"3"),
        ("UNFLAGGED", b"1 2 4"), ("ANSWERED", b"3"), ("DELETED", b""),
        ('FROM "alice"', b"1 2 3"), ('TO "bob@example.org"', b"1 2 3"),
        ('SUBJECT "hello"', b"1"), ('CC "carol"', b"2"), ('BODY "see you"', b"1"),
        ('TEXT "report.pdf"', b"2"), ('HEADER "X-Mailer" "sotto"', b"3"),
        ("LARGER 400", b"2 3"), ("SMALLER 400", b"1 4"),
        ("SINCE 1-Jan-2026", b"1 2 3"), ("BEFORE 1-Jan-2026", b"4"), ("ON 2-Jan-2026", b"2"),
        ("SENTBEFORE 1-Jan-2000", b"4"),
        ("NOT SEEN", b"2 3"), ("OR FLAGGED SEEN", b"1 3 4"), ("(SEEN FROM alice)", b"1"),
        ("UID 2:3", b"2 3"), ("2,4", b"2 4"), ("1:* NOT 1", b"2 3 4"),
        ("CHARSET UTF-8 SUBJECT news", b"4"),
    ]
    for key, want in searches:
        typ, data = M.search(None, key)
        check("search %s" % key, typ == "OK" and data[0] == want, data)
    typ, data = M.uid("SEARCH", "FLAGGED")
    check("uid_search", typ == "OK" and data[0] == b"3", data)
    typ, data = M.search("KOI8-R", "ALL")
    check("search_badcharset", typ == "NO" and b"BADCHARSET" in data[0], data)


run("store_search", t_store_search)


def t_copy_append():
    typ, data = M.copy("1:2", "Trash")
    check("copy", typ == "OK", data)
    check("copyuid", b"COPYUID 1003 1:2 1:2" in (data[0] or b""), data)
    typ, data = M.status("Trash", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
    check("status", typ == "OK" and b"MESSAGES 2" in data[0] and b"UIDNEXT 3" in data[0]
          and b"UIDVALIDITY 1003" in data[0] and b"UNSEEN 1" in data[0], data)
    msg = (b"From: Bob <bob@example.org>\r\nTo: Alice <alice@example.org>\r\n"
           b"Subject: Draft reply\r\n\r\nNot finished \xc3\xa9\r\n")
    typ, data = M.append("Drafts", "(\\Draft)", '"05-Mar-2026 10:00:00 +0100"', msg)
    check("append", typ == "OK" and b"APPENDUID 1002 1" in data[0], data)
    M.select("Drafts", readonly=True)
    typ, data = M.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
    check("append_stored", data[0][1] == msg and b"\\Draft" in data[0][0] and
          b" 5-Mar-2026 09:00:00 +0000" in data[0][0], data)
    typ, data = M.store("1", "+FLAGS", "(\\Seen)")
    check("examine_readonly", typ == "NO" and b"READ-ONLY" in data[0], data)
    typ, data = M.append("Nowhere", None, None, b"Subject: x\r\n\r\ny\r\n")
    check("append_trycreate", typ == "NO" and b"TRYCREATE" in data[0], data)
    M.select("INBOX")


run("copy_append", t_copy_append)


def t_expunge():
    M.store("4", "+FLAGS", "(\\Deleted)")
    typ, data = M.expunge()
    check("expunge", typ == "OK" and data == [b"4"], data)
    typ, data = M.select("INBOX")
    check("expunge_gone", data[0] == b"3", data)
    typ, data = M.uid("FETCH", "1:*", "(UID)")
    uids = [re.search(rb"UID (\d+)", d).group(1) for d in data]
    check("uids_kept", uids == [b"1", b"2", b"3"], data)


run("expunge", t_expunge)


def t_idle():
    tag = M._new_tag()
    M.send(tag + b" IDLE\r\n")
    line = M.readline()
    check("idle_continuation", line.startswith(b"+"), line)
    print("INJECT", flush=True)
    got = b""
    deadline = time.time() + 8
    while time.time() < deadline and b"EXISTS" not in got:
        got += M.readline()
    check("idle_sees_new_mail", b"* 4 EXISTS" in got, got)
    M.send(b"DONE\r\n")
    line = M.readline()
    check("idle_done", line.startswith(tag + b" OK"), line)
    typ, data = M.fetch("4", "(ENVELOPE)")
    check("idle_new_mail_fetch", b"Pushed" in data[0], data)


run("idle", t_idle)


def t_malformed():
    for cmd, want in [(b"X1 FOO", b"X1 BAD"), (b"X2 FETCH", b"X2 BAD"),
                      (b"X3 FETCH 1 (BODY[1.2.x])", b"X3 BAD"), (b"X4 FETCH 99 FLAGS", b"X4 BAD"),
                      (b"X5 SEARCH FROM", b"X5 BAD"), (b"X6 STORE 1 FLAGS (\\Bogus)", b"X6 BAD"),
                      (b"X7 SELECT", b"X7 BAD"), (b"(", b"* BAD")]:
        M.send(cmd + b"\r\n")
        line = M.readline()
        check("malformed %s" % cmd.decode(), line.startswith(want), line)
    M.send(b"X8 LOGIN {5+}\r\nalice\r\n")
    line = M.readline()
    check("malformed login when authenticated", line.startswith(b"X8 BAD"), line)
    typ, _ = M.noop()
    check("usable_after_errors", typ == "OK")


run("malformed", t_malformed)


def t_logout():
    typ, data = M.select("INBOX")   # the failed SELECT above left no mailbox selected
    check("failed_select_deselects", typ == "OK", data)
    M.close()
    typ, data = M.logout()
    check("logout", typ == "BYE", (typ, data))


run("logout", t_logout)

# AUTHENTICATE PLAIN and literals in LOGIN, on a second connection
def t_auth_plain():
    N = imaplib.IMAP4("127.0.0.1", port)
    N.sock.settimeout(10 * SCALE)
    typ, _ = N.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (user, password)).encode())
    check("authenticate_plain", typ == "OK")
    typ, data = N.select("Sent")
    check("select_empty", typ == "OK" and data[0] == b"0", data)
    N.logout()
    N = imaplib.IMAP4("127.0.0.1", port)
    N.sock.settimeout(10 * SCALE)
    N.literal = password.encode()
    typ, _ = N._simple_command("LOGIN", user)
    check("login_with_literal", typ == "OK")
    N.logout()


run("auth_plain", t_auth_plain)


def raw_exchange(N, lines):
    """Sends each (command, expected start of the tagged answer); checks the answers."""
    for cmd, want in lines:
        N.send(cmd + b"\r\n")
        line = N.readline()
        check("state %s" % cmd.decode(), line.startswith(want), line)


def t_command_states():
    """Issue 18 item 12: an unknown command is BAD "Unknown command" in every state
    (RFC 3501), a known one in the wrong state gets a BAD that says what it needs, and
    STARTTLS (not offered: loopback only) a BAD that says so."""
    N = imaplib.IMAP4("127.0.0.1", port)
    N.sock.settimeout(10 * SCALE)
    raw_exchange(N, [
        (b"S1 FOO", b"S1 BAD Unknown command FOO"),
        (b"S2 SELECT INBOX", b"S2 BAD Log in first"),
        (b"S3 FETCH 1 FLAGS", b"S3 BAD Log in first"),
        (b"S4 UID BOGUS 1", b"S4 BAD Unknown command UID BOGUS"),
        (b"S5 STARTTLS", b"S5 BAD STARTTLS is not available"),
    ])
    typ, _ = N.login(user, password)
    check("state_login_after_errors", typ == "OK")
    raw_exchange(N, [
        (b"S6 FOO", b"S6 BAD Unknown command FOO"),
        (b"S7 FETCH 1 FLAGS", b"S7 BAD No mailbox selected"),
        (b"S8 UID SEARCH ALL", b"S8 BAD No mailbox selected"),
        (b"S9 CHECK", b"S9 BAD No mailbox selected"),
        (b"S10 LOGIN a b", b"S10 BAD Already logged in"),
        (b"S11 NOOP extra", b"S11 BAD Invalid arguments"),
    ])
    typ, _ = N.noop()
    check("state_usable_after_errors", typ == "OK")
    N.logout()


run("command_states", t_command_states)


def t_search_charset_utf8():
    """Issue 18 item 12: SEARCH CHARSET UTF-8 finds non-ASCII words in an RFC 2047 subject
    (B and Q) and in a quoted-printable body, as a mail program sends the search."""
    N = imaplib.IMAP4("127.0.0.1", port)
    N.sock.settimeout(10 * SCALE)
    N.login(user, password)
    msg = (b"From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.org>\r\n"
           b"Subject: =?UTF-8?B?w4RwZmVs?= und =?ISO-8859-1?Q?Birnen_f=FCr_Dich?=\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
           b"Sch=C3=B6ne Gr=C3=BC=C3=9Fe\r\n")
    typ, data = N.append("Drafts", None, None, msg)
    check("search_utf8_append", typ == "OK", data)
    N.select("Drafts", readonly=True)
    found = {}
    for key, word in [("SUBJECT", "äpfel"), ("SUBJECT", "für dich"), ("FROM", "Jürgen"),
                      ("BODY", "grüße"), ("TEXT", "SCHÖNE"), ("BODY", "äpfel")]:
        N.literal = word.encode()
        typ, data = N.uid("SEARCH", "CHARSET", "UTF-8", key)
        found[(key, word)] = typ == "OK" and len(data[0].split()) > 0
    want = {k: k != ("BODY", "äpfel") for k in found}
    check("search_utf8_decoded", found == want, found)
    N.logout()


run("search_charset_utf8", t_search_charset_utf8)
