/*
 * libsotto's file transfers against a real sottod (sotto/file.h): a file sent 1:1 arrives
 * byte for byte; an upload and a download cut by a dropped connection continue where they
 * stopped when called again (the first progress report of the second call is past 0);
 * a download whose ciphertext was changed is refused and nothing is kept; a received name
 * never replaces a file; the history shows a file by its caption, never its key.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "client/client_int.h"
#include "sotto/file.h"
#include "sotto/sotto.h"
#include "sottod_proc.h"
#include "waitfor.h"
#include "wire/msgid.h"

#define FILE_BYTES (700u * 1024 + 123)  /* several chunks, not a multiple of one */

static struct sottod_proc sp;
static char root[200];

static struct sotto *
user(const char *name)
{
	char home[300], addr[64];
	struct sotto *s = NULL;

	snprintf(home, sizeof(home), "%s/%s", root, name);
	snprintf(addr, sizeof(addr), "%s@localhost", name);
	if (sotto_create(&s, home, (const uint8_t *)"pw", 2, SOTTO_KDF_MIN) != 0)
		return NULL;
	if (sotto_init(s, addr, sp.address, NULL, 5000) != 0) {
		sotto_close(s);
		return NULL;
	}
	sotto_set_auto_receipts(s, 0);
	return s;
}

/* A progress watcher: records the first report and drops the connection once `cut`
 * bytes have moved (0: never). */
struct watch {
	struct sotto *s;
	uint64_t cut, first, last;
	int calls;
};

static void
on_progress(void *ctx, const struct sotto_progress *p)
{
	struct watch *w = ctx;

	if (w->calls++ == 0)
		w->first = p->done;
	w->last = p->done;
	if (w->cut != 0 && p->done >= w->cut && p->done < p->total) {
		w->cut = 0;
		sotto_disconnect(w->s);
	}
}

static void
write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return;
	if (fwrite(p, 1, n, f) != n)
		fprintf(stderr, "short write %s\n", path);
	fclose(f);
}

static int
same_file(const char *path, const uint8_t *p, size_t n)
{
	uint8_t *got = malloc(n + 1);
	FILE *f = fopen(path, "rb");
	size_t k = 0;
	int same;

	if (f != NULL) {
		k = fread(got, 1, n + 1, f);
		fclose(f);
	}
	same = f != NULL && k == n && memcmp(got, p, n) == 0;
	free(got);
	return same;
}

struct inbox {
	struct sotto *s;
	int files;
	uint8_t id[SOTTO_ID_LEN];
};

static void
on_event(void *ctx, const struct sotto_event *ev)
{
	struct inbox *in = ctx;

	if (ev->type == SOTTO_EVENT_MESSAGE && ev->content == SOTTO_CONTENT_FILE) {
		in->files++;
		memcpy(in->id, ev->id, SOTTO_ID_LEN);
	}
}

static int
got_file(void *arg)
{
	struct inbox *in = arg;

	if (sotto_fd(in->s) < 0 && sotto_connect(in->s, 2000) != 0)
		return 0;
	if (sotto_poll(in->s, 200, on_event, in) < 0)
		return 0;
	return in->files > 0;
}

/* Files in dir whose names start with prefix. */
static int
count_files(const char *dir, const char *prefix)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static uint8_t *data;
static struct sotto *alice, *bob;

