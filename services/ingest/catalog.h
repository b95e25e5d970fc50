/* ingest catalog: the `qt-ingest catalog` subcommand (docs/data-quality.md, "Curated store").
 *
 *   qt-ingest catalog [--store DIR] [--verify]
 *
 * Why: the curated store must be able to say what it holds without any service running;
 * --verify re-checks every dataset (record CRCs, SHA-256, index) so corruption is found
 * before a replay trusts it. Prints one JSON object {"store":DIR,"datasets":[{venue,
 * symbol,interval,rows,first_ms,last_ms,sha256[,verified,error]}...]} and rewrites
 * DIR/catalog.json. Default DIR: data/curated. Exit 0 ok, 1 a dataset failed verification
 * or the store cannot be read, 2 usage. */
#ifndef INGEST_CATALOG_H
#define INGEST_CATALOG_H
#include <stdio.h>

int ingest_catalog_main(int argc, char **argv, int i, FILE *out);
#endif
