/*
 * A received mail is stored once (issue 14): its parts wait in mail_parts, the whole mail
 * becomes one history entry and INBOX refers to it, in one transaction; a duplicate is
 * dropped; COPY keeps the reference and the last EXPUNGE takes the history entry with it.
 * And the fold of a schema 4 store: parts leave the history, the bridge's copies in the
 * folders become references with their UIDs, flags and UIDVALIDITY kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "bridge/auth.h"
#include "check.h"
#include "imap/imap_server.h"
#include "store_schema4.h"
#include "uvthread.h"
#include "client/client_int.h"
#include "client/store.h"
#include "mail/mail_content.h"
#include "mail/mail_sender.h"
#include "mail/mailstore_store.h"

#define PASS "correct horse battery staple"
#define PASS_LEN (sizeof(PASS) - 1)
#define PEER "alice@x.org"

static char root[64], home[128], dbpath[160];

static struct store *
create_store(void)
{
	struct store *st = NULL;

	strcpy(root, "/tmp/sotto-mailonce-XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
	snprintf(home, sizeof(home), "%s/home", root);
	snprintf(dbpath, sizeof(dbpath), "%s/" STORE_FILE_NAME, home);
	if (store_create(home, (const uint8_t *)PASS, PASS_LEN, STORE_KDF_TEST_MIN, &st) != 0)
		return NULL;
	return st;
}

static void
remove_home(void)
{
	static const char *const names[] = { "", "-wal", "-shm", "-journal" };
	char p[200];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", dbpath, names[i]);
		(void)unlink(p);
	}
	(void)rmdir(home);
	(void)rmdir(root);
}

static int
raw_exec(const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* The one integer sql selects, or -1. */
static int64_t
raw_int(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* ---- the folded store served over IMAP, read by Python's imaplib ---- */

#define IMAP_USER "bob@x.org"
#define IMAP_PASS "imap password"

static struct uvthread ut;
static struct mailstore ims;
static struct imap_server *isrv;
static struct bridge_auth *iauth;
static uint16_t iport;
static int istart_rc;

static void
imap_start(void *arg)
{
	char hash[BRIDGE_AUTH_HASH_BYTES], why[128];
	struct bridge_auth_config ac = { .user = IMAP_USER, .pw_hash = hash };
	struct imap_server_config cfg;

	(void)arg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.imap.literal_max = 1 << 20;
	istart_rc = bridge_auth_hash_password(IMAP_PASS, strlen(IMAP_PASS),
	    crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, hash);
	if (istart_rc == 0)
		istart_rc = bridge_auth_new(&iauth, &ut.loop, &ac);
	cfg.auth = iauth;
	if (istart_rc == 0)
		istart_rc = imap_server_start(&isrv, &ut.loop, &ims, &cfg, why, sizeof(why));
	if (istart_rc == 0)
		iport = imap_server_port(isrv);
}

static void
imap_stop(void *arg)
{
	(void)arg;
	imap_server_stop(isrv, NULL, NULL);
	bridge_auth_free(iauth);
}

/* What imaplib sees of INBOX: "UIDVALIDITY n" and one "uid flags size" line per mail. */
static int
imap_view(struct store *st, char *out, size_t cap)
{
	char cmd[1024];
	size_t n = 0;
	FILE *f;
	int r = -1;

	out[0] = '\0';
	if (mailstore_store_open(&ims, st, 0) != 0 || uvthread_start(&ut) != 0)
		return -1;
	uvthread_call(&ut, imap_start, NULL);
	if (istart_rc == 0) {
		snprintf(cmd, sizeof(cmd), "python3 -c '"
		    "import imaplib, re\n"
		    "M = imaplib.IMAP4(\"127.0.0.1\", %u)\n"
		    "M.login(\"" IMAP_USER "\", \"" IMAP_PASS "\")\n"
		    "t, d = M.status(\"INBOX\", \"(UIDVALIDITY MESSAGES)\")\n"
		    "print(d[0].decode())\n"
		    "M.select(\"INBOX\")\n"
		    "t, d = M.uid(\"FETCH\", \"1:*\", \"(FLAGS RFC822.SIZE)\")\n"
		    "for x in d:\n"
		    "    x = x.decode()\n"
		    "    print(re.search(r\"UID (\\d+)\", x).group(1),"
		    " re.search(r\"FLAGS \\(([^)]*)\\)\", x).group(1) or \"-\","
		    " re.search(r\"RFC822.SIZE (\\d+)\", x).group(1))\n"
		    "M.logout()' 2>&1", iport);
		if ((f = popen(cmd, "r")) != NULL) {
			while (n + 1 < cap && fgets(out + n, (int)(cap - n), f) != NULL)
				n += strlen(out + n);
			r = pclose(f) == 0 ? 0 : -1;
		}
		uvthread_call(&ut, imap_stop, NULL);
	}
	uvthread_stop(&ut);
	mailstore_destroy(&ims);
	return r;
}

/* A mail of about len bytes from `from`, its bytes depending on seed. */
static uint8_t *
make_mail(const char *from, const char *subject, size_t len, unsigned seed, size_t *out_len)
{
	uint8_t *m = malloc(len + 256);
	int n;

	if (m == NULL)
		abort();
	n = snprintf((char *)m, 256, "From: %s\r\nTo: bob@x.org\r\nSubject: %s\r\n\r\n", from,
	    subject);
	for (size_t i = (size_t)n; i < len; i++)
		m[i] = (i % 78 == 77) ? '\n' : (uint8_t)('a' + (i * 7 + seed) % 26);
	*out_len = len;
	return m;
}

/* The history entry a received part would be (what receive.c passes). */
static void
part_message(struct store_message *m, const uint8_t *part, size_t len, uint64_t t)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->peer, PEER);
	randombytes_buf(m->id, sizeof(m->id));
	m->dir = STORE_DIR_IN;
	m->type = STORE_MSG_MAIL;
	m->seq = t;
	m->server_time = t;
	m->local_time = t;
	m->body = (uint8_t *)(uintptr_t)part;
	m->body_len = len;
}

