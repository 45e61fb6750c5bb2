/* Private helpers shared by the signed-note and checkpoint code: the text
 * rules of C2SP signed-note (valid UTF-8, no ASCII control characters but
 * newline) and key names (non-empty, no Unicode space, no '+'). */
#ifndef CUSTOS_LEDGER_NOTE_INT_H
#define CUSTOS_LEDGER_NOTE_INT_H

#include <stdbool.h>
#include <stddef.h>

/* Longest key name accepted (also the longest checkpoint origin). */
#define CU_NOTE_NAME_MAX 255

/* Valid UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF) without ASCII control characters other than '\n'. */
bool cu_note_text_valid(const char *s, size_t len);
/* A key name: 1..CU_NOTE_NAME_MAX bytes of valid UTF-8 with no control
 * character, no Unicode space and no '+'. */
bool cu_note_name_valid(const char *s, size_t len);

#endif
