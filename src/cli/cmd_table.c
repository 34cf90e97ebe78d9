/* The subcommands of `sotto`, one file each. */
#include "cli/cli.h"

int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_send(struct cli *cli, int argc, char **argv);
int cmd_receive(struct cli *cli, int argc, char **argv);
int cmd_contacts(struct cli *cli, int argc, char **argv);
int cmd_verify(struct cli *cli, int argc, char **argv);
int cmd_trust(struct cli *cli, int argc, char **argv);
int cmd_block(struct cli *cli, int argc, char **argv);
int cmd_token(struct cli *cli, int argc, char **argv);
int cmd_expire(struct cli *cli, int argc, char **argv);
int cmd_history(struct cli *cli, int argc, char **argv);
int cmd_daemon(struct cli *cli, int argc, char **argv);
int cmd_bridge(struct cli *cli, int argc, char **argv);
int cmd_group(struct cli *cli, int argc, char **argv);

const struct cli_cmd cli_commands[] = {
	{ "init", cmd_init,
	  "Creates the account's encrypted store and keys, registers ADDRESS with the server\n"
	  "and uploads prekeys. The passphrase protects the store.\n\n"
	  "  --server SERVER_ADDRESS  sotto://KEY@host:port (`sottod address` prints it)\n"
	  "  --invite TOKEN           an invite token, if the server requires one\n"
	  "  --kdf COST               interactive (default), moderate, or min (tests only)",
	  "ADDRESS --server SERVER_ADDRESS [--invite TOKEN] [--kdf COST]" },
	{ "send", cmd_send,
	  "Sends MESSAGE to ADDRESS and prints its id; with -, the text is read from standard\n"
	  "input; without MESSAGE, $VISUAL or $EDITOR opens on an empty file and the text is\n"
	  "what you save. A MESSAGE on the command line can be read by every user of this\n"
	  "machine (ps, /proc/PID/cmdline) and stays in your shell history: pass secrets with\n"
	  "- or the editor. At most 61440 bytes (60 KiB). Exits 0 once the server\n"
	  "acknowledged it. Exit code 13: the server cannot be reached now; the message waits\n"
	  "in the outbox (pending in `history`) and is sent, with the same id, by the next\n"
	  "command that connects.\n\n"
	  "  --file PATH  also sends the file at PATH (repeatable; each is its own message,\n"
	  "               after MESSAGE if one is given): encrypted, uploaded in chunks, with\n"
	  "               a progress bar on a terminal. Run the same command again after an\n"
	  "               interruption: the upload continues where it stopped.\n"
	  "  --json       one JSON object per line: progress and {type: sent, id, file}",
	  "[--json] ADDRESS [MESSAGE|-] [--file PATH]..." },
	{ "receive", cmd_receive,
	  "Fetches new messages, stores them, prints them and then acknowledges them. A\n"
	  "received file is downloaded, decrypted and checked (its digest) before it is shown,\n"
	  "and saved under its sender's name in HOME/files, never replacing a file there\n"
	  "(\"name (1).ext\" instead); an interrupted download continues with the next run.\n\n"
	  "  --wait SECONDS   wait up to SECONDS for a first message (default 0)\n"
	  "  --save-dir DIR   save received files in DIR instead\n"
	  "  --json           one JSON object per line: from, id, time, type, body, warnings;\n"
	  "                   a file: type file, name, size, media_type, path; progress lines",
	  "[--wait SECONDS] [--save-dir DIR] [--json]" },
	{ "contacts", cmd_contacts,
	  "Lists contacts: address, verification, key-change state, expiry timer, and\n"
	  "whether the session is post-quantum (PQXDH) or CLASSICAL.\n\n"
	  "  --json                a JSON array (\"session\", \"pq\": true|false per contact)\n"
	  "  --require-pq on|off   refuse classical sessions (on) or allow them (off, default)",
	  "[--json] [--require-pq on|off]" },
	{ "verify", cmd_verify,
	  "Shows the safety number of the conversation with ADDRESS and a QR code of it\n"
	  "(asking the server for the contact's key if no message was exchanged yet).\n"
	  "Compare it with the contact's; if they match, run it again with --confirm and the\n"
	  "number you compared to mark the contact verified (a later key change then blocks\n"
	  "sending until `sotto trust`). If the key changed in between, nothing is marked.\n\n"
	  "  --confirm NUMBER  mark the contact verified if NUMBER (60 digits, spaces\n"
	  "                    allowed) is still its safety number\n"
	  "  --no-qr           do not draw the QR code\n"
	  "  --json            {address, safety_number, verified, trust}",
	  "[--confirm NUMBER] [--no-qr] [--json] ADDRESS" },
	{ "trust", cmd_trust,
	  "Accepts the current identity key of ADDRESS after it changed, so that sending is\n"
	  "allowed again. The contact is then unverified until you compare safety numbers.",
	  "ADDRESS" },
	{ "block", cmd_block,
	  "Blocks ADDRESS: nothing is sent to it until `sotto trust ADDRESS`, and the\n"
	  "delivery token is rotated (as `sotto token rotate`) without giving it the new one,\n"
	  "so the server refuses its sealed sends; it can still write identified.",
	  "ADDRESS" },
	{ "token", cmd_token,
	  "`rotate`: makes a new delivery token, registers it with the server (which refuses\n"
	  "the old one from then on) and gives it to every contact with a session that is not\n"
	  "blocked, a message each (exit 13 when one of them is queued).",
	  "rotate" },
	{ "expire", cmd_expire,
	  "Sets the conversation's disappearing-message timer (for both sides): messages are\n"
	  "deleted from both stores DURATION after they were sent or received. DURATION is\n"
	  "seconds or a number with s, m, h, d or w; `off` or 0 turns the timer off.",
	  "ADDRESS DURATION" },
	{ "history", cmd_history,
	  "Prints the stored messages, with ADDRESS or with everyone, oldest first.\n\n"
	  "  --json       one JSON object per line\n"
	  "  --limit N    the newest N messages (default 1000)",
	  "[--json] [--limit N] [ADDRESS]" },
	{ "group", cmd_group,
	  "Groups (end-to-end encrypted with MLS). NAME is the group's name as its members\n"
	  "see it, or its id (`group list` shows both). Invitations, members' messages and\n"
	  "changes arrive with the next `receive`; group messages are in `history`.\n\n"
	  "  create NAME [MEMBER...]   a new group (prints its id), with these members\n"
	  "  add NAME MEMBER...        adds members (each must have run a client since\n"
	  "                            registering: it uploads the keys that let it be added)\n"
	  "  remove NAME MEMBER...     removes members: they read nothing sent after\n"
	  "  leave NAME                leaves it (the next member online commits it)\n"
	  "  rename NAME NEWNAME       renames it for every member\n"
	  "  expire NAME DURATION      sets its disappearing-message timer for every member\n"
	  "                            (as `expire`: seconds or 30s, 10m, 2h, 1d, 1w; off)\n"
	  "  send NAME MESSAGE|-       sends a text to every member (- reads standard input)\n"
	  "       [--file PATH]...     and files (uploaded once for the whole group)\n"
	  "  members NAME [--json]     the members, each with the trust in its key\n"
	  "  list [--json]             the groups: id, name, members or status",
	  "create|add|remove|leave|rename|expire|send|members|list ..." },
	{ "daemon", cmd_daemon,
	  "Stays connected and serves JSON-RPC 2.0 (one object per line) on a Unix socket.\n"
	  "Methods: send {to, body}, subscribe {after?}, status {}, contacts {}, verify\n"
	  "{address, confirm?}, history {address?, after?, limit?}, trust {address}, expire\n"
	  "{address, seconds}, read {address, ids}, groups {}, group_create {name, members?},\n"
	  "group_add and group_remove {group, members}, group_leave {group}, group_update\n"
	  "{group, name?, seconds?}, group_send {group, body}, group_members {group}. Notifications: message (with its history\n"
	  "row, and group and group_name for a group's; subscribe {after: ROW} replays what\n"
	  "came after ROW), receipt, timer, group (membership and name), warning.\n"
	  "It also runs the mail bridge (see `sotto bridge --help`) unless --no-bridge.\n\n"
	  "  --socket PATH      the socket to create (mode 0600)\n"
	  "  --smtp HOST:PORT   the bridge's SMTP submission (default 127.0.0.1:1025)\n"
	  "  --imap HOST:PORT   the bridge's IMAP (default 127.0.0.1:1143)\n"
	  "  --no-bridge        no mail bridge",
	  "--socket PATH [--smtp HOST:PORT] [--imap HOST:PORT] [--no-bridge]" },
	{ "bridge", cmd_bridge,
	  "Serves SMTP and IMAP on loopback so any mail client sends and reads end-to-end\n"
	  "encrypted mail (docs/MAILCLIENT.md). User name: your address; password: the bridge\n"
	  "password, made by `sotto init`. Only Sotto users can be written to. Loopback\n"
	  "addresses only. `sotto daemon` runs the same bridge.\n\n"
	  "  --smtp HOST:PORT   SMTP submission (default 127.0.0.1:1025)\n"
	  "  --imap HOST:PORT   IMAP (default 127.0.0.1:1143)\n"
	  "  --show-password    print the bridge password and exit",
	  "[--smtp HOST:PORT] [--imap HOST:PORT] [--show-password]" },
	{ NULL, NULL, NULL, NULL },
};
