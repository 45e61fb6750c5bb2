/*
 * custos gen: the synthetic force.
 *
 * Real police audit trails are not public, so this module makes a whole force
 * (areas, units, officers with roles, vetting and shift rotas, a population
 * with families and addresses, records in PNC, PND and the force record
 * system, cases and their assignments) and a stream of access events: the
 * daily work of every officer, legitimate-but-odd activity, and labelled
 * misuse scenarios mixed into it.  It writes three files in a directory:
 *
 *   reference.jsonl  officers, persons, records, cases, assign lines
 *   events.jsonl     "kind":"access" lines in time order
 *   labels.jsonl     which events and officers belong to which scenario
 *                    instance (and to benign-but-odd activity); only the
 *                    evaluation reads this file, never custos itself
 *
 * The formats are the interchange formats (shared spec) plus documented extra
 * fields; docs/gen.md describes the model, the scenario catalogue and the
 * labels format.
 *
 * Invariants:
 *   - Deterministic: the same configuration gives byte-identical files.  All
 *     randomness comes from a seeded xoshiro256** generator; time is the
 *     configured start date, never the clock.
 *   - Memory is bounded by the size of the force, not by the number of days:
 *     events are generated one day at a time, sorted and streamed out.
 *   - Events are in time order, ids E + zero-padded counter; every officer,
 *     person, record and case an event names is in reference.jsonl, and every
 *     event lies within its officer's employment and the generated period.
 */
#ifndef CUSTOS_GEN_H
#define CUSTOS_GEN_H

#include "custos/util.h"

#define CU_GEN_MAX_OFFICERS 200000u
#define CU_GEN_MAX_DAYS 3660u
#define CU_GEN_MAX_INTENSITY 50.0

/* The scenario catalogue (docs/gen.md). */
typedef enum cu_gen_scenario {
    CU_GEN_SC_CURIOSITY,       /* curiosity burst on a high-profile record */
    CU_GEN_SC_EX_PARTNER,      /* look-ups of an ex-partner and their household */
    CU_GEN_SC_FAMILY,          /* look-ups of family members */
    CU_GEN_SC_VICTIM,          /* targeting of vulnerable women who were victims */
    CU_GEN_SC_TIPOFF,          /* look-ups of an operation's subjects before raids */
    CU_GEN_SC_MEDIA,           /* celebrity records looked up for sale to media */
    CU_GEN_SC_RING,            /* low-and-slow collection on activists by a ring */
    CU_GEN_SC_COLLEAGUE_LOGIN, /* use of a colleague's login */
    CU_GEN_SC_BULK_EXPORT,     /* bulk export before resignation */
    CU_GEN_SC_TRAWLING,        /* searches by attribute returning many women */
    CU_GEN_SC_NEW_ACCESS,      /* misuse on the first day of new access */
    CU_GEN_SC_COUNT
} cu_gen_scenario;

/* The catalogue name ("ex-partner", ...) of a scenario; NULL out of range. */
const char *cu_gen_scenario_name(unsigned sc);

typedef struct cu_gen_config {
    uint32_t officers;     /* 1 .. CU_GEN_MAX_OFFICERS */
    uint32_t days;         /* 1 .. CU_GEN_MAX_DAYS */
    int64_t start;         /* midnight UTC of the first day, 2000-01-01 .. 2100-12-31 */
    uint64_t seed;
    double intensity;      /* scales every scenario's instance count, (0, 50] */
    const char *scenarios; /* NULL or "all": every scenario; else a comma list
                            * of name[:key=value...] (keys n, days, rate) */
    const char *out_dir;   /* existing directory or one to create */
} cu_gen_config;

/* Defaults: 100 officers, 7 days from 2024-01-01, seed 1, intensity 1. */
void cu_gen_config_default(cu_gen_config *c);

/* Parse `custos gen` arguments (argv[0] is the command name) into c, which
 * should hold the defaults.  Strings in c point into argv.  CU_ERR_INVAL with
 * a detail naming the argument on any error. */
cu_rc cu_gen_parse_args(int argc, char **argv, cu_gen_config *c) CU_NODISCARD;

/* Check every limit of c (ranges, date, scenario list).  CU_ERR_INVAL or
 * CU_ERR_RANGE with a detail. */
cu_rc cu_gen_config_check(const cu_gen_config *c) CU_NODISCARD;

typedef struct cu_gen_stats {
    uint64_t officers, persons, records, cases, assigns, officer_updates;
    uint64_t events, scenario_instances, scenario_events, benign_lines;
    uint64_t bytes_reference, bytes_events, bytes_labels;
    uint32_t skipped[CU_GEN_SC_COUNT]; /* instances that could not be placed */
} cu_gen_stats;

/* Generate the force and write the three files into c->out_dir (created if
 * missing; existing files are replaced).  stats may be NULL.  Errors:
 * CU_ERR_INVAL/RANGE for a bad configuration, CU_ERR_EXISTS when out_dir is
 * not a directory, CU_ERR_IO/NOSPC writing, CU_ERR_NOMEM.  Scenario
 * instances that cannot be placed in the force are counted in
 * stats->skipped, not an error. */
cu_rc cu_gen_run(const cu_gen_config *c, cu_gen_stats *stats) CU_NODISCARD;

#endif /* CUSTOS_GEN_H */
