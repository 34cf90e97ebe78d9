#include "mqtt.h"

#include <string.h>

#include "base/cursor.h"

/* The remaining length: 1 to 4 bytes, 7 bits each, least significant first. */
static void
put_remaining(struct buf *b, size_t n)
{
	if (n > 268435455u) {
		b->err = b->err ? b->err : SOTTO_ERR_TOO_LARGE;
		return;
	}
	do {
		uint8_t d = n % 128;

		n /= 128;
		buf_u8(b, n > 0 ? (uint8_t)(d | 0x80) : d);
	} while (n > 0);
}

static void
put_str(struct buf *b, const char *s)
{
	buf_lv16(b, s, strlen(s));
}

void
mqtt_put_connect(struct buf *b, const char *client_id, uint16_t keepalive)
{
	size_t id_len = strlen(client_id);

	buf_u8(b, MQTT_CONNECT << 4);
	put_remaining(b, 10 + 2 + id_len);
	put_str(b, "MQTT");
	buf_u8(b, 4);                   /* protocol level 3.1.1 */
	buf_u8(b, 0x02);                /* clean session, no will, no credentials */
	buf_u16(b, keepalive);
	buf_lv16(b, client_id, id_len);
}

void
mqtt_put_subscribe(struct buf *b, uint16_t pid, const char *topic, int qos)
{
	buf_u8(b, MQTT_SUBSCRIBE << 4 | 0x02);
	put_remaining(b, 2 + 2 + strlen(topic) + 1);
	buf_u16(b, pid);
	put_str(b, topic);
	buf_u8(b, (uint8_t)qos);
}

void
mqtt_put_publish(struct buf *b, const char *topic, int qos, uint16_t pid,
    const uint8_t *payload, size_t len)
{
	buf_u8(b, (uint8_t)(MQTT_PUBLISH << 4 | (qos & 3) << 1));
	put_remaining(b, 2 + strlen(topic) + (qos > 0 ? 2 : 0) + len);
	put_str(b, topic);
	if (qos > 0)
		buf_u16(b, pid);
	buf_put(b, payload, len);
}

void
mqtt_put_puback(struct buf *b, uint16_t pid)
{
	buf_u8(b, MQTT_PUBACK << 4);
	buf_u8(b, 2);
	buf_u16(b, pid);
}

/* Reads the variable-length remaining length; 0 = incomplete, 1 = done, < 0 error. */
static int
get_remaining(struct cur *c, size_t *n)
{
	size_t v = 0;
	int shift = 0;

	for (int i = 0; i < 4; i++) {
		uint8_t d;

		if (cur_left(c) == 0)
			return 0;
		d = cur_u8(c);
		v |= (size_t)(d & 0x7f) << shift;
		if (!(d & 0x80)) {
			*n = v;
			return 1;
		}
		shift += 7;
	}
	return SOTTO_ERR_MALFORMED;     /* a fifth length byte */
}

static int
decode_body(uint8_t type, uint8_t flags, const uint8_t *p, size_t len, struct mqtt_pkt *pkt)
{
	struct cur c;

	cur_init(&c, p, len);
	switch (type) {
	case MQTT_CONNACK:
		if (flags != 0 || len != 2)
			return SOTTO_ERR_PROTOCOL;
		if (cur_u8(&c) & 0xfe)
			return SOTTO_ERR_PROTOCOL;
		pkt->code = cur_u8(&c);
		break;
	case MQTT_PUBLISH:
		pkt->qos = (flags >> 1) & 3;
		if (pkt->qos == 3)
			return SOTTO_ERR_PROTOCOL;
		pkt->topic = cur_lv16(&c, MQTT_TOPIC_MAX, &pkt->topic_len);
		if (pkt->qos > 0 && (pkt->pid = cur_u16(&c)) == 0 && cur_status(&c) == 0)
			return SOTTO_ERR_PROTOCOL;      /* packet id 0 is not allowed */
		pkt->payload = cur_rest(&c, &pkt->payload_len);
		break;
	case MQTT_PUBACK:
		if (flags != 0 || len != 2)
			return SOTTO_ERR_PROTOCOL;
		pkt->pid = cur_u16(&c);
		break;
	case MQTT_SUBACK:
		if (flags != 0 || len < 3)
			return SOTTO_ERR_PROTOCOL;
		pkt->pid = cur_u16(&c);
		pkt->code = cur_u8(&c);
		while (cur_left(&c) > 0)
			(void)cur_u8(&c);
		break;
	case MQTT_PINGRESP:
		if (flags != 0 || len != 0)
			return SOTTO_ERR_PROTOCOL;
		break;
	default:
		return SOTTO_ERR_PROTOCOL;      /* not a packet a broker sends a client */
	}
	return cur_finish(&c) != 0 ? SOTTO_ERR_MALFORMED : 0;
}

int
mqtt_decode(const uint8_t *p, size_t len, size_t *used, struct mqtt_pkt *pkt)
{
	struct cur c;
	const uint8_t *body;
	size_t rem;
	uint8_t h;
	int r;

	memset(pkt, 0, sizeof(*pkt));
	*used = 0;
	cur_init(&c, p, len);
	if (cur_left(&c) == 0)
		return 0;
	h = cur_u8(&c);
	if ((r = get_remaining(&c, &rem)) <= 0)
		return r;
	if (rem > MQTT_PKT_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if (cur_left(&c) < rem)
		return 0;
	body = cur_ref(&c, rem);
	pkt->type = h >> 4;
	pkt->flags = h & 0x0f;
	if ((r = decode_body(pkt->type, pkt->flags, body, rem, pkt)) != 0)
		return r;
	if (cur_status(&c) != 0)
		return SOTTO_ERR_INTERNAL;
	*used = c.off;
	return 1;
}
