/**
 * An existing Lambda function's handler, standing in for its ARN offline (`localHandler` in
 * examples/lambda-tool.json). In AWS the same code would be deployed as its own function.
 */
export async function handler(event: { query?: string }, context: { clientContext?: { Custom?: Record<string, string> } }) {
  return {
    answer: `The knowledge base has one note on "${event.query ?? ''}": breakers open after 5 failures in 60 s.`,
    idempotencyKey: context.clientContext?.Custom?.idempotencyKey ?? null,
  };
}
