#!/usr/bin/env bash
# Builds every Lambda for the host and stages each as .build/lambda/<function>/bootstrap, the
# layout infra/template.yaml's CodeUri points at. A binary is copied only when it changed, so
# an unchanged build keeps its timestamp, its zip hash and so its S3 key: no redeploy.
#
#   PROFILE=dev (default, shares the build with `cargo test`) | release
set -euo pipefail
cd "$(dirname "$0")/.."

FUNCTIONS=(orders-api inventory order-status notification outbox-sweeper)
PROFILE=${PROFILE:-dev}
target=${CARGO_TARGET_DIR:-target}
case "$PROFILE" in
  dev) outdir=$target/debug ;;
  *) outdir=$target/$PROFILE ;;
esac

# The whole workspace at once: the same feature set as `cargo test --workspace`, so the two
# share every compiled dependency.
echo "==> cargo build --workspace --bins --profile $PROFILE"
cargo build --locked --workspace --bins --profile "$PROFILE"

for f in "${FUNCTIONS[@]}"; do
  dest=.build/lambda/$f/bootstrap
  mkdir -p "$(dirname "$dest")"
  if ! cmp -s "$outdir/$f" "$dest"; then
    cp -p "$outdir/$f" "$dest"
    echo "    staged $dest ($(du -h "$dest" | cut -f1))"
  fi
done
