#!/usr/bin/env bash
# Deploys the stack to a LocalStack running on localhost:4566 with cdklocal. NOT verified on the project's machines:
# they have no LocalStack (and no Docker engine to run one).
set -euo pipefail
for arg in "$@"; do
  if [ "$arg" = "--help" ] || [ "$arg" = "-h" ]; then
    echo "Usage: npm run deploy:localstack"
    echo
    echo "Deploys the stack to a LocalStack on http://localhost:4566 with cdklocal (aws-cdk-local) and prints the API URL."
    echo "Written to LocalStack's documented behaviour; not run on the project's machines (no LocalStack there)."
    echo "  -h, --help   this text"
    exit 0
  fi
done
if ! curl -fsS http://localhost:4566/_localstack/health >/dev/null 2>&1; then
  echo "LocalStack is not reachable on http://localhost:4566 (start it first: https://docs.localstack.cloud)." >&2
  exit 2
fi
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
npx --yes aws-cdk-local bootstrap
npx --yes aws-cdk-local deploy --require-approval never --outputs-file cdk.out/localstack-outputs.json
echo "Deployed. Smoke test: npx tsx scripts/smoke-api.ts \$(jq -r '.AgentStack.ApiUrl' cdk.out/localstack-outputs.json) <token>"
