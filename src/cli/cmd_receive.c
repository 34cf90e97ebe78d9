/* sotto receive [--wait SECONDS] [--save-dir DIR] [--json] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

int cmd_receive(struct cli *cli, int argc, char **argv);

#define RECEIVE_QUIET_MS 500

struct printer {
	int json;
	const char *save_dir;           /* NULL: HOME/files */
	struct cli_progress progress;
	struct cli *cli;
	int failed;                     /* a file could not be fetched: the exit code */
	uint8_t (*tried)[SOTTO_ID_LEN]; /* the files that failed in this run: tried once */
	size_t n_tried;
};

/* 1 if file id failed earlier in this run; else remembers it as tried now. */
static int
tried_before(struct printer *p, const uint8_t id[SOTTO_ID_LEN])
{
	void *v;
	size_t i;

	for (i = 0; i < p->n_tried; i++)
		if (memcmp(p->tried[i], id, SOTTO_ID_LEN) == 0)
			return 1;
	if ((v = realloc(p->tried, (p->n_tried + 1) * SOTTO_ID_LEN)) == NULL)
		return 1;
	p->tried = v;
	memcpy(p->tried[p->n_tried++], id, SOTTO_ID_LEN);
	return 0;
}

static void
print_time(uint64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	localtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	fputs(buf, stdout);
}

static void
print_warnings(const struct sotto_event *ev)
{
	unsigned bit;

	for (bit = 1; bit <= SOTTO_WARN_UNREADABLE; bit <<= 1) {
		if (!(ev->warnings & bit))
			continue;
		if (bit == SOTTO_WARN_GAP)
			cli_printf(stdout, "  ! %llu message%s from %s missing before this one\n",
			    (unsigned long long)ev->gap, ev->gap == 1 ? "" : "s", ev->peer);
		else if (bit == SOTTO_WARN_REJECTED)
			cli_printf(stdout, "  ! a message was rejected: %s\n",
			    ev->reason ? ev->reason : "");
		else if (bit == SOTTO_WARN_UNREADABLE && ev->reason != NULL)
			cli_printf(stdout, "  ! %s\n", ev->reason);
		else
			cli_printf(stdout, "  ! %s\n", sotto_warning_text(bit));
	}
}

/* " [NAME]" (or the id while the name is not known yet) for a group's event. */
static void
print_group(const struct sotto_event *ev)
{
	const char *name;

	if (ev->group == NULL)
		return;
	name = ev->group_name != NULL && ev->group_name[0] != '\0' ? ev->group_name : ev->group;
	printf(" [");
	cli_print_text(stdout, (const uint8_t *)name, strlen(name));
	printf("]");
}

/* Runs after the message is stored and before it is acknowledged: printed lines are
 * flushed at once so that a crash cannot lose one that was acknowledged. */
static void
on_event(void *ctx, const struct sotto_event *ev)
{
	struct printer *p = ctx;
	json_t *j;

	/* A file is shown once it is fetched and checked (fetch_files); here only the
	 * warnings that came with its message. */
	if (ev->type == SOTTO_EVENT_MESSAGE && ev->content == SOTTO_CONTENT_FILE) {
		if (p->json || ev->warnings == 0)
			return;
		print_time(ev->time);
		cli_printf(stdout, " %s: a file (shown below once fetched)\n", ev->peer);
		print_warnings(ev);
		fflush(stdout);
		return;
	}
	if (p->json) {
		if ((j = cli_event_json(ev)) == NULL)
			return;         /* a later part of a mail already shown */
		cli_json_print(stdout, j);
		json_decref(j);
		fflush(stdout);
		return;
	}
	switch (ev->type) {
	case SOTTO_EVENT_MESSAGE:
		if (ev->content == SOTTO_CONTENT_MAIL) {
			struct sotto_mail_summary m;

			sotto_mail_summary(ev->body, ev->body_len, &m);
			if (m.part && m.index != 0)
				break;  /* shown with its first part; warnings below */
			print_time(ev->time);
			cli_printf(stdout, " %s: mail: ", ev->peer);
			cli_print_text(stdout, (const uint8_t *)m.subject, strlen(m.subject));
			printf(" (");
			cli_print_size(stdout, m.size);
			printf(")\n");
			break;
		}
		print_time(ev->time);
		print_group(ev);
		cli_printf(stdout, " %s: ", ev->peer);
		cli_print_text(stdout, ev->body, ev->body_len);
		printf("\n");
		break;
	case SOTTO_EVENT_GROUP:
		print_time(ev->time);
		print_group(ev);
		printf(" ");
		if (ev->change == SOTTO_CHANGE_MISSED) {
			const char *name = ev->group_name != NULL && ev->group_name[0] != '\0' ?
			    ev->group_name : ev->group;

			cli_group_change_print(stdout, ev->change, NULL, &name, 1,
			    ev->gap > UINT32_MAX ? UINT32_MAX : (uint32_t)ev->gap);
			break;
		}
		cli_group_change_print(stdout, ev->change, ev->peer, ev->members, ev->n_members,
		    ev->expiry);
		break;
	case SOTTO_EVENT_RECEIPT:
		print_time(ev->time);
		cli_printf(stdout, " %s %s %zu message%s\n", ev->peer, ev->receipt == SOTTO_RECEIPT_READ ?
		    "read" : "received", ev->n_receipt_ids, ev->n_receipt_ids == 1 ? "" : "s");
		break;
	case SOTTO_EVENT_TIMER:
		print_time(ev->time);
		if (ev->expiry == 0)
			cli_printf(stdout, " %s turned disappearing messages off\n", ev->peer);
		else
			cli_printf(stdout, " %s set disappearing messages to %u s\n", ev->peer,
			    ev->expiry);
		break;
	default:
		break;
	}
	print_warnings(ev);
	fflush(stdout);
}

