/*
 * Smoke tests of the load generator's hand-written MQTT 3.1.1 and XMPP codecs
 * (bench/loadgen/): exact bytes against the specifications' layouts, every split of the
 * input, and malformed or oversized input refused.
 */
#include <string.h>

#include "check.h"
#include "../../bench/loadgen/mqtt.h"
#include "../../bench/loadgen/xmpp.h"

TEST(mqtt_connect_and_subscribe_bytes)
{
	static const uint8_t want_connect[] = {
		0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 'c', '1'
	};
	static const uint8_t want_sub[] = {
		0x82, 8, 0x12, 0x34, 0, 3, 'a', '/', 'b', 1
	};
	uint8_t mem[64];
	struct buf b;

	buf_init_fixed(&b, mem, sizeof(mem));
	mqtt_put_connect(&b, "c1", 60);
	REQUIRE(buf_status(&b) == 0);
	CHECK_EQ_INT(b.len, sizeof(want_connect));
	CHECK_MEM(b.p, want_connect, sizeof(want_connect));
	buf_reset(&b);
	mqtt_put_subscribe(&b, 0x1234, "a/b", 1);
	CHECK_EQ_INT(b.len, sizeof(want_sub));
	CHECK_MEM(b.p, want_sub, sizeof(want_sub));
}

TEST(mqtt_publish_roundtrip_with_long_remaining_length)
{
	uint8_t payload[300], mem[512];
	struct mqtt_pkt pkt;
	struct buf b;
	size_t used;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	buf_init_fixed(&b, mem, sizeof(mem));
	mqtt_put_publish(&b, "lg/x/7", 1, 513, payload, sizeof(payload));
	REQUIRE(buf_status(&b) == 0);
	/* 2 + 6 + 2 + 300 = 310 = 0xb6 0x02 as a variable-length integer */
	CHECK_EQ_INT(b.p[0], 0x32);
	CHECK_EQ_INT(b.p[1], 0xb6);
	CHECK_EQ_INT(b.p[2], 0x02);
	/* every prefix is incomplete, the whole is one packet */
	for (size_t n = 0; n < b.len; n++)
		CHECK_EQ_INT(mqtt_decode(b.p, n, &used, &pkt), 0);
	REQUIRE(mqtt_decode(b.p, b.len, &used, &pkt) == 1);
	CHECK_EQ_INT(used, b.len);
	CHECK_EQ_INT(pkt.type, MQTT_PUBLISH);
	CHECK_EQ_INT(pkt.qos, 1);
	CHECK_EQ_INT(pkt.pid, 513);
	CHECK_EQ_INT(pkt.topic_len, 6);
	CHECK_MEM(pkt.topic, "lg/x/7", 6);
	CHECK_EQ_INT(pkt.payload_len, sizeof(payload));
	CHECK_MEM(pkt.payload, payload, sizeof(payload));
}

