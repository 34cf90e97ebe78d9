/* sotto send [--json] ADDRESS [MESSAGE|-] [--file PATH]... */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"

int cmd_send(struct cli *cli, int argc, char **argv);

/* The server refused a message for a key the contact no longer has, and the send went on
 * in a new session with the new key: say so, as Signal says "safety number changed". */
static void
key_change_notice(struct cli *cli, struct sotto *s, const char *to,
    const struct sotto_contact *before)
{
	struct sotto_contact now;

	if (before == NULL || sotto_contact(s, to, &now) != 0 ||
	    sodium_memcmp(before->identity_key, now.identity_key, 32) == 0)
		return;
	cli_printf(stderr, "%s: the identity key of %s changed (a new device or a reinstall); "
	    "messages now go to the new key. Compare safety numbers: `%s verify %s`\n",
	    cli->prog, to, cli_self(cli), to);
}

/* The text (if any), then each file as its own message. Stops at the first failure. */
static int
send_all(struct cli *cli, struct sotto *s, const char *to, const uint8_t *body, size_t len,
    char **files, size_t n_files, int json, int *told)
{
	struct cli_progress pr;
	uint8_t id[SOTTO_ID_LEN];
	size_t i;
	int r = 0;

	if (len > 0) {
		r = sotto_send_text(s, to, (const char *)body, len, id);
		if (r != 0 && r != SOTTO_ERR_QUEUED)
			return r;
		cli_print_sent(json, id, NULL);
	}
	cli_progress_init(&pr, json);
	for (i = 0; i < n_files; i++) {
		int fr = sotto_send_file(s, to, files[i], NULL, 0, cli_progress, &pr, id);

		if (fr != 0 && fr != SOTTO_ERR_QUEUED) {
			cli_file_fail(cli, "send", files[i], fr);
			*told = 1;
			return fr;
		}
		cli_print_sent(json, id, files[i]);
		if (fr != 0)
			r = fr;
	}
	return r;
}

int
cmd_send(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("send");
	struct sotto *s = NULL;
	uint8_t *body = NULL;
	char what[SOTTO_ADDRESS_MAX + 16], *files[CLI_FILES_MAX];
	struct sotto_contact before;
	size_t len = 0, n_files = 0, i;
	int ch, r, queued, had, json = 0, told = 0;

	while ((ch = getopt_long(argc, argv, "f:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (n_files == CLI_FILES_MAX)
				return cli_usage(cli, cmd, "too many --file options");
			files[n_files++] = optarg;
			break;
		case 'j': json = 1; break;
		case 'h': return cli_help(cmd);
		default: return cli_usage(cli, cmd, NULL);
		}
	}
	if (optind + 1 != argc && optind + 2 != argc)
		return cli_usage(cli, cmd, "ADDRESS, then MESSAGE, - or nothing (the editor)");
	if ((r = cli_have_account(cli)) != CLI_OK)
		return r;
	for (i = 0; i < n_files; i++)
		if ((r = cli_file_check(cli, files[i])) != CLI_OK)
			return r;
	/* with files, no MESSAGE means none (not the editor) */
	if ((n_files == 0 || optind + 2 == argc) &&
	    (r = cli_message_read(cli, optind + 1 < argc ? argv[optind + 1] : NULL, &body,
	    &len)) != 0)
		return cli_fail(cli, "not sent", r);
	if (len == 0 && n_files == 0) {
		free(body);
		return cli_usage(cli, cmd, "an empty message");
	}
	if ((r = cli_daemon_lock(cli, NULL)) != CLI_OK || (r = cli_open(cli, &s)) != CLI_OK) {
		if (body != NULL)
			sodium_memzero(body, len);
		free(body);
		return r;
	}
	had = sotto_contact(s, argv[optind], &before) == 0;
	r = send_all(cli, s, argv[optind], body, len, files, n_files, json, &told);
	if (body != NULL)
		sodium_memzero(body, len);
	free(body);
	key_change_notice(cli, s, argv[optind], had ? &before : NULL);
	if (told)
		;       /* a file's failure, already told */
	else if (r == SOTTO_ERR_QUEUED) {
		int why = sotto_queued_reason(s);

		queued = sotto_outbox_count(s);
		if (why == SOTTO_ERR_MAILBOX_FULL || why == SOTTO_ERR_QUOTA ||
		    why == SOTTO_ERR_SERVER_FULL)
			/* a quota on the server is full: say which; the message waits for room */
			cli_printf(stderr, "%s: send to %s: %s; the message waits in the outbox and "
			    "is sent by a later command once there is room (%d message%s queued)\n",
			    cli->prog, argv[optind], sotto_strerror(why), queued,
			    queued == 1 ? "" : "s");
		else
			cli_printf(stderr, "%s: not yet on the server %s (%s): the message waits in "
			    "the outbox and is sent by the next command that connects (%d message%s "
			    "queued)\n", cli->prog, sotto_server(s), why != 0 ? sotto_strerror(why) :
			    "unreachable, or busy", queued, queued == 1 ? "" : "s");
	} else if (r == SOTTO_ERR_UNTRUSTED_IDENTITY)
		cli_printf(stderr, "%s: the identity key of %s changed after you verified it; "
		    "compare safety numbers (`%s verify %s`), then `%s trust %s`\n",
		    cli->prog, argv[optind], cli_self(cli), argv[optind], cli_self(cli), argv[optind]);
	else if (r != 0 && cli_exit_code(r) == CLI_EXIT_NETWORK)
		cli_report_connect(cli, sotto_server(s), r);
	else if (r != 0) {
		snprintf(what, sizeof(what), "send to %s", argv[optind]);
		cli_report(cli, what, r);
	}
	sotto_close(s);
	return cli_exit_code(r);
}
