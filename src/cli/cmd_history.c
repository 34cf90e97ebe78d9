/* sotto history [--json] [--limit N] [ADDRESS] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
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
	size_t n = 0, i;
	long limit = 1000;
	int ch, r, json = 0;
	char *end, *line, tbuf[32];
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
	r = sotto_history(s, optind < argc ? argv[optind] : NULL, 0, (size_t)limit, &v, &n);
	sotto_close(s);
	if (r != 0)
		return cli_fail(cli, "history", r);
	for (i = 0; i < n; i++) {
		if (json) {
			j = cli_message_json(&v[i]);
			if ((line = json_dumps(j, JSON_COMPACT)) != NULL) {
				printf("%s\n", line);
				free(line);
			}
			json_decref(j);
			continue;
		}
		t = (time_t)v[i].time;
		localtime_r(&t, &tm);
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%s %s %s: ", tbuf, v[i].dir == SOTTO_OUT ? "to" : "from", v[i].peer);
		cli_print_text(stdout, v[i].body, v[i].body_len);
		printf("%s\n", v[i].flags & SOTTO_MSG_READ ? "  (read)" :
		    v[i].flags & SOTTO_MSG_DELIVERED ? "  (delivered)" : "");
	}
	sotto_history_free(v, n);
	return CLI_OK;
}
