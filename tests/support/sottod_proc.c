#include "sottod_proc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "wire/address.h"

/* Servers still running when the test program exits (a REQUIRE returned early): killed,
 * their directories removed. */
#define LIVE_MAX 32
static struct {
	pid_t pid;
	char dir[128];
} live[LIVE_MAX];
static int live_hooked;

static void
live_reap(void)
{
	char cmd[300];

	for (int i = 0; i < LIVE_MAX; i++) {
		if (live[i].pid <= 0)
			continue;
		kill(live[i].pid, SIGKILL);
		waitpid(live[i].pid, NULL, 0);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", live[i].dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", live[i].dir);
		live[i].pid = 0;
	}
}

static void
live_add(pid_t pid, const char *dir)
{
	if (!live_hooked) {
		atexit(live_reap);
		live_hooked = 1;
	}
	for (int i = 0; i < LIVE_MAX; i++)
		if (live[i].pid <= 0) {
			live[i].pid = pid;
			snprintf(live[i].dir, sizeof(live[i].dir), "%s", dir);
			return;
		}
}

static void
live_remove(pid_t pid)
{
	for (int i = 0; i < LIVE_MAX; i++)
		if (live[i].pid == pid)
			live[i].pid = 0;
}

const char *
sottod_proc_binary(void)
{
	static char path[PATH_MAX];
	const char *b = getenv("SOTTO_BUILD");
	char exe[PATH_MAX - 16];
	ssize_t n;
	char *slash;

	if (b != NULL) {
		snprintf(path, sizeof(path), "%s/sottod", b);
		return path;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return "build/sottod";
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) != NULL)
		*slash = '\0';          /* .../build/tests */
	if ((slash = strrchr(exe, '/')) != NULL)
		*slash = '\0';          /* .../build */
	snprintf(path, sizeof(path), "%s/sottod", exe);
	return path;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int use_pg;

int
sottod_proc_use_pg(int on)
{
	const char *base = getenv("SOTTO_TEST_PG");

	if (on && (base == NULL || *base == '\0')) {
		fprintf(stderr, "SOTTO_TEST_PG is not set: run under scripts/pg-throwaway\n");
		return -1;
	}
	use_pg = on;
	return 0;
}

const char *
sottod_proc_backend(void)
{
	return use_pg ? "postgresql" : "sqlite";
}

/* CREATE SCHEMA name, or DROP SCHEMA name CASCADE (name made here of [a-z0-9_]), in
 * SOTTO_TEST_PG's database: a schema is made in a millisecond, a database in a second. */
