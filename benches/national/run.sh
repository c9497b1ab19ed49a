#!/usr/bin/env bash
# National-scale deterministic linkage: 60 million NHS patients against
# about 20 million DWP claims, generated, encoded and linked on one machine.
# Usage: benches/national/run.sh [WORKDIR]   (needs ~45 GB free disk)
# With EVALUATE=1, also scores the links against the synthetic truth
# (`linkwell evaluate`: about 5 minutes and 5 GiB more on this machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/linkwell-national}"
bin="$repo/target/release/linkwell"
(cd "$repo" && cargo build --release -j2)
mkdir -p "$work"
cd "$work"
t() { /usr/bin/time -f "  %e s wall, %U s user, %S s sys, peak %M KB" "$@"; }
echo "== synth 60M people"
t "$bin" synth --people 60000000 --seed 7 --out raw --config "$here/synth.toml" --force
rm -f raw/ons_employment.csv            # not used here; saves disk
if [ "${EVALUATE:-0}" = 1 ]; then
    grep -v '^ons_employment,' raw/truth.csv > raw/truth-nhs-dwp.csv
fi
rm -f raw/truth.csv
[ -f k.key ] || "$bin" keygen --out k.key >/dev/null
echo "== tokenise NHS"
t "$bin" tokenise --key-file k.key --input raw/nhs_patients.csv --output nhs.csv --schema "$here/nhs_patients.toml"
rm -f raw/nhs_patients.csv
echo "== tokenise DWP"
t "$bin" tokenise --key-file k.key --input raw/dwp_claims.csv --output dwp.csv --schema "$here/dwp_claims.toml"
rm -f raw/dwp_claims.csv
ls -l nhs.csv dwp.csv
echo "== link"
t "$bin" link --method deterministic --rules "$here/rules.toml" --left nhs.csv --right dwp.csv --output links.csv
if [ "${EVALUATE:-0}" = 1 ]; then
    echo "== evaluate"
    t "$bin" evaluate --links links.csv --truth raw/truth-nhs-dwp.csv --json eval.json
fi
