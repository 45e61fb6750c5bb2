/* RFC 3339 times and civil dates, as int64 seconds since the epoch (UTC). */
#include "custos/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Howard Hinnant's days_from_civil / civil_from_days algorithms. */
int64_t cu_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void cu_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static unsigned days_in_month(int y, int m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

static bool parse_date(const char *s, int *y, int *m, int *d)
{
    if (s[4] != '-' || s[7] != '-')
        return false;
    if (!digits(s, 4, y) || !digits(s + 5, 2, m) || !digits(s + 8, 2, d))
        return false;
    return *m >= 1 && *m <= 12 && *d >= 1 && (unsigned)*d <= days_in_month(*y, *m);
}

cu_rc cu_date_parse(const char *s, size_t len, int64_t *out)
{
    int y, m, d;
    if (len != 10 || !parse_date(s, &y, &m, &d))
        return cu_err_set(CU_ERR_PARSE, "bad date \"%.*s\" (want YYYY-MM-DD)", (int)(len > 40 ? 40 : len), s);
    *out = cu_days_from_civil(y, (unsigned)m, (unsigned)d) * 86400;
    return CU_OK;
}

cu_rc cu_time_parse(const char *s, size_t len, int64_t *out)
{
    int y, mo, d, h, mi, se;
    size_t i = 19;
    if (len < 20 || !parse_date(s, &y, &mo, &d) || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':' || !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) ||
        !digits(s + 17, 2, &se) || h > 23 || mi > 59 || se > 60)
        goto bad;
    if (s[i] == '.') {
        i++;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start || i - start > 9)
            goto bad;
    }
    int64_t off = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            goto bad;
        off = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        goto bad;
    }
    if (i != len)
        goto bad;
    if (se == 60) /* a leap second is read as the last second of the minute */
        se = 59;
    *out = cu_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - off;
    return CU_OK;
bad:
    return cu_err_set(CU_ERR_PARSE, "bad time \"%.*s\" (want RFC 3339, e.g. 2024-03-05T14:07:33Z)",
                      (int)(len > 40 ? 40 : len), s);
}

void cu_time_format(int64_t t, char out[21])
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t secs = t - days * 86400;
    int64_t y;
    unsigned m, d;
    cu_civil_from_days(days, &y, &m, &d);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)(y % 10000), m, d, (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60));
    memcpy(out, tmp, 20);
    out[20] = '\0';
}

void cu_date_format(int64_t t, char out[11])
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t y;
    unsigned m, d;
    cu_civil_from_days(days, &y, &m, &d);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%04d-%02u-%02u", (int)(y % 10000), m, d);
    memcpy(out, tmp, 10);
    out[10] = '\0';
}

int64_t cu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

uint64_t cu_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
