/*
 * gen output: the buffered JSON Lines writer of the generator and the name
 * tables of the force model.
 *
 * The writer formats numbers, times and ids by hand into a 1 MiB buffer and
 * hands full buffers to stdio, so writing an event costs a few hundred byte
 * copies and no allocation.  Errors are sticky (the first one is kept) so the
 * hot path need not test a result after every field; g_out_close reports it.
 * g_str is the only writer of free text and escapes per RFC 8259: '"', '\\'
 * and control characters; valid UTF-8 is passed through unchanged.
 */
#include "gen/gen_int.h"

#include <errno.h>

/* ================================================================ tables */

const char *const g_unit_code[U_COUNT] = {"RESP", "NHD", "CID", "CUST", "INT", "TRAF",
                                          "PPU",  "CT",  "MIT", "STAFF", "TRAIN"};
const char *const g_shift_name[SH_COUNT] = {"days", "earlies", "lates", "nights", "office"};
const char *const g_vet_name[V_COUNT] = {"RV", "MV", "NPPV1", "NPPV2", "NPPV3", "CTC", "SC", "eSC", "DV"};
const char *const g_role_name[R_COUNT] = {"PC", "PCSO", "PS", "PI", "DC", "DS", "DI", "analyst", "staff", "DDO",
                                          "trainer"};
const char *const g_sys_name[3] = {"PNC", "PND", "RMS"};
const char *const g_action_name[8] = {"search", "view", "update", "export", "print", "disclose", "login", "logout"};
const char *const g_purpose_name[8] = {"investigation", "intelligence", "custody", "licensing",
                                       "vetting",       "training",     "test",    "other"};
const char *const g_rtype_name[RT_COUNT] = {"nominal", "vehicle", "intelligence", "crime",
                                            "address", "custody", "firearms-licence"};
const char *const g_class_name[4] = {"OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET"};
const char *const g_rel_name[6] = {"self", "family", "ex-partner", "partner", "neighbour", "associate"};
const char *const g_ctype_name[CT_COUNT] = {"investigation", "safeguarding", "operation", "major-investigation",
                                            "incident", "traffic", "ct-operation"};

/* Names exercise the escaper: apostrophes, non-ASCII letters (passed through
 * as UTF-8) and, in aliases, double quotes. */
const char *const g_surnames[] = {
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke",
    "Patel", "Khan", "Ahmed", "Ali", "Begum", "Hussain", "Shah", "Singh", "Kaur", "Sharma",
    "O'Brien", "O'Connor", "D'Souza", "McCarthy", "Murphy", "Kelly", "Byrne", "Ryan", "Walsh", "Doyle",
    "Nowak", "Kowalski", "Wiśniewski", "Zieliński", "Novák", "Popescu", "Ionescu", "Müller", "Schäfer",
    "Okafor", "Adeyemi", "Mensah", "Owusu", "Mohamed", "Hassan", "Ibrahim", "Nguyen", "Tran", "Chen",
    "Wang", "Li", "Silva", "Santos", "Costa", "Ferreira", "Rossi", "Russo", "García", "Martínez",
    "López", "Harris", "Martin", "Cooper", "King", "Lee", "Baker", "Hill", "Scott", "Morris", "Turner",
};
const unsigned g_nsurnames = sizeof g_surnames / sizeof g_surnames[0];
const char *const g_community_surnames[] = {"Demir", "Yıldız", "Kaya", "Aydın", "Sivakumar", "Rajan",
                                            "Tharmalingam", "Selvaraj", "Barzani", "Ahmadi", "Karimi",
                                            "Rahimi"};
const unsigned g_ncommunity_surnames = sizeof g_community_surnames / sizeof g_community_surnames[0];
const char *const g_given_f[] = {"Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Mia", "Poppy",
                                 "Ella", "Zoë", "Siobhán", "Aoife", "Chloé", "Fatima", "Aisha", "Priya",
                                 "Anna", "Maria", "Agnieszka", "Joanna", "Ngozi", "Abena", "Mei", "Sarah",
                                 "Emma", "Laura", "Rebecca", "Hannah", "Jessica", "Leah", "Ayşe"};