static int
pg_schema(const char *verb, const char *name)
{
	char sql[128];
	PGconn *c = PQconnectdb(getenv("SOTTO_TEST_PG"));
	PGresult *r;
	int ok;

	snprintf(sql, sizeof(sql), "SET client_min_messages = warning; %s SCHEMA %s%s", verb,
	    name, strcmp(verb, "DROP") == 0 ? " CASCADE" : "");
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "SOTTO_TEST_PG: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

int
sottod_proc_init(struct sottod_proc *sp, const char *conf)
{
	const char *base = getenv("SOTTO_TEST_PG");
	char path[256];
	FILE *f;

	memset(sp, 0, sizeof(*sp));
	sp->pid = -1;
	strcpy(sp->dir, "/tmp/sottod-test-XXXXXX");
	if (mkdtemp(sp->dir) == NULL)
		return -1;
	if (use_pg) {
		/* Named after the directory: unique while it exists. */
		snprintf(sp->pg_db, sizeof(sp->pg_db), "sotto_%s", sp->dir + 17);
		for (char *c = sp->pg_db; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (pg_schema("CREATE", sp->pg_db) != 0) {
			sp->pg_db[0] = '\0';
			return -1;
		}
	}
	snprintf(path, sizeof(path), "%s/sottod.conf", sp->dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "listen = 127.0.0.1:0\nlog_level = debug\n%s\n", conf ? conf : "");
	if (use_pg)
		fprintf(f, "store = %s%coptions=-csearch_path%%3D%s\n", base,
		    strchr(base, '?') ? '&' : '?', sp->pg_db);
	fclose(f);
	return 0;
}

int
sottod_proc_start(struct sottod_proc *sp)
{
	char addr_path[256], log_path[256];
	const char *bin = sottod_proc_binary();
	pid_t pid;
	FILE *f;

	snprintf(addr_path, sizeof(addr_path), "%s/sottod.address", sp->dir);
	snprintf(log_path, sizeof(log_path), "%s/log", sp->dir);
	unlink(addr_path);
	sp->exit_status = -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		/* The server dies with the test program, whatever ends it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		if (sp->nofile > 0) {
			/* Set by a shell that then becomes sottod, not by setrlimit here: under
			 * valgrind this child is still valgrind's, which refuses a hard limit
			 * other than its own and would only pretend to lower the soft one (it
			 * keeps descriptors of its own above it). The shell runs natively, as
			 * sottod does, so the limit is the same with valgrind as without. */
			char n[16];
			snprintf(n, sizeof(n), "%u", sp->nofile);
			execl("/bin/sh", "sh", "-c", "ulimit -n \"$1\" && exec \"$0\" run --data \"$2\"",
			    bin, n, sp->dir, (char *)NULL);
			_exit(126);
		}
		if (sp->pre_exec != NULL)
			sp->pre_exec(sp->pre_exec_arg);
		execl(bin, bin, "run", "--data", sp->dir, (char *)NULL);
		_exit(127);
	}
	sp->pid = pid;
	live_add(pid, sp->dir);
	for (int i = 0; i < 1000; i++) {
		int st;
		if ((f = fopen(addr_path, "r")) != NULL) {
			int ok = fgets(sp->address, sizeof(sp->address), f) != NULL;
			fclose(f);
			if (ok) {
				sp->address[strcspn(sp->address, "\n")] = '\0';
				return 0;
			}
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			live_remove(pid);
			sp->pid = -1;
			sp->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			return -1;
		}
		sleep_ms(10);
	}
	return -1;
}

int
sottod_proc_launch(struct sottod_proc *sp, const char *conf)
{
	if (sottod_proc_init(sp, conf) != 0)
		return -1;
	return sottod_proc_start(sp);
}