/* Receives part i of mail (id) as receive.c does, in a transaction; the result of
 * client_mail_receive. */
static uint64_t clock_now = 1000;        /* local_time of the next part received */

static int
receive_part(struct store *st, const uint8_t id[MAIL_CONTENT_ID_LEN], const uint8_t *mail,
    size_t len, uint32_t i, struct client_mail_in *in)
{
	struct store_message m;
	struct buf part;
	int r;

	buf_init_dyn(&part, SOTTO_TEXT_MAX);
	if ((r = mail_content_part(id, mail, len, i, &part)) != 0)
		goto out;
	part_message(&m, part.p, part.len, clock_now + i);
	if ((r = store_begin(st)) != 0)
		goto out;
	r = client_mail_receive(st, &m, NULL, in);
	if (r >= 0 && store_commit(st) != 0)
		r = -1000;
	if (r < 0)
		store_rollback(st);
out:
	buf_free(&part);
	return r;
}

/* Appends the parts of mail as history entries, as a schema 4 client stored them; the
 * row of the last one. */
static int64_t
legacy_parts(struct store *st, const uint8_t id[MAIL_CONTENT_ID_LEN], const uint8_t *mail,
    size_t len, uint32_t from, uint32_t to)
{
	struct store_message m;
	struct buf part;
	int64_t row = -1;

	buf_init_dyn(&part, SOTTO_TEXT_MAX);
	for (uint32_t i = from; i < to; i++) {
		if (mail_content_part(id, mail, len, i, &part) != 0)
			return -1;
		part_message(&m, part.p, part.len, 2000 + i);
		if (store_message_add_row(st, &m, &row) != 0)
			row = -1;
	}
	buf_free(&part);
	return row;
}

static size_t
history_mails(struct store *st)
{
	struct store_message_list l;
	size_t n = 0;

	if (store_message_list(st, NULL, 0, 0, &l) != 0)
		return (size_t)-1;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].type == STORE_MSG_MAIL)
			n++;
	store_message_list_free(&l);
	return n;
}

/* 1 if mail uid of folder holds exactly want (and *flags gets its flags). */
static int
mail_is(struct store *st, int64_t folder, uint32_t uid, const uint8_t *want, size_t len,
    uint32_t *flags)
{
	struct store_mail meta;
	uint8_t *b = NULL;
	size_t n = 0;
	int ok;

	if (store_mail_get(st, folder, uid, &meta, &b, &n) != 0)
		return 0;
	ok = n == len && meta.size == len && memcmp(b, want, len) == 0;
	if (flags != NULL)
		*flags = meta.flags;
	store_blob_free(b, n);
	return ok;
}

