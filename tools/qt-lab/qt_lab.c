/* qt-lab: research CLI. Why one binary with subcommands: researchers get one tool whose
 * commands share the strict argument parsing of qt_cli and the same exit codes; each
 * command lives in its own file (lab_*.c) next to the library it drives. */
#include <stdio.h>
#include <string.h>

#include "qt_cli.h"
#include "qt_lab.h"
#include "qt_log.h"

const char *qt_lab_prog = "qt-lab";

typedef int (*qt_lab_cmd_fn)(int argc, char **argv, int i);

static const struct {
    const char *name;
    qt_lab_cmd_fn fn;
    const char *synopsis;
} g_cmds[] = {
    {"features", qt_lab_features,
     "--input FILE --spec \"sma:20,rsi:14,...\" [--out F]   features as CSV"},
    {"labels", qt_lab_labels, "--input FILE ... [--out F]   labels as CSV"},
    {"stats", qt_lab_stats, "--returns FILE [--periods 252]   performance statistics"},
    {"dsr", qt_lab_dsr, "--sr S --n T --skew G3 --kurt G4 --trials N --var-trials V"},
    {"pbo", qt_lab_pbo, "--matrix FILE --blocks 16   probability of backtest overfitting"},
    {"cpcv", qt_lab_cpcv, "--n-obs N --folds N --test-folds k [--purge p] [--embargo e]"},
    {"qaoa", qt_lab_qaoa, "--problem FILE.json [--p 3] [--seed 1] [--mixer x|xy]"},
    {"optimize", qt_lab_optimize, "--problem FILE.json --solver qaoa|exact|anneal|greedy"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: qt-lab COMMAND [ARGS]   (qt-lab COMMAND --help for details)\n");
    for (size_t k = 0; k < sizeof g_cmds / sizeof g_cmds[0]; k++)
        fprintf(f, "  %-9s %s\n", g_cmds[k].name, g_cmds[k].synopsis);
    fprintf(f, "exit: 0 ok, 1 failure, 2 usage error. Output: JSON on stdout unless noted.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return QT_LAB_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    qt_log_init("qt-lab", QT_LOG_WARN, NULL);
    for (size_t k = 0; k < sizeof g_cmds / sizeof g_cmds[0]; k++)
        if (strcmp(argv[1], g_cmds[k].name) == 0) return g_cmds[k].fn(argc, argv, 2);
    return qt_cli_usage_error(qt_lab_prog,
                              "unknown command '%s' (expected features, labels, stats, dsr, "
                              "pbo, cpcv, qaoa, optimize)",
                              argv[1]);
}
