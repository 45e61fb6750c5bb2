/* libFuzzer target: one events line through the strict JSON scanner and the
 * event parser.  Checks: no crash; the scanner agrees with jansson on
 * whether the text is a JSON object (except where the scanner's documented
 * limits apply: depth and member count); an accepted event writes back to a
 * line that parses to the same event. */
#include "custos/event.h"
#include "event/json_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CU_EVENT_MAX_LINE)
        return 0;
    const char *text = (const char *)data;
    cu_jmember m[CU_JSON_MAX_MEMBERS];
    size_t n;
    cu_rc src = cu_jscan_object(text, size, m, CU_JSON_MAX_MEMBERS, &n);
    json_error_t err;
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", cu_err_detail());
    json_t *j = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    bool theirs = j && json_is_object(j);
    /* jansson refuses numbers it cannot hold (the scanner checks only their
     * syntax) and the scanner refuses nesting deeper than CU_JSON_MAX_DEPTH */
    bool jansson_limit = !j && (strstr(err.text, "too big") || strstr(err.text, "overflow"));
    bool our_limit = src != CU_OK && strstr(detail, "nested too deeply");
    json_decref(j);
    if (src == CU_OK && !theirs && !jansson_limit)
        abort();
    /* jansson reads a raw NUL byte outside strings as the end of its input:
     * not JSON, and the scanner rightly refuses it */
    bool nul = memchr(text, '\0', size) != NULL;
    if (src == CU_ERR_PARSE && theirs && !our_limit && !nul)
        abort();

    cu_names *names;
    if (cu_names_new(&names))
        return 0;
    cu_id s1[CU_EVENT_MAX_SUBJECTS], s2[CU_EVENT_MAX_SUBJECTS];
    cu_event a = {.subjects = s1, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    cu_event b = {.subjects = s2, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    if (cu_event_parse(names, text, size, &a) == CU_OK) {
        cu_buf out;
        cu_buf_init(&out, 1 << 20);
        if (cu_event_write(names, &a, &out) || cu_event_parse(names, out.data, out.len - 1, &b))
            abort();
        if (strcmp(a.id, b.id) || a.ts != b.ts || a.officer != b.officer || a.record != b.record ||
            a.nsubjects != b.nsubjects || a.action != b.action || a.outcome != b.outcome)
            abort();
        for (uint32_t i = 0; i < a.nsubjects; i++)
            if (a.subjects[i] != b.subjects[i])
                abort();
        cu_buf_free(&out);
    }
    cu_names_free(names);
    return 0;
}
