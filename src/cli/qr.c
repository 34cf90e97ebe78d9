/* QR codes in the terminal: libqrencode, drawn with Unicode half blocks so that one
 * character holds two modules stacked, with the quiet zone the standard asks for. */
#include "cli/cli.h"

#include <qrencode.h>

#define QR_QUIET 2

static int
dark(const QRcode *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return 0;
	return q->data[y * q->width + x] & 1;
}

int
cli_qr_print(FILE *out, const char *text)
{
	QRcode *q;
	int x, y, top, bot;

	if ((q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	for (y = -QR_QUIET; y < q->width + QR_QUIET; y += 2) {
		for (x = -QR_QUIET; x < q->width + QR_QUIET; x++) {
			top = dark(q, x, y);
			bot = dark(q, x, y + 1);
			fputs(top && bot ? "\u2588" : top ? "\u2580" : bot ? "\u2584" : " ", out);
		}
		fputc('\n', out);
	}
	QRcode_free(q);
	return 0;
}
