/*
 * Least privilege: each test confines a forked child and checks from the parent that
 * forbidden things fail (or kill the child with SIGSYS) while a server's work still runs.
 * Children end with _exit: LeakSanitizer's exit-time scan needs ptrace, which the filter
 * forbids.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>
#include <uv.h>

#include "base/confine.h"
#include "check.h"
#include "server/config.h"
#include "server/server.h"
#include "server/store.h"
#include "sottod_proc.h"

/* Runs fn in a child; returns its wait status. */
static int
in_child(int (*fn)(void *), void *arg)
{
	pid_t pid;
	int st = 0;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0)
		_exit(fn(arg));
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

#define EXITED_OK(st) (WIFEXITED(st) && WEXITSTATUS(st) == 0)
#define KILLED_BY_SIGSYS(st) (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)

static void
show_status(const char *what, int st)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		printf("# %s: child exited with step %d failed\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("# %s: child killed by signal %d\n", what, WTERMSIG(st));
}

static char tmp_root[64];

static void
make_dir(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", tmp_root, name);
	mkdir(out, 0755);
}

static int
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static uid_t nobody_uid;
static gid_t nobody_gid;

static int
lookup_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");

	if (pw == NULL)
		return -1;
	nobody_uid = pw->pw_uid;
	nobody_gid = pw->pw_gid;
	return 0;
}

/* ---- privilege drop ---- */

static char secret_path[128];

static int
child_drop(void *arg)
{
	uid_t r, e, s;
	gid_t g[4];

	(void)arg;
	if (confine_drop_privileges("no-such-user-sotto") != SOTTO_ERR_NOT_FOUND)
		return 1;
	if (confine_drop_privileges("root") != SOTTO_ERR_INVALID_ARG)
		return 2;
	if (getuid() != 0)
		return 3;       /* the refusals above changed nothing */
	if (confine_drop_privileges("nobody") != 0)
		return 4;
	if (getresuid(&r, &e, &s) != 0 || r != nobody_uid || e != nobody_uid || s != nobody_uid)
		return 5;
	if (getgid() != nobody_gid || getgroups(4, g) != 1 || g[0] != nobody_gid)
		return 6;
	if (setuid(0) == 0 || seteuid(0) == 0 || setresuid(0, 0, 0) == 0 || setgid(0) == 0)
		return 7;
	/* A root-only file is out of reach now. */
	if (open(secret_path, O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 8;
	if (chown(tmp_root, 0, 0) == 0)
		return 9;
	return 0;
}

TEST(drop_privileges_switches_to_the_user_for_good)
{
	int st;

	if (geteuid() != 0) {
		printf("# not root: confine_drop_privileges has nothing to drop\n");
		CHECK_EQ_INT(confine_drop_privileges("nobody"), 0);
		return;
	}
	REQUIRE(lookup_nobody() == 0);
	snprintf(secret_path, sizeof(secret_path), "%s/root-secret", tmp_root);
	REQUIRE(write_file(secret_path, "root only", 0600) == 0);
	st = in_child(child_drop, NULL);
	show_status("drop", st);
	CHECK(EXITED_OK(st));
}

/* ---- seccomp ---- */

static int
forbidden_call(void *arg)
{
	const char *which = arg;
	char *const argv[] = { (char *)"/bin/true", NULL };

	if (confine_seccomp(CONFINE_KILL) != 0)
		return 100;
	if (strcmp(which, "execve") == 0)
		execve("/bin/true", argv, argv + 1);
	else if (strcmp(which, "ptrace") == 0)
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	else if (strcmp(which, "mount") == 0)
		mount("none", tmp_root, "tmpfs", 0, NULL);
	else if (strcmp(which, "fork") == 0) {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
	} else if (strcmp(which, "kill-parent") == 0)
		kill(getppid(), 0);
	else if (strcmp(which, "setuid") == 0) {
		if (setuid(0) != 0)
			return 0;
	}
	else if (strcmp(which, "chmod") == 0)
		chmod(tmp_root, 0777);
	else if (strcmp(which, "unshare") == 0)
		unshare(CLONE_NEWUSER);
	else if (strcmp(which, "tiocsti") == 0)
		ioctl(0, TIOCSTI, "x");
	return 0;       /* the call returned: the filter let it through */
}

TEST(seccomp_kills_the_process_on_a_forbidden_call)
{
	static const char *const calls[] = {
		"execve", "ptrace", "mount", "fork", "kill-parent", "setuid", "chmod", "unshare",
		"tiocsti"
	};

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int st;

		if (confine_leak_checker_allowed() &&
		    (strcmp(calls[i], "ptrace") == 0 || strcmp(calls[i], "fork") == 0)) {
			printf("# %s: allowed in sanitizer builds for LeakSanitizer; checked in "
			    "the plain build\n", calls[i]);
			continue;
		}
		st = in_child(forbidden_call, (void *)calls[i]);
		if (!KILLED_BY_SIGSYS(st)) {
			printf("# %s was not killed\n", calls[i]);
			show_status(calls[i], st);
		}
		CHECK(KILLED_BY_SIGSYS(st));
	}
}

static int
child_errno_mode(void *arg)
{
	char *const argv[] = { (char *)"/bin/true", NULL };

	(void)arg;
	if (confine_seccomp(CONFINE_ERRNO) != 0)
		return 100;
	if (execve("/bin/true", argv, argv + 1) != -1 || errno != EPERM)
		return 1;
	if (mount("none", tmp_root, "tmpfs", 0, NULL) != -1 || errno != EPERM)
		return 3;
	if (unshare(CLONE_NEWUSER) != -1 || errno != EPERM)
		return 5;
	if (confine_leak_checker_allowed())
		return 0;       /* ptrace and fork stay open for LeakSanitizer there */
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != -1 || errno != EPERM)
		return 2;
	if (fork() != -1 || errno != EPERM)
		return 4;
	return 0;
}