TEST(mail_is_stored_once_in_inbox)
{
	struct store *st = create_store();
	struct client_mail_in in;
	struct store_folder inbox, trash;
	struct store_mail_list ml;
	uint8_t id[MAIL_CONTENT_ID_LEN], *mail;
	uint32_t count = 0, uid = 0, *gone = NULL;
	size_t len, ngone = 0;

	REQUIRE(st != NULL);
	mail = make_mail(PEER, "three parts", 2 * MAIL_CONTENT_CHUNK + 500, 1, &len);
	randombytes_buf(id, sizeof(id));
	REQUIRE(mail_content_count(len, &count) == 0 && count == 3);
	/* out of order; nothing shows until the last part */
	CHECK_EQ_INT(receive_part(st, id, mail, len, 2, &in), 0);
	CHECK_EQ_INT(receive_part(st, id, mail, len, 0, &in), 0);
	CHECK_EQ_INT((int)history_mails(st), 0);
	CHECK_EQ_INT((int)raw_int("SELECT count(*) FROM mail_parts"), 2);
	CHECK_EQ_INT(receive_part(st, id, mail, len, 1, &in), 1);
	CHECK(in.len == len && memcmp(in.body, mail, len) == 0);
	client_mail_in_free(&in);
	/* one history entry, one INBOX row referring to it, no part left */
	CHECK_EQ_INT((int)history_mails(st), 1);
	CHECK_EQ_INT((int)raw_int("SELECT count(*) FROM mail_parts"), 0);
	REQUIRE(store_folder_get(st, "INBOX", &inbox) == 0);
	CHECK(mail_is(st, inbox.id, 1, mail, len, NULL));
	CHECK_EQ_INT((int)raw_int("SELECT count(*) FROM mail WHERE msg IS NOT NULL"), 1);
	/* the bytes are in the history entry only: the folder row seals nothing but itself */
	CHECK(raw_int("SELECT max(length(rec)) FROM mail") < 100);
	/* the same mail again (a sender's retry, new part ids): dropped */
	CHECK_EQ_INT(receive_part(st, id, mail, len, 0, &in), 0);
	CHECK_EQ_INT(receive_part(st, id, mail, len, 1, &in), 0);
	CHECK_EQ_INT(receive_part(st, id, mail, len, 2, &in), 0);
	CHECK_EQ_INT((int)history_mails(st), 1);
	REQUIRE(store_mail_list(st, inbox.id, &ml) == 0);
	CHECK_EQ_INT((int)ml.n, 1);
	store_mail_list_free(&ml);
	/* moved to Trash (COPY + EXPUNGE): still one copy, the history keeps it */
	REQUIRE(store_folder_ensure(st, "Trash", &trash.id) == 0);
	CHECK_EQ_INT(store_mail_copy(st, inbox.id, 1, trash.id, &uid), 0);
	CHECK_EQ_INT(uid, 1);
	CHECK(mail_is(st, trash.id, 1, mail, len, NULL));
	CHECK_EQ_INT(store_mail_set_flags(st, inbox.id, 1, STORE_MAIL_DELETED), 0);
	CHECK_EQ_INT(store_mail_expunge(st, inbox.id, &gone, &ngone), 0);
	CHECK(ngone == 1 && gone[0] == 1);
	free(gone);
	CHECK_EQ_INT((int)history_mails(st), 1);
	CHECK(mail_is(st, trash.id, 1, mail, len, NULL));
	/* deleted from its last folder: gone from the history too */
	CHECK_EQ_INT(store_mail_set_flags(st, trash.id, 1, STORE_MAIL_DELETED), 0);
	CHECK_EQ_INT(store_mail_expunge(st, trash.id, NULL, NULL), 0);
	CHECK_EQ_INT((int)history_mails(st), 0);
	free(mail);
	store_close(st);
	remove_home();
}

/* A mail whose From: claims someone else is filed rewritten (mail_sender.h), once. */
TEST(mail_from_other_sender_is_rewritten)
{
	struct store *st = create_store();
	struct client_mail_in in;
	struct store_folder inbox;
	uint8_t id[MAIL_CONTENT_ID_LEN], *mail;
	size_t len;

	REQUIRE(st != NULL);
	mail = make_mail("mallory@evil.example", "claims", 300, 2, &len);
	randombytes_buf(id, sizeof(id));
	CHECK_EQ_INT(receive_part(st, id, mail, len, 0, &in), 1);
	CHECK(in.claimed_other && in.len > len);
	CHECK(memmem(in.body, in.len, "X-Sotto-Claimed-From", 20) != NULL);
	REQUIRE(store_folder_get(st, "INBOX", &inbox) == 0);
	CHECK(mail_is(st, inbox.id, 1, in.body, in.len, NULL));
	client_mail_in_free(&in);
	free(mail);
	store_close(st);
	remove_home();
}

