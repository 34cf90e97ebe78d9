/* sotto group create|add|remove|send|members|list ... */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "sotto/group.h"

int cmd_group(struct cli *cli, int argc, char **argv);

/* What went wrong, said for a group command; returns the exit code. */
static int
group_fail(struct cli *cli, struct sotto *s, const char *what, const char *group, int r)
{
	char buf[SOTTO_GROUP_NAME_MAX + 64];

	if (r == SOTTO_ERR_NOT_FOUND && group != NULL)
		cli_printf(stderr, "%s: %s: no group called %s (see `%s group list`), or a member "
		    "named is not in it\n", cli->prog, what, group, cli_self(cli));
	else if (r == SOTTO_ERR_EXISTS && group != NULL)
		cli_printf(stderr, "%s: %s: several groups are called %s, or a member named is in "
		    "it already: use the group's id (`%s group list`)\n", cli->prog, what, group,
		    cli_self(cli));
	else if (r == SOTTO_ERR_STATE) {
		cli_printf(stderr, "%s: %s: you are no longer a member of %s\n", cli->prog, what,
		    group != NULL ? group : "that group");
		return CLI_EXIT_REFUSED;
	}
	else if (cli_exit_code(r) == CLI_EXIT_NETWORK)
		cli_report_connect(cli, sotto_server(s), r);
	else {
		snprintf(buf, sizeof(buf), "%s%s%s", what, group != NULL ? " " : "",
		    group != NULL ? group : "");
		cli_report(cli, buf, r);
	}
	return cli_exit_code(r);
}

static int
group_create(struct cli *cli, struct sotto *s, int argc, char **argv)
{
	char id[2 * SOTTO_GROUP_ID_MAX + 1];
	int r;

	r = sotto_group_create(s, argv[0], (const char *const *)argv + 1, (size_t)argc - 1, id);
	if (id[0] != '\0')
		printf("%s\n", id);
	if (r != 0)
		return group_fail(cli, s, "group create", NULL, r);
	return CLI_OK;
}

/* The files given to `group send`, each uploaded once for the whole group. */
struct group_files {
	char *v[CLI_FILES_MAX];
	size_t n;
};

static int
group_send(struct cli *cli, struct sotto *s, const char *group, const char *arg,
    const struct group_files *f, int json)
{
	struct cli_progress pr;
	uint8_t id[SOTTO_ID_LEN], *body = NULL;
	size_t len = 0, i;
	int r;

	if (arg != NULL && (r = cli_message_read(cli, arg, &body, &len)) != 0)
		return cli_fail(cli, "not sent", r);
	if (len == 0 && f->n == 0) {
		free(body);
		return cli_usage(cli, cli_find("group"), "an empty message");
	}
	if (len > 0) {
		r = sotto_group_send(s, group, (const char *)body, len, id);
		sodium_memzero(body, len);
		if (r != 0) {
			free(body);
			return group_fail(cli, s, "group send to", group, r);
		}
		cli_print_sent(json, id, NULL);
	}
	free(body);
	cli_progress_init(&pr, json);
	for (i = 0; i < f->n; i++) {
		if ((r = sotto_group_send_file(s, group, f->v[i], NULL, 0, cli_progress, &pr,
		    id)) != 0)
			return r == SOTTO_ERR_NOT_FOUND || r == SOTTO_ERR_EXISTS ||
			    r == SOTTO_ERR_STATE ? group_fail(cli, s, "group send to", group, r) :
			    cli_file_fail(cli, "send", f->v[i], r);
		cli_print_sent(json, id, f->v[i]);
	}
	return CLI_OK;
}

/* rename (name) or expire (duration) */
static int
group_info(struct cli *cli, struct sotto *s, const char *group, const char *name,
    const char *duration)
{
	long secs = -1;
	int r;

	if (duration != NULL && ((secs = cli_parse_duration(duration)) < 0 ||
	    secs > (long)SOTTO_EXPIRY_MAX))
		return cli_usage(cli, cli_find("group"), "DURATION: seconds or a number with s, m, "
		    "h, d or w (at most 365 days), or off");
	if ((r = sotto_group_set_info(s, group, name, secs)) != 0)
		return group_fail(cli, s, name != NULL ? "group rename" : "group expire", group, r);
	return CLI_OK;
}

static int
group_members(struct cli *cli, struct sotto *s, const char *group, int json)
{
	struct sotto_group_member *v = NULL;
	json_t *a;
	size_t n, i;
	int r;

	if ((r = sotto_group_members(s, group, &v, &n)) != 0)
		return group_fail(cli, s, "group members of", group, r);
	if (json) {
		a = cli_group_members_json(v, n);
		cli_json_print(stdout, a);
		json_decref(a);
	} else {
		for (i = 0; i < n; i++)
			cli_printf(stdout, "%s  %s\n", v[i].address,
			    sotto_member_trust_name(v[i].trust));
	}
	free(v);
	return CLI_OK;
}