TEST(seccomp_errno_mode_refuses_with_eperm)
{
	int st = in_child(child_errno_mode, NULL);

	show_status("errno mode", st);
	CHECK(EXITED_OK(st));
}

/* Refused softly in the default (kill) mode: libraries probe these and cope. */
static int
child_soft_refusals(void *arg)
{
	struct termios tio;
	int fd;

	(void)arg;
	if (confine_seccomp(CONFINE_KILL) != 0)
		return 100;
	if (socket(AF_PACKET, SOCK_RAW, 0) != -1 || errno != EAFNOSUPPORT)
		return 1;
	if (socket(AF_NETLINK, SOCK_RAW, 0) != -1 || errno != EAFNOSUPPORT)
		return 2;
	if (ioctl(0, TCGETS, &tio) != -1 || errno != ENOTTY || isatty(1))
		return 3;
	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) < 0)
		return 4;
	close(fd);
	return 0;
}

TEST(seccomp_refuses_raw_and_netlink_sockets_and_terminal_queries_softly)
{
	int st = in_child(child_soft_refusals, NULL);

	show_status("soft refusals", st);
	CHECK(EXITED_OK(st));
}

static int
child_dumpable(void *arg)
{
	struct confine_opts o = CONFINE_OPTS_INIT;

	(void)arg;
	o.seccomp = 0;
	if (prctl(PR_GET_DUMPABLE) != 1 || confine_apply(&o, NULL) != 0)
		return 100;
	return prctl(PR_GET_DUMPABLE) == (confine_leak_checker_allowed() ? 1 : 0) ? 0 : 1;
}

/* Core dumps would hold keys, and a dumpable process can be ptrace-attached by any other
 * process of the same user. */
TEST(confined_process_is_not_dumpable)
{
	int st = in_child(child_dumpable, NULL);

	show_status("dumpable", st);
	CHECK(EXITED_OK(st));
}

static int
child_exit_normally(void *arg)
{
	struct confine_opts o = CONFINE_OPTS_INIT;

	o.data_dir = arg;
	if (confine_apply(&o, NULL) != 0)
		return 100;
	fflush(stdout);
	exit(0);        /* atexit handlers, stdio, and LeakSanitizer's check in ASan builds */
}

/* sottod returns from main when it stops: that must work confined, and in ASan builds the
 * leak check at exit must still run (it clones and ptraces, see confine.h). */
TEST(confined_process_exits_through_atexit)
{
	char dir[128];
	int st;

	make_dir(dir, sizeof(dir), "exit");
	st = in_child(child_exit_normally, dir);
	show_status("exit", st);
	CHECK(EXITED_OK(st));
}

/* ---- everything together: a server's work still runs ---- */

struct work {
	char data[128];
	int listen_fd;
	uint16_t port;
	int as_nobody;
	int progress;           /* pipe: the child writes "done" once every step passed */
};

static void *
thread_main(void *arg)
{
	*(int *)arg = 42;
	return NULL;
}