TEST(upload_and_download_resume_after_a_dropped_connection)
{
	struct watch w = { 0 };
	struct inbox in = { 0 };
	struct sotto_file f;
	uint8_t id[SOTTO_ID_LEN], (*pending)[SOTTO_ID_LEN] = NULL;
	char src[300], dir[300], path[SOTTO_FILE_PATH_MAX], again[SOTTO_FILE_PATH_MAX];
	size_t n = 9;

	snprintf(src, sizeof(src), "%s/report.pdf", root);
	snprintf(dir, sizeof(dir), "%s/saved", root);
	write_file(src, data, FILE_BYTES);
	w.s = alice;
	w.cut = 200 * 1024;
	CHECK(sotto_send_file(alice, "bob@localhost", src, NULL, 0, on_progress, &w, id) != 0);
	CHECK(w.last >= 200 * 1024);
	memset(&w, 0, sizeof(w));
	w.s = alice;
	REQUIRE(sotto_send_file(alice, "bob@localhost", src, "the report", 10, on_progress, &w,
	    id) == 0);
	CHECK(w.first >= 200 * 1024);   /* continued, not started again */
	CHECK(w.last == w.first || w.last > w.first);

	in.s = bob;
	REQUIRE(wait_until(got_file, &in, 10000));
	CHECK_EQ_INT(in.files, 1);
	CHECK_MEM(in.id, id, SOTTO_ID_LEN);
	REQUIRE(sotto_files_pending(bob, &pending, &n) == 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
		CHECK_MEM(pending[0], id, SOTTO_ID_LEN);
	free(pending);
	REQUIRE(sotto_file_info(bob, id, &f) == 0);
	CHECK(strcmp(f.name, "report.pdf") == 0);
	CHECK(strcmp(f.type, "application/pdf") == 0);
	CHECK_EQ_INT(f.size, FILE_BYTES);
	CHECK(f.path[0] == '\0');

	memset(&w, 0, sizeof(w));
	w.s = bob;
	w.cut = 300 * 1024;
	CHECK(sotto_file_fetch(bob, id, dir, on_progress, &w, path, sizeof(path)) != 0);
	CHECK_EQ_INT(count_files(dir, "report"), 0);    /* nothing shown before it is whole */
	memset(&w, 0, sizeof(w));
	w.s = bob;
	REQUIRE(sotto_file_fetch(bob, id, dir, on_progress, &w, path, sizeof(path)) == 0);
	CHECK(w.first >= 300 * 1024);
	CHECK(same_file(path, data, FILE_BYTES));
	snprintf(again, sizeof(again), "%s/report.pdf", dir);
	CHECK(strcmp(path, again) == 0);
	/* fetched: off the pending list, and a second fetch names the same file */
	REQUIRE(sotto_files_pending(bob, &pending, &n) == 0);
	CHECK_EQ_INT(n, 0);
	free(pending);
	REQUIRE(sotto_file_fetch(bob, id, dir, NULL, NULL, again, sizeof(again)) == 0);
	CHECK(strcmp(path, again) == 0);
	CHECK_EQ_INT(count_files(dir, "report"), 1);
	CHECK_EQ_INT(count_files(dir, ".sotto-file-"), 0);
}

/* The history shows a file by its caption and sotto_file_info, never the content's key. */
TEST(history_shows_the_caption_not_the_content)
{
	struct sotto_message *v = NULL;
	struct sotto_file f;
	size_t n = 0, i, files = 0;

	REQUIRE(sotto_history(alice, "bob@localhost", 0, 100, &v, &n) == 0);
	for (i = 0; i < n; i++) {
		if (v[i].content != SOTTO_CONTENT_FILE)
			continue;
		files++;
		CHECK_EQ_INT(v[i].dir, SOTTO_OUT);
		CHECK_EQ_INT(v[i].body_len, 10);
		CHECK(strcmp((const char *)v[i].body, "the report") == 0);
		REQUIRE(sotto_file_info(alice, v[i].id, &f) == 0);
		CHECK(strcmp(f.name, "report.pdf") == 0);
		CHECK(f.path[0] == '\0');
	}
	CHECK_EQ_INT(files, 1);
	sotto_history_free(v, n);
}

/* The .part file changed under the download: refused, nothing kept, and the next call
 * downloads the blob again and succeeds. Two files of one name: "name (1)". */
TEST(changed_ciphertext_refused_and_names_never_replace)
{
	struct watch w = { 0 };
	struct inbox in = { 0 };
	uint8_t id[SOTTO_ID_LEN];
	char src[300], dir[300], part[400], hex[2 * SOTTO_ID_LEN + 1];
	char path[SOTTO_FILE_PATH_MAX], first[SOTTO_FILE_PATH_MAX];
	uint8_t b;
	int fd, r;

	snprintf(src, sizeof(src), "%s/report.pdf", root);
	snprintf(dir, sizeof(dir), "%s/saved", root);
	/* the same name, other bytes */
	data[0] ^= 1;
	write_file(src, data, FILE_BYTES);
	REQUIRE(sotto_send_file(alice, "bob@localhost", src, NULL, 0, NULL, NULL, id) == 0);
	in.s = bob;
	REQUIRE(wait_until(got_file, &in, 10000));
	w.s = bob;
	w.cut = 100 * 1024;
	CHECK(sotto_file_fetch(bob, id, dir, on_progress, &w, path, sizeof(path)) != 0);
	sotto_id_hex(hex, id);
	snprintf(part, sizeof(part), "%s/bob/transfers/%s.part", root, hex);
	REQUIRE((fd = open(part, O_RDWR)) >= 0);
	REQUIRE(pread(fd, &b, 1, 5000) == 1);
	b ^= 0x40;
	REQUIRE(pwrite(fd, &b, 1, 5000) == 1);
	close(fd);
	r = sotto_file_fetch(bob, id, dir, NULL, NULL, path, sizeof(path));
	CHECK(r == SOTTO_ERR_DECRYPT || r == SOTTO_ERR_BLOB_HASH);
	CHECK(access(part, F_OK) != 0);                 /* dropped */
	CHECK_EQ_INT(count_files(dir, "report"), 1);    /* the first file only */
	CHECK_EQ_INT(count_files(dir, ".sotto-file-"), 0);
	REQUIRE(sotto_file_fetch(bob, id, dir, NULL, NULL, path, sizeof(path)) == 0);
	snprintf(first, sizeof(first), "%s/report (1).pdf", dir);
	CHECK(strcmp(path, first) == 0);
	CHECK(same_file(path, data, FILE_BYTES));
	data[0] ^= 1;
	snprintf(first, sizeof(first), "%s/report.pdf", dir);
	CHECK(same_file(first, data, FILE_BYTES));      /* the first one untouched */
}

/* Counts texts by body: "once" and the marker that follows it. */
struct texts {
	struct sotto *s;
	int once, marker;
};

static void
on_text(void *ctx, const struct sotto_event *ev)
{
	struct texts *t = ctx;

	if (ev->type != SOTTO_EVENT_MESSAGE || ev->content != SOTTO_CONTENT_TEXT)
		return;
	if (ev->body_len == 4 && memcmp(ev->body, "once", 4) == 0)
		t->once++;
	if (ev->body_len == 6 && memcmp(ev->body, "marker", 6) == 0)
		t->marker++;
}

static int
got_marker(void *arg)
{
	struct texts *t = arg;

	if (sotto_fd(t->s) < 0 && sotto_connect(t->s, 2000) != 0)
		return 0;
	if (sotto_poll(t->s, 200, on_text, t) < 0)
		return 0;
	return t->marker > 0;
}

/* A content sent under an id chosen before (a file's, chosen with its upload) goes out
 * once however often the send is repeated: a re-run after the message was queued. */
TEST(a_chosen_id_is_sent_once)
{
	struct texts t = { 0 };
	struct content c;
	uint8_t id[SOTTO_ID_LEN];
	int i;

	msgid_new_now(id);
	for (i = 0; i < 2; i++) {
		memset(&c, 0, sizeof(c));
		c.type = CONTENT_TEXT;
		c.body = (const uint8_t *)"once";
		c.body_len = 4;
		CHECK_EQ_INT(client_send_content_as(alice, "bob@localhost", &c, 1, 5000, id), 0);
		CHECK_MEM(c.id, id, SOTTO_ID_LEN);
	}
	CHECK_EQ_INT(sotto_outbox_count(alice), 0);
	REQUIRE(sotto_send_text(alice, "bob@localhost", "marker", 6, NULL) == 0);
	t.s = bob;
	REQUIRE(wait_until(got_marker, &t, 10000));
	CHECK_EQ_INT(t.once, 1);
}

static int
expired_some(void *arg)
{
	return sotto_expire(arg) > 0;
}

/* A file message that disappears (its timer ran out) before it was fetched leaves the
 * pending list: nothing asks for it any more. */
TEST(expired_file_message_leaves_the_pending_list)
{
	struct inbox in = { 0 };
	uint8_t id[SOTTO_ID_LEN], (*pending)[SOTTO_ID_LEN] = NULL;
	char src[300];
	size_t n = 9;

	snprintf(src, sizeof(src), "%s/brief.txt", root);
	write_file(src, data, 5000);
	REQUIRE(sotto_set_expiry(alice, "bob@localhost", 1) == 0);
	REQUIRE(sotto_send_file(alice, "bob@localhost", src, NULL, 0, NULL, NULL, id) == 0);
	in.s = bob;
	REQUIRE(wait_until(got_file, &in, 10000));
	REQUIRE(sotto_files_pending(bob, &pending, &n) == 0);
	CHECK_EQ_INT(n, 1);
	free(pending);
	REQUIRE(wait_until(expired_some, bob, 10000));
	REQUIRE(sotto_files_pending(bob, &pending, &n) == 0);
	CHECK_EQ_INT(n, 0);
	free(pending);
	REQUIRE(sotto_set_expiry(alice, "bob@localhost", 0) == 0);
}

TEST(missing_file_and_bad_arguments)
{
	uint8_t id[SOTTO_ID_LEN];
	char src[300], path[64];

	snprintf(src, sizeof(src), "%s/no-such-file", root);
	CHECK_EQ_INT(sotto_send_file(alice, "bob@localhost", src, NULL, 0, NULL, NULL, id),
	    SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(sotto_send_file(alice, "bob@localhost", root, NULL, 0, NULL, NULL, id),
	    SOTTO_ERR_IO);
	memset(id, 7, sizeof(id));
	CHECK_EQ_INT(sotto_file_fetch(bob, id, NULL, NULL, NULL, path, sizeof(path)),
	    SOTTO_ERR_NOT_FOUND);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0 || sottod_proc_launch(&sp, "registration = open\n") != 0) {
		printf("FAIL - setup: cannot start %s\n", sottod_proc_binary());
		sottod_proc_cleanup(&sp);
		return 1;
	}
	snprintf(root, sizeof(root), "%s/clients", sp.dir);
	if (mkdir(root, 0700) != 0 || (data = malloc(FILE_BYTES)) == NULL ||
	    (alice = user("alice")) == NULL || (bob = user("bob")) == NULL) {
		printf("FAIL - setup: accounts\n");
		sottod_proc_cleanup(&sp);
		return 1;
	}
	randombytes_buf(data, FILE_BYTES);
	RUN(upload_and_download_resume_after_a_dropped_connection);
	RUN(history_shows_the_caption_not_the_content);
	RUN(changed_ciphertext_refused_and_names_never_replace);
	RUN(expired_file_message_leaves_the_pending_list);
	RUN(a_chosen_id_is_sent_once);
	RUN(missing_file_and_bad_arguments);
	sotto_close(alice);
	sotto_close(bob);
	free(data);
	sottod_proc_cleanup(&sp);
	return check_summary();
}
