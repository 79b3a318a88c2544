#!/usr/bin/env bash
# Regenerates everything under gen/ from the protos: TypeScript (ts-proto),
# our descriptor set, and the health service's descriptor set, which is built
# from grpc-health-check's own health.proto under its canonical path so that
# reflection serves it as standard clients expect it.
# Usage: scripts/gen-contracts.sh [base-dir]   (writes <base-dir>/gen; default .)
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-.}
buf lint
buf generate -o "$base"
buf build -o "$base/gen/descriptor.binpb"
health=$(mktemp -d)
trap 'rm -rf "$health"' EXIT
mkdir -p "$health/grpc/health/v1"
cp node_modules/grpc-health-check/proto/health/v1/health.proto "$health/grpc/health/v1/health.proto"
buf build "$health" -o "$base/gen/health.binpb"
