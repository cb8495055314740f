/* Minimal streaming JSON writer: enough for machine-readable command output.
 * It tracks nesting so callers never place commas by hand, and escapes
 * strings per RFC 8259 (control characters as \uXXXX, invalid UTF-8 bytes
 * replaced by U+FFFD so the output always parses). */
#ifndef LB_JSON_H
#define LB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct lb_json;

int lb_json_new(FILE *out, bool pretty, struct lb_json **ret);
/* Returns 0 when the document was complete and every write succeeded,
 * -EINVAL when objects were left open, -EIO on a write error. */
int lb_json_free(struct lb_json *j);

void lb_json_object_begin(struct lb_json *j);
void lb_json_object_end(struct lb_json *j);
void lb_json_array_begin(struct lb_json *j);
void lb_json_array_end(struct lb_json *j);
/* Inside an object every value is preceded by a key. */
void lb_json_key(struct lb_json *j, const char *key);
/* NULL writes null. */
void lb_json_string(struct lb_json *j, const char *s);
void lb_json_u64(struct lb_json *j, uint64_t v);
void lb_json_bool(struct lb_json *j, bool v);
void lb_json_null(struct lb_json *j);

/* True when len bytes at s are valid UTF-8 by the rules the writer uses
 * (no overlong forms, surrogates or code points past U+10FFFF): readers
 * check untrusted JSON with it, so what they accept the writer writes back
 * unchanged. NULs count as valid here; parsers refuse them themselves. */
bool lb_json_utf8_valid(const char *s, size_t len);

/* Escape s as a JSON string literal including the quotes. */
void lb_json_write_escaped(FILE *out, const char *s);

#endif