/*
 * A schema 4 store as the old bridge left it: A (3 parts) and B (1 part, a claimed
 * sender) filed in INBOX with flags; E filed and then deleted by the user; C complete but
 * never filed; D with one part of two. After the upgrade: one history entry per mail, the
 * INBOX rows of A and B refer to theirs under the same UIDs and flags, C is new in INBOX,
 * E is in the history only, D waits in mail_parts and completes like a new mail.
 */
TEST(mail_fold_schema_4)
{
	struct store *st = create_store();
	struct client_mail_in in;
	struct store_folder inbox, after;
	struct mail_progress *prog = calloc(1, sizeof(*prog));
	struct buf enc, bfix;
	uint8_t ida[16], idb[16], idc[16], idd[16], ide[16];
	uint8_t *a, *b, *c, *d, *e;
	size_t la, lb, lc, ld, le;
	uint32_t uid = 0, flags = 0;
	int64_t row_b;
	int rewritten = 0;

	REQUIRE(st != NULL && prog != NULL);
	a = make_mail(PEER, "A", 2 * MAIL_CONTENT_CHUNK + 10, 3, &la);
	b = make_mail("mallory@evil.example", "B", 700, 4, &lb);
	c = make_mail(PEER, "C", MAIL_CONTENT_CHUNK + 10, 5, &lc);
	d = make_mail(PEER, "D", MAIL_CONTENT_CHUNK + 20, 6, &ld);
	e = make_mail(PEER, "E", 900, 7, &le);
	randombytes_buf(ida, 16);
	randombytes_buf(idb, 16);
	randombytes_buf(idc, 16);
	randombytes_buf(idd, 16);
	randombytes_buf(ide, 16);
	REQUIRE(store_folder_create(st, "INBOX", 4242, &inbox) == 0);
	/* the history as parts */
	REQUIRE(legacy_parts(st, ide, e, le, 0, 1) > 0);
	REQUIRE(legacy_parts(st, ida, a, la, 0, 3) > 0);
	REQUIRE((row_b = legacy_parts(st, idb, b, lb, 0, 1)) > 0);
	REQUIRE(legacy_parts(st, idd, d, ld, 0, 1) > 0);
	REQUIRE(legacy_parts(st, idc, c, lc, 0, 2) > 0);
	/* the bridge's copies: A as it was, B rewritten, each with flags */
	REQUIRE(store_mail_append(st, inbox.id, STORE_MAIL_SEEN, 5, a, la, &uid) == 0 && uid == 1);
	buf_init_dyn(&bfix, lb + MAIL_SENDER_GROWTH);
	REQUIRE(mail_sender_rewrite(b, lb, PEER, &bfix, &rewritten) == 0 && rewritten);
	REQUIRE(store_mail_append(st, inbox.id, STORE_MAIL_FLAGGED, 6, bfix.p, bfix.len,
	    &uid) == 0 && uid == 2);
	/* the bridge's progress: everything up to B filed (D was pending, so row stops
	 * before it), E among the ids */
	prog->row = row_b;
	mail_progress_add(prog, ide);
	mail_progress_add(prog, ida);
	mail_progress_add(prog, idb);
	buf_init_dyn(&enc, 16 + MAIL_DONE_MAX * MAIL_CONTENT_ID_LEN);
	REQUIRE(mail_progress_encode(prog, &enc) == 0);
	REQUIRE(store_setting_put(st, MAIL_PROGRESS_SETTING, enc.p, enc.len) == 0);
	buf_free(&enc);
	CHECK_EQ_INT((int)history_mails(st), 8);
	store_close(st);
	st = NULL;
	REQUIRE(raw_exec(STORE_TEST_TO_SCHEMA_4) == 0);

	REQUIRE(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st) == 0);
	CHECK_EQ_INT((int)raw_int("PRAGMA user_version"), 5);
	/* A, B, C, E: one entry each; D's part waits */
	CHECK_EQ_INT((int)history_mails(st), 4);
	CHECK_EQ_INT((int)raw_int("SELECT count(*) FROM mail_parts"), 1);
	REQUIRE(store_folder_get(st, "INBOX", &after) == 0);
	CHECK_EQ_INT((int)after.uidvalidity, 4242);
	CHECK(mail_is(st, after.id, 1, a, la, &flags));
	CHECK_EQ_INT((int)flags, STORE_MAIL_SEEN);
	CHECK(mail_is(st, after.id, 2, bfix.p, bfix.len, &flags));
	CHECK_EQ_INT((int)flags, STORE_MAIL_FLAGGED);
	CHECK(mail_is(st, after.id, 3, c, lc, NULL));
	CHECK_EQ_INT((int)after.count, 3);
	/* what a mail program sees over IMAP: the same UIDVALIDITY, UIDs and flags, each
	 * mail once */
	{
		char view[1024], want[512];

		CHECK_EQ_INT(imap_view(st, view, sizeof(view)), 0);
		snprintf(want, sizeof(want), "\"INBOX\" (UIDVALIDITY 4242 MESSAGES 3)\n"
		    "1 \\Seen %zu\n2 \\Flagged %zu\n3 - %zu\n", la, bfix.len, lc);
		CHECK(strcmp(view, want) == 0);
		if (strcmp(view, want) != 0)
			printf("     | imaplib saw:\n%s     | wanted:\n%s", view, want);
	}
	/* every folder row refers to a history entry: no second copy */
	CHECK_EQ_INT((int)raw_int("SELECT count(*) FROM mail WHERE msg IS NULL"), 0);
	CHECK(raw_int("SELECT max(length(rec)) FROM mail") < 100);
	{
		uint8_t *v = NULL;
		size_t vlen = 0;

		CHECK_EQ_INT(store_setting_get(st, MAIL_PROGRESS_SETTING, &v, &vlen),
		    SOTTO_ERR_NOT_FOUND);
	}
	/* D's second part completes it as a new mail */
	CHECK_EQ_INT(receive_part(st, idd, d, ld, 1, &in), 1);
	client_mail_in_free(&in);
	CHECK(mail_is(st, after.id, 4, d, ld, NULL));
	CHECK_EQ_INT((int)history_mails(st), 5);
	/* and a part of A sent again is no new mail */
	CHECK_EQ_INT(receive_part(st, ida, a, la, 0, &in), 0);
	CHECK_EQ_INT((int)raw_int("SELECT count(*) FROM mail_parts"), 0);
	buf_wipe_free(&bfix);
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);
	free(prog);
	store_close(st);
	remove_home();
}

