/*
 * A small program on libsotto: an echo bot. It opens an existing account (made with
 * `sotto init`), connects, and answers every text with the same text.
 *
 *   cc -Iinclude -o echo-bot docs/example.c build/libsotto.a $(pkg-config --libs libsodium sqlite3)
 *   SOTTO_HOME=~/.sotto-bot SOTTO_PASSPHRASE=... ./echo-bot
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sotto/sotto.h>

#define QUEUE_MAX 32

struct reply {
	char to[SOTTO_ADDRESS_MAX + 1];
	char text[SOTTO_TEXT_MAX];
	size_t len;
};

struct replies {
	struct reply v[QUEUE_MAX];
	size_t n;
};

/* Called for each new event, after it was stored and before it is acknowledged. The
 * event is valid only during the call: copy what is needed. */
static void
on_event(void *ctx, const struct sotto_event *ev)
{
	struct replies *q = ctx;
	struct reply *r;
	unsigned w;

	for (w = 1; w <= SOTTO_WARN_REJECTED; w <<= 1)
		if (ev->warnings & w)
			fprintf(stderr, "warning (%s): %s\n", ev->peer, sotto_warning_text(w));
	if (ev->type != SOTTO_EVENT_MESSAGE || ev->content != SOTTO_CONTENT_TEXT ||
	    ev->body_len > SOTTO_TEXT_MAX)
		return;
	printf("%s: %.*s\n", ev->peer, (int)ev->body_len, (const char *)ev->body);
	if (q->n == QUEUE_MAX)
		return;         /* too busy: this one gets no echo */
	r = &q->v[q->n++];
	snprintf(r->to, sizeof(r->to), "%s", ev->peer);
	memcpy(r->text, ev->body, ev->body_len);
	r->len = ev->body_len;
}

int
main(void)
{
	const char *home = getenv("SOTTO_HOME"), *pass = getenv("SOTTO_PASSPHRASE");
	static struct replies q;
	struct sotto *s = NULL;
	size_t i;
	int n;

	if (home == NULL || pass == NULL) {
		fprintf(stderr, "set SOTTO_HOME and SOTTO_PASSPHRASE\n");
		return 2;
	}
	if ((n = sotto_open(&s, home, (const uint8_t *)pass, strlen(pass))) != 0) {
		fprintf(stderr, "open: %s\n", sotto_strerror(n));
		return 1;
	}
	printf("%s is listening\n", sotto_address(s));
	for (;;) {
		if (sotto_fd(s) < 0 && (n = sotto_connect(s, 5000)) != 0) {
			fprintf(stderr, "connect: %s\n", sotto_strerror(n));
			break;
		}
		q.n = 0;
		if ((n = sotto_poll(s, 1000, on_event, &q)) < 0)
			fprintf(stderr, "receive: %s\n", sotto_strerror(n));
		for (i = 0; i < q.n; i++)
			if ((n = sotto_send_text(s, q.v[i].to, q.v[i].text, q.v[i].len, NULL)) != 0)
				fprintf(stderr, "send to %s: %s (kept in the outbox)\n", q.v[i].to,
				    sotto_strerror(n));
	}
	sotto_close(s);
	return 1;
}
