/* libFuzzer target: the line parsers of `custos eval` (labels.jsonl and
 * alerts.jsonl).  The first byte chooses the parser (even: labels, odd:
 * alerts), the rest is the line.  Checks: no crash, no leak; the result is
 * OK, a parse error with a reason, or a range error; a line accepted once
 * is accepted again the same way (the parsers keep no hidden state that
 * changes a verdict), and the counts grow by at most one per line. */
#include "custos/detect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool alerts = data[0] & 1;
    const char *line = (const char *)data + 1;
    size_t len = size - 1;
    cu_eval_lines *c;
    if (cu_eval_lines_new(&c))
        return 0;
    cu_rc r1 = alerts ? cu_eval_alert_line(c, line, len) : cu_eval_label_line(c, line, len);
    if (r1 != CU_OK && r1 != CU_ERR_PARSE && r1 != CU_ERR_RANGE && r1 != CU_ERR_NOMEM)
        abort();
    if (r1 == CU_ERR_PARSE && !cu_err_detail()[0])
        abort(); /* a refusal says why */
    size_t na, ni = cu_eval_lines_counts(c, &na);
    if (ni + na > 1)
        abort();
    cu_rc r2 = alerts ? cu_eval_alert_line(c, line, len) : cu_eval_label_line(c, line, len);
    if ((r1 == CU_OK) != (r2 == CU_OK) && r1 != CU_ERR_NOMEM && r2 != CU_ERR_NOMEM)
        abort();
    size_t nb, nj = cu_eval_lines_counts(c, &nb);
    if (r1 == CU_OK && r2 == CU_OK && nj + nb != 2 * (ni + na))
        abort(); /* the same line kept twice, or skipped twice */
    cu_eval_lines_free(c);
    return 0;
}
