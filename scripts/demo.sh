#!/usr/bin/env bash
# The demo: the example repository as a real git repository with two commits, then maestro's view of it.
# Runs on embedded defaults; needs only git and bin/maestro (make build).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
maestro="$top/bin/maestro"
work="$(mktemp -d "${TMPDIR:-/tmp}/maestro-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
git_() { git -C "$work/repo" -c user.name="maestro demo" -c user.email="demo@maestro.invalid" -c commit.gpgsign=false "$@"; }

cp -R "$top/examples/repo" "$work/repo"
git_ init -q -b main
git_ add -A
git_ commit -q -m "workflows: first version"

# The second commit: the edits in examples/edits replace or add files; examples/edits/REMOVE lists deletions.
cp -R "$top/examples/edits/workflows/." "$work/repo/workflows/"
if [ -f "$top/examples/edits/REMOVE" ]; then
  while read -r f; do [ -n "$f" ] && rm -f "$work/repo/$f"; done < "$top/examples/edits/REMOVE"
fi
git_ add -A
git_ commit -q -m "workflows: bump extract, rename a training step, add data-quality"

cd "$work/repo"
say "maestro validate"
"$maestro" validate
say "maestro digest --ref HEAD~1"
"$maestro" digest --ref HEAD~1
say "maestro digest"
"$maestro" digest
say "maestro diff --from HEAD~1 --to HEAD --color always"
set +e
"$maestro" diff --from HEAD~1 --to HEAD --color always
code=$?
set -e
echo "(exit status $code: 1 means some graph digest changed)"
say "maestro diff --from HEAD~1 --to HEAD --fail-on breaking --output markdown | head -n 25"
"$maestro" diff --from HEAD~1 --to HEAD --fail-on never --output markdown | head -n 25
say "maestro graph -w train-model --diff-from HEAD~1 (Mermaid: the renamed task and its neighbours)"
"$maestro" graph -w train-model --diff-from HEAD~1
say "a broken edit: a dependency cycle and a typo, caught with file:line"
cat >> workflows/weekly-report.yaml <<'YAML'
---
apiVersion: maestro.dev/v1
kind: Workflow
metadata: {name: broken}
spec:
  tasks:
    a: {package: "registry.example.com/x/a:1.0", dependsOn: [b]}
    b: {package: "registry.example.com/x/b:1.0", dependsOn: [a], retires: 3}
YAML
set +e
"$maestro" validate
echo "(exit status $?: 2 means bad input)"
set -e
