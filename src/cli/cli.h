/*
 * The `sotto` command: shared pieces of the subcommands (one file each, cmd_*.c),
 * dispatched from the table in main.c. Exit codes are documented in man/sotto.1.
 */
#ifndef SOTTO_CLI_CLI_H
#define SOTTO_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sotto/file.h"
#include "sotto/group.h"
#include "sotto/mail.h"
#include "sotto/sotto.h"

enum cli_exit {
	CLI_OK = 0,
	CLI_EXIT_INTERNAL = 1,      /* a bug, out of memory */
	CLI_EXIT_USAGE = 2,         /* bad command line */
	CLI_EXIT_PASSPHRASE = 3,    /* wrong passphrase, or none could be read */
	CLI_EXIT_NO_ACCOUNT = 4,    /* no store in the home directory, or not registered */
	CLI_EXIT_EXISTS = 5,        /* init: an account is already there */
	CLI_EXIT_NETWORK = 6,       /* server unreachable, timed out, connection lost */
	CLI_EXIT_REFUSED = 7,       /* the server refused the request */
	CLI_EXIT_UNTRUSTED = 8,     /* a verified contact's key changed: run `sotto trust` */
	CLI_EXIT_NOT_FOUND = 9,     /* unknown contact or user */
	CLI_EXIT_INVALID = 10,      /* malformed address, message too large, bad value */
	CLI_EXIT_STORE = 11,        /* the store is corrupt, unreadable or full */
	CLI_EXIT_DAEMON = 12,       /* a daemon holds this account's connection */
	CLI_EXIT_QUEUED = 13,       /* send: in the outbox, not yet on the server */
};

#define CLI_DAEMON_LOCK "daemon.lock"
/* SOTTO_TEXT_MAX for people; checked against it in cli.c. */
#define CLI_TEXT_MAX_TEXT "61440 bytes (60 KiB)"

#define CLI_HOME_ENV "SOTTO_HOME"

struct cli {
	const char *home;           /* --home, or NULL: $SOTTO_HOME, else ~/.sotto */
	const char *passfile;       /* --passphrase-file, or NULL */
	const char *prog;
	char self[2 * 4096 + 64];   /* cli_self: "sotto" and the global options given */
};

struct cli_cmd {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *summary;
	const char *usage;          /* the options after the command's name */
};

extern const struct cli_cmd cli_commands[];

/* Maps a sotto_err to an exit code. */
int cli_exit_code(int err);
/* Prints "sotto: what: reason; what to do" on stderr. */
void cli_report(struct cli *cli, const char *what, int err);
/* cli_report, and returns the exit code for err. */
int cli_fail(struct cli *cli, const char *what, int err);
/* The command line that reaches this account again, for hints the user copies:
 * "sotto" and the --home and --passphrase-file options given (shell-quoted). */
const char *cli_self(struct cli *cli);
/* Prints a usage error for cmd and returns CLI_EXIT_USAGE. */
int cli_usage(struct cli *cli, const struct cli_cmd *cmd, const char *why);
/* Prints the command's --help text on stdout and returns CLI_OK. */
int cli_help(const struct cli_cmd *cmd);
const struct cli_cmd *cli_find(const char *name);

/* The home directory: --home, else $SOTTO_HOME, else ~/.sotto. */
int cli_home(struct cli *cli, char *out, size_t cap);
/* For an account in home that could not be opened: prints why and returns the exit code
 * when r says no account (SOTTO_ERR_NOT_FOUND), a wrong passphrase (SOTTO_ERR_PASSPHRASE)
 * or an unregistered one (SOTTO_ERR_STATE); returns CLI_OK for any other r, which the
 * caller reports itself. */
int cli_account_error(struct cli *cli, const char *home, int r);
/* Opens the account's store, asking for the passphrase as the options say. */
int cli_open(struct cli *cli, struct sotto **out);
/* `sotto NAME ADDRESS` on one contact: --help, exactly one ADDRESS, fn on the opened store
 * (closed after). -1 when fn ran with a result other than SOTTO_ERR_NOT_FOUND, in *err;
 * otherwise the exit code to return (--help, usage, store, a peer that is not a contact). */
int cli_contact_command(struct cli *cli, const char *name, int argc, char **argv,
    int (*fn)(struct sotto *, const char *), int *err);
/* The same, and on success hands the passphrase to *keep (free it with passphrase_free). */
struct passphrase;
int cli_open_keep(struct cli *cli, struct sotto **out, struct passphrase *keep);
/* Takes the account's daemon lock (flock on HOME/daemon.lock) and returns its fd in
 * *fd. The server pushes to an account's newest connection only, so a command that
 * connects while a daemon runs would take its messages: such commands check the lock
 * (lock_fd NULL: check only) and refuse with CLI_EXIT_DAEMON. */
int cli_daemon_lock(struct cli *cli, int *lock_fd);
/* CLI_OK if the home directory holds a store, else prints "no account here" with the
 * command that makes one and returns CLI_EXIT_NO_ACCOUNT. Before any prompt or input. */
int cli_have_account(struct cli *cli);
/* Prints why connecting to server failed. */
void cli_report_connect(struct cli *cli, const char *server, int err);
/* Opens and connects; errors are printed; returns an exit code. */
int cli_open_connected(struct cli *cli, struct sotto **out);

/* The text to send: arg itself, standard input for "-", or for NULL what the user saves
 * in $VISUAL/$EDITOR (a file in the home directory, removed after). At most
 * SOTTO_TEXT_MAX bytes (SOTTO_ERR_MESSAGE_TOO_LARGE). */
int cli_message_read(struct cli *cli, const char *arg, uint8_t **out, size_t *len);

