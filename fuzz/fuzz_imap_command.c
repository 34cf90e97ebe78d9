/*
 * The IMAP engine on arbitrary client bytes: framing, literals, the tokenizer and every
 * command, against an in-memory store holding one message. The login check accepts any
 * user called "u", so authenticated commands are reached too.
 */
#include <stdint.h>
#include <string.h>

#include "imap/imap_session.h"
#include "mail/mailstore_mem.h"

/* Output "leaves" only when the harness drains it, so FETCH pauses get exercised. */
static size_t pending_out;

static int
sink_write(void *arg, const uint8_t *p, size_t n)
{
	(void)arg;
	(void)p;
	pending_out += n;
	return 0;
}

static void
sink_close(void *arg)
{
	(void)arg;
}

static size_t
backlog(void *arg)
{
	(void)arg;
	return pending_out;
}

static int
any_login(void *arg, const uint8_t *user, size_t ulen, const uint8_t *pass, size_t plen)
{
	(void)arg;
	(void)pass;
	(void)plen;
	return ulen == 1 && user[0] == 'u' ? 0 : SOTTO_ERR_AUTH;
}

static const char mail[] =
    "From: A <a@example.org>\r\nTo: b@example.org\r\nSubject: s\r\n"
    "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\none\r\n--x\r\n"
    "Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ntwo\r\n--x--\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_config cfg = { 4096, 65536, 200000, 3, 2048 };
	struct imap_host host = { NULL, sink_write, sink_close, any_login, backlog };
	struct imap_session *s;
	struct mailstore ms;
	size_t half = size / 2, off, used;
	int rounds;

	if (mailstore_mem_create(&ms, 7) != 0)
		return 0;
	if (ms.ops->append(ms.impl, "INBOX", (const uint8_t *)mail, sizeof(mail) - 1, 0, 0,
	    NULL) != 0 || imap_session_new(&s, &cfg, &ms, &host) != 0) {
		mailstore_destroy(&ms);
		return 0;
	}
	pending_out = 0;
	imap_session_start(s);
	/* in two pieces, so commands and literals are split across reads; what the engine
	 * leaves unconsumed (waiting for output to drain) is offered again after a drain */
	for (off = 0, rounds = 0; off < size && rounds < 10000; rounds++) {
		size_t end = off < half ? half : size;
		used = imap_session_feed(s, data + off, end - off);
		if (imap_session_done(s))
			break;
		if (used < end - off) {
			pending_out = 0;
			(void)imap_session_drained(s);
		}
		off += used;
	}
	imap_session_changed(s);
	imap_session_free(s);
	mailstore_destroy(&ms);
	return 0;
}
