# Sourced by models/*/make.sh (after `fig=<figures folder>`): the GTZAN list, the binary, the
# settings chosen on valid (figures/settings.json) and a scratch folder removed on exit.
# Sets: list, bin, pooling, l2, hop, tmp.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
list=${GTZAN_LIST:-../shared/data/gtzan/tracks.csv}
bin=${GENRE_METER_BIN:-target/release/genre-meter}
[ -f "$list" ] || { echo "error: $list not found: this needs ../shared (or GTZAN_LIST=<tracks.csv>)" >&2; exit 2; }
[ -x "$bin" ] || cargo build --release --bin genre-meter
read -r pooling l2 hop < <(python3 -c "import json; s=json.load(open('$fig/settings.json')); print(s['pooling'], s['l2'], s['hop_seconds'])")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
