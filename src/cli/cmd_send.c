/* sotto send ADDRESS MESSAGE|- */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"

int cmd_send(struct cli *cli, int argc, char **argv);

/* Standard input, at most max bytes (SOTTO_ERR_TOO_LARGE beyond). */
static int
read_stdin(uint8_t **out, size_t *len, size_t max)
{
	uint8_t *p;
	size_t n = 0, got;

	if ((p = malloc(max + 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	while ((got = fread(p + n, 1, max + 1 - n, stdin)) > 0) {
		n += got;
		if (n > max) {
			sodium_memzero(p, n);
			free(p);
			return SOTTO_ERR_TOO_LARGE;
		}
	}
	if (ferror(stdin)) {
		free(p);
		return SOTTO_ERR_IO;
	}
	*out = p;
	*len = n;
	return 0;
}

int
cmd_send(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("send");
	struct sotto *s = NULL;
	uint8_t id[SOTTO_ID_LEN], *body = NULL;
	char hex[2 * SOTTO_ID_LEN + 1];
	size_t len;
	int ch, r, queued;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h')
			return cli_help(cmd);
		return cli_usage(cli, cmd, NULL);
	}
	if (optind + 2 != argc)
		return cli_usage(cli, cmd, "ADDRESS and MESSAGE");
	if (strcmp(argv[optind + 1], "-") == 0) {
		if ((r = read_stdin(&body, &len, SOTTO_TEXT_MAX)) != 0)
			return cli_fail(cli, "standard input", r);
	} else {
		len = strlen(argv[optind + 1]);
		if (len > SOTTO_TEXT_MAX)
			return cli_fail(cli, "message", SOTTO_ERR_TOO_LARGE);
		body = (uint8_t *)strdup(argv[optind + 1]);
		if (body == NULL)
			return cli_fail(cli, "message", SOTTO_ERR_NOMEM);
	}
	if (len == 0) {
		free(body);
		return cli_usage(cli, cmd, "an empty message");
	}
	if ((r = cli_daemon_lock(cli, NULL)) != CLI_OK || (r = cli_open(cli, &s)) != CLI_OK) {
		sodium_memzero(body, len);
		free(body);
		return r;
	}
	r = sotto_send_text(s, argv[optind], (const char *)body, len, id);
	sodium_memzero(body, len);
	free(body);
	if (r == 0 || r == SOTTO_ERR_QUEUED) {
		/* the id at once, queued or not: it is the one the message keeps */
		sotto_id_hex(hex, id);
		printf("%s\n", hex);
	}
	if (r == SOTTO_ERR_QUEUED) {
		int why = sotto_queued_reason(s);

		queued = sotto_outbox_count(s);
		if (why == SOTTO_ERR_MAILBOX_FULL || why == SOTTO_ERR_QUOTA ||
		    why == SOTTO_ERR_SERVER_FULL)
			/* a quota on the server is full: say which; the message waits for room */
			fprintf(stderr, "%s: send to %s: %s; the message waits in the outbox and is "
			    "sent by a later command once there is room (%d message%s queued)\n",
			    cli->prog, argv[optind], sotto_strerror(why), queued,
			    queued == 1 ? "" : "s");
		else
			fprintf(stderr, "%s: not yet on the server %s (unreachable, or busy): the "
			    "message waits in the outbox and is sent by the next command that "
			    "connects (%d message%s queued)\n", cli->prog, sotto_server(s), queued,
			    queued == 1 ? "" : "s");
	} else if (r == SOTTO_ERR_UNTRUSTED_IDENTITY)
		fprintf(stderr, "%s: the identity key of %s changed after you verified it; "
		    "compare safety numbers (`sotto verify %s`), then `sotto trust %s`\n",
		    cli->prog, argv[optind], argv[optind], argv[optind]);
	else if (r != 0 && cli_exit_code(r) == CLI_EXIT_NETWORK)
		fprintf(stderr, "%s: cannot reach %s: %s\n", cli->prog, sotto_server(s),
		    sotto_strerror(r));
	else if (r != 0)
		fprintf(stderr, "%s: send to %s: %s\n", cli->prog, argv[optind], sotto_strerror(r));
	sotto_close(s);
	return cli_exit_code(r);
}