static void
on_timer(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

static int
child_work(void *arg)
{
	struct work *w = arg;
	struct confine_opts o = CONFINE_OPTS_INIT;
	struct confine_report rep;
	struct sockaddr_in sa;
	struct sockaddr_un un;
	char path[256], buf[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	pthread_t th;
	uv_loop_t loop;
	uv_timer_t timer;
	int fd, cfd, afd, v = 0, fired = 0;
	uint8_t *key;

	o.user = w->as_nobody ? "nobody" : NULL;
	o.data_dir = w->data;
	o.restrict_net = 1;
	o.connect_ports = &w->port;
	o.n_connect_ports = 1;
	if (confine_apply(&o, &rep) != 0)
		return 100;
	if (!rep.seccomp || (w->as_nobody && !rep.dropped) ||
	    (rep.landlock_abi >= 4 && !rep.net_restricted))
		return 101;
	/* files in the data directory */
	snprintf(path, sizeof(path), "%s/note", w->data);
	if (write_file(path, "hello", 0600) != 0)
		return 1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || read(fd, buf, 5) != 5 ||
	    memcmp(buf, "hello", 5) != 0)
		return 2;
	close(fd);
	snprintf(buf, sizeof(buf), "%s", path);
	strcat(path, ".2");
	if (rename(buf, path) != 0 || unlink(path) != 0)
		return 3;
	/* SQLite in WAL mode */
	snprintf(path, sizeof(path), "%s/t.db", w->data);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); "
	    "INSERT INTO t VALUES (7); INSERT INTO t SELECT randomblob(16);", NULL, NULL,
	    NULL) != SQLITE_OK)
		return 4;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW || sqlite3_column_int(stmt, 0) != 2)
		return 5;
	sqlite3_finalize(stmt);
	if (sqlite3_close(db) != SQLITE_OK)
		return 6;
	/* threads */
	if (pthread_create(&th, NULL, thread_main, &v) != 0 || pthread_join(th, NULL) != 0 ||
	    v != 42)
		return 7;
	/* libsodium: guarded memory, randomness */
	if (sodium_init() < 0 || (key = sodium_malloc(32)) == NULL)
		return 8;
	randombytes_buf(key, 32);
	sodium_free(key);
	/* TCP on loopback to the allowed port, through a listener made before confinement */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(w->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return 9;
	if ((afd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0 ||
	    write(cfd, "ping", 4) != 4 || read(afd, buf, 4) != 4 || memcmp(buf, "ping", 4) != 0)
		return 10;
	close(afd);
	close(cfd);
	/* a libuv loop with a timer */
	if (uv_loop_init(&loop) != 0)
		return 11;
	uv_timer_init(&loop, &timer);
	timer.data = &fired;
	uv_timer_start(&timer, on_timer, 10, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (!fired || uv_loop_close(&loop) != 0)
		return 12;
	/* a Unix socket in the data directory (the client daemon's JSON-RPC socket) */
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	if ((size_t)snprintf(path, sizeof(path), "%s/rpc.sock", w->data) >= sizeof(un.sun_path))
		return 14;
	memcpy(un.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&un, sizeof(un)) != 0 || listen(fd, 1) != 0)
		return 14;
	if ((cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(cfd, (struct sockaddr *)&un, sizeof(un)) != 0)
		return 15;
	close(cfd);
	close(fd);
	/* A forbidden call still kills: the allowed work did not loosen anything. */
	if (write(w->progress, "done", 4) != 4)
		return 13;
	unshare(CLONE_NEWNS);
	return 16;
}

static int
listen_loopback(uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

TEST(confined_process_still_does_a_servers_work)
{
	struct work w;
	char got[8] = "";
	int st, pfd[2];

	memset(&w, 0, sizeof(w));
	REQUIRE(pipe(pfd) == 0);
	w.progress = pfd[1];
	make_dir(w.data, sizeof(w.data), "work");
	w.as_nobody = geteuid() == 0 && lookup_nobody() == 0;
	if (w.as_nobody)
		REQUIRE(chown(w.data, nobody_uid, nobody_gid) == 0);
	REQUIRE((w.listen_fd = listen_loopback(&w.port)) >= 0);
	st = in_child(child_work, &w);
	close(w.listen_fd);
	close(pfd[1]);
	if (read(pfd[0], got, 4) != 4)
		got[0] = '\0';
	close(pfd[0]);
	/* Every step passed, then the final forbidden call was fatal. */
	if (!KILLED_BY_SIGSYS(st) || strcmp(got, "done") != 0)
		show_status("work", st);
	CHECK(strcmp(got, "done") == 0);
	CHECK(KILLED_BY_SIGSYS(st));
}

/* ---- Landlock ---- */

struct paths {
	char data[128];
	char other[128];
	char other_file[160];
	uint16_t port_ok, port_no;
	int fd_ok, fd_no;
};

/* 1 if the directory could be opened for listing. */
static int
opendir_ok(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int
child_landlock_fs(void *arg)
{
	struct paths *p = arg;
	struct confine_opts o = CONFINE_OPTS_INIT;
	char path[256], *const argv[] = { (char *)"/bin/true", NULL };
	int fd, abi = 0;

	o.data_dir = p->data;
	if (confine_landlock(&o, &abi) != 0 || abi < 1)
		return 100;
	snprintf(path, sizeof(path), "%s/inside", p->data);
	if (write_file(path, "ok", 0600) != 0)
		return 1;
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0)
		return 2;
	close(fd);
	if (open("/etc/passwd", O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 3;
	if (open(p->other_file, O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 4;
	snprintf(path, sizeof(path), "%s/new", p->other);
	if (open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != EACCES)
		return 5;
	if (opendir_ok(p->other))
		return 6;
	if (execve("/bin/true", argv, argv + 1) != -1 || errno != EACCES)
		return 7;
	/* A symlink inside the data directory does not lead out of it. */
	snprintf(path, sizeof(path), "%s/link", p->data);
	if (open(path, O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 8;
	return 0;
}

TEST(landlock_confines_files_to_the_data_dir)
{
	struct paths p;
	char link[256];
	int st, abi = confine_landlock_abi();

	if (abi == 0) {
		printf("# skipped: this kernel (Landlock ABI 0) has no Landlock\n");
		return;
	}
	memset(&p, 0, sizeof(p));
	make_dir(p.data, sizeof(p.data), "ll-data");
	make_dir(p.other, sizeof(p.other), "ll-other");
	snprintf(p.other_file, sizeof(p.other_file), "%s/readable", p.other);
	REQUIRE(write_file(p.other_file, "public", 0644) == 0);
	snprintf(link, sizeof(link), "%s/link", p.data);
	REQUIRE(symlink(p.other_file, link) == 0);
	st = in_child(child_landlock_fs, &p);
	show_status("landlock fs", st);
	CHECK(EXITED_OK(st));
}

static int
connect_port(uint16_t port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return r;
}

static int
child_landlock_net(void *arg)
{
	struct paths *p = arg;
	struct confine_opts o = CONFINE_OPTS_INIT;
	struct sockaddr_in sa;
	int fd, abi = 0;

	o.data_dir = p->data;
	o.restrict_net = 1;
	o.connect_ports = &p->port_ok;
	o.n_connect_ports = 1;
	if (confine_landlock(&o, &abi) != 0 || abi < 4)
		return 100;
	if (connect_port(p->port_ok) != 0)
		return 1;
	if (connect_port(p->port_no) == 0 || errno != EACCES)
		return 2;
	/* No new listening port either. */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)(p->port_no + 1));
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 3;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno != EACCES)
		return 4;
	close(fd);
	return 0;
}

TEST(landlock_restricts_tcp_ports)
{
	struct paths p;
	int st, abi = confine_landlock_abi();

	if (abi < 4) {
		printf("# skipped: this kernel (Landlock ABI %d) cannot restrict TCP ports\n", abi);
		return;
	}
	memset(&p, 0, sizeof(p));
	make_dir(p.data, sizeof(p.data), "ll-net");
	REQUIRE((p.fd_ok = listen_loopback(&p.port_ok)) >= 0);
	REQUIRE((p.fd_no = listen_loopback(&p.port_no)) >= 0);
	st = in_child(child_landlock_net, &p);
	show_status("landlock net", st);
	CHECK(EXITED_OK(st));
	close(p.fd_ok);
	close(p.fd_no);
}

/* ---- sottod's own server code, confined the way sottod will be ---- */

static int server_pipe[2];

static int
child_server(void *arg)
{
	const char *dir = arg;
	struct confine_opts o = CONFINE_OPTS_INIT;
	struct config_overrides ov;
	struct store_open_opts so = { 0 };
	struct config cfg;
	struct server srv;
	struct server_store *st = NULL;
	char path[256];
	uv_loop_t loop;
	uint8_t pk[32], sk[64];
	int r;

	close(server_pipe[0]);
	o.user = geteuid() == 0 ? "nobody" : NULL;
	o.data_dir = dir;
	o.restrict_net = 1;             /* listens on port 0: allowed below as a bind to 0 */
	o.bind_ports = (const uint16_t[]){ 0 };
	o.n_bind_ports = 1;
	if (confine_apply(&o, NULL) != 0)
		return 100;
	if (sodium_init() < 0)
		return 101;
	config_defaults(&cfg);
	memset(&ov, 0, sizeof(ov));
	if (config_set(&cfg, "listen", "127.0.0.1:0") != 0 ||
	    config_set(&cfg, "registration", "open") != 0)
		return 102;
	crypto_sign_keypair(pk, sk);
	snprintf(path, sizeof(path), "%s/sottod.db", dir);
	so.create = 1;
	if (store_sqlite_open(&st, path, &so) != 0)
		return 103;
	server_store_close(st);
	uv_loop_init(&loop);
	if ((r = server_init(&srv, &loop, dir, &cfg, &ov, sk)) != 0 || server_listen(&srv) != 0)
		return 104;
	sodium_memzero(sk, sizeof(sk));
	if (write(server_pipe[1], srv.bound_addr, strlen(srv.bound_addr) + 1) < 0)
		return 105;
	close(server_pipe[1]);
	r = server_run(&srv);
	server_free(&srv);
	uv_run(&loop, UV_RUN_NOWAIT);
	return r == 0 ? 0 : 106;
}

TEST(confined_server_code_serves_every_request_and_reloads)
{
	struct sottod_proc sp;
	struct test_user a, b;
	char dir[128];
	pid_t pid;
	ssize_t n;
	int st = 0, got = 0;

	make_dir(dir, sizeof(dir), "server");
	if (geteuid() == 0 && lookup_nobody() == 0)
		REQUIRE(chown(dir, nobody_uid, nobody_gid) == 0);
	REQUIRE(pipe(server_pipe) == 0);
	fflush(stdout);
	REQUIRE((pid = fork()) >= 0);
	if (pid == 0)
		_exit(child_server(dir));
	close(server_pipe[1]);
	memset(&sp, 0, sizeof(sp));
	sp.pid = -1;
	n = read(server_pipe[0], sp.address, sizeof(sp.address) - 1);
	close(server_pipe[0]);
	if (n > 0) {
		test_user_new(&a, "alice");
		test_user_new(&b, "bob");
		CHECK_EQ_INT(test_user_register(&a, &sp, NULL), 0);
		CHECK_EQ_INT(test_user_register(&b, &sp, NULL), 0);
		CHECK_EQ_INT(test_user_send(&a, "bob@localhost", NULL, "sealed", 6), 0);
		if (test_user_next_push(&b, 5000) == 0)
			got = b.ev.u.push.envelope_len == 6 &&
			    memcmp(b.ev.u.push.envelope, "sealed", 6) == 0;
		CHECK(got);
		if (got) {
			uint64_t id = b.ev.u.push.envelope_id;
			CHECK_EQ_INT(test_user_received(&b, &id, 1), 0);
		}
		/* The other request kinds, and a configuration reload, under the filter too. */
		CHECK_EQ_INT(test_user_cert(&a), 0);
		CHECK_EQ_INT(test_user_upload(&b, 1, 3), 0);
		CHECK_EQ_INT(test_user_fetch(&a, "bob@localhost"), 0);
		kill(pid, SIGHUP);
		usleep(100000);
		CHECK_EQ_INT(test_user_cert(&a), 0);
		test_user_close(&a);
		test_user_close(&b);
	} else {
		CHECK(!"confined server started");
	}
	kill(pid, SIGTERM);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	show_status("server", st);
	CHECK(EXITED_OK(st));
}

int
main(void)
{
	char cmd[160];
	int rc;

	snprintf(tmp_root, sizeof(tmp_root), "/tmp/sotto-confine-XXXXXX");
	if (mkdtemp(tmp_root) == NULL)
		return 1;
	chmod(tmp_root, 0755);
	printf("# Landlock ABI of this kernel: %d\n", confine_landlock_abi());
	RUN(drop_privileges_switches_to_the_user_for_good);
	RUN(seccomp_kills_the_process_on_a_forbidden_call);
	RUN(seccomp_errno_mode_refuses_with_eperm);
	RUN(seccomp_refuses_raw_and_netlink_sockets_and_terminal_queries_softly);
	RUN(confined_process_is_not_dumpable);
	RUN(confined_process_exits_through_atexit);
	RUN(confined_process_still_does_a_servers_work);
	RUN(landlock_confines_files_to_the_data_dir);
	RUN(landlock_restricts_tcp_ports);
	RUN(confined_server_code_serves_every_request_and_reloads);
	rc = check_summary();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp_root);
	return rc;
}
