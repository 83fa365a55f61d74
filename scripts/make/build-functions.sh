#!/usr/bin/env bash
# Builds every Lambda for the host and stages each as .build/lambda/<function>/bootstrap, the
# layout infra/template.yaml's CodeUri points at. A binary is copied only when it changed, so
# an unchanged build keeps its timestamp, its zip hash and so its S3 key: no redeploy.
#
#   PROFILE=dev (default, shares the build with `cargo test`) | release
#   BUILDER=cargo (default) | cargo-lambda: the build `make deploy-aws` makes (zig as the linker,
#     here for the host), so `make test` builds the functions once and deploys what it checked
set -euo pipefail
cd "$(dirname "$0")/../.."

FUNCTIONS=(orders-api inventory order-status notification outbox-sweeper)
PROFILE=${PROFILE:-dev}
BUILDER=${BUILDER:-cargo}
target=${CARGO_TARGET_DIR:-target}
case "$PROFILE" in
  dev) outdir=$target/debug ;;
  *) outdir=$target/$PROFILE ;;
esac

case "$BUILDER" in
  cargo)
    # The whole workspace at once: the same feature set as `cargo test --workspace`, so the
    # two share every compiled dependency.
    echo "==> cargo build --workspace --bins --profile $PROFILE"
    cargo build --locked --workspace --bins --profile "$PROFILE"
    binary() { echo "$outdir/$1"; }
    ;;
  cargo-lambda)
    release=()
    [[ $PROFILE == release ]] && release=(--release)
    echo "==> cargo lambda build --workspace --bins ${release[*]}"
    PATH="$PWD/${TOOLS_BIN:-.venv/tools/bin}:$PATH" cargo lambda build --locked --workspace --bins "${release[@]}"
    binary() { echo "$target/lambda/$1/bootstrap"; }
    ;;
  *)
    echo "BUILDER must be cargo or cargo-lambda, not '$BUILDER'" >&2
    exit 2
    ;;
esac

# Debug info is stripped from the staged copy (symbols stay, so backtraces keep function
# names): it halves the zips LocalStack has to take. A stamp of the source binary's size and
# mtime tells whether it changed.
for f in "${FUNCTIONS[@]}"; do
  dest=.build/lambda/$f/bootstrap
  stamp=.build/lambda/$f.source
  src=$(binary "$f")
  src_id=$(stat -c '%s %Y' "$src")
  if [[ ! -f $dest || ! -f $stamp || $(cat "$stamp") != "$src_id" ]]; then
    mkdir -p "$(dirname "$dest")"
    cp -p "$src" "$dest"
    strip --strip-debug "$dest"
    touch -r "$src" "$dest"
    echo "$src_id" >"$stamp"
    echo "    staged $dest ($(du -h "$dest" | cut -f1))"
  fi
done
