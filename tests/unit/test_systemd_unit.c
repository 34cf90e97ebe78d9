/*
 * contrib/sottod.service under Debian 12's systemd: the unit's SystemCallFilter= lines,
 * expanded to system calls by that systemd (`systemd-analyze syscall-filter`), applied with
 * libseccomp (kill on anything else, as systemd does) to a real sottod, which then
 * confines itself (Landlock, its own seccomp filter), serves two clients, answers its
 * status and drains on SIGTERM. Without one of those calls it is killed: the check fails
 * when the filter lacks what sottod needs.
 */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "base/confine.h"
#include "check.h"
#include "sottod_proc.h"
#include "server/admin.h"
#include "server/status.h"

#define UNIT_PATH "contrib/sottod.service"
#define NAMES_MAX 1024

struct names {
	char *v[NAMES_MAX];
	size_t n;
};

static int
names_has(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return 1;
	return 0;
}

static void
names_add(struct names *s, const char *name)
{
	if (!names_has(s, name) && s->n < NAMES_MAX)
		s->v[s->n++] = strdup(name);
}

static void
names_del(struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0) {
			free(s->v[i]);
			s->v[i] = s->v[--s->n];
			return;
		}
}

static void
names_free(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

/* A name or @group of systemd into its system calls (groups inside groups too). */
static int
expand(const char *token, struct names *out, int depth)
{
	char cmd[256], line[256];
	FILE *p;
	int r = 0;

	if (token[0] != '@') {
		names_add(out, token);
		return 0;
	}
	if (depth > 4 || strspn(token + 1, "abcdefghijklmnopqrstuvwxyz-") != strlen(token + 1))
		return -1;
	snprintf(cmd, sizeof(cmd), "systemd-analyze syscall-filter %s 2>/dev/null", token);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	/* The group's own line first, then its members, indented; comments start with '#'. */
	if (fgets(line, sizeof(line), p) == NULL || strncmp(line, token, strlen(token)) != 0)
		r = -1;
	while (r == 0 && fgets(line, sizeof(line), p) != NULL) {
		char *w = line + strspn(line, " \t");
		w[strcspn(w, " \t\r\n")] = '\0';
		if (w[0] == '\0' || w[0] == '#')
			continue;
		r = expand(w, out, depth + 1);
	}
	if (pclose(p) != 0)
		r = -1;
	return r;
}

/* The unit's filter: its SystemCallFilter= lines in order, ~ lines taking away. */
static int
unit_filter(struct names *allow)
{
	char line[1024];
	FILE *f;
	int r = 0, lines = 0;

	if ((f = fopen(UNIT_PATH, "r")) == NULL)
		return -1;
	while (r == 0 && fgets(line, sizeof(line), f) != NULL) {
		struct names set = { .n = 0 };
		char *v, *tok, *save = NULL;
		int deny;

		if (strncmp(line, "SystemCallFilter=", 17) != 0)
			continue;
		lines++;
		v = line + 17;
		if ((deny = v[0] == '~'))
			v++;
		for (tok = strtok_r(v, " \t\r\n", &save); tok && r == 0;
		    tok = strtok_r(NULL, " \t\r\n", &save))
			r = expand(tok, &set, 0);
		for (size_t i = 0; i < set.n; i++)
			if (deny)
				names_del(allow, set.v[i]);
			else
				names_add(allow, set.v[i]);
		names_free(&set);
	}
	fclose(f);
	return r == 0 && lines > 0 && allow->n > 0 ? 0 : -1;
}

/* How the unit starts sottod: as User= (not root: SQLite, for one, chowns its files when
 * root, and the filter takes @chown away), under the filter. */
struct unit_exec {
	const struct names *allow;
	uid_t uid;              /* 0: stay (the test does not run as root) */
	gid_t gid;
};

/* In the child: what systemd does before it runs ExecStart (NoNewPrivileges=yes). */
static void
apply_filter(void *arg)
{
	const struct unit_exec *ue = arg;
	const struct names *allow = ue->allow;
	scmp_filter_ctx ctx;
	int nr;

	if (ue->uid != 0 && (setgroups(0, NULL) != 0 || setgid(ue->gid) != 0 ||
	    setuid(ue->uid) != 0))
		_exit(119);
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		_exit(120);
	for (size_t i = 0; i < allow->n; i++)
		if ((nr = seccomp_syscall_resolve_name(allow->v[i])) >= 0 &&
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0)
			_exit(121);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seccomp_load(ctx) != 0)
		_exit(122);
}

