#!/usr/bin/env bash
# Integration test of `qt-lab qaoa` and `qt-lab optimize` (issue 5): runs the real binary
# on problem files and checks its JSON and exit codes. Needs only BUILD_DIR (set by
# scripts/run-tests) and python3; no Redis or Kafka.
#
# What it asserts:
#   - every solver prints one JSON object with the documented keys; exact, anneal and
#     greedy agree on a 6-asset problem whose optimum is known by hand (q = 0: the two
#     largest mu), QAOA (x and xy mixers) returns a feasible selection with that optimum
#     and reports angles per layer, a penalty, an expectation and an approximation ratio
#   - the same seed gives byte-identical output apart from wall_ms
#   - a bad problem file exits 1 naming the key; bad arguments exit 2
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() { echo "ok: $*"; }

: "${BUILD_DIR:?BUILD_DIR not set: run through scripts/run-tests}"
LAB="$BUILD_DIR/bin/qt-lab"
[ -x "$LAB" ] || fail "$LAB not built"
command -v python3 >/dev/null || fail "python3 not found (used to validate JSON output)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/qt-test-lab-optimize.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# q = 0: f = -mu'x, so the optimum with budget 2 is assets 1 and 4 (mu 0.9 and 0.8).
cat >"$TMP/p.json" <<'EOF'
{"mu": [0.1, 0.9, 0.3, 0.2, 0.8, 0.4],
 "sigma": [[0.04, 0.01, 0, 0, 0, 0], [0.01, 0.05, 0, 0, 0, 0], [0, 0, 0.03, 0, 0, 0],
           [0, 0, 0, 0.02, 0, 0], [0, 0, 0, 0, 0.06, 0.01], [0, 0, 0, 0, 0.01, 0.02]],
 "q": 0, "budget": 2, "names": ["A", "B", "C", "D", "E", "F"],
 "weights": {"method": "invvol", "cap": 0.8}}
EOF

check() { # FILE SOLVER
    python3 - "$1" "$2" <<'EOF'
import json, sys
o = json.load(open(sys.argv[1]))
solver = sys.argv[2]
for k in ("selection", "objective", "feasible", "gammas", "betas", "penalty", "expectation",
          "best_probability", "approx_ratio", "solver", "wall_ms", "iterations"):
    assert k in o, "missing key " + k
assert o["solver"] == solver, o["solver"]
assert o["selection"] == [0, 1, 0, 0, 1, 0], o["selection"]
assert o["feasible"] is True
assert abs(o["objective"] - (-1.7)) < 1e-12, o["objective"]
assert o["selected_names"] == ["B", "E"]
w = o["weights"]
assert abs(sum(w) - 1.0) < 1e-12 and w[0] == 0 and w[2] == 0
assert o["penalty"] > 0
if solver == "qaoa":
    assert len(o["gammas"]) == o["p"] == len(o["betas"]) == 2
    assert 0 <= o["approx_ratio"] <= 1 and 0 < o["best_probability"] <= 1
    assert abs(o["optimum"] - (-1.7)) < 1e-12
else:
    assert o["gammas"] == [] and o["expectation"] is None
EOF
}

for s in exact anneal greedy qaoa; do
    "$LAB" optimize --problem "$TMP/p.json" --solver "$s" --p 2 >"$TMP/$s.json" ||
        fail "optimize --solver $s exited $?"
    check "$TMP/$s.json" "$s" || fail "optimize --solver $s output: $(cat "$TMP/$s.json")"
done
ok "exact, anneal, greedy and qaoa agree on the known optimum"

"$LAB" qaoa --problem "$TMP/p.json" --p 2 --mixer xy --seed 5 >"$TMP/xy1.json" || fail "qaoa --mixer xy"
check "$TMP/xy1.json" qaoa || fail "qaoa --mixer xy output: $(cat "$TMP/xy1.json")"
"$LAB" qaoa --problem "$TMP/p.json" --p 2 --mixer xy --seed 5 >"$TMP/xy2.json"
strip() { python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); o.pop("wall_ms"); print(json.dumps(o, sort_keys=True))' "$1"; }
[ "$(strip "$TMP/xy1.json")" = "$(strip "$TMP/xy2.json")" ] || fail "same seed, different output"
ok "qaoa --mixer xy feasible and deterministic"

echo '{"mu": [1, 2], "sigma": [[1, 0], [0, "x"]], "q": 0.5, "budget": 1}' >"$TMP/bad.json"
set +e
"$LAB" optimize --problem "$TMP/bad.json" --solver exact >/dev/null 2>"$TMP/err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "bad sigma: exit $rc, expected 1"
grep -q "sigma\[1\]\[1\]" "$TMP/err" || fail "bad sigma: message does not name the key: $(cat "$TMP/err")"
echo '{"mu": [1, 2], "sigma": [[1, 0], [0, 1]], "q": 0.5, "budget": 3}' >"$TMP/bad2.json"
set +e
"$LAB" qaoa --problem "$TMP/bad2.json" >/dev/null 2>"$TMP/err"
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "budget" "$TMP/err" || fail "bad budget: exit $rc, $(cat "$TMP/err")"
ok "bad problem files exit 1 naming the key"

for args in "optimize --problem $TMP/p.json" "optimize --problem $TMP/p.json --solver foo" \
    "qaoa --problem $TMP/p.json --p 0" "qaoa --problem $TMP/p.json --mixer z" "qaoa --bogus 1"; do
    set +e
    # shellcheck disable=SC2086
    "$LAB" $args >/dev/null 2>&1
    rc=$?
    set -e
    [ "$rc" = 2 ] || fail "'qt-lab $args': exit $rc, expected 2"
done
ok "usage errors exit 2"
echo "test_lab_optimize: all checks passed"
