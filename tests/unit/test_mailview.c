/* How history, receive and the daemon show mail (src/cli/mailview.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail_content.h"
#include "check.h"
#include "cli/cli.h"

/* A mail of about len bytes with the given Subject field (raw, may be folded). */
static uint8_t *
make_mail(const char *subject, size_t len, size_t *out_len)
{
	static const char head[] = "From: alice@localhost\r\nTo: bob@localhost\r\n";
	size_t hl = strlen(head), sl = strlen(subject), i, n;
	uint8_t *m;

	n = hl + sl + 4 + len;
	if ((m = malloc(n)) == NULL)
		return NULL;
	memcpy(m, head, hl);
	memcpy(m + hl, subject, sl);
	memcpy(m + hl + sl, "\r\n\r\n", 4);
	for (i = 0; i < len; i++)
		m[hl + sl + 4 + i] = (uint8_t)('a' + i % 26);
	*out_len = n;
	return m;
}

/* The parts of mail as history entries from peer, dir in. */
static size_t
add_parts(struct sotto_message *v, size_t at, const char *peer, uint8_t idb,
    const uint8_t *mail, size_t len)
{
	uint8_t id[MAIL_CONTENT_ID_LEN];
	uint32_t count = 0, i;
	struct buf b;

	memset(id, idb, sizeof(id));
	if (mail_content_count(len, &count) != 0)
		return at;
	for (i = 0; i < count; i++) {
		struct sotto_message *m = &v[at++];

		memset(m, 0, sizeof(*m));
		m->row = (int64_t)at;
		snprintf(m->peer, sizeof(m->peer), "%s", peer);
		m->dir = SOTTO_IN;
		m->content = SOTTO_CONTENT_MAIL;
		buf_init_dyn(&b, SOTTO_TEXT_MAX);
		if (mail_content_part(id, mail, len, i, &b) == 0) {
			m->body = malloc(b.len);
			if (m->body != NULL)
				memcpy(m->body, b.p, b.len);
			m->body_len = b.len;
		}
		buf_free(&b);
	}
	return at;
}

TEST(mailview_first_part_has_subject_and_size)
{
	size_t len = 0;
	uint8_t *mail = make_mail("Subject: Lunch\r\n  on Friday ", 150000, &len);
	struct sotto_message v[8];
	struct sotto_mail_summary m;
	size_t n, i;

	REQUIRE(mail != NULL);
	n = add_parts(v, 0, "alice@localhost", 1, mail, len);
	REQUIRE(n == 3);
	sotto_mail_summary(v[0].body, v[0].body_len, &m);
	CHECK(m.part == 1 && m.index == 0 && m.count == 3 && m.size == len);
	CHECK(strcmp(m.subject, "Lunch  on Friday") == 0);
	sotto_mail_summary(v[2].body, v[2].body_len, &m);
	CHECK(m.part == 1 && m.index == 2 && m.subject[0] == '\0');
	for (i = 0; i < n; i++)
		free(v[i].body);
	free(mail);
}