/* A mail whose sender gave up (a part a day old, the rest never came) is dropped when
 * the next part of any mail arrives; a younger one waits on. */
TEST(mail_parts_left_a_day_are_dropped)
{
	struct store *st = create_store();
	struct client_mail_in in;
	uint8_t a[MAIL_CONTENT_ID_LEN], b[MAIL_CONTENT_ID_LEN], *mail;
	size_t len;

	REQUIRE(st != NULL);
	mail = make_mail(PEER, "half", MAIL_CONTENT_CHUNK + 10, 8, &len);
	randombytes_buf(a, sizeof(a));
	randombytes_buf(b, sizeof(b));
	clock_now = 1000;
	CHECK_EQ_INT(receive_part(st, a, mail, len, 0, &in), 0);
	clock_now = 1000 + 86400;
	CHECK_EQ_INT(receive_part(st, b, mail, len, 0, &in), 0);
	CHECK_EQ_INT((int)raw_int("SELECT count(*) FROM mail_parts"), 2);
	clock_now = 1000 + 86400 + 2;
	CHECK_EQ_INT(receive_part(st, b, mail, len, 1, &in), 1);      /* b completes */
	client_mail_in_free(&in);
	/* a's part, older than a day, went; b's parts went with b */
	CHECK_EQ_INT((int)raw_int("SELECT count(*) FROM mail_parts"), 0);
	/* a's last part alone is no mail now */
	CHECK_EQ_INT(receive_part(st, a, mail, len, 1, &in), 0);
	CHECK_EQ_INT((int)raw_int("SELECT count(*) FROM mail_parts"), 1);
	CHECK_EQ_INT((int)history_mails(st), 1);
	clock_now = 1000;
	free(mail);
	store_close(st);
	remove_home();
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(mail_is_stored_once_in_inbox);
	RUN(mail_from_other_sender_is_rewritten);
	RUN(mail_fold_schema_4);
	RUN(mail_parts_left_a_day_are_dropped);
	return check_summary();
}
