#include "sottod_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "wire/address.h"

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

int
sottod_proc_init(struct sottod_proc *sp, const char *conf)
{
	char path[256];
	FILE *f;

	memset(sp, 0, sizeof(*sp));
	sp->pid = -1;
	strcpy(sp->dir, "/tmp/sottod-test-XXXXXX");
	if (mkdtemp(sp->dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/sottod.conf", sp->dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "listen = 127.0.0.1:0\nlog_level = debug\n%s\n", conf ? conf : "");
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
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(bin, bin, "run", "--data", sp->dir, (char *)NULL);
		_exit(127);
	}
	sp->pid = pid;
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
			sp->pid = -1;
			sp->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			return -1;
		}
		sleep_ms(10);
	}
	return -1;
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

void
sottod_proc_cleanup(struct sottod_proc *sp)
{
	char cmd[300];

	if (sp->pid > 0)
		sottod_proc_stop(sp, SIGKILL);
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
	static struct proto_msg req, resp;
	int r;

	if (u->c == NULL && (r = test_user_connect(u, sp)) != 0)
		return r;
	memset(&req, 0, sizeof(req));
	req.type = PROTO_REGISTER;
	if (strlen(u->address) >= sizeof(req.u.reg.address))
		return SOTTO_ERR_INVALID_ARG;
	memcpy(req.u.reg.address, u->address, strlen(u->address) + 1);
	memcpy(req.u.reg.identity_pk, u->id_pk, 32);
	memcpy(req.u.reg.device_pk, u->dev_pk, 32);
	if (invite != NULL) {
		req.u.reg.invite_len = strlen(invite);
		memcpy(req.u.reg.invite, invite, req.u.reg.invite_len);
	}
	if ((r = proto_register_sign(&req.u.reg, u->id_sk)) != 0)
		return r;
	if ((r = conn_request(u->c, &req, &resp, 5000)) != 0)
		return r;
	return resp.status;
}

void
test_user_close(struct test_user *u)
{
	if (u->c != NULL)
		conn_close(u->c);
	u->c = NULL;
}
