/* ingest audit: the `qt-ingest audit` subcommand (docs/services/ingest.md, docs/data-quality.md).
 *
 * Why separate from the daemon: an operator (or CI) must be able to audit recorded files
 * with no Redis, Kafka or bus running. It reads each file AS WRITTEN (qt_rows), runs
 * qt_audit and prints a table or, with --json, one JSON object
 *   {"files":[{"file":..,"interval":..,"rows":..,"gaps":..,"gap_ranges":[[first,last],..],
 *              "duplicates":..,"out_of_order":..,"ohlc_violations":..,"non_finite":..,
 *              "non_positive":..,"negative_volume":..,"malformed":..,"off_grid":..,
 *              "outliers":..,"clean":..,"first_ms":..,"last_ms":..}, ...],
 *    "total":{<the same counts summed; "gap_ranges" = the number of ranges>}}
 * Exit: 0 audited (problems or not; --strict: 1 when any problem was found), 1 a file
 * could not be read or is structurally broken, 2 usage. */
#ifndef INGEST_AUDIT_H
#define INGEST_AUDIT_H
#include <stdio.h>

/* argv[i..argc) are the subcommand's arguments. Output on out, diagnostics on stderr. */
int ingest_audit_main(int argc, char **argv, int i, FILE *out);
/* Human-readable UTC time of ms ("2022-03-17 12:00"), into buf. */
void ingest_fmt_time(long long ms, char *buf, unsigned len);
#endif