TEST(mailview_history_groups_parts)
{
	size_t l1 = 0, l2 = 0, n, i;
	uint8_t *a = make_mail("Subject: first", 100000, &l1);
	uint8_t *b = make_mail("Subject: second", 70000, &l2);
	struct sotto_message v[12];
	struct sotto_mail_summary m;
	uint32_t listed;
	json_t *j;

	REQUIRE(a != NULL && b != NULL);
	/* a's parts interleaved with a text and b's first part; b's second is missing */
	n = add_parts(v, 0, "alice@localhost", 1, a, l1);
	REQUIRE(n == 2);
	v[n] = v[n - 1];                /* move a's last part behind */
	memset(&v[n - 1], 0, sizeof(v[0]));
	v[n - 1].content = SOTTO_CONTENT_TEXT;
	v[n - 1].body = (uint8_t *)strdup("a text between");
	v[n - 1].body_len = strlen("a text between");
	snprintf(v[n - 1].peer, sizeof(v[0].peer), "alice@localhost");
	n++;
	n = add_parts(v, n, "alice@localhost", 2, b, l2);
	REQUIRE(n == 5);
	free(v[4].body);
	n = 4;
	CHECK_EQ_INT(cli_history_mail(v, n, 0, &m, &listed), 1);
	CHECK(listed == 2 && m.count == 2 && strcmp(m.subject, "first") == 0);
	CHECK_EQ_INT(cli_history_mail(v, n, 1, &m, &listed), 0);
	CHECK_EQ_INT(cli_history_mail(v, n, 2, &m, &listed), -1);
	CHECK_EQ_INT(cli_history_mail(v, n, 3, &m, &listed), 1);
	CHECK(listed == 1 && m.count == 2 && strcmp(m.subject, "second") == 0);
	CHECK(cli_history_json(v, n, 2) == NULL);
	j = cli_history_json(v, n, 3);
	REQUIRE(j != NULL);
	CHECK(strcmp(json_string_value(json_object_get(j, "type")), "mail") == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "subject")), "second") == 0);
	CHECK(json_integer_value(json_object_get(j, "size")) == (json_int_t)l2);
	CHECK(json_is_false(json_object_get(j, "complete")));
	CHECK(json_object_get(j, "body") == NULL);
	json_decref(j);
	j = cli_history_json(v, n, 0);
	CHECK(j != NULL && json_is_true(json_object_get(j, "complete")));
	json_decref(j);
	for (i = 0; i < n; i++)
		free(v[i].body);
	free(a);
	free(b);
}

TEST(mailview_events_show_the_first_part_only)
{
	size_t len = 0, n, i;
	uint8_t *mail = make_mail("Subject: event", 70000, &len);
	struct sotto_message v[4];
	struct sotto_event ev;
	json_t *j;

	REQUIRE(mail != NULL);
	n = add_parts(v, 0, "alice@localhost", 3, mail, len);
	REQUIRE(n == 2);
	memset(&ev, 0, sizeof(ev));
	ev.type = SOTTO_EVENT_MESSAGE;
	ev.peer = "alice@localhost";
	ev.content = SOTTO_CONTENT_MAIL;
	ev.body = v[0].body;
	ev.body_len = v[0].body_len;
	j = cli_event_json(&ev);
	REQUIRE(j != NULL);
	CHECK(strcmp(json_string_value(json_object_get(j, "subject")), "event") == 0);
	CHECK(json_integer_value(json_object_get(j, "parts")) == 2);
	json_decref(j);
	ev.body = v[1].body;
	ev.body_len = v[1].body_len;
	CHECK(cli_event_json(&ev) == NULL);
	/* a later part with a warning is still reported */
	ev.warnings = SOTTO_WARN_GAP;
	ev.gap = 1;
	j = cli_event_json(&ev);
	REQUIRE(j != NULL);
	CHECK(json_integer_value(json_object_get(j, "part")) == 1);
	json_decref(j);
	for (i = 0; i < n; i++)
		free(v[i].body);
	free(mail);
}

TEST(mailview_whole_mail_and_long_subject)
{
	char subj[600] = "Subject: ";
	struct sotto_mail_summary m;
	size_t len = 0, i;
	uint8_t *mail;

	/* 'x' then a two-byte character straddling the cut: cut before it, not inside */
	for (i = strlen(subj); i < 9 + SOTTO_MAIL_SUBJECT_MAX - 1; i++)
		subj[i] = 'x';
	memcpy(subj + i, "\xc3\xa9tail", 6);
	subj[i + 6] = '\0';
	REQUIRE((mail = make_mail(subj, 10, &len)) != NULL);
	sotto_mail_summary(mail, len, &m);
	CHECK(m.part == 0 && m.count == 1 && m.size == len);
	CHECK(strlen(m.subject) == SOTTO_MAIL_SUBJECT_MAX - 1);
	free(mail);
	sotto_mail_summary((const uint8_t *)"no header at all", 16, &m);
	CHECK(m.subject[0] == '\0' && m.size == 16);
	sotto_mail_summary((const uint8_t *)"", 0, &m);
	CHECK(m.subject[0] == '\0' && m.size == 0);
}

int
main(void)
{
	RUN(mailview_first_part_has_subject_and_size);
	RUN(mailview_history_groups_parts);
	RUN(mailview_events_show_the_first_part_only);
	RUN(mailview_whole_mail_and_long_subject);
	return check_summary();
}
