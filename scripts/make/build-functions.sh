#!/usr/bin/env bash
# Builds every Lambda for the host and stages each as .build/lambda/<function>/bootstrap, the
# layout infra/template.yaml's CodeUri points at. A binary is copied only when it changed, so
# an unchanged build keeps its timestamp, its zip hash and so its S3 key: no redeploy.
#
#   PROFILE=dev (default, shares the build with `cargo test`) | release
set -euo pipefail
cd "$(dirname "$0")/../.."

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

# Debug info is stripped from the staged copy (symbols stay, so backtraces keep function
# names): it halves the zips LocalStack has to take. A stamp of the source binary's size and
# mtime tells whether it changed.
for f in "${FUNCTIONS[@]}"; do
  dest=.build/lambda/$f/bootstrap
  stamp=.build/lambda/$f.source
  src_id=$(stat -c '%s %Y' "$outdir/$f")
  if [[ ! -f $dest || ! -f $stamp || $(cat "$stamp") != "$src_id" ]]; then
    mkdir -p "$(dirname "$dest")"
    cp -p "$outdir/$f" "$dest"
    strip --strip-debug "$dest"
    touch -r "$outdir/$f" "$dest"
    echo "$src_id" >"$stamp"
    echo "    staged $dest ($(du -h "$dest" | cut -f1))"
  fi
done
