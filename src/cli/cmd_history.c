/* sotto history [--json] [--limit N] [ADDRESS]: the newest N entries, oldest first */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

int cmd_history(struct cli *cli, int argc, char **argv);

int
cmd_history(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("history");
	struct sotto_message *v = NULL;
	struct sotto *s = NULL;
	struct sotto_mail_summary m;
	struct sotto_file f;
	size_t n = 0, i, shown = 0;
	uint32_t listed;
	long limit = 1000;
	int ch, r, json = 0, mail;
	char *end, tbuf[32];
	static char gbuf[SOTTO_GROUP_CHANGE_TEXT_MAX];
	json_t *j;
	struct tm tm;
	time_t t;

	while ((ch = getopt_long(argc, argv, "jl:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 'l':
			limit = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || limit < 1 || limit > 1000000)
				return cli_usage(cli, cmd, "--limit takes 1..1000000");
			break;
		case 'h': return cli_help(cmd);
		default: return cli_usage(cli, cmd, NULL);
		}
	}
	if (optind + 1 < argc)
		return cli_usage(cli, cmd, "at most one ADDRESS");
	if ((r = cli_open(cli, &s)) != CLI_OK)
		return r;
	/* the newest `limit`, printed oldest first */
	r = cli_history_last(s, optind < argc ? argv[optind] : NULL, (size_t)limit, &v, &n);
	if (r != 0) {
		sotto_close(s);
		return cli_fail(cli, "history", r);
	}
	for (i = 0; i < n && shown < (size_t)limit; i++) {
		if ((mail = cli_history_mail(v, n, i, &m, &listed)) < 0)
			continue;       /* a later part of a mail */
		shown++;
		if (json) {
			if ((j = cli_history_json(v, n, i)) == NULL)
				continue;
			if (v[i].content == SOTTO_CONTENT_FILE && sotto_file_info(s, v[i].id, &f) == 0) {
				json_object_set_new(j, "type", json_string("file"));
				cli_file_json_add(j, &f);
			}
			cli_json_print(stdout, j);
			json_decref(j);
			continue;
		}
		t = (time_t)v[i].time;
		localtime_r(&t, &tm);
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", &tm);
		if (v[i].group[0] != '\0') {
			cli_printf(stdout, "%s [", tbuf);
			cli_print_text(stdout, (const uint8_t *)v[i].group_name,
			    strlen(v[i].group_name));
			if (v[i].content == SOTTO_CONTENT_GROUP_EVENT)
				printf("] ");
			else
				cli_printf(stdout, "] %s: ", v[i].peer);
		} else
			cli_printf(stdout, "%s %s %s: ", tbuf, v[i].dir == SOTTO_OUT ? "to" : "from",
			    v[i].peer);
		if (v[i].content == SOTTO_CONTENT_GROUP_EVENT) {
			const char *names[SOTTO_GROUP_ADD_MAX];
			size_t nn = sotto_group_change_names(&v[i], gbuf, sizeof(gbuf), names,
			    SOTTO_GROUP_ADD_MAX);

			cli_group_change_print(stdout, v[i].change, v[i].peer, names, nn,
			    v[i].expiry);
			continue;
		}
		if (mail) {
			printf("mail: ");
			cli_print_text(stdout, (const uint8_t *)m.subject, strlen(m.subject));
			printf(" (");
			cli_print_size(stdout, m.size);
			if (listed < m.count)
				printf(", %u of %u parts here", listed, m.count);
			printf(")");
		} else if (v[i].content == SOTTO_CONTENT_FILE && sotto_file_info(s, v[i].id, &f) == 0) {
			cli_print_file(stdout, &f);
			if (v[i].body_len > 0) {
				printf(": ");
				cli_print_text(stdout, v[i].body, v[i].body_len);
			}
		} else
			cli_print_text(stdout, v[i].body, v[i].body_len);
		printf("%s\n", v[i].flags & SOTTO_MSG_UNREADABLE ?
		    "  (unreadable: the recipient could not decrypt it)" :
		    v[i].flags & SOTTO_MSG_READ ? "  (read)" :
		    v[i].flags & SOTTO_MSG_DELIVERED ? "  (delivered)" :
		    v[i].flags & SOTTO_MSG_PENDING ? "  (pending: not yet on the server)" :
		    v[i].flags & SOTTO_MSG_FAILED ? "  (failed: refused by the server)" : "");
	}
	sotto_history_free(v, n);
	sotto_close(s);
	return CLI_OK;
}