static void
print_file(struct printer *p, const struct sotto_file *f, uint64_t time)
{
	char hex[2 * SOTTO_ID_LEN + 1];
	json_t *j;

	if (p->json) {
		sotto_id_hex(hex, f->id);
		j = json_object();
		json_object_set_new(j, "from", json_string(f->peer));
		json_object_set_new(j, "id", json_string(hex));
		json_object_set_new(j, "time", json_integer((json_int_t)time));
		json_object_set_new(j, "type", json_string("file"));
		cli_file_json_add(j, f);
		cli_json_print(stdout, j);
		json_decref(j);
	} else {
		print_time(time);
		cli_printf(stdout, " %s: ", f->peer);
		cli_print_file(stdout, f);
		printf("\n");
	}
	fflush(stdout);
}

/* Fetches every received file not fetched yet (this run's and an interrupted run's) and
 * shows each once it is saved. A file that fails stays pending: the next run tries again. */
static void
fetch_files(struct sotto *s, struct printer *p)
{
	uint8_t (*ids)[SOTTO_ID_LEN] = NULL;
	char path[SOTTO_FILE_PATH_MAX];
	struct sotto_file f;
	size_t n = 0, i;
	int r;

	if ((r = sotto_files_pending(s, &ids, &n)) != 0) {
		p->failed = cli_fail(p->cli, "receive files", r);
		return;
	}
	for (i = 0; i < n; i++) {
		if (tried_before(p, ids[i]))
			continue;
		if ((r = sotto_file_info(s, ids[i], &f)) == 0)
			r = sotto_file_fetch(s, ids[i], p->save_dir, cli_progress, &p->progress,
			    path, sizeof(path));
		if (r == 0)
			r = sotto_file_info(s, ids[i], &f);
		if (r != 0) {
			p->failed = cli_file_fail(p->cli, "fetch", f.name[0] != '\0' ? f.name :
			    "a file", r);
			continue;
		}
		print_file(p, &f, f.time);
	}
	free(ids);
}

int
cmd_receive(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wait", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "save-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd = cli_find("receive");
	struct printer p = { 0 };
	struct sotto *s = NULL;
	struct timespec ts;
	long wait_s = 0;
	int64_t deadline, now;
	int ch, r, total = 0;
	char *end;

	p.cli = cli;
	while ((ch = getopt_long(argc, argv, "w:jd:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			wait_s = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || wait_s < 0 || wait_s > 86400)
				return cli_usage(cli, cmd, "--wait takes 0..86400 seconds");
			break;
		case 'j': p.json = 1; break;
		case 'd': p.save_dir = optarg; break;
		case 'h': return cli_help(cmd);
		default: return cli_usage(cli, cmd, NULL);
		}
	}
	if (optind != argc)
		return cli_usage(cli, cmd, "no arguments");
	if ((r = cli_open_connected(cli, &s)) != CLI_OK)
		return r;
	cli_progress_init(&p.progress, p.json);
	fetch_files(s, &p);     /* what an interrupted run left */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + wait_s * 1000;
	/* Until a quiet spell after the first messages, or the deadline without any. */
	for (;;) {
		r = sotto_poll(s, RECEIVE_QUIET_MS, on_event, &p);
		if (r < 0)
			break;
		total += r;
		if (r > 0)
			fetch_files(s, &p);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (r == 0 && (total > 0 || now >= deadline))
			break;
	}
	sotto_close(s);
	free(p.tried);
	if (r < 0)
		return cli_fail(cli, "receive", r);
	return p.failed != 0 ? p.failed : CLI_OK;
}
