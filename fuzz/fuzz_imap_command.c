/*
 * The IMAP engine on arbitrary client bytes: framing, literals, the tokenizer and every
 * command, against an in-memory store holding one message. The login check accepts any
 * user called "u", so authenticated commands are reached too.
 */
#include <stdint.h>
#include <string.h>

#include "bridge/imap_session.h"
#include "bridge/mailstore_mem.h"

static int
sink_write(void *arg, const uint8_t *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

static void
sink_close(void *arg)
{
	(void)arg;
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
	struct imap_config cfg = { 4096, 65536, 200000, 3 };
	struct imap_host host = { NULL, sink_write, sink_close, any_login };
	struct imap_session *s;
	struct mailstore ms;
	size_t half = size / 2;

	if (mailstore_mem_create(&ms, 7) != 0)
		return 0;
	if (ms.ops->append(ms.impl, "INBOX", (const uint8_t *)mail, sizeof(mail) - 1, 0, 0,
	    NULL) != 0 || imap_session_new(&s, &cfg, &ms, &host) != 0) {
		mailstore_destroy(&ms);
		return 0;
	}
	imap_session_start(s);
	/* in two pieces, so commands and literals are split across reads */
	imap_session_feed(s, data, half);
	imap_session_feed(s, data + half, size - half);
	imap_session_changed(s);
	imap_session_free(s);
	mailstore_destroy(&ms);
	return 0;
}