static int
group_list(struct cli *cli, struct sotto *s, int json)
{
	struct sotto_group *v = NULL;
	json_t *a;
	size_t n, i;
	int r;

	if ((r = sotto_groups(s, &v, &n)) != 0)
		return group_fail(cli, s, "group list", NULL, r);
	if (json) {
		a = cli_groups_json(v, n);
		cli_json_print(stdout, a);
		json_decref(a);
	} else {
		for (i = 0; i < n; i++) {
			cli_printf(stdout, "%s  ", v[i].id);
			cli_print_text(stdout, (const uint8_t *)v[i].name, strlen(v[i].name));
			if (v[i].address[0] != '\0')
				cli_printf(stdout, "  <%s>", v[i].address);
			if (v[i].status == SOTTO_GROUP_MEMBER)
				cli_printf(stdout, "  %zu member%s\n", v[i].n_members,
				    v[i].n_members == 1 ? "" : "s");
			else
				cli_printf(stdout, "  (%s)\n", v[i].status == SOTTO_GROUP_LEAVING ?
				    "leaving" : v[i].status == SOTTO_GROUP_MISSED ?
				    "missed messages: ask a member to add you again" : "removed");
		}
	}
	free(v);
	return CLI_OK;
}

/* How many operands each subcommand takes: at least min, at most max (-1: any). */
struct group_sub {
	const char *name;
	int min, max;
	int daemon_lock;        /* it connects: not while the daemon holds the account */
	int json;               /* it takes --json */
};

static const struct group_sub subs[] = {
	{ "create", 1, -1, 1, 0 },
	{ "add", 2, -1, 1, 0 },
	{ "remove", 2, -1, 1, 0 },
	{ "leave", 1, 1, 1, 0 },
	{ "rename", 2, 2, 1, 0 },
	{ "expire", 2, 2, 1, 0 },
	{ "send", 1, 2, 1, 1 },
	{ "members", 1, 1, 0, 1 },
	{ "list", 0, 0, 0, 1 },
	{ NULL, 0, 0, 0, 0 },
};

int
cmd_group(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("group");
	static const char subs_usage[] =
	    "a subcommand: create, add, remove, leave, rename, expire, send, members, list";
	const struct group_sub *sub;
	struct group_files files = { .n = 0 };
	struct sotto *s = NULL;
	int ch, r, i, json = 0, nops;
	char **ops;

	while ((ch = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 'h': return cli_help(cmd);
		default: return cli_usage(cli, cmd, NULL);
		}
	}
	if (optind >= argc)
		return cli_usage(cli, cmd, subs_usage);
	for (sub = subs; sub->name != NULL && strcmp(sub->name, argv[optind]) != 0; sub++)
		;
	if (sub->name == NULL)
		return cli_usage(cli, cmd, subs_usage);
	/* --json after the subcommand too (`group list --json`), where it takes one; every
	 * other word is an operand (a message may well start with a dash) */
	ops = argv + optind + 1;
	nops = 0;
	for (i = optind + 1; i < argc; i++) {
		if (sub->json && strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(sub->name, "send") == 0 && strcmp(argv[i], "--file") == 0) {
			if (i + 1 == argc || files.n == CLI_FILES_MAX)
				return cli_usage(cli, cmd, "--file takes a PATH (at most 64 of them)");
			files.v[files.n++] = argv[++i];
		} else
			ops[nops++] = argv[i];
	}
	if (nops < sub->min || (sub->max >= 0 && nops > sub->max) ||
	    (strcmp(sub->name, "send") == 0 && nops == 1 && files.n == 0))
		return cli_usage(cli, cmd, "wrong number of arguments for this subcommand");
	for (i = 0; i < (int)files.n; i++)
		if ((r = cli_file_check(cli, files.v[i])) != CLI_OK)
			return r;
	if ((r = cli_have_account(cli)) != CLI_OK)
		return r;
	if (sub->daemon_lock && (r = cli_daemon_lock(cli, NULL)) != CLI_OK)
		return r;
	if ((r = cli_open(cli, &s)) != CLI_OK)
		return r;
	if (strcmp(sub->name, "create") == 0)
		r = group_create(cli, s, nops, ops);
	else if (strcmp(sub->name, "add") == 0 || strcmp(sub->name, "remove") == 0) {
		int add = sub->name[0] == 'a';

		r = add ? sotto_group_add(s, ops[0], (const char *const *)ops + 1,
		    (size_t)nops - 1) : sotto_group_remove(s, ops[0],
		    (const char *const *)ops + 1, (size_t)nops - 1);
		r = r != 0 ? group_fail(cli, s, add ? "group add to" : "group remove from",
		    ops[0], r) : CLI_OK;
	} else if (strcmp(sub->name, "leave") == 0) {
		if ((r = sotto_group_leave(s, ops[0])) != 0)
			r = group_fail(cli, s, "group leave", ops[0], r);
	} else if (strcmp(sub->name, "rename") == 0 || strcmp(sub->name, "expire") == 0) {
		r = group_info(cli, s, ops[0], sub->name[0] == 'r' ? ops[1] : NULL,
		    sub->name[0] == 'e' ? ops[1] : NULL);
	} else if (strcmp(sub->name, "send") == 0)
		r = group_send(cli, s, ops[0], nops > 1 ? ops[1] : NULL, &files, json);
	else if (strcmp(sub->name, "members") == 0)
		r = group_members(cli, s, ops[0], json);
	else
		r = group_list(cli, s, json);
	sotto_close(s);
	return r;
}
