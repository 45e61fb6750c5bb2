/* A strict JSON scanner for one line holding one object (private to event).
 *
 * cu_jscan_object() checks the whole text against RFC 8259 (objects, arrays,
 * strings with escapes and valid UTF-8, numbers, literals, nesting at most
 * CU_JSON_MAX_DEPTH) and records the top-level members as spans into the
 * text: no allocation, no copy.  Values are decoded on demand. */
#ifndef CU_EVENT_JSON_INT_H
#define CU_EVENT_JSON_INT_H

#include "custos/util.h"

#define CU_JSON_MAX_DEPTH 32
#define CU_JSON_MAX_MEMBERS 64

typedef enum { CU_JT_STRING, CU_JT_NUMBER, CU_JT_TRUE, CU_JT_FALSE, CU_JT_NULL, CU_JT_ARRAY, CU_JT_OBJECT } cu_jtype;

/* A value: for a string, s/len are the bytes between the quotes (escaped
 * form; esc says whether any backslash occurs); otherwise the value's text. */
typedef struct cu_jval {
    const char *s;
    uint32_t len;
    uint8_t type;
    bool esc;
} cu_jval;

typedef struct cu_jmember {
    cu_jval key;
    cu_jval val;
} cu_jmember;

/* Scan text as one JSON object (surrounding whitespace allowed).  Up to max
 * members are recorded (more is CU_ERR_TOOBIG).  CU_ERR_PARSE with a detail
 * naming the byte offset on malformed input. */
cu_rc cu_jscan_object(const char *text, size_t len, cu_jmember *m, size_t max, size_t *n) CU_NODISCARD;

/* Validate any one JSON value (for tests and fuzzing). */
cu_rc cu_jscan_value(const char *text, size_t len) CU_NODISCARD;

/* Iterate over an array value already validated by cu_jscan_object:
 * *pos starts at 0; returns true with *el set, false at the end. */
bool cu_jarray_next(const cu_jval *arr, size_t *pos, cu_jval *el);
/* Members of an object value, likewise. */
bool cu_jobject_next(const cu_jval *obj, size_t *pos, cu_jval *key, cu_jval *val);

/* Decode a string value into out (cap bytes, NUL added: needs len+1).
 * CU_ERR_TOOBIG when the decoded text would not fit in cap-1 bytes.
 * A decoded NUL byte (\u0000) is refused (CU_ERR_PARSE): ids are C strings. */
cu_rc cu_jstr_decode(const cu_jval *v, char *out, size_t cap, size_t *outlen) CU_NODISCARD;

/* Whether a string value equals lit (decoding escapes when needed). */
bool cu_jstr_eq(const cu_jval *v, const char *lit);

#endif
