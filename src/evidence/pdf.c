/*
 * The report: a small document model (lines in a handful of styles) and its
 * rendering as PDF with libharu.  Only the standard 14 fonts are used (no
 * font files), so text is reduced to printable ASCII; anything else becomes
 * '?'.  Long lines wrap at word boundaries (or anywhere, for a word wider
 * than the page); pages break when full.
 *
 * libharu reports errors through a callback; ours records the first one and
 * every later call is skipped by checking it, so there is no longjmp.
 */
#include "evidence/evidence_int.h"

#include <hpdf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DOC_MAX_LINES 2000000u
#define DOC_MAX_TEXT 4096

typedef struct doc_line {
    ev_style style;
    char *text;
} doc_line;

struct ev_doc {
    doc_line *l;
    size_t n, cap;
};

cu_rc cu_ev_doc_new(ev_doc **out)
{
    *out = cu_calloc(1, sizeof **out);
    return *out ? CU_OK : CU_ERR_NOMEM;
}

void cu_ev_doc_free(ev_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        cu_free(d->l[i].text);
    cu_free(d->l);
    cu_free(d);
}

cu_rc cu_ev_doc_add(ev_doc *d, ev_style s, const char *fmt, ...)
{
    char tmp[DOC_MAX_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    for (char *p = tmp; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    if (d->n >= DOC_MAX_LINES)
        return cu_err_set(CU_ERR_TOOBIG, "report over %u lines", DOC_MAX_LINES);
    cu_rc rc = cu_grow(&d->l, &d->cap, d->n + 1, sizeof *d->l, 256, false);
    if (rc)
        return rc;
    char *t = cu_strdup(tmp);
    if (!t)
        return CU_ERR_NOMEM;
    d->l[d->n++] = (doc_line){s, t};
    return CU_OK;
}

typedef struct pdf_state {
    HPDF_STATUS err, detail;
} pdf_state;

static void on_error(HPDF_STATUS error_no, HPDF_STATUS detail_no, void *user_data)
{
    pdf_state *st = user_data;
    if (!st->err) {
        st->err = error_no;
        st->detail = detail_no;
    }
}

#define PAGE_W 595.0f
#define PAGE_H 842.0f
#define MARGIN 48.0f

cu_rc cu_ev_doc_pdf(const ev_doc *d, const char *title, int64_t now, cu_buf *out)
{
    pdf_state st = {0, 0};
    HPDF_Doc pdf = HPDF_New(on_error, &st);
    cu_rc rc = CU_OK;
    if (!pdf)
        return cu_err_set(CU_ERR_NOMEM, "libharu: cannot make a document");
    HPDF_SetCompressionMode(pdf, HPDF_COMP_ALL);
    HPDF_Font fonts[5] = {HPDF_GetFont(pdf, "Helvetica-Bold", NULL), HPDF_GetFont(pdf, "Helvetica-Bold", NULL),
                          HPDF_GetFont(pdf, "Helvetica", NULL), HPDF_GetFont(pdf, "Courier", NULL),
                          HPDF_GetFont(pdf, "Helvetica-Oblique", NULL)};
    const float sizes[5] = {16, 11.5f, 9, 7, 9};
    char safe_title[256];
    snprintf(safe_title, sizeof safe_title, "%s", title);
    for (char *p = safe_title; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    HPDF_SetInfoAttr(pdf, HPDF_INFO_TITLE, safe_title);
    HPDF_SetInfoAttr(pdf, HPDF_INFO_CREATOR, "custos " CUSTOS_VERSION);
    {
        int64_t y;
        unsigned mo, dd;
        cu_civil_from_days(now / 86400 - (now % 86400 < 0), &y, &mo, &dd);
        int64_t sod = ((now % 86400) + 86400) % 86400;
        HPDF_Date dt = {(HPDF_INT)y, (HPDF_INT)mo, (HPDF_INT)dd, (HPDF_INT)(sod / 3600), (HPDF_INT)(sod / 60 % 60),
                        (HPDF_INT)(sod % 60), 'Z', 0, 0};
        HPDF_SetInfoDateAttr(pdf, HPDF_INFO_CREATION_DATE, dt);
    }
    HPDF_Page page = NULL;
    float y = 0;
    unsigned pageno = 0;
    for (size_t i = 0; i < d->n && !st.err; i++) {
        const doc_line *ln = &d->l[i];
        float fs = sizes[ln->style], lead = fs * 1.3f;
        float gap = ln->style == EV_H ? 8 : ln->style == EV_TITLE ? 4 : 0;
        const char *p = ln->text;
        do {
            if (!page || y - lead - gap < MARGIN) {
                if (page) {
                    HPDF_Page_EndText(page);
                }
                page = HPDF_AddPage(pdf);
                HPDF_Page_SetSize(page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
                pageno++;
                HPDF_Page_BeginText(page);
                HPDF_Page_SetFontAndSize(page, fonts[2], 7);
                char foot[300];
                snprintf(foot, sizeof foot, "%.200s - page %u", safe_title, pageno);
                HPDF_Page_TextOut(page, MARGIN, MARGIN / 2, foot);
                y = PAGE_H - MARGIN;
                gap = 0;
            }
            if (st.err)
                break;
            y -= lead + gap;
            gap = 0;
            HPDF_Page_SetFontAndSize(page, fonts[ln->style], fs);
            HPDF_REAL rw = 0;
            size_t rest = strlen(p);
            HPDF_UINT fit = rest ? HPDF_Page_MeasureText(page, p, PAGE_W - 2 * MARGIN, HPDF_TRUE, &rw) : 0;
            if (rest && fit == 0)
                fit = HPDF_Page_MeasureText(page, p, PAGE_W - 2 * MARGIN, HPDF_FALSE, &rw);
            if (rest && fit == 0)
                fit = 1;
            char chunk[DOC_MAX_TEXT];
            memcpy(chunk, p, fit);
            chunk[fit] = '\0';
            HPDF_Page_TextOut(page, MARGIN + (ln->style == EV_MONO || ln->style == EV_TYPED ? 8 : 0), y, chunk);
            p += fit;
            while (*p == ' ')
                p++;
        } while (*p && !st.err);
    }
    if (page && !st.err)
        HPDF_Page_EndText(page);
    if (!st.err)
        HPDF_SaveToStream(pdf);
    if (st.err) {
        rc = cu_err_set(CU_ERR_INTERNAL, "libharu error 0x%04X (detail %u)", (unsigned)st.err, (unsigned)st.detail);
        goto out;
    }
    HPDF_UINT32 total = HPDF_GetStreamSize(pdf);
    if ((rc = cu_buf_reserve(out, total)))
        goto out;
    HPDF_ResetStream(pdf);
    for (size_t got = 0; got < total;) {
        HPDF_UINT32 sz = (HPDF_UINT32)(total - got);
        HPDF_STATUS r = HPDF_ReadFromStream(pdf, (HPDF_BYTE *)out->data + out->len, &sz);
        if ((r != HPDF_OK && r != HPDF_STREAM_EOF) || (r == HPDF_OK && st.err) || sz == 0) {
            rc = cu_err_set(CU_ERR_INTERNAL, "libharu: reading the document back: 0x%04X", (unsigned)r);
            goto out;
        }
        got += sz;
        out->len += sz;
        out->data[out->len] = '\0';
        if (r == HPDF_STREAM_EOF)
            break;
    }
out:
    HPDF_Free(pdf);
    return rc;
}
