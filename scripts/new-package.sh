#!/usr/bin/env bash
# Scaffold a workspace package: scripts/new-package.sh <dir> <@patchflow/name> <description>
set -euo pipefail
dir=$1; name=$2; desc=$3
mkdir -p "$dir/src"
depth=$(echo "$dir" | awk -F/ '{print NF}')
up=$(printf '../%.0s' $(seq 1 "$depth"))
cat > "$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "description": "$desc",
  "exports": {
    ".": {
      "development": "./src/index.ts",
      "types": "./dist/index.d.ts",
      "default": "./dist/index.js"
    }
  },
  "scripts": {
    "build": "tsc -p tsconfig.build.json",
    "typecheck": "tsc -p tsconfig.json --noEmit",
    "lint": "eslint src",
    "test": "cd ${up%/} && vitest run $dir"
  }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "${up}tsconfig.base.json",
  "compilerOptions": { "noEmit": true },
  "include": ["src", "test"]
}
JSON
cat > "$dir/tsconfig.build.json" <<JSON
{
  "extends": "${up}tsconfig.base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist", "customConditions": [], "noEmit": false },
  "include": ["src"],
  "exclude": ["src/**/*.test.ts"]
}
JSON