const unsigned g_ngiven_f = sizeof g_given_f / sizeof g_given_f[0];
const char *const g_given_m[] = {"Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Muhammad",
                                 "Oscar", "Charlie", "Jacob", "Thomas", "James", "Daniel", "Séan", "Ciarán",
                                 "Łukasz", "Piotr", "Tomasz", "Mehmet", "Emeka", "Kwame", "Wei", "Raj",
                                 "Amir", "David", "Michael", "Paul", "Mark", "Andrew", "Chris", "Joël"};
const unsigned g_ngiven_m = sizeof g_given_m / sizeof g_given_m[0];
const char *const g_op_words[] = {"Kestrel", "Granite", "Larkspur", "Meridian", "Halyard", "Thistle",
                                  "Bramble", "Cobalt", "Falconer", "Juniper", "Lantern", "Quarry", "Saffron",
                                  "Tarragon", "Vesper", "Wicket", "Yarrow", "Zephyr", "Anvil", "Beacon"};
const unsigned g_nop_words = sizeof g_op_words / sizeof g_op_words[0];

/* ================================================================ writer */

#define G_OUT_CAP (1u << 20)

cu_rc g_out_open(g_out *o, const char *dir, const char *name)
{
    memset(o, 0, sizeof *o);
    o->day_cache = INT64_MIN;
    int n = snprintf(o->path, sizeof o->path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof o->path)
        return cu_err_set(CU_ERR_TOOBIG, "output path too long: %s/%s", dir, name);
    o->buf = cu_malloc(G_OUT_CAP);
    if (!o->buf)
        return cu_err_set(CU_ERR_NOMEM, "no memory for the output buffer");
    o->cap = G_OUT_CAP;
    o->f = fopen(o->path, "wb");
    if (!o->f) {
        int e = errno;
        cu_free(o->buf);
        o->buf = NULL;
        return cu_err_set(cu_rc_from_errno(e), "cannot create %s: %s", o->path, strerror(e));
    }
    return CU_OK;
}

void g_out_flush(g_out *o)
{
    if (o->len && !o->err && o->f && fwrite(o->buf, 1, o->len, o->f) != o->len)
        o->err = cu_rc_from_errno(errno);
    o->len = 0;
}

cu_rc g_out_close(g_out *o)
{
    if (!o->f)
        return CU_OK;
    g_out_flush(o);
    if (fclose(o->f) != 0 && !o->err)
        o->err = cu_rc_from_errno(errno);
    o->f = NULL;
    cu_free(o->buf);
    o->buf = NULL;
    if (o->err)
        return cu_err_set(o->err, "writing %s failed: %s", o->path, cu_strerror(o->err));
    return CU_OK;
}

void g_out_discard(g_out *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    cu_free(o->buf);
    o->buf = NULL;
}

void g_u(g_out *o, uint64_t v)
{
    g_reserve(o, 20);
    size_t n = cu_u64_dec(o->buf + o->len, v);
    o->len += n;
    o->total += n;
}

void g_i(g_out *o, int64_t v)
{
    if (v < 0) {
        g_ch(o, '-');
        g_u(o, (uint64_t)0 - (uint64_t)v);
    } else {
        g_u(o, (uint64_t)v);
    }
}

void g_u0(g_out *o, uint64_t v, int width)
{
    char tmp[20];
    size_t n = cu_u64_dec(tmp, v);
    size_t w = width < 24 ? (width > 0 ? (size_t)width : 0) : 24; /* zeros up to width, at most 24 in all */
    size_t z = w > n ? w - n : 0;
    g_reserve(o, z + n);
    memset(o->buf + o->len, '0', z);
    memcpy(o->buf + o->len + z, tmp, n);
    o->len += z + n;
    o->total += z + n;
}

void g_fixed(g_out *o, double v)
{
    /* params only: three decimals, rounded half away from zero */
    if (v < 0) {
        g_ch(o, '-');
        v = -v;
    }
    uint64_t m = (uint64_t)(v * 1000.0 + 0.5);
    g_u(o, m / 1000);
    g_ch(o, '.');
    g_u0(o, m % 1000, 3);
}