/* Seconds from "90", "90s", "15m", "2h", "7d", "1w", or "off" (0). -1 if invalid. */
long cli_parse_duration(const char *s);

/* JSON for an event (receive --json, daemon notifications; NULL for a mail part that is
 * not shown, see sotto_mail_summary) and a history entry. */
json_t *cli_event_json(const struct sotto_event *ev);
const char *cli_event_type_name(const struct sotto_event *ev);
/* "joined", "added", "removed", "you_removed", "info" */
const char *cli_group_change_name(enum sotto_group_change c);
/* A group's change in words, without the time and group ("alice@x added bob@x", "you were
 * added by alice@x"), and a newline; members the names it names (RENAMED: the new name). */
void cli_group_change_print(FILE *out, enum sotto_group_change c, const char *actor,
    const char *const *members, size_t n, uint32_t expiry);
struct sotto_group;
struct sotto_group_member;
/* `group list --json` and `group members --json` (and the daemon's groups and
 * group_members): arrays of {id, name, status, members, expiry} and {address, trust}. */
json_t *cli_groups_json(const struct sotto_group *v, size_t n);
json_t *cli_group_members_json(const struct sotto_group_member *v, size_t n);
json_t *cli_message_json(const struct sotto_message *m);
json_t *cli_contact_json(const struct sotto_contact *c);
/* A JSON string of bytes that may not be UTF-8 (replaced by U+FFFD where invalid). */
json_t *cli_json_text(const uint8_t *p, size_t len);
const char *cli_trust_name(enum sotto_trust t);

/* Mail in the history and in events (sotto/mail.h): one entry per mail; outgoing parts a
 * client stored before schema 5 show as one entry, at their first part. */
/* For history entry v[i]: 0 not a mail; 1 a mail to show (m filled, *listed = how many
 * of its parts v holds); -1 a later part, not shown. */
int cli_history_mail(const struct sotto_message *v, size_t n, size_t i, struct sotto_mail_summary *m,
    uint32_t *listed);
/* cli_message_json, with a mail as one entry (type "mail", subject, size, parts,
 * complete); NULL for a later part. */
json_t *cli_history_json(const struct sotto_message *v, size_t n, size_t i);
/* sotto_history, reading on until at least max entries would be shown (mail parts after
 * the first are not): a page of `max` is never empty while there is more. Show at most
 * max of them. */
int cli_history_fetch(struct sotto *s, const char *peer, int64_t after, size_t max,
    struct sotto_message **out, size_t *n);
/* The newest entries: the last `max` that would be shown (mail parts after the first are
 * not), oldest first, with the later parts of those mails. */
int cli_history_last(struct sotto *s, const char *peer, size_t max,
    struct sotto_message **out, size_t *n);
/* Files (files.c). The progress of a transfer: with json, {"type":"progress", "direction":
 * "upload"|"download", "name", "done", "total"} lines on standard output; else a bar on
 * standard error when it is a terminal; else nothing. ctx of cli_progress. */
struct cli_progress {
	int json;
	int tty;
	uint64_t stop_at;           /* tests: SIGSTOP once this many bytes moved */
	int stopped;
};
#define CLI_FILES_MAX 64            /* --file options of one command */
void cli_progress_init(struct cli_progress *p, int json);
void cli_progress(void *ctx, const struct sotto_progress *pr);
/* CLI_OK if path is a regular file we can read, else prints why and returns the exit
 * code. */
int cli_file_check(struct cli *cli, const char *path);
/* Prints why a transfer of file `name` failed (`what`: "send", "fetch") and returns the
 * exit code. */
int cli_file_fail(struct cli *cli, const char *what, const char *name, int err);
/* A sent message's id at once, queued or not (the one it keeps): the hex, or with json
 * {"type":"sent","id","file"} (file: the path sent, may be NULL). */
void cli_print_sent(int json, const uint8_t id[SOTTO_ID_LEN], const char *file);
/* "file NAME (SIZE), saved to PATH" */
void cli_print_file(FILE *out, const struct sotto_file *f);
/* name, size, media_type and path into a JSON object. */
void cli_file_json_add(json_t *o, const struct sotto_file *f);

/* "812 bytes", "34.5 KiB", "25.0 MiB". */
void cli_print_size(FILE *out, uint64_t n);

/*
 * Terminal output (term.c). Everything the CLI prints goes through cli_term_write:
 * C0 controls but newline and tab, DEL, C1 controls (U+0080..U+009F), the Unicode
 * bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and
 * bytes that are not UTF-8 are shown as '?'. indent: newlines are followed by 4 spaces.
 */
void cli_term_write(FILE *out, const uint8_t *p, size_t len, int indent);
/* A message body from a peer: cli_term_write with indented lines. */
void cli_print_text(FILE *out, const uint8_t *p, size_t len);
/* printf through cli_term_write: for every line with a name, an address or an error. */
void cli_printf(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One JSON value and a newline, with the same characters escaped (\u009b) not dropped. */
void cli_json_print(FILE *out, json_t *j);
/* j as compact JSON with the characters cli_unsafe_char names escaped (\u009b); malloc'd,
 * with room for one more byte after its NUL (a newline). NULL on failure. */
char *cli_json_dumps(json_t *j);
/* Length of the valid UTF-8 sequence at p (n bytes left) and its code point, or 0. */
size_t cli_utf8_seq(const uint8_t *p, size_t n, uint32_t *cp);
/* Whether a terminal would obey the code point rather than show it. */
int cli_unsafe_char(uint32_t cp);

/* Draws a QR code of text with Unicode half blocks (two modules per character). */
int cli_qr_print(FILE *out, const char *text);

#endif