TEST(mqtt_broker_packets_decode_and_bad_ones_fail)
{
	static const uint8_t stream[] = {
		0x20, 2, 0, 0,                  /* CONNACK accepted */
		0x90, 3, 0, 1, 1,               /* SUBACK pid 1, QoS 1 */
		0x40, 2, 0x01, 0x02,            /* PUBACK 258 */
		0xd0, 0,                        /* PINGRESP */
	};
	static const uint8_t too_long[] = { 0x30, 0xff, 0xff, 0xff, 0x7f };
	static const uint8_t five_bytes[] = { 0x30, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t bad_connack[] = { 0x20, 3, 0, 0, 0 };
	static const uint8_t qos3[] = { 0x36, 4, 0, 1, 'a', 'x' };
	static const uint8_t pid0[] = { 0x32, 5, 0, 1, 'a', 0, 0 };
	static const uint8_t client_only[] = { 0x10, 0 };
	static const uint8_t topic_overrun[] = { 0x30, 3, 0, 9, 'a' };
	struct mqtt_pkt pkt;
	size_t off = 0, used;
	int types[4], n = 0;

	while (off < sizeof(stream) && n < 4) {
		REQUIRE(mqtt_decode(stream + off, sizeof(stream) - off, &used, &pkt) == 1);
		types[n++] = pkt.type;
		if (pkt.type == MQTT_PUBACK)
			CHECK_EQ_INT(pkt.pid, 258);
		if (pkt.type == MQTT_SUBACK)
			CHECK_EQ_INT(pkt.code, 1);
		off += used;
	}
	CHECK_EQ_INT(off, sizeof(stream));
	CHECK_EQ_INT(types[0], MQTT_CONNACK);
	CHECK_EQ_INT(types[3], MQTT_PINGRESP);
	CHECK_EQ_INT(mqtt_decode(too_long, sizeof(too_long), &used, &pkt), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(mqtt_decode(five_bytes, sizeof(five_bytes), &used, &pkt),
	    SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(mqtt_decode(bad_connack, sizeof(bad_connack), &used, &pkt),
	    SOTTO_ERR_PROTOCOL);
	CHECK_EQ_INT(mqtt_decode(qos3, sizeof(qos3), &used, &pkt), SOTTO_ERR_PROTOCOL);
	CHECK_EQ_INT(mqtt_decode(pid0, sizeof(pid0), &used, &pkt), SOTTO_ERR_PROTOCOL);
	CHECK_EQ_INT(mqtt_decode(client_only, sizeof(client_only), &used, &pkt),
	    SOTTO_ERR_PROTOCOL);
	CHECK_EQ_INT(mqtt_decode(topic_overrun, sizeof(topic_overrun), &used, &pkt),
	    SOTTO_ERR_MALFORMED);
}

static const char server_stream[] =
    "<?xml version='1.0'?><stream:stream id='1' version='1.0' xmlns:stream="
    "'http://etherx.jabber.org/streams' from='localhost' xmlns='jabber:client'>"
    " <stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session "
    "xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>\n"
    "<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>"
    "a1@localhost/r&amp;2</jid></bind></iq>"
    "<message from='b@localhost/x' to='a1@localhost/r&amp;2' type=\"chat\" id='m1'>"
    "<!-- a comment --><body>x &lt;y&gt; &#65;&#x42;</body></message>"
    "</stream:stream>";

TEST(xmpp_splits_server_stream_into_units_at_any_cut)
{
	const uint8_t *p = (const uint8_t *)server_stream;
	size_t len = strlen(server_stream);

	for (size_t cut = 0; cut <= len; cut += (cut < 40 ? 1 : 7)) {
		/* the first `cut` bytes, then everything: the same units either way */
		struct xmpp_unit u;
		size_t off = 0, used;
		int kinds[8], n = 0, r;
		char names[8][XMPP_NAME_MAX + 1];

		while (off < cut && (r = xmpp_next(p + off, cut - off, &used, &u)) == 1) {
			REQUIRE(n < 8);
			kinds[n] = u.kind;
			memcpy(names[n++], u.name, sizeof(u.name));
			off += used;
		}
		while (off < len) {
			r = xmpp_next(p + off, len - off, &used, &u);
			REQUIRE(r == 1);
			REQUIRE(n < 8);
			kinds[n] = u.kind;
			memcpy(names[n++], u.name, sizeof(u.name));
			off += used;
		}
		REQUIRE(n == 5);
		CHECK_EQ_INT(kinds[0], XMPP_STREAM_OPEN);
		CHECK(strcmp(names[1], "stream:features") == 0);
		CHECK(strcmp(names[2], "iq") == 0);
		CHECK(strcmp(names[3], "message") == 0);
		CHECK_EQ_INT(kinds[4], XMPP_STREAM_CLOSE);
	}
}

TEST(xmpp_accessors_decode_text_and_attributes)
{
	const uint8_t *p = (const uint8_t *)server_stream;
	size_t len = strlen(server_stream), off = 0, used, n;
	struct xmpp_unit u[5];
	char text[64];
	int i;

	for (i = 0; i < 5; i++) {
		REQUIRE(xmpp_next(p + off, len - off, &used, &u[i]) == 1);
		off += used;
	}
	CHECK(xmpp_has_child(&u[1], "bind"));
	CHECK(xmpp_has_child(&u[1], "optional"));
	CHECK(!xmpp_has_child(&u[1], "mechanisms"));
	REQUIRE(xmpp_attr(&u[2], "type", text, sizeof(text)) == 0);
	CHECK(strcmp(text, "result") == 0);
	REQUIRE(xmpp_child_text(&u[2], "jid", text, sizeof(text), &n) == 0);
	CHECK(strcmp(text, "a1@localhost/r&2") == 0);
	CHECK_EQ_INT(n, 16);
	REQUIRE(xmpp_attr(&u[3], "type", text, sizeof(text)) == 0);
	CHECK(strcmp(text, "chat") == 0);
	REQUIRE(xmpp_child_text(&u[3], "body", text, sizeof(text), &n) == 0);
	CHECK(strcmp(text, "x <y> AB") == 0);
	CHECK_EQ_INT(xmpp_attr(&u[3], "lang", text, sizeof(text)), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(xmpp_child_text(&u[3], "subject", text, sizeof(text), &n),
	    SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(xmpp_child_text(&u[3], "body", text, 4, &n), SOTTO_ERR_TOO_LARGE);
}

TEST(xmpp_malformed_and_oversized_input_refused)
{
	static const char *bad[] = {
		"hello",                        /* text at the top level */
		"</iq>",                        /* end tag without start */
		"<iq type='a<b'>",              /* '<' inside an attribute */
		"<iq><a></a x></iq>",           /* garbage in an end tag */
		"<>",
	};
	struct xmpp_unit u;
	size_t used;
	static uint8_t big[XMPP_UNIT_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(xmpp_next((const uint8_t *)bad[i], strlen(bad[i]), &used, &u) < 0);
	/* an element that never ends within the cap */
	memset(big, ' ', sizeof(big));
	memcpy(big, "<message>", 9);
	for (i = 9; i + 4 <= sizeof(big); i += 4)
		memcpy(big + i, "<a/>", 4);
	CHECK_EQ_INT(xmpp_next(big, sizeof(big), &used, &u), SOTTO_ERR_TOO_LARGE);
	/* whitespace alone is consumed, no unit */
	CHECK_EQ_INT(xmpp_next((const uint8_t *)"  \n ", 4, &used, &u), 0);
	CHECK_EQ_INT(used, 4);
}

TEST(xmpp_client_output_escapes_and_encodes)
{
	uint8_t mem[512];
	struct buf b;
	const char *want_msg = "<message to='a@b/c&apos;' id='m1' type='chat'><body>1 &lt; 2 "
	    "&amp; &quot;x&quot;</body></message>";
	const char *want_plain = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
	    "mechanism='PLAIN'>AHVzZXIAcGFzcw==</auth>";

	buf_init_fixed(&b, mem, sizeof(mem));
	xmpp_put_message(&b, "a@b/c'", "m1", (const uint8_t *)"1 < 2 & \"x\"", 11);
	REQUIRE(buf_status(&b) == 0);
	CHECK_EQ_INT(b.len, strlen(want_msg));
	CHECK_MEM(b.p, want_msg, strlen(want_msg));
	buf_reset(&b);
	xmpp_put_auth_plain(&b, "user", "pass");    /* base64("\0user\0pass") */
	CHECK_EQ_INT(b.len, strlen(want_plain));
	CHECK_MEM(b.p, want_plain, strlen(want_plain));
}

int
main(void)
{
	RUN(mqtt_connect_and_subscribe_bytes);
	RUN(mqtt_publish_roundtrip_with_long_remaining_length);
	RUN(mqtt_broker_packets_decode_and_bad_ones_fail);
	RUN(xmpp_splits_server_stream_into_units_at_any_cut);
	RUN(xmpp_accessors_decode_text_and_attributes);
	RUN(xmpp_malformed_and_oversized_input_refused);
	RUN(xmpp_client_output_escapes_and_encodes);
	return check_summary();
}
