/* Minimal streaming JSON writer. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Deeper than any document we emit; overflow marks the writer broken
 * rather than writing past the stack. */
#define LB_JSON_MAX_DEPTH 32

struct lb_json {
	FILE *out;
	bool pretty;
	bool broken;
	bool after_key;
	int depth;
	/* per level: has a member been written yet (comma needed) */
	bool nonempty[LB_JSON_MAX_DEPTH];
};

int lb_json_new(FILE *out, bool pretty, struct lb_json **ret)
{
	struct lb_json *j;

	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->out = out;
	j->pretty = pretty;
	*ret = j;
	return 0;
}

int lb_json_free(struct lb_json *j)
{
	int r = 0;

	if (!j)
		return 0;
	if (j->broken || j->depth != 0)
		r = -EINVAL;
	else if (fflush(j->out) != 0 || ferror(j->out))
		r = -EIO;
	free(j);
	return r;
}

static void indent(struct lb_json *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->out);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->out);
}

/* Called before every value or key: comma and indentation. */
static void before_item(struct lb_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0) {
		if (j->nonempty[j->depth - 1])
			fputc(',', j->out);
		j->nonempty[j->depth - 1] = true;
		indent(j);
	}
}

static void open_level(struct lb_json *j, char c)
{
	before_item(j);
	fputc(c, j->out);
	if (j->depth >= LB_JSON_MAX_DEPTH) {
		j->broken = true;
		return;
	}
	j->nonempty[j->depth++] = false;
}

static void close_level(struct lb_json *j, char c)
{
	bool had;

	if (j->depth <= 0) {
		j->broken = true;
		return;
	}
	had = j->nonempty[j->depth - 1];
	j->depth--;
	if (had)
		indent(j);
	fputc(c, j->out);
	if (j->depth == 0 && j->pretty)
		fputc('\n', j->out);
}

void lb_json_object_begin(struct lb_json *j)
{
	open_level(j, '{');
}

void lb_json_object_end(struct lb_json *j)
{
	close_level(j, '}');
}

void lb_json_array_begin(struct lb_json *j)
{
	open_level(j, '[');
}

void lb_json_array_end(struct lb_json *j)
{
	close_level(j, ']');
}

void lb_json_key(struct lb_json *j, const char *key)
{
	before_item(j);
	lb_json_write_escaped(j->out, key);
	fputs(j->pretty ? ": " : ":", j->out);
	j->after_key = true;
}

/* Length of the valid UTF-8 sequence at s (at most avail bytes), or 0 if
 * it is not valid (overlong forms, surrogates and code points past
 * U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool lb_json_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0, n; i < len; i += n)
		if ((n = utf8_len(s + i, len - i)) == 0)
			return false;
	return true;
}

void lb_json_write_escaped(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', out);
	while (*s) {
		size_t n;

		switch (*s) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\b':
			fputs("\\b", out);
			break;
		case '\f':
			fputs("\\f", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*s < 0x20 || *s == 0x7f) {
				fprintf(out, "\\u%04x", *s);
				break;
			}
			/* NUL-terminated: a sequence cut short fails at the NUL */
			n = utf8_len(s, SIZE_MAX);
			if (n == 0) {
				/* sysfs strings come from firmware: never let
				 * a stray byte make the document unparsable */
				fputs("\\ufffd", out);
				break;
			}
			fwrite(s, 1, n, out);
			s += n;
			continue;
		}
		s++;
	}
	fputc('"', out);
}

void lb_json_string(struct lb_json *j, const char *s)
{
	before_item(j);
	if (s)
		lb_json_write_escaped(j->out, s);
	else
		fputs("null", j->out);
}

void lb_json_u64(struct lb_json *j, uint64_t v)
{
	before_item(j);
	fprintf(j->out, "%" PRIu64, v);
}

void lb_json_bool(struct lb_json *j, bool v)
{
	before_item(j);
	fputs(v ? "true" : "false", j->out);
}

void lb_json_null(struct lb_json *j)
{
	before_item(j);
	fputs("null", j->out);
}
