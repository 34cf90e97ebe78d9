/*
 * `sottod status` and the running half of `sottod address`: both ask the server itself,
 * on DIR/sottod.sock (status.h), so that what they print is what runs, and a server that
 * died is reported as not running however its files look.
 */
#include "server/admin.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "server/status.h"

#define ADDRESS_FILE "sottod.address"
#define STATUS_WAIT_MS 10000            /* the longest a query waits for the answer */

/* Reads until EOF or cap - 1 bytes, waiting at most STATUS_WAIT_MS for each read. */
static int
read_all(int fd, char *out, size_t cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	for (;;) {
		if (poll(&p, 1, STATUS_WAIT_MS) <= 0)
			return SOTTO_ERR_TIMEOUT;
		if ((n = read(fd, out + got, cap - 1 - got)) < 0) {
			if (errno == EINTR)
				continue;
			return SOTTO_ERR_IO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == cap - 1)
			return SOTTO_ERR_TOO_LARGE;
	}
	out[got] = '\0';
	return got > 0 ? 0 : SOTTO_ERR_UNREACHABLE;
}

int
admin_status_query(const char *dir, char *out, size_t cap)
{
	struct sockaddr_un sa;
	int fd, r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir,
	    STATUS_SOCKET_NAME) >= sizeof(sa.sun_path))
		return SOTTO_ERR_TOO_LARGE;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return SOTTO_ERR_IO;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		r = SOTTO_ERR_UNREACHABLE;
	else
		r = read_all(fd, out, cap);
	close(fd);
	return r;
}

/* The first line of DIR/sottod.address into out: 0 or an error. */
static int
read_address_file(const char *dir, char *out, size_t cap)
{
	char path[4096];
	FILE *f;
	int r = SOTTO_ERR_NOT_FOUND;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ADDRESS_FILE) >= sizeof(path))
		return SOTTO_ERR_TOO_LARGE;
	if ((f = fopen(path, "r")) == NULL)
		return SOTTO_ERR_NOT_FOUND;
	if (fgets(out, (int)cap, f) != NULL && strchr(out, '\n') != NULL) {
		*strchr(out, '\n') = '\0';
		r = 0;
	}
	fclose(f);
	return r;
}

int
admin_running_address(const char *dir, char *out, size_t cap)
{
	char answer[STATUS_ANSWER_MAX];
	json_t *root;
	const char *a;
	int r;

	if ((r = admin_status_query(dir, answer, sizeof(answer))) != 0)
		return r;
	/* The server says its address; sottod.address is the same, for scripts. */
	if ((root = json_loads(answer, 0, NULL)) == NULL)
		return read_address_file(dir, out, cap);
	a = json_string_value(json_object_get(root, "address"));
	r = a != NULL && strlen(a) < cap ? 0 : SOTTO_ERR_MALFORMED;
	if (r == 0)
		memcpy(out, a, strlen(a) + 1);
	json_decref(root);
	return r;
}

static unsigned long long
num(json_t *root, const char *key)
{
	json_t *v = json_object_get(root, key);

	return json_is_integer(v) ? (unsigned long long)json_integer_value(v) : 0;
}

static void
human_bytes(unsigned long long b, char *out, size_t cap)
{
	if (b >= 10ull << 30)
		snprintf(out, cap, "%llu GiB", b >> 30);
	else if (b >= 10ull << 20)
		snprintf(out, cap, "%llu MiB", b >> 20);
	else if (b >= 10ull << 10)
		snprintf(out, cap, "%llu KiB", b >> 10);
	else
		snprintf(out, cap, "%llu bytes", b);
}

static void
print_text(json_t *root)
{
	json_t *lat = json_object_get(root, "commit_latency_us");
	const char *degraded = json_string_value(json_object_get(root, "degraded"));
	unsigned long long up = num(root, "uptime_seconds");
	char db[32], wal[32], cap[32];

	human_bytes(num(root, "database_bytes"), db, sizeof(db));
	human_bytes(num(root, "database_wal_bytes"), wal, sizeof(wal));
	human_bytes(num(root, "database_max_bytes"), cap, sizeof(cap));
	printf("sottod %s: %s%s%s\n", json_string_value(json_object_get(root, "version")),
	    json_string_value(json_object_get(root, "status")),
	    degraded != NULL && degraded[0] != '\0' ? ", degraded: " : ", healthy",
	    degraded != NULL ? degraded : "");
	printf("  pid %llu, up %llud %02lluh%02llum%02llus\n", num(root, "pid"), up / 86400,
	    up / 3600 % 24, up / 60 % 60, up % 60);
	printf("  address      %s\n", json_string_value(json_object_get(root, "address")));
	if (json_is_string(json_object_get(root, "metrics")))
		printf("  metrics      http://%s/metrics\n",
		    json_string_value(json_object_get(root, "metrics")));
	printf("  connections  %llu open, %llu since the start\n", num(root, "connections"),
	    num(root, "connections_accepted"));
	printf("  accounts     %llu\n", num(root, "accounts"));
	printf("  queue        %llu envelopes waiting (%llu stored, %llu in flight)\n",
	    num(root, "queue_depth"), num(root, "envelopes_waiting"),
	    num(root, "sends_in_flight"));
	printf("  traffic      %llu sends, %llu acknowledged by their recipients\n",
	    num(root, "sends"), num(root, "received"));
	printf("  database     %s (%llu%% of the cap%s%s), WAL %s\n", db,
	    num(root, "database_used_percent"), num(root, "database_max_bytes") ? ", " : ": none",
	    num(root, "database_max_bytes") ? cap : "", wal);
	printf("  commits      %llu group commits, %llu failed; latency of the last %llu: "
	    "p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", num(root, "group_commits"),
	    num(root, "group_commits_failed"), num(lat, "samples"), num(lat, "p50") / 1e3,
	    num(lat, "p99") / 1e3, num(lat, "max") / 1e3);
}

int
admin_status(const char *dir, int json)
{
	char answer[STATUS_ANSWER_MAX];
	json_t *root;
	int r, healthy;

	if ((r = admin_status_query(dir, answer, sizeof(answer))) != 0) {
		if (r == SOTTO_ERR_TOO_LARGE)
			fprintf(stderr, "sottod: %s is too long a path for its status socket\n", dir);
		if (json)
			printf("{\"status\": \"not running\", \"healthy\": false}\n");
		else
			printf("sottod: not running on %s\n", dir);
		return STATUS_EXIT_DOWN;
	}
	if ((root = json_loads(answer, 0, NULL)) == NULL || !json_is_object(root)) {
		fprintf(stderr, "sottod: the server on %s gave an answer this sottod cannot read\n",
		    dir);
		json_decref(root);
		return STATUS_EXIT_DEGRADED;
	}
	healthy = json_is_true(json_object_get(root, "healthy"));
	if (json)
		fputs(answer, stdout);
	else
		print_text(root);
	json_decref(root);
	return healthy ? EXIT_OK : STATUS_EXIT_DEGRADED;
}
