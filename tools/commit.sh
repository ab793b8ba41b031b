#!/usr/bin/env bash
# Commit a change from one work area while others work in the same tree:
#   tools/commit.sh minor|patch "message" path [path...]
# Serialised with a lock, bumps VERSION (the source of truth for /version) in the same commit,
# and stages only the paths given.
set -euo pipefail
level=$1; msg=$2; shift 2
cd "$(git rev-parse --show-toplevel)"
exec 9>/tmp/edgeplane-git.lock
flock 9
IFS=. read -r major minor patch < VERSION
case "$level" in
  minor) minor=$((minor + 1)); patch=0 ;;
  patch) patch=$((patch + 1)) ;;
  *) echo "level must be minor or patch" >&2; exit 2 ;;
esac
echo "$major.$minor.$patch" > VERSION
git add VERSION "$@"
git commit -q -m "$msg" -- VERSION "$@"
git log --oneline -1
