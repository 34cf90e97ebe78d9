#include "ts_oracle.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "waitfor.h"

/* The answer line may hold a Welcome or a ratchet tree of a large group in hex. */
#define TS_ORACLE_LINE_MAX (8u * 1024 * 1024)

static int
installed_version_ok(struct ts_oracle *o)
{
	const char *path = TS_ORACLE_DIR "/node_modules/ts-mls/package.json";
	json_error_t err;
	json_t *pkg = json_load_file(path, 0, &err);
	const char *v = json_string_value(json_object_get(pkg, "version"));
	int ok = v != NULL && strcmp(v, TS_ORACLE_MLS_VERSION) == 0;

	if (pkg == NULL)
		snprintf(o->error, sizeof(o->error), "%s is missing: ts-mls is not installed; "
		    "run scripts/install-deps (npm ci in " TS_ORACLE_DIR ")", path);
	else if (!ok)
		snprintf(o->error, sizeof(o->error), "%s says ts-mls %s, not the pinned "
		    TS_ORACLE_MLS_VERSION "; run scripts/install-deps", path, v ? v : "(none)");
	json_decref(pkg);
	return ok;
}

int
ts_oracle_start(struct ts_oracle *o)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };

	memset(o, 0, sizeof(*o));
	o->pid = -1;
	o->to_child = o->from_child = -1;
	if (!installed_version_ok(o))
		return -1;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
		snprintf(o->error, sizeof(o->error), "pipe: %s", strerror(errno));
		goto fail;
	}
	if ((o->pid = fork()) < 0) {
		snprintf(o->error, sizeof(o->error), "fork: %s", strerror(errno));
		goto fail;
	}
	if (o->pid == 0) {
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || chdir(TS_ORACLE_DIR) != 0)
			_exit(127);
		execlp("node", "node", "oracle.mjs", (char *)NULL);
		fprintf(stderr, "ts_oracle: cannot run node: %s\n", strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	o->to_child = in[1];
	o->from_child = out[0];
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return -1;
}

void
ts_oracle_stop(struct ts_oracle *o)
{
	int status;

	if (o->to_child >= 0)
		close(o->to_child);   /* the oracle ends at the end of its input */
	if (o->from_child >= 0)
		close(o->from_child);
	if (o->pid > 0 && waitpid(o->pid, &status, 0) < 0)
		kill(o->pid, SIGKILL);
	o->pid = -1;
	o->to_child = o->from_child = -1;
	free(o->line);
	o->line = NULL;
	o->line_len = o->line_cap = 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until a whole line is buffered; the line (NUL-terminated, without its newline)
 * is o->line[0 .. *len). -1 and o->error on end of file, timeout or overlong line. */
static int
read_line(struct ts_oracle *o, size_t *len)
{
	int timeout = wait_scaled_ms(TS_ORACLE_ANSWER_MS);
	char *nl;

	while ((nl = o->line ? memchr(o->line, '\n', o->line_len) : NULL) == NULL) {
		struct pollfd pfd = { o->from_child, POLLIN, 0 };
		ssize_t r;
		int pr;

		if (o->line_cap - o->line_len < 65536) {
			size_t cap = o->line_cap ? o->line_cap * 2 : 1u << 20;
			char *p;

			if (cap > TS_ORACLE_LINE_MAX || (p = realloc(o->line, cap)) == NULL) {
				snprintf(o->error, sizeof(o->error), "answer longer than %u bytes",
				    TS_ORACLE_LINE_MAX);
				return -1;
			}
			o->line = p;
			o->line_cap = cap;
		}
		if ((pr = poll(&pfd, 1, timeout)) < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			snprintf(o->error, sizeof(o->error), "no answer from the oracle in %d ms", timeout);
			return -1;
		}
		r = read(o->from_child, o->line + o->line_len, o->line_cap - o->line_len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(o->error, sizeof(o->error), "the oracle ended (node missing or crashed: "
			    "see its stderr)");
			return -1;
		}
		o->line_len += (size_t)r;
	}
	*nl = '\0';
	*len = (size_t)(nl - o->line);
	return 0;
}

json_t *
ts_oracle_call(struct ts_oracle *o, const char *fmt, ...)
{
	json_t *req, *ans = NULL;
	json_error_t err;
	char *text = NULL;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	req = json_vpack_ex(&err, 0, fmt, ap);
	va_end(ap);
	if (req == NULL) {
		snprintf(o->error, sizeof(o->error), "request: %s", err.text);
		return NULL;
	}
	if (o->pid <= 0) {
		snprintf(o->error, sizeof(o->error), "the oracle is not running");
		goto out;
	}
	if ((text = json_dumps(req, JSON_COMPACT)) == NULL ||
	    write_all(o->to_child, text, strlen(text)) != 0 || write_all(o->to_child, "\n", 1) != 0) {
		snprintf(o->error, sizeof(o->error), "cannot write to the oracle");
		goto out;
	}
	if (read_line(o, &len) != 0)
		goto out;
	ans = json_loadb(o->line, len, 0, &err);
	memmove(o->line, o->line + len + 1, o->line_len - len - 1);
	o->line_len -= len + 1;
	if (ans == NULL) {
		snprintf(o->error, sizeof(o->error), "malformed answer: %s", err.text);
		goto out;
	}
	if (!json_is_true(json_object_get(ans, "ok"))) {
		const char *why = json_string_value(json_object_get(ans, "error"));

		snprintf(o->error, sizeof(o->error), "ts-mls: %s", why ? why : "(no reason)");
		json_decref(ans);
		ans = NULL;
	}
out:
	free(text);
	json_decref(req);
	return ans;
}
