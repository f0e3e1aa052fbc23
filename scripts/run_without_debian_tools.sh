#!/usr/bin/env bash
# The main job as a newcomer without Debian's or npm's tools runs it (a Mac, Windows, conda, a
# minimal container): a fresh clone of this repository, apt-get, apt, dpkg, dpkg-deb, npm, npx and
# node hidden from PATH, an empty source cache, then `bash scripts/run.sh`. Every data source is
# then fetched by satclip's own Python download; the block scores must equal those of a run with
# the tools. Usage: bash scripts/run_without_debian_tools.sh [WORKDIR [satclip run options]]
# (default WORKDIR: a new temp dir; rerunning in one keeps its .venv and empties its cache).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d -t satclip-notools.XXXXXX)}
[[ $# -gt 0 ]] && shift
mkdir -p "$work"

# satclip ships no registry addresses: it reads them from pip's, npm's and apt's configuration.
# Without npm a user gives the npm registry's address once (README, "Without Debian or npm
# tools"); here it is read from npm's configuration before npm is hidden.
if [[ -z "${SATCLIP_DATA_MIRROR:-}" ]] && command -v npm > /dev/null; then
  export SATCLIP_DATA_MIRROR="npm=$(npm config get registry)"
fi

# A PATH of links to every command on the PATH but those tools.
shims="$work/bin"
mkdir -p "$shims"
IFS=: read -r -a dirs <<< "$PATH"
for dir in "${dirs[@]}"; do
  for exe in "$dir"/*; do
    name=$(basename "$exe")
    case $name in apt | apt-get | apt-cache | dpkg | dpkg-deb | npm | npx | node) continue ;; esac
    if [[ -x $exe && ! -e $shims/$name ]]; then ln -s "$exe" "$shims/$name"; fi
  done
done
export PATH=$shims
for tool in apt-get dpkg-deb npm; do
  if command -v "$tool" > /dev/null; then
    echo "run_without_debian_tools: $tool is still on PATH" >&2
    exit 1
  fi
done

export SATCLIP_CACHE="$work/cache"
rm -rf "$SATCLIP_CACHE"
if [[ -d $work/satclip/.git ]]; then
  # A rerun: the clone is made clean again (its .venv kept, which setup.sh only checks).
  git -C "$work/satclip" fetch --quiet "$repo" HEAD
  git -C "$work/satclip" reset --quiet --hard FETCH_HEAD
  git -C "$work/satclip" clean --quiet -fdx -e .venv
else
  git clone --quiet "$repo" "$work/satclip"
fi
cd "$work/satclip"
echo "run_without_debian_tools: $(pwd), SATCLIP_CACHE=$SATCLIP_CACHE, no apt-get, dpkg-deb or npm"
bash scripts/run.sh "$@"
