/*
 * Files in the CLI (send --file, group send --file, receive, history, the daemon): the
 * progress shown while a file moves, how a file entry is printed and put in JSON, and the
 * words for the errors only files have.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

/* Tests only: a client that stops itself (SIGSTOP) once this many blob bytes moved, so a
 * test can SIGKILL it in the middle of a transfer without racing it. */
#define CLI_TEST_STOP_ENV "SOTTO_TEST_STOP_AT"
#define CLI_BAR_WIDTH 30

void
cli_progress_init(struct cli_progress *p, int json)
{
	const char *stop = getenv(CLI_TEST_STOP_ENV);

	memset(p, 0, sizeof(*p));
	p->json = json;
	p->tty = isatty(STDERR_FILENO);
	p->stop_at = stop != NULL ? strtoull(stop, NULL, 10) : 0;
}

static void
progress_test_stop(struct cli_progress *p, const struct sotto_progress *pr)
{
	if (p->stop_at == 0 || p->stopped || pr->done < p->stop_at || pr->done >= pr->total)
		return;
	p->stopped = 1;
	fflush(stdout);
	fflush(stderr);
	raise(SIGSTOP);
}

void
cli_progress(void *ctx, const struct sotto_progress *pr)
{
	struct cli_progress *p = ctx;
	const char *dir = pr->dir == SOTTO_UPLOAD ? "upload" : "download";
	unsigned pct, fill, i;
	json_t *j;

	if (p->json) {
		j = json_object();
		json_object_set_new(j, "type", json_string("progress"));
		json_object_set_new(j, "direction", json_string(dir));
		json_object_set_new(j, "name", cli_json_text((const uint8_t *)pr->name,
		    strlen(pr->name)));
		json_object_set_new(j, "done", json_integer((json_int_t)pr->done));
		json_object_set_new(j, "total", json_integer((json_int_t)pr->total));
		cli_json_print(stdout, j);
		json_decref(j);
		fflush(stdout);
	} else if (p->tty) {
		pct = pr->total > 0 ? (unsigned)(pr->done * 100 / pr->total) : 100;
		fill = pct * CLI_BAR_WIDTH / 100;
		fprintf(stderr, "\r%s ", pr->dir == SOTTO_UPLOAD ? "up  " : "down");
		cli_term_write(stderr, (const uint8_t *)pr->name, strlen(pr->name), 0);
		fputs(" [", stderr);
		for (i = 0; i < CLI_BAR_WIDTH; i++)
			fputc(i < fill ? '#' : ' ', stderr);
		fprintf(stderr, "] %3u%% ", pct);
		cli_print_size(stderr, pr->done);
		if (pr->done >= pr->total)
			fputc('\n', stderr);
		fflush(stderr);
	}
	progress_test_stop(p, pr);
}

int
cli_file_check(struct cli *cli, const char *path)
{
	struct stat st;
	FILE *f;

	if (stat(path, &st) != 0) {
		cli_printf(stderr, "%s: %s: %s\n", cli->prog, path, strerror(errno));
		return errno == ENOENT ? CLI_EXIT_NOT_FOUND : CLI_EXIT_INVALID;
	}
	if (!S_ISREG(st.st_mode)) {
		cli_printf(stderr, "%s: %s: not a regular file\n", cli->prog, path);
		return CLI_EXIT_INVALID;
	}
	if ((f = fopen(path, "rb")) == NULL) {
		cli_printf(stderr, "%s: %s: %s\n", cli->prog, path, strerror(errno));
		return CLI_EXIT_INVALID;
	}
	fclose(f);
	return CLI_OK;
}

int
cli_file_fail(struct cli *cli, const char *what, const char *name, int err)
{
	const char *why = NULL;

	switch (err) {
	case SOTTO_ERR_QUOTA:
		why = "the account's file quota on the server is full: wait for files to expire "
		    "or be fetched, then send again (the upload continues where it stopped)";
		break;
	case SOTTO_ERR_TOO_LARGE:
		why = "the file is larger than the server takes (blob_max_mib)";
		break;
	case SOTTO_ERR_NOT_FOUND:
		why = "the file is no longer on the server (it expired, or every recipient "
		    "fetched it); ask the sender to send it again";
		break;
	case SOTTO_ERR_FILE_DIGEST:
		why = "the decrypted file does not have the digest its message gives: refused, "
		    "nothing was kept";
		break;
	case SOTTO_ERR_BLOB_HASH:
	case SOTTO_ERR_DECRYPT:
	case SOTTO_ERR_TRUNCATED:
	case SOTTO_ERR_TRAILING:
	case SOTTO_ERR_MALFORMED:
		why = "the server's copy is not the file the message names (changed or cut): "
		    "refused, nothing was kept";
		break;
	default:
		break;
	}
	if (why == NULL) {
		char buf[SOTTO_FILE_NAME_MAX + 64];

		snprintf(buf, sizeof(buf), "%s %s", what, name);
		return cli_fail(cli, buf, err);
	}
	cli_printf(stderr, "%s: %s %s: %s (%s)\n", cli->prog, what, name, why,
	    sotto_strerror(err));
	/* a blob that is not the file named is the blob's fault, not the network's */
	return err == SOTTO_ERR_DECRYPT ? CLI_EXIT_INVALID : cli_exit_code(err);
}

void
cli_print_sent(int json, const uint8_t id[SOTTO_ID_LEN], const char *file)
{
	char hex[2 * SOTTO_ID_LEN + 1];
	json_t *j;

	sotto_id_hex(hex, id);
	if (!json) {
		printf("%s\n", hex);
		fflush(stdout);
		return;
	}
	j = json_object();
	json_object_set_new(j, "type", json_string("sent"));
	json_object_set_new(j, "id", json_string(hex));
	if (file != NULL)
		json_object_set_new(j, "file", cli_json_text((const uint8_t *)file, strlen(file)));
	cli_json_print(stdout, j);
	json_decref(j);
	fflush(stdout);
}

void
cli_print_file(FILE *out, const struct sotto_file *f)
{
	fputs("file ", out);
	cli_term_write(out, (const uint8_t *)f->name, strlen(f->name), 0);
	fputs(" (", out);
	cli_print_size(out, f->size);
	fputs(")", out);
	if (f->path[0] != '\0') {
		fputs(", saved to ", out);
		cli_term_write(out, (const uint8_t *)f->path, strlen(f->path), 0);
	} else if (f->dir == SOTTO_IN)
		fputs(", not fetched yet", out);
}

void
cli_file_json_add(json_t *o, const struct sotto_file *f)
{
	json_object_set_new(o, "name", cli_json_text((const uint8_t *)f->name, strlen(f->name)));
	json_object_set_new(o, "size", json_integer((json_int_t)f->size));
	json_object_set_new(o, "media_type", json_string(f->type));
	if (f->path[0] != '\0')
		json_object_set_new(o, "path", cli_json_text((const uint8_t *)f->path,
		    strlen(f->path)));
}