/* Copies the file name from sp's directory into node's, plus extra: 0 or -1. */
static int
node_copy(const struct sottod_proc *sp, struct sottod_proc *node, const char *name,
    const char *extra)
{
	char from[256], to[256], buf[4096];
	FILE *in, *out;
	size_t n;
	int r = 0;

	snprintf(from, sizeof(from), "%s/%s", sp->dir, name);
	snprintf(to, sizeof(to), "%s/%s", node->dir, name);
	if ((in = fopen(from, "rb")) == NULL)
		return -1;
	if ((out = fopen(to, "wb")) == NULL) {
		fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			r = -1;
	if (extra != NULL && fprintf(out, "%s\n", extra) < 0)
		r = -1;
	fclose(in);
	if (fclose(out) != 0 || chmod(to, 0600) != 0)
		r = -1;
	return r;
}

int
sottod_proc_node(struct sottod_proc *node, const struct sottod_proc *sp, const char *conf)
{
	memset(node, 0, sizeof(*node));
	node->pid = -1;
	strcpy(node->dir, "/tmp/sottod-test-XXXXXX");
	if (sp->pg_db[0] == '\0' || mkdtemp(node->dir) == NULL ||
	    node_copy(sp, node, "server.key", NULL) != 0 ||
	    node_copy(sp, node, "ticket.key", NULL) != 0 ||
	    node_copy(sp, node, "sottod.conf", conf) != 0)
		return -1;
	return sottod_proc_start(node);
}

int
sottod_proc_stop(struct sottod_proc *sp, int sig)
{
	int st = 0;

	if (sp->pid <= 0)
		return -1;
	kill(sp->pid, sig);
	while (waitpid(sp->pid, &st, 0) < 0 && errno == EINTR)
		;
	live_remove(sp->pid);
	sp->pid = -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int
sottod_proc_cmd(const char *const *args, char *out, size_t out_cap)
{
	const char *bin = sottod_proc_binary();
	const char *argv[16];
	int pfd[2], st = 0;
	size_t n = 0, got = 0;
	pid_t pid;

	argv[n++] = bin;
	for (size_t i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe(pfd) != 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(pfd[1], 1);
		if (devnull >= 0)
			dup2(devnull, 2);
		close(pfd[0]);
		close(pfd[1]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char tmp[256];
		ssize_t k = read(pfd[0], tmp, sizeof(tmp));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		for (ssize_t i = 0; i < k && out != NULL && got + 1 < out_cap; i++)
			out[got++] = tmp[i];
	}
	if (out != NULL && out_cap > 0)
		out[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int
sottod_proc_log_lines(const struct sottod_proc *sp, const char *what)
{
	char path[256], line[1024];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/log", sp->dir);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

void
sottod_proc_cleanup(struct sottod_proc *sp)
{
	char cmd[300];

	if (sp->pid > 0)
		sottod_proc_stop(sp, SIGKILL);
	if (sp->pg_db[0] != '\0') {
		(void)pg_schema("DROP", sp->pg_db);
		sp->pg_db[0] = '\0';
	}
	if (sp->dir[0] == '\0')
		return;
	/* The directory is ours (mkdtemp); only its known files are inside. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sp->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", sp->dir);
	sp->dir[0] = '\0';
}

int
sottod_proc_connect_raw(const struct sottod_proc *sp)
{
	struct address_server as;
	struct sockaddr_in sin;
	int fd;

	if (address_server_parse(sp->address, &as) != 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(as.port);
	inet_pton(AF_INET, as.host, &sin.sin_addr);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void
test_user_new(struct test_user *u, const char *name)
{
	memset(u, 0, sizeof(*u));
	if (sodium_init() < 0)
		abort();
	snprintf(u->address, sizeof(u->address), "%s@localhost", name);
	crypto_sign_keypair(u->id_pk, u->id_sk);
	crypto_box_keypair(u->dev_pk, u->dev_sk);
}

int
test_user_connect(struct test_user *u, const struct sottod_proc *sp)
{
	if (u->c != NULL)
		conn_close(u->c);
	u->c = NULL;
	return conn_open(&u->c, sp->address, u->dev_sk, 5000);
}

int
test_user_register(struct test_user *u, const struct sottod_proc *sp, const char *invite)
{
	struct proto_msg *req = &u->req;
	int r;

	if (u->c == NULL && (r = test_user_connect(u, sp)) != 0)
		return r;
	memset(req, 0, sizeof(*req));
	req->type = PROTO_REGISTER;
	if (strlen(u->address) >= sizeof(req->u.reg.address))
		return SOTTO_ERR_INVALID_ARG;
	memcpy(req->u.reg.address, u->address, strlen(u->address) + 1);
	memcpy(req->u.reg.identity_pk, u->id_pk, 32);
	memcpy(req->u.reg.device_pk, u->dev_pk, 32);
	if (invite != NULL) {
		req->u.reg.invite_len = strlen(invite);
		memcpy(req->u.reg.invite, invite, req->u.reg.invite_len);
	}
	if ((r = proto_register_sign(&req->u.reg, u->id_sk)) != 0)
		return r;
	if ((r = conn_request(u->c, req, &u->resp, 5000)) != 0)
		return r;
	return u->resp.status;
}

int
test_user_join(struct test_user *u, const struct sottod_proc *sp, const char *name)
{
	test_user_new(u, name);
	return test_user_register(u, sp, NULL);
}

void
test_user_close(struct test_user *u)
{
	if (u->c != NULL)
		conn_close(u->c);
	u->c = NULL;
}

int
test_user_request(struct test_user *u, int timeout_ms)
{
	if (u->c == NULL || conn_request(u->c, &u->req, &u->resp, timeout_ms) != 0)
		return TEST_USER_NO_ANSWER;
	return u->resp.status;
}

static struct proto_msg *
request_new(struct test_user *u, uint8_t type)
{
	memset(&u->req, 0, sizeof(u->req));
	u->req.type = type;
	return &u->req;
}

int
test_user_cert(struct test_user *u)
{
	request_new(u, PROTO_SENDER_CERTIFICATE);
	return test_user_request(u, 5000);
}

int
test_user_send(struct test_user *u, const char *to, const uint8_t cmid[16], const void *env,
    size_t len)
{
	struct proto_msg *req = request_new(u, PROTO_SEND);

	snprintf(req->u.send.recipient, sizeof(req->u.send.recipient), "%s", to);
	if (cmid != NULL)
		memcpy(req->u.send.client_msg_id, cmid, 16);
	else
		randombytes_buf(req->u.send.client_msg_id, 16);
	req->u.send.envelope = env;
	req->u.send.envelope_len = len;
	return test_user_request(u, 10000);
}

int
test_user_received(struct test_user *u, const uint64_t *ids, size_t n)
{
	struct proto_msg *req = request_new(u, PROTO_RECEIVED);

	if (n > PROTO_MAX_RECEIVED)
		return SOTTO_ERR_INVALID_ARG;
	req->u.received.n = n;
	memcpy(req->u.received.ids, ids, n * sizeof(*ids));
	return test_user_request(u, 5000);
}

int
test_user_upload(struct test_user *u, uint32_t first, size_t n)
{
	struct proto_msg *req = request_new(u, PROTO_UPLOAD_PREKEYS);

	if (n > PROTO_MAX_OTPK)
		return SOTTO_ERR_INVALID_ARG;
	req->u.upload.spk.id = 1;
	memset(req->u.upload.spk.pub, 0x11, 32);
	memset(req->u.upload.spk.sig, 0x22, 64);
	req->u.upload.n_otpk = n;
	for (size_t i = 0; i < n; i++) {
		req->u.upload.otpk[i].id = first + (uint32_t)i;
		memset(req->u.upload.otpk[i].pub, (int)(first + i), 32);
	}
	return test_user_request(u, 5000);
}

int
test_user_upload_kem(struct test_user *u, uint32_t first, size_t n, uint32_t lr_id)
{
	struct proto_msg *req = request_new(u, PROTO_UPLOAD_PREKEYS);
	static uint8_t ek[PROTO_MAX_KEM_OTPK + 1][PROTO_KEM_EK_LEN];
	static uint8_t sig[2][PROTO_SIG_LEN];

	if (n > PROTO_MAX_KEM_OTPK)
		return SOTTO_ERR_INVALID_ARG;
	req->u.upload.spk.id = 1;
	memset(req->u.upload.spk.pub, 0x11, 32);
	memset(req->u.upload.spk.sig, 0x22, 64);
	memset(sig[0], 0x33, PROTO_SIG_LEN);
	memset(sig[1], 0x44, PROTO_SIG_LEN);
	for (size_t i = 0; i < n; i++) {
		memset(ek[i], (int)((first + i) & 0xff), PROTO_KEM_EK_LEN);
		req->u.upload.kem[i].id = first + (uint32_t)i;
		req->u.upload.kem[i].ek = ek[i];
		req->u.upload.kem[i].sig = sig[0];
	}
	req->u.upload.n_kem = n;
	if (lr_id != 0) {
		memset(ek[PROTO_MAX_KEM_OTPK], 0xee, PROTO_KEM_EK_LEN);
		req->u.upload.has_kem_last_resort = 1;
		req->u.upload.kem_last_resort.id = lr_id;
		req->u.upload.kem_last_resort.ek = ek[PROTO_MAX_KEM_OTPK];
		req->u.upload.kem_last_resort.sig = sig[1];
	}
	return test_user_request(u, 5000);
}

/* FETCH_BUNDLE and LOOKUP: a request naming one address. */
static int
address_request(struct test_user *u, uint8_t type, const char *address)
{
	struct proto_msg *req = request_new(u, type);
	struct proto_fetch_bundle *f = type == PROTO_LOOKUP ? &req->u.lookup : &req->u.fetch;

	snprintf(f->address, sizeof(f->address), "%s", address);
	return test_user_request(u, 5000);
}

int
test_user_fetch(struct test_user *u, const char *address)
{
	return address_request(u, PROTO_FETCH_BUNDLE, address);
}

int
test_user_lookup(struct test_user *u, const char *address)
{
	return address_request(u, PROTO_LOOKUP, address);
}

int
test_user_next_push(struct test_user *u, int timeout_ms)
{
	int r;

	if (u->c == NULL)
		return SOTTO_ERR_INVALID_ARG;
	while ((r = conn_next_event(u->c, &u->ev, timeout_ms)) == 0)
		if (u->ev.type == PROTO_PUSH)
			return 0;
	return r;
}

int
test_user_drain(struct test_user *u, int want, int timeout_ms)
{
	int pushed = 0;

	while (pushed < want && test_user_next_push(u, timeout_ms) == 0) {
		uint64_t id = u->ev.u.push.envelope_id;
		pushed++;
		if (test_user_received(u, &id, 1) != 0)
			break;
	}
	return pushed;
}

void
sottod_proc_cmid(uint8_t cmid[16], int i, uint8_t tag)
{
	memset(cmid, 0, 16);
	cmid[0] = (uint8_t)i;
	cmid[1] = (uint8_t)(i >> 8);
	cmid[15] = tag;
}

int64_t
sottod_proc_db_int(const struct sottod_proc *sp, const char *sql)
{
	char path[256], conninfo[1024];
	const char *base = getenv("SOTTO_TEST_PG");
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	PGconn *c;
	PGresult *r;

	if (sp->pg_db[0] != '\0') {
		snprintf(conninfo, sizeof(conninfo), "%s%coptions=-csearch_path%%3D%s", base,
		    strchr(base, '?') ? '&' : '?', sp->pg_db);
		c = PQconnectdb(conninfo);
		r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		    !PQgetisnull(r, 0, 0))
			v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		PQfinish(c);
		return v;
	}
	snprintf(path, sizeof(path), "%s/sottod.db", sp->dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

unsigned short
sottod_proc_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	unsigned short p;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		abort();
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

int
sottod_proc_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
read_exact(int fd, void *p, size_t n, int timeout_ms)
{
	uint8_t *b = p;

	while (n > 0) {
		struct pollfd pf = { fd, POLLIN, 0 };
		ssize_t k;
		if (poll(&pf, 1, timeout_ms) <= 0)
			return -1;
		k = read(fd, b, n);
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* One handshake message in its 2-byte length frame. */
static int
handshake_send(int fd, struct noise_hs *hs)
{
	uint8_t msg[128], frame[130];
	size_t n;

	if (noise_hs_write(hs, NULL, 0, msg, sizeof(msg), &n) != 0)
		return -1;
	frame[0] = 0, frame[1] = (uint8_t)n;
	memcpy(frame + 2, msg, n);
	return sottod_proc_write_all(fd, frame, n + 2);
}

int
sottod_proc_handshake_raw(const struct sottod_proc *sp, const uint8_t dev_sk[32],
    struct noise_transport *t)
{
	struct address_server as;
	struct noise_hs hs;
	uint8_t frame[2 + 96], pl[8];
	size_t n;
	int fd;

	if (address_server_parse(sp->address, &as) != 0 ||
	    (fd = sottod_proc_connect_raw(sp)) < 0)
		return -1;
	if (noise_sotto_initiator(&hs, dev_sk, as.key) != 0 || handshake_send(fd, &hs) != 0 ||
	    read_exact(fd, frame, sizeof(frame), 3000) != 0 ||
	    noise_hs_read(&hs, frame + 2, 96, pl, 0, &n) != 0 || handshake_send(fd, &hs) != 0 ||
	    noise_hs_split(&hs, t) != 0) {
		noise_hs_wipe(&hs);
		close(fd);
		return -1;
	}
	noise_hs_wipe(&hs);
	return fd;
}