/* User= must reach sottod: a fresh clone may sit under a 0700 directory (mktemp -d), so
 * the binary is copied into a directory of its own that every user may enter, and
 * SOTTO_BUILD points there while the test runs. */
static int
binary_for_user(char dir[32])
{
	char path[64], buf[65536];
	int in = -1, out = -1, r = -1;
	ssize_t n;

	snprintf(dir, 32, "/tmp/sotto-unit-XXXXXX");
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/sottod", dir);
	if ((in = open(sottod_proc_binary(), O_RDONLY | O_CLOEXEC)) < 0 ||
	    (out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755)) < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto out;
	if (n == 0 && setenv("SOTTO_BUILD", dir, 1) == 0)
		r = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

static void
binary_for_user_remove(const char *dir)
{
	char path[64];

	snprintf(path, sizeof(path), "%s/sottod", dir);
	unlink(path);
	rmdir(dir);
}

/* sottod under allow: 0 if it served and stopped cleanly; else its exit status (128 +
 * signal for a kill, SIGSYS for a call outside the filter), -1 if it never listened. */
static int
serve_under(struct names *allow, int *served)
{
	struct sottod_proc sp;
	struct test_user a, b;
	struct unit_exec ue = { allow, 0, 0 };
	char answer[STATUS_ANSWER_MAX], conf[sizeof(sp.dir) + 16];
	static const char env[] = "envelope under the unit's filter";
	struct passwd *pw;
	int r;

	*served = 0;
	if (sottod_proc_init(&sp, "registration = open\n") != 0)
		return -1;
	if (geteuid() == 0) {
		/* The unit's User=sottod: here the unprivileged user every system has. */
		if ((pw = getpwnam("nobody")) == NULL || pw->pw_uid == 0)
			return -1;
		ue.uid = pw->pw_uid;
		ue.gid = pw->pw_gid;
		snprintf(conf, sizeof(conf), "%s/sottod.conf", sp.dir);
		if (chown(sp.dir, ue.uid, ue.gid) != 0 || chown(conf, ue.uid, ue.gid) != 0)
			return -1;
	}
	sp.pre_exec = apply_filter;
	sp.pre_exec_arg = &ue;
	if (sottod_proc_start(&sp) != 0) {
		r = sp.exit_status;
		sottod_proc_cleanup(&sp);
		return r < 0 ? -1 : r;
	}
	if (test_user_join(&a, &sp, "alice") == 0 && test_user_join(&b, &sp, "bob") == 0 &&
	    test_user_send(&a, "bob@localhost", NULL, env, sizeof(env)) == 0 &&
	    test_user_drain(&b, 1, 5000) == 1 &&
	    admin_status_query(sp.dir, answer, sizeof(answer)) == 0 &&
	    strstr(answer, "\"accounts\": 2") != NULL)
		*served = 1;
	test_user_close(&a);
	test_user_close(&b);
	r = sottod_proc_stop(&sp, SIGTERM);
	sottod_proc_cleanup(&sp);
	return r;
}

TEST(unit_filter_lets_sottod_confine_itself_and_serve)
{
	struct names allow = { .n = 0 };
	char bin_dir[32] = "", build[4096] = "";
	int served = 0;

	/* Sanitizer and valgrind runs make calls of their own (LeakSanitizer's ptrace). */
	if (confine_leak_checker_allowed() || confine_disabled_by_env()) {
		printf("# skipped: sanitizer build or SOTTO_SANDBOX=off\n");
		return;
	}
	REQUIRE(unit_filter(&allow) == 0);
	if (geteuid() == 0) {
		const char *b = getenv("SOTTO_BUILD");

		if (b != NULL)
			snprintf(build, sizeof(build), "%s", b);
		REQUIRE(binary_for_user(bin_dir) == 0);
	}
	CHECK(names_has(&allow, "read") && names_has(&allow, "epoll_wait"));
	CHECK(!names_has(&allow, "setresuid") && !names_has(&allow, "setrlimit"));
	CHECK_EQ_INT(serve_under(&allow, &served), 0);
	CHECK(served);
	/* The check can fail: the same filter without one of Landlock's calls kills it. */
	names_del(&allow, "landlock_create_ruleset");
	CHECK_EQ_INT(serve_under(&allow, &served), 128 + SIGSYS);
	CHECK(!served);
	names_free(&allow);
	if (bin_dir[0] != '\0') {
		binary_for_user_remove(bin_dir);
		if (build[0] != '\0')
			setenv("SOTTO_BUILD", build, 1);
		else
			unsetenv("SOTTO_BUILD");
	}
}

int
main(void)
{
	RUN(unit_filter_lets_sottod_confine_itself_and_serve);
	return check_summary();
}