static void fill_date(g_out *o, int64_t day)
{
    if (o->day_cache == day)
        return;
    int64_t y;
    unsigned m, d;
    cu_civil_from_days(day, &y, &m, &d);
    char *p = o->date_cache;
    p[0] = (char)('0' + (y / 1000) % 10);
    p[1] = (char)('0' + (y / 100) % 10);
    p[2] = (char)('0' + (y / 10) % 10);
    p[3] = (char)('0' + y % 10);
    p[4] = '-';
    p[5] = (char)('0' + m / 10);
    p[6] = (char)('0' + m % 10);
    p[7] = '-';
    p[8] = (char)('0' + d / 10);
    p[9] = (char)('0' + d % 10);
    p[10] = 0;
    o->day_cache = day;
}

void g_ts(g_out *o, int64_t t)
{
    int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t s = t - day * 86400;
    fill_date(o, day);
    g_reserve(o, 22);
    char *p = o->buf + o->len;
    p[0] = '"';
    memcpy(p + 1, o->date_cache, 10);
    p[11] = 'T';
    unsigned h = (unsigned)(s / 3600), mi = (unsigned)(s / 60 % 60), se = (unsigned)(s % 60);
    p[12] = (char)('0' + h / 10);
    p[13] = (char)('0' + h % 10);
    p[14] = ':';
    p[15] = (char)('0' + mi / 10);
    p[16] = (char)('0' + mi % 10);
    p[17] = ':';
    p[18] = (char)('0' + se / 10);
    p[19] = (char)('0' + se % 10);
    p[20] = 'Z';
    p[21] = '"';
    o->len += 22;
    o->total += 22;
}

void g_date(g_out *o, int64_t day)
{
    fill_date(o, day);
    g_reserve(o, 12);
    o->buf[o->len] = '"';
    memcpy(o->buf + o->len + 1, o->date_cache, 10);
    o->buf[o->len + 11] = '"';
    o->len += 12;
    o->total += 12;
}

void g_str(g_out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    g_ch(o, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if (ch == '"' || ch == '\\') {
            g_ch(o, '\\');
            g_ch(o, (char)ch);
        } else if (ch < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            switch (ch) {
            case '\n': g_lit(o, "\\n"); break;
            case '\r': g_lit(o, "\\r"); break;
            case '\t': g_lit(o, "\\t"); break;
            case '\b': g_lit(o, "\\b"); break;
            case '\f': g_lit(o, "\\f"); break;
            default: g_put(o, esc, 6); break;
            }
        } else {
            g_ch(o, (char)ch);
        }
    }
    g_ch(o, '"');
}

void g_officer_id(g_out *o, uint32_t i)
{
    g_lit(o, "\"MP");
    g_u(o, 10000u + (uint64_t)i);
    g_ch(o, '"');
}

void g_person_id(g_out *o, uint32_t i)
{
    g_lit(o, "\"P");
    g_u0(o, (uint64_t)i + 1, 7);
    g_ch(o, '"');
}

void g_record_id(g_out *o, uint32_t i)
{
    g_lit(o, "\"R");
    g_u0(o, (uint64_t)i + 1, 8);
    g_ch(o, '"');
}

void g_case_id(g_out *o, uint16_t year, uint32_t seq)
{
    g_lit(o, "\"C");
    g_u0(o, year, 4);
    g_ch(o, '-');
    g_u0(o, seq, 4);
    g_ch(o, '"');
}

void g_event_id(g_out *o, uint64_t n)
{
    g_lit(o, "\"E");
    g_u0(o, n, 10);
    g_ch(o, '"');
}

const char g_area_codes[G_MAX_AREAS + 1][3] = {"CW", "HK", "IS", "TH", "SO", "LA", "CA",
                                                     "WE", "KE", "BR", "EA", "HA", "HQ"};

void g_area_code(g_out *o, uint8_t area)
{
    g_reserve(o, 4);
    o->buf[o->len] = '"';
    o->buf[o->len + 1] = g_area_codes[area][0];
    o->buf[o->len + 2] = g_area_codes[area][1];
    o->buf[o->len + 3] = '"';
    o->len += 4;
    o->total += 4;
}

