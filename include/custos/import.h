/*
 * custos import: audit trails in CSV, syslog (RFC 5424 with structured data)
 * and CEF turned into interchange access events (JSON Lines), through a
 * mapping file that says which source field feeds which event field (the
 * format is in docs/import.md).
 *
 * Each line parser takes one line and splits it into named fields without
 * I/O (easy to test and fuzz).  cu_import_run drives a whole file: a bad
 * line is reported with its file and line; --on-error stop ends the run
 * there, skip reports it and goes on.  Every line accepted before an error
 * is already written whole and flushed.  Events out of time order are
 * errors like malformed lines (the output must be replayable).
 */
#ifndef CUSTOS_IMPORT_H
#define CUSTOS_IMPORT_H

#include "custos/event.h"

#define CU_IMPORT_MAX_LINE 65536
#define CU_IMPORT_MAX_FIELDS 256
#define CU_IMPORT_MAX_MAP 65536 /* bytes in a mapping file */

typedef enum cu_import_format { CU_IMPORT_CSV, CU_IMPORT_SYSLOG, CU_IMPORT_CEF } cu_import_format;

/* A line split into fields.  group is the SD-ID for syslog parameters, ""
 * otherwise; names and values point into buf (decoded, NUL-terminated). */
typedef struct cu_import_field {
    const char *group, *name, *value;
} cu_import_field;

typedef struct cu_import_rec {
    uint32_t n;
    cu_import_field f[CU_IMPORT_MAX_FIELDS];
    size_t used;
    char buf[2 * CU_IMPORT_MAX_LINE + 4096];
} cu_import_rec;

/* CSV (RFC 4180 quoting, one record per line): fields get names "#1",
 * "#2", ... .  delim is the separator. */
cu_rc cu_import_csv_line(const char *line, size_t len, char delim, cu_import_rec *out) CU_NODISCARD;
/* RFC 5424: header fields are named TIMESTAMP, HOSTNAME, APP-NAME, PROCID,
 * MSGID, MSG (PRI and VERSION checked, not returned); each SD-PARAM is
 * named by its PARAM-NAME with its SD-ID as group. */
cu_rc cu_import_syslog_line(const char *line, size_t len, cu_import_rec *out) CU_NODISCARD;
/* CEF (optionally after a syslog prefix): header fields cef.version,
 * cef.vendor, cef.product, cef.device_version, cef.signature, cef.name,
 * cef.severity; extension keys by name. */
cu_rc cu_import_cef_line(const char *line, size_t len, cu_import_rec *out) CU_NODISCARD;

typedef struct cu_import_map cu_import_map;
cu_rc cu_import_map_parse(const char *text, size_t len, const char *name, cu_import_map **out) CU_NODISCARD;
cu_rc cu_import_map_load(const char *path, cu_import_map **out) CU_NODISCARD;
void cu_import_map_free(cu_import_map *m);

/* Build one interchange line (with '\n') from a record through the map.
 * For CSV with a header the map must have been bound to it first. */
cu_rc cu_import_build(const cu_import_map *m, const cu_import_rec *r, cu_buf *out) CU_NODISCARD;
/* Bind column names from a CSV header record. */
cu_rc cu_import_map_bind_header(cu_import_map *m, const cu_import_rec *header) CU_NODISCARD;
bool cu_import_map_has_header(const cu_import_map *m);
char cu_import_map_delim(const cu_import_map *m);

typedef struct cu_import_opts {
    cu_import_format format;
    const char *map;     /* mapping file */
    const char *input;   /* "-": stdin */
    const char *output;  /* NULL or "-": stdout */
    bool skip_errors;    /* --on-error skip */
    /* each skipped line's message ("file:line: ..."); may be NULL */
    void (*on_skip)(void *ud, const char *msg);
    void *ud;
} cu_import_opts;

typedef struct cu_import_stats {
    uint64_t lines, accepted, skipped;
} cu_import_stats;

cu_rc cu_import_run(const cu_import_opts *o, cu_import_stats *st) CU_NODISCARD;
cu_rc cu_import_format_parse(const char *s, cu_import_format *out) CU_NODISCARD;

#endif /* CUSTOS_IMPORT_H */
