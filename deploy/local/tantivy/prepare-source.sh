#!/usr/bin/env bash
# Patch an unpacked tantivy-py 0.27.0 sdist in place, ready for `pip wheel`:
#   merge-policy.patch  the binding itself
#   commit-payload.patch  the binding itself
#   term-table.patch    the tantivy crate, vendored from Cargo's registry
#   const-filter.patch  the tantivy crate likewise
#   const-union.patch   the tantivy crate likewise, after const-filter.patch
#   fst-registry.patch  the tantivy-fst crate, vendored likewise
#   arena-pages.patch   the tantivy-stacker crate, vendored likewise
# Each patch says why at its top. Used by deploy/local/_tantivy_build.py and the Dockerfile.
# Usage: prepare-source.sh <sdist dir>    (crates are downloaded into $CARGO_HOME)
set -euo pipefail

patches=$(cd "$(dirname "$0")" && pwd)
cd "$1"
git apply -p1 "$patches/merge-policy.patch"
git apply -p1 "$patches/commit-payload.patch"

# The binding's Cargo package is called tantivy 0.27.0 like the crate it wraps, and once that
# crate is patched Cargo's lockfile cannot tell the two apart. The Python module and the
# distribution keep their names: they come from [lib] and pyproject.toml.
sed -i '0,/^name = "tantivy"$/s//name = "tantivy-py"/' Cargo.toml
grep -q '^name = "tantivy-py"$' Cargo.toml

cargo fetch --quiet
registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"
mkdir vendor
for crate in tantivy-0.27.0:term-table tantivy-0.27.0:const-filter tantivy-0.27.0:const-union \
    tantivy-fst-0.5.0:fst-registry tantivy-stacker-0.27.0:arena-pages; do
    name=${crate%%:*}
    if [ ! -d "vendor/$name" ]; then
        source=$(find "$registry" -mindepth 2 -maxdepth 2 -type d -name "$name" | head -n 1)
        [ -n "$source" ] || { echo "$name is not in $registry after cargo fetch" >&2; exit 1; }
        cp -r "$source" "vendor/$name"
    fi
    git apply -p1 --directory="vendor/$name" "$patches/${crate#*:}.patch"
done
cat >> Cargo.toml <<'TOML'

[patch.crates-io]
tantivy = { path = "vendor/tantivy-0.27.0" }
tantivy-fst = { path = "vendor/tantivy-fst-0.5.0" }
tantivy-stacker = { path = "vendor/tantivy-stacker-0.27.0" }
TOML
