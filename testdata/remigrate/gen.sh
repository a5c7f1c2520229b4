#!/bin/sh
# Regenerates the workspaces an older picosess wrote, for the tests of
# migrating again after an upgrade (cmd/picosess/cmd_migrate_again_test.go).
# It builds picosess at the commit before OpenClaw orphans were linked
# (c47846b; `git log -- migrate/` shows 3c4b437 linking them next) from this
# repository's history, migrates the installs below with it, and keeps the
# session files it wrote, with the install's path replaced by @FROM@.
# Run from anywhere inside the repository: sh testdata/remigrate/gen.sh
set -eu
old=c47846b
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/tree"
git -C "$repo" archive "$old" | tar -x -C "$tmp/tree"
(cd "$tmp/tree" && go build -o "$tmp/picosess-old" ./cmd/picosess)

# fixtimes DIR: every file's mtime from its path, as the tests set it
# (sorted paths, the first one latest, a minute apart from 2026-06-01)
fixtimes() {
	n=$(find "$1" -type f | wc -l)
	i=0
	find "$1" -type f | LC_ALL=C sort | while read -r f; do
		touch -d "@$((1780272000 + (n - i) * 60))" "$f"
		i=$((i + 1))
	done
}

# gen NAME INSTALL [CONFIG]: migrate testdata/INSTALL into a new workspace
# (with CONFIG as its config.json) and keep it as NAME/
gen() {
	name=$1 install=$2 config=${3:-}
	src="$tmp/$name/src"
	ws="$tmp/$name/ws"
	mkdir -p "$src" "$ws"
	cp -R "$repo/testdata/$install/." "$src/"
	fixtimes "$src"
	src=$(cd "$src" && pwd -P)
	if [ -n "$config" ]; then printf '%s\n' "$config" >"$ws/config.json"; fi
	"$tmp/picosess-old" --workspace "$ws" migrate --from "$src" --yes >/dev/null
	rm -rf "${here:?}/$name"
	mkdir -p "$here/$name/sessions"
	if [ -n "$config" ]; then cp "$ws/config.json" "$here/$name/config.json"; fi
	for f in "$ws"/sessions/*.jsonl; do
		sed "s|\"from\":\"$src\"|\"from\":\"@FROM@\"|" "$f" >"$here/$name/sessions/$(basename "$f")"
	done
	echo "$name: $(ls "$here/$name/sessions" | wc -l) sessions"
}

gen clawdbot-2026.1.24-config upstream/openclaw/2026.1.24/state '{"session": {"dmScope": "per-channel-peer"}}'
gen clawdbot-2026.1.24-defaults upstream/openclaw/2026.1.24/state
gen picoclaw-v0.2.9-defaults upstream/picoclaw/v0.2.9
