/*
 * Where the text of `sotto send` comes from. A MESSAGE argument is readable by every user
 * of the machine in /proc/PID/cmdline while the command runs (and stays in the shell's
 * history), so standard input and the editor are the ways for secrets.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

/* At most max bytes from f (SOTTO_ERR_MESSAGE_TOO_LARGE beyond); *out is NUL-terminated. */
static int
read_all(FILE *f, size_t max, uint8_t **out, size_t *len)
{
	uint8_t *p;
	size_t n = 0, got;

	if ((p = malloc(max + 2)) == NULL)
		return SOTTO_ERR_NOMEM;
	while ((got = fread(p + n, 1, max + 1 - n, f)) > 0) {
		n += got;
		if (n > max) {
			sodium_memzero(p, n);
			free(p);
			return SOTTO_ERR_MESSAGE_TOO_LARGE;
		}
	}
	if (ferror(f)) {
		sodium_memzero(p, n);
		free(p);
		return SOTTO_ERR_IO;
	}
	p[n] = '\0';
	*out = p;
	*len = n;
	return 0;
}

/* Runs $VISUAL, else $EDITOR, else vi on path (through the shell: "emacs -nw" works). */
static int
run_editor(struct cli *cli, const char *path)
{
	const char *ed = getenv("VISUAL");
	pid_t pid;
	int status;

	if (ed == NULL || *ed == '\0')
		ed = getenv("EDITOR");
	if (ed == NULL || *ed == '\0')
		ed = "vi";
	fflush(NULL);
	if ((pid = fork()) < 0)
		return SOTTO_ERR_IO;
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", ed, path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return SOTTO_ERR_IO;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cli_printf(stderr, "%s: the editor (%s) failed: nothing sent\n", cli->prog, ed);
		return SOTTO_ERR_STATE;
	}
	return 0;
}

/* The editor on an empty file in the account's own directory (0700), which is read back,
 * overwritten and removed. */
static int
from_editor(struct cli *cli, uint8_t **out, size_t *len)
{
	char home[4096], path[4200];
	struct stat sb;
	FILE *f = NULL;
	int fd, r;

	if ((r = cli_home(cli, home, sizeof(home))) != 0)
		return r;
	if ((size_t)snprintf(path, sizeof(path), "%s/compose-XXXXXX", home) >= sizeof(path))
		return SOTTO_ERR_TOO_LARGE;
	if ((fd = mkstemp(path)) < 0)
		return SOTTO_ERR_IO;
	close(fd);
	if ((r = run_editor(cli, path)) != 0)
		goto out;
	/* Editors save by renaming a new file over it: open by name only now. */
	if ((f = fopen(path, "rb")) == NULL) {
		r = SOTTO_ERR_IO;
		goto out;
	}
	r = read_all(f, SOTTO_TEXT_MAX, out, len);
	if (fstat(fileno(f), &sb) == 0 && sb.st_size > 0) {
		uint8_t zero[4096] = { 0 };
		FILE *w = fopen(path, "r+b");
		off_t left = sb.st_size;

		while (w != NULL && left > 0) {
			size_t k = left > (off_t)sizeof(zero) ? sizeof(zero) : (size_t)left;

			if (fwrite(zero, 1, k, w) != k)
				break;
			left -= (off_t)k;
		}
		if (w != NULL) {
			(void)fflush(w);
			(void)fsync(fileno(w));
			fclose(w);
		}
	}
	fclose(f);
	/* An editor adds a final newline the user did not type. */
	if (r == 0 && *len > 0 && (*out)[*len - 1] == '\n')
		(*out)[--*len] = '\0';
out:
	unlink(path);
	return r;
}

int
cli_message_read(struct cli *cli, const char *arg, uint8_t **out, size_t *len)
{
	size_t n;

	*out = NULL;
	*len = 0;
	if (arg == NULL)
		return from_editor(cli, out, len);
	if (strcmp(arg, "-") == 0)
		return read_all(stdin, SOTTO_TEXT_MAX, out, len);
	if ((n = strlen(arg)) > SOTTO_TEXT_MAX)
		return SOTTO_ERR_MESSAGE_TOO_LARGE;
	if ((*out = (uint8_t *)strdup(arg)) == NULL)
		return SOTTO_ERR_NOMEM;
	*len = n;
	return 0;
}
