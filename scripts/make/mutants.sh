#!/usr/bin/env bash
# `make mutants`: mutation testing of the domain and libs/aws's decision code (.cargo/mutants.toml)
# with cargo-mutants, pinned and installed under .venv/cargo on first use. Each mutant (a changed
# operator, a function body replaced by a default, ...) is built and its crate's tests run: a
# mutant no test fails on is a survivor, a place where a wrong line would go unnoticed. Prints
# the score (caught / (caught + missed); a timeout counts as caught) and every survivor; exits 1
# if any survived. Known-equivalent mutants are excluded in .cargo/mutants.toml, each with why.
# Extra arguments go to cargo-mutants (e.g. `--re libs/aws/src/retry` to narrow, `--shard 1/4`).
set -euo pipefail
cd "$(dirname "$0")/../.."
version=27.1.0
bin=.venv/cargo/bin/cargo-mutants
if [[ ! -x $bin ]] || [[ $("$bin" mutants --version) != "cargo-mutants $version" ]]; then
  echo "==> installing cargo-mutants $version under .venv/cargo"
  cargo install --locked --quiet --root .venv/cargo "cargo-mutants@$version"
fi
out=.build/mutants
mkdir -p "$out"
# A target directory of its own: the mutated copies build with their own paths baked in
# (env!("CARGO_MANIFEST_DIR")), which must never reach the target `cargo test` uses.
export CARGO_TARGET_DIR=${MUTANTS_TARGET_DIR:-$HOME/.cache/orders-pipeline/mutants-target}
rc=0
"$bin" mutants --package orders-domain --package orders-aws --output "$out" --timeout-multiplier 3 "$@" || rc=$?
# cargo-mutants: 0 all caught, 2 some missed, 3 some timed out; anything else is its own failure.
[[ $rc == 0 || $rc == 2 || $rc == 3 ]] || exit "$rc"
count() { awk 'NF { n++ } END { print n + 0 }' "$out/mutants.out/$1.txt" 2>/dev/null || echo 0; }
caught=$(count caught) missed=$(count missed) timeout=$(count timeout) unviable=$(count unviable)
echo
echo "mutants: $((caught + timeout)) caught ($timeout by timeout), $missed missed, $unviable unviable"
awk -v c=$((caught + timeout)) -v m="$missed" 'BEGIN { if (c + m) printf "score: %.1f%%\n", 100 * c / (c + m) }'
if [[ $missed -gt 0 ]]; then
  echo "survivors:"
  sed 's/^/  /' "$out/mutants.out/missed.txt"
  exit 1
fi
